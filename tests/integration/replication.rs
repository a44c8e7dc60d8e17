//! Replica fetch (docs/replication.md step 4) with the real binary on loopback and librdkafka:
//! three brokers, topics with replication factor 3. Followers copy their leaders' logs (their
//! log end offsets and high watermarks, read from each broker's metrics, reach the leader's);
//! after the leader of a partition is killed with SIGKILL and the controller moves its
//! leadership, every record is consumed from the new leaders, byte for byte at the same
//! offsets. A leader isolated with SIGSTOP after it took records its followers never fetched
//! comes back as a follower of the new leader and truncates that tail (the diverging epoch of
//! Fetch v12+) before it copies the new leader's records. Replica fetches sent by hand get
//! Kafka's answers: NOT_LEADER_OR_FOLLOWER for a non-replica, a non-leader or a stale broker
//! epoch, the diverging epoch past the leader's end of an epoch, OFFSET_OUT_OF_RANGE for an
//! epoch the leader does not know; clients get NOT_LEADER_OR_FOLLOWER from followers. A
//! follower that was down while DeleteRecords moved its leader's log start past its own end
//! restarts its log at the leader's log start (Kafka's `truncateFullyAndStartAt`) and copies
//! from there.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::client::{self, Msg};
use common::cluster::{self, until_some};
use common::metrics::{scrape, value};
use common::raw::Conn;
use common::{free_port, Broker};
use rdkafka::admin::AdminOptions;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// A three-broker cluster whose brokers' metrics listen on known ports.
struct Cluster {
    brokers: Vec<Broker>,
    metrics: Vec<u16>,
}

impl Cluster {
    fn start() -> Cluster {
        let ctl = [free_port(), free_port(), free_port()];
        let metrics: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut brokers: Vec<Broker> = (1..=3)
            .map(|n| {
                let listen = format!("127.0.0.1:{}", metrics[n - 1]);
                Broker::launch_with_config(
                    &cluster::config(n, &ctl),
                    &["--cores", "1", "--metrics-listen", &listen],
                )
            })
            .collect();
        for b in &mut brokers {
            b.wait_ready();
        }
        Cluster { brokers, metrics }
    }

    /// Bootstrap list of the brokers other than `except` (1-based id; 0: all).
    fn bootstrap(&self, except: i32) -> String {
        self.brokers
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as i32 + 1 != except)
            .map(|(_, b)| b.bootstrap())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `metric` of `topic`/`partition` on broker `id` (1-based).
    fn partition_metric(&self, id: i32, metric: &str, topic: &str, partition: i32) -> i64 {
        let s = scrape(self.metrics[id as usize - 1]);
        let p = partition.to_string();
        value(&s, metric, &[("topic", topic), ("partition", &p)]) as i64
    }

    /// Waits until every broker in `ids` has `topic`/`partition` with log end offset and
    /// high watermark `end`.
    fn wait_replicated(&self, ids: &[i32], topic: &str, partition: i32, end: i64) {
        for &id in ids {
            until_some(
                &format!("broker {id} has {topic}-{partition} up to {end}"),
                || {
                    Some((
                        self.partition_metric(
                            id,
                            "runnel_partition_log_end_offset",
                            topic,
                            partition,
                        ),
                        self.partition_metric(
                            id,
                            "runnel_partition_high_watermark",
                            topic,
                            partition,
                        ),
                    ))
                },
                |&(leo, hw)| leo == end && hw == end,
            );
        }
    }
}

/// Leader and replicas of each partition of `topic` in a fresh client's Metadata.
fn layout(bootstrap: &str, topic: &str) -> Option<Vec<(i32, Vec<i32>)>> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .ok()?;
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(5)).ok()?;
    let t = md.topics().first()?;
    if t.error().is_some() || t.partitions().is_empty() {
        return None;
    }
    let mut out: Vec<(i32, i32, Vec<i32>)> = t
        .partitions()
        .iter()
        .map(|p| (p.id(), p.leader(), p.replicas().to_vec()))
        .collect();
    out.sort_by_key(|p| p.0);
    Some(out.into_iter().map(|(_, l, r)| (l, r)).collect())
}

fn msgs(n: usize, partitions: i32, tag: &str) -> Vec<Msg> {
    (0..n)
        .map(|i| Msg {
            key: Some(format!("{tag}-k{i}").into_bytes()),
            value: Some(format!("{tag}-value-{i}-{}", "x".repeat(i % 97)).into_bytes()),
            partition: Some(i as i32 % partitions),
            ..Msg::default()
        })
        .collect()
}

#[test]
fn rf3_records_survive_the_kill_of_their_leader() {
    let mut c = Cluster::start();
    let all = c.bootstrap(0);
    // More replicas than brokers: Kafka's INVALID_REPLICATION_FACTOR.
    let refused = client::try_create_topic(&all, "too-many", 1, 4);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.contains("InvalidReplicationFactor")),
        "{refused:?}"
    );
    // validate_only checks the factor against the live brokers, and creates nothing.
    assert_eq!(
        validate_only(&all, "rep", 4),
        Err("InvalidReplicationFactor".into())
    );
    assert_eq!(validate_only(&all, "rep", 3), Ok(()));
    assert_eq!(client::try_create_topic(&all, "rep", 3, 3), Ok(()));
    let before = until_some(
        "every partition led, three replicas",
        || layout(&all, "rep"),
        |l| l.len() == 3 && l.iter().all(|(leader, r)| *leader > 0 && r.len() == 3),
    );
    let sent = msgs(600, 3, "a");
    let offsets = client::produce(&all, "rep", &sent, &[("acks", "all")]);
    let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, o) in &offsets {
        let e = ends.entry(*p).or_default();
        *e = (*e).max(o + 1);
    }
    for (&p, &end) in &ends {
        c.wait_replicated(&[1, 2, 3], "rep", p, end);
    }
    // The replica metrics saw it: followers' fetches answered, leaders' reads served.
    let victim = before[0].0;
    let follower = before[0].1.iter().copied().find(|&b| b != victim).unwrap();
    let fm = scrape(c.metrics[follower as usize - 1]);
    assert!(
        value(
            &fm,
            "runnel_follower_fetch_requests_total",
            &[("result", "ok")]
        ) > 0.0
    );
    let lm = scrape(c.metrics[victim as usize - 1]);
    assert!(value(&lm, "runnel_replica_fetches_served_total", &[]) > 0.0);
    assert_eq!(value(&lm, "runnel_under_replicated_partitions", &[]), 0.0);
    // Kill the leader of partition 0; the controller fences it and moves its partitions.
    c.brokers[victim as usize - 1].kill9();
    let rest = c.bootstrap(victim);
    let after = until_some(
        "partitions led by the survivors",
        || layout(&rest, "rep"),
        |l| l.iter().all(|(leader, _)| *leader > 0 && *leader != victim),
    );
    assert_ne!(after[0].0, victim);
    // Its ISR lost the victim: the new leader counts the partition under-replicated.
    let nm = scrape(c.metrics[after[0].0 as usize - 1]);
    assert!(value(&nm, "runnel_under_replicated_partitions", &[]) >= 1.0);
    let got = client::consume(&rest, "rep", &[0, 1, 2], Offset::Beginning, sent.len(), &[]);
    assert_eq!(got.len(), sent.len(), "nothing more, nothing less");
    let mut by_pos: BTreeMap<(i32, i64), &client::Got> = BTreeMap::new();
    for g in &got {
        assert!(
            by_pos.insert((g.partition, g.offset), g).is_none(),
            "offset {} of partition {} twice",
            g.offset,
            g.partition
        );
    }
    for (m, pos) in sent.iter().zip(&offsets) {
        let g = by_pos
            .get(pos)
            .unwrap_or_else(|| panic!("record at {pos:?} missing"));
        assert_eq!(g.key, m.key, "key at {pos:?}");
        assert_eq!(g.value, m.value, "value at {pos:?}");
    }
}

/// CreateTopics with `validate_only` of `name` (3 partitions) with `rf` replicas.
fn validate_only(bootstrap: &str, name: &str, rf: i32) -> Result<(), String> {
    use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
    let a = client::admin(bootstrap);
    let t = NewTopic::new(name, 3, TopicReplication::Fixed(rf));
    let opts = AdminOptions::new()
        .validate_only(true)
        .operation_timeout(Some(Duration::from_secs(10)));
    let r =
        futures_lite::future::block_on(a.create_topics([&t], &opts)).map_err(|e| e.to_string())?;
    match &r[0] {
        Ok(_) => Ok(()),
        Err((_, code)) => Err(format!("{code:?}")),
    }
}

/// Sends `sig` to broker `b`'s process.
fn signal(b: &Broker, sig: i32) {
    let pid = b.child.as_ref().expect("running").id() as i32;
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

#[test]
fn an_isolated_leader_truncates_its_unreplicated_tail() {
    let c = Cluster::start();
    let all = c.bootstrap(0);
    assert_eq!(client::try_create_topic(&all, "div", 1, 3), Ok(()));
    let l = until_some(
        "partition led",
        || layout(&all, "div"),
        |l| l.len() == 1 && l[0].0 > 0,
    );
    let leader = l[0].0;
    let followers: Vec<i32> = (1..=3).filter(|&b| b != leader).collect();
    // Replicated by all three.
    let first = msgs(50, 1, "first");
    client::produce(&all, "div", &first, &[("acks", "all")]);
    c.wait_replicated(&[1, 2, 3], "div", 0, 50);
    // The followers stop (shorter than the session timeout, so none is fenced). Their fetches
    // in flight are answered with one record (the answer waits in their sockets), then the
    // leader takes a tail they never fetch, and is isolated itself.
    for &f in &followers {
        signal(&c.brokers[f as usize - 1], libc::SIGSTOP);
    }
    let only_leader = c.brokers[leader as usize - 1].bootstrap();
    let one = msgs(1, 1, "one");
    client::produce(&only_leader, "div", &one, &[("acks", "1")]);
    std::thread::sleep(Duration::from_millis(300));
    let tail = msgs(20, 1, "tail");
    client::produce(&only_leader, "div", &tail, &[("acks", "1")]);
    signal(&c.brokers[leader as usize - 1], libc::SIGSTOP);
    for &f in &followers {
        signal(&c.brokers[f as usize - 1], libc::SIGCONT);
    }
    // A follower takes over (the isolated leader is fenced) and takes new records.
    let rest = c.bootstrap(leader);
    let new_leader = until_some(
        "a follower leads",
        || layout(&rest, "div"),
        |l| l[0].0 > 0 && l[0].0 != leader,
    )[0]
    .0;
    let second = msgs(30, 1, "second");
    let offsets = client::produce(&rest, "div", &second, &[("acks", "all")]);
    let start = offsets[0].1;
    assert!(
        (50..=51).contains(&start),
        "the new leader goes on from what the followers fetched, not the tail: {start}"
    );
    // The old leader comes back: it follows the new leader, cuts its tail and copies.
    signal(&c.brokers[leader as usize - 1], libc::SIGCONT);
    c.wait_replicated(&[1, 2, 3], "div", 0, start + 30);
    let log = c.brokers[leader as usize - 1].log_text();
    assert!(
        log.contains("follower truncated to the leader's log")
            && log.contains(&format!("to={start}")),
        "the old leader truncated to {start}: {log}"
    );
    // What the new leader serves is the replicated prefix and the new records.
    let n = (start + 30) as usize;
    let got = client::consume(&rest, "div", &[0], Offset::Beginning, n, &[]);
    let values: Vec<Vec<u8>> = got.iter().map(|g| g.value.clone().unwrap()).collect();
    let fetched = if start == 51 { &one[..] } else { &[] };
    let want: Vec<Vec<u8>> = first
        .iter()
        .chain(fetched)
        .chain(&second)
        .map(|m| m.value.clone().unwrap())
        .collect();
    assert_eq!(values, want);
    assert!(followers.contains(&new_leader));
}

/// The leader epoch and topic id of `topic`'s partition 0 from Metadata v12 on `b`.
fn epoch_and_id(b: &Broker, topic: &str) -> (i32, uuid::Uuid) {
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::{MetadataRequest, TopicName};
    let mut t = MetadataRequestTopic::default();
    t.name = Some(TopicName(topic.to_string().into()));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![t]);
    let resp = Conn::open(b).call(&req, 12);
    let t = &resp.topics[0];
    (t.partitions[0].leader_epoch, t.topic_id)
}

/// A follower's Fetch v15 of partition 0 of topic `id` from replica `replica` at broker
/// epoch `broker_epoch`.
fn replica_fetch(
    b: &Broker,
    id: uuid::Uuid,
    replica: i32,
    broker_epoch: i64,
    offset: i64,
    last_epoch: i32,
) -> kafka_protocol::messages::fetch_response::PartitionData {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::{BrokerId, FetchRequest};
    let mut fp = FetchPartition::default();
    fp.partition = 0;
    fp.current_leader_epoch = -1;
    fp.fetch_offset = offset;
    fp.last_fetched_epoch = last_epoch;
    fp.partition_max_bytes = 1 << 20;
    let mut ft = FetchTopic::default();
    ft.topic_id = id;
    ft.partitions.push(fp);
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.replica_state.replica_id = BrokerId(replica);
    req.replica_state.replica_epoch = broker_epoch;
    req.max_wait_ms = 0;
    req.max_bytes = 1 << 20;
    req.session_epoch = -1;
    req.topics.push(ft);
    let resp = Conn::open(b).call(&req, 15);
    resp.responses[0].partitions[0].clone()
}

#[test]
fn replica_fetches_are_checked_as_kafka_checks_them() {
    let c = Cluster::start();
    let all = c.bootstrap(0);
    assert_eq!(client::try_create_topic(&all, "chk", 1, 3), Ok(()));
    let l = until_some(
        "partition led",
        || layout(&all, "chk"),
        |l| l.len() == 1 && l[0].0 > 0,
    );
    let leader = l[0].0;
    let follower = (1..=3).find(|&b| b != leader).unwrap();
    client::produce(&all, "chk", &msgs(5, 1, "c"), &[("acks", "all")]);
    c.wait_replicated(&[1, 2, 3], "chk", 0, 5);
    let lb = &c.brokers[leader as usize - 1];
    let (epoch, id) = epoch_and_id(lb, "chk");
    let not_leader = 6;
    // A broker that is not a replica, and a fetch sent to a follower.
    assert_eq!(replica_fetch(lb, id, 99, -1, 0, -1).error_code, not_leader);
    let fb = &c.brokers[follower as usize - 1];
    assert_eq!(
        replica_fetch(fb, id, leader, -1, 0, -1).error_code,
        not_leader
    );
    // A follower's older registration (broker epoch 0 is before any registration).
    assert_eq!(
        replica_fetch(lb, id, follower, 0, 0, -1).error_code,
        not_leader
    );
    // Past the leader's end of the follower's last epoch: the diverging epoch, no records.
    let d = replica_fetch(lb, id, follower, -1, 8, epoch);
    assert_eq!(d.error_code, 0);
    assert_eq!(
        (d.diverging_epoch.epoch, d.diverging_epoch.end_offset),
        (epoch, 5)
    );
    assert!(d.records.as_ref().is_none_or(|r| r.is_empty()));
    // An epoch newer than the leader's: OFFSET_OUT_OF_RANGE (Kafka's "could not determine the
    // end offset of the last fetched epoch").
    let d = replica_fetch(lb, id, follower, -1, 3, epoch + 5);
    assert_eq!(d.error_code, 1);
    // A follower at the log end with the same epoch gets nothing to do, and the high watermark.
    let d = replica_fetch(lb, id, follower, -1, 5, epoch);
    assert_eq!(d.error_code, 0);
    assert_eq!(d.diverging_epoch.epoch, -1);
    assert_eq!(d.high_watermark, 5);
    // Clients get NOT_LEADER_OR_FOLLOWER from a follower, for produce and for fetch.
    assert_eq!(client_produce(fb, "chk"), not_leader);
    assert_eq!(replica_fetch(fb, id, -1, -1, 0, -1).error_code, not_leader);
    assert_eq!(client_produce(lb, "chk"), 0);
}

/// The error code of a one-record Produce v9 (acks=1) of `topic`/0 sent to `b`.
fn client_produce(b: &Broker, topic: &str) -> i16 {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, TopicName};
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(common::raw::batch(&["v"]));
    let mut td = TopicProduceData::default();
    td.name = TopicName(topic.to_string().into());
    td.partition_data.push(pd);
    let mut req = ProduceRequest::default();
    req.acks = 1;
    req.timeout_ms = 10_000;
    req.topic_data.push(td);
    let resp = Conn::open(b).call(&req, 9);
    resp.responses[0].partition_responses[0].error_code
}

#[test]
fn a_follower_behind_the_leader_log_start_restarts_there() {
    let mut c = Cluster::start();
    let all = c.bootstrap(0);
    assert_eq!(client::try_create_topic(&all, "behind", 1, 3), Ok(()));
    let l = until_some(
        "partition led",
        || layout(&all, "behind"),
        |l| l.len() == 1 && l[0].0 > 0,
    );
    let leader = l[0].0;
    let down = (1..=3).find(|&b| b != leader).expect("a follower");
    client::produce(&all, "behind", &msgs(50, 1, "first"), &[("acks", "all")]);
    c.wait_replicated(&[1, 2, 3], "behind", 0, 50);
    // The follower goes down; the others take more records and the leader's log start moves
    // past everything the follower has.
    assert!(c.brokers[down as usize - 1].stop(), "clean stop");
    let rest = c.bootstrap(down);
    client::produce(&rest, "behind", &msgs(30, 1, "second"), &[("acks", "1")]);
    let up: Vec<i32> = (1..=3).filter(|&b| b != down).collect();
    c.wait_replicated(&up, "behind", 0, 80);
    let admin = client::admin(&rest);
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("behind", 0, Offset::Offset(70))
        .unwrap();
    let res = futures_lite::future::block_on(admin.delete_records(&tpl, &opts)).unwrap();
    let e = res.find_partition("behind", 0).unwrap();
    assert!(e.error().is_ok(), "{:?}", e.error());
    // Back: its fetch at 50 is out of range; it restarts at 70 and copies from there.
    c.brokers[down as usize - 1].restart();
    c.brokers[down as usize - 1].wait_ready();
    client::produce(&rest, "behind", &msgs(10, 1, "third"), &[("acks", "1")]);
    c.wait_replicated(&[down], "behind", 0, 90);
    assert_eq!(
        c.partition_metric(down, "runnel_partition_log_start_offset", "behind", 0),
        70
    );
    let log = c.brokers[down as usize - 1].log_text();
    assert!(
        log.contains("restarting at the leader's log start") && log.contains("leader_start=70"),
        "the follower restarted at 70: {log}"
    );
    assert!(
        !log.contains("offset out of range at the leader's log start"),
        "no restart loop: {log}"
    );
}
