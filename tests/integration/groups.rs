//! Consumer groups with librdkafka (the `rdkafka` crate) and kcat: partition sharing,
//! rebalances on join, leave, process kill and session expiry, committed offsets across client
//! and broker restarts (kill -9 included), static membership, cooperative-sticky and the
//! KIP-848 protocol.

use crate::common;

use std::collections::{BTreeSet, HashMap};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::client::{self, Msg};
use common::Broker;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

/// A broker whose first rebalance of a group is not delayed (the delay has its own test).
fn broker_fast_join() -> (Broker, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("runnel.toml");
    std::fs::write(&cfg, "\"group.initial.rebalance.delay.ms\" = 0\n").unwrap();
    let b = Broker::start_with(&["--config", cfg.to_str().unwrap()]);
    (b, dir)
}

/// Consumer context counting rebalances and committing processed offsets on revoke.
#[derive(Clone, Default)]
struct Ctx {
    assigns: Arc<AtomicUsize>,
    revokes: Arc<AtomicUsize>,
    /// Next offset to consume per partition, committed when the partition is revoked.
    processed: Arc<Mutex<HashMap<i32, i64>>>,
    topic: Arc<Mutex<String>>,
}

impl ClientContext for Ctx {}
impl ConsumerContext for Ctx {
    fn pre_rebalance(&self, c: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = r {
            self.revokes.fetch_add(1, Ordering::SeqCst);
            let topic = self.topic.lock().unwrap().clone();
            let processed = self.processed.lock().unwrap();
            let mut commit = TopicPartitionList::new();
            for e in tpl.elements() {
                if let Some(&next) = processed.get(&e.partition()) {
                    commit
                        .add_partition_offset(&topic, e.partition(), Offset::Offset(next))
                        .unwrap();
                }
            }
            drop(processed);
            if commit.count() > 0 {
                c.commit(&commit, CommitMode::Sync)
                    .expect("commit on revoke");
            }
            let mut processed = self.processed.lock().unwrap();
            for e in tpl.elements() {
                processed.remove(&e.partition());
            }
        }
    }
    fn post_rebalance(&self, _c: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        if let Rebalance::Assign(_) = r {
            self.assigns.fetch_add(1, Ordering::SeqCst);
        }
    }
}

struct Member {
    c: BaseConsumer<Ctx>,
    ctx: Ctx,
}

fn member(bootstrap: &str, group: &str, topic: &str, extra: &[(&str, &str)]) -> Member {
    let ctx = Ctx::default();
    *ctx.topic.lock().unwrap() = topic.to_string();
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    let c: BaseConsumer<Ctx> = cfg.create_with_context(ctx.clone()).expect("consumer");
    c.subscribe(&[topic]).expect("subscribe");
    Member { c, ctx }
}

fn assigned(m: &Member) -> BTreeSet<i32> {
    m.c.assignment()
        .map(|t| t.elements().iter().map(|e| e.partition()).collect())
        .unwrap_or_default()
}

/// Polls every member until `done` holds for their assignments (bounded).
fn poll_until(members: &[&Member], limit: Duration, done: impl Fn(&[BTreeSet<i32>]) -> bool) {
    let start = Instant::now();
    loop {
        for m in members {
            let _ = m.c.poll(Duration::from_millis(20));
        }
        let a: Vec<BTreeSet<i32>> = members.iter().map(|m| assigned(m)).collect();
        if done(&a) {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "assignments did not converge within {limit:?}: {a:?}"
        );
    }
}

/// Every partition 0..n assigned exactly once, and every member has some.
fn split_completely(a: &[BTreeSet<i32>], n: i32) -> bool {
    let total: usize = a.iter().map(|s| s.len()).sum();
    let union: BTreeSet<i32> = a.iter().flatten().copied().collect();
    total == n as usize && union == (0..n).collect() && a.iter().all(|s| !s.is_empty())
}

fn fill(bootstrap: &str, topic: &str, partitions: i32, per_partition: usize) {
    let msgs: Vec<Msg> = (0..partitions as usize * per_partition)
        .map(|i| Msg {
            partition: Some((i % partitions as usize) as i32),
            value: Some(format!("{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    client::produce(bootstrap, topic, &msgs, &[]);
}

#[test]
fn members_split_partitions_and_rebalance_on_join_and_leave() {
    let (b, _d) = broker_fast_join();
    let bs = b.bootstrap();
    client::create_topic(&bs, "g12", 12);
    let m1 = member(&bs, "grp", "g12", &[]);
    let m2 = member(&bs, "grp", "g12", &[]);
    let m3 = member(&bs, "grp", "g12", &[]);
    poll_until(&[&m1, &m2, &m3], Duration::from_secs(60), |a| {
        split_completely(a, 12) && a.iter().all(|s| s.len() == 4)
    });
    // A member leaves (LeaveGroup on close): the other two take over every partition.
    drop(m3);
    poll_until(&[&m1, &m2], Duration::from_secs(60), |a| {
        split_completely(a, 12) && a.iter().all(|s| s.len() == 6)
    });
    // A new member joins.
    let m4 = member(&bs, "grp", "g12", &[]);
    poll_until(&[&m1, &m2, &m4], Duration::from_secs(60), |a| {
        split_completely(a, 12)
    });
}

#[test]
fn killed_member_expires_and_its_partitions_move() {
    let (b, _d) = broker_fast_join();
    let bs = b.bootstrap();
    client::create_topic(&bs, "gk", 12);
    let m1 = member(&bs, "grpk", "gk", &[("session.timeout.ms", "6000")]);
    // A second member in another process (kcat), killed with SIGKILL: no LeaveGroup is sent.
    let mut kcat = Command::new("kcat")
        .args([
            "-b",
            &bs,
            "-G",
            "grpk",
            "-X",
            "session.timeout.ms=6000",
            "-q",
            "gk",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kcat (apt-get install kcat)");
    poll_until(&[&m1], Duration::from_secs(60), |a| {
        !a[0].is_empty() && a[0].len() < 12
    });
    kcat.kill().unwrap();
    kcat.wait().unwrap();
    let killed = Instant::now();
    poll_until(&[&m1], Duration::from_secs(60), |a| a[0].len() == 12);
    let took = killed.elapsed();
    eprintln!("partitions of a killed member moved after {took:?} (session.timeout.ms=6000)");
    assert!(
        took >= Duration::from_secs(4),
        "moved before the session could expire: {took:?}"
    );
}

#[test]
fn commit_then_restart_consumer_resumes_after_commit() {
    let (b, _d) = broker_fast_join();
    let bs = b.bootstrap();
    client::create_topic(&bs, "gc", 1);
    fill(&bs, "gc", 1, 100);
    let m = member(&bs, "grpc", "gc", &[]);
    let mut seen = 0;
    let start = Instant::now();
    while seen < 40 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "consumed only {seen}"
        );
        if let Some(Ok(msg)) = m.c.poll(Duration::from_millis(100)) {
            assert_eq!(msg.offset(), seen);
            seen += 1;
        }
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("gc", 0, Offset::Offset(seen))
        .unwrap();
    m.c.commit(&tpl, CommitMode::Sync).unwrap();
    drop(m);
    let m = member(&bs, "grpc", "gc", &[]);
    let start = Instant::now();
    let first = loop {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing consumed after restart"
        );
        if let Some(Ok(msg)) = m.c.poll(Duration::from_millis(100)) {
            break msg.offset();
        }
    };
    assert_eq!(
        first, 40,
        "a restarted consumer resumes at the committed offset"
    );
}

fn committed(bs: &str, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = c.committed_offsets(tpl, Duration::from_secs(30)).unwrap();
    got.elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => -1,
        })
        .collect()
}

#[test]
fn committed_offsets_survive_broker_kill9() {
    let (mut b, _d) = broker_fast_join();
    let bs = b.bootstrap();
    client::create_topic(&bs, "gd", 3);
    fill(&bs, "gd", 3, 10);
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .set("group.id", "grpd")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for (p, o) in [(0, 3), (1, 7), (2, 10)] {
        tpl.add_partition_offset("gd", p, Offset::Offset(o))
            .unwrap();
    }
    c.commit(&tpl, CommitMode::Sync).unwrap();
    drop(c);
    assert_eq!(committed(&bs, "grpd", "gd", 3), vec![3, 7, 10]);
    b.kill9();
    b.restart();
    assert_eq!(committed(&bs, "grpd", "gd", 3), vec![3, 7, 10]);
}

#[test]
fn static_member_restart_causes_no_rebalance() {
    let (b, _d) = broker_fast_join();
    let bs = b.bootstrap();
    client::create_topic(&bs, "gs", 6);
    let session = [("session.timeout.ms", "30000")];
    let a = member(
        &bs,
        "grps",
        "gs",
        &[&session[..], &[("group.instance.id", "a")]].concat(),
    );
    let s = member(
        &bs,
        "grps",
        "gs",
        &[&session[..], &[("group.instance.id", "s")]].concat(),
    );
    poll_until(&[&a, &s], Duration::from_secs(60), |x| {
        split_completely(x, 6)
    });
    // With no initial delay the group formed with `a` alone and rebalanced when `s` joined: wait
    // until no assignment has changed for 3 s before taking the baseline, so that a late
    // callback of that setup is not counted as a rebalance caused by the restart.
    let settle_by = Instant::now() + Duration::from_secs(30);
    let mut seen = (
        a.ctx.assigns.load(Ordering::SeqCst),
        s.ctx.assigns.load(Ordering::SeqCst),
    );
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(3) {
        assert!(Instant::now() < settle_by, "the group never settled");
        let _ = a.c.poll(Duration::from_millis(50));
        let _ = s.c.poll(Duration::from_millis(50));
        let now = (
            a.ctx.assigns.load(Ordering::SeqCst),
            s.ctx.assigns.load(Ordering::SeqCst),
        );
        if now != seen {
            seen = now;
            quiet_since = Instant::now();
        }
    }
    assert!(split_completely(&[assigned(&a), assigned(&s)], 6));
    let before_a = assigned(&a);
    let before_s = assigned(&s);
    let assigns_a = a.ctx.assigns.load(Ordering::SeqCst);
    // `a` may have revoked once already, if it formed the group alone before `s` joined.
    let revokes_a = a.ctx.revokes.load(Ordering::SeqCst);
    // A static member does not leave the group on close; the same instance id comes back.
    drop(s);
    let s2 = member(
        &bs,
        "grps",
        "gs",
        &[&session[..], &[("group.instance.id", "s")]].concat(),
    );
    poll_until(&[&a, &s2], Duration::from_secs(30), |x| !x[1].is_empty());
    // Give a rebalance, if one had been started, time to reach the other member.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        let _ = a.c.poll(Duration::from_millis(50));
        let _ = s2.c.poll(Duration::from_millis(50));
    }
    assert_eq!(
        assigned(&s2),
        before_s,
        "the static member gets its partitions back"
    );
    assert_eq!(assigned(&a), before_a);
    assert_eq!(
        a.ctx.assigns.load(Ordering::SeqCst),
        assigns_a,
        "the other member saw no rebalance"
    );
    assert_eq!(
        a.ctx.revokes.load(Ordering::SeqCst),
        revokes_a,
        "the other member revoked nothing"
    );
}

#[test]
fn cooperative_sticky_moves_only_what_must_move() {
    let (b, _d) = broker_fast_join();
    let bs = b.bootstrap();
    client::create_topic(&bs, "gco", 12);
    let coop = [("partition.assignment.strategy", "cooperative-sticky")];
    let m1 = member(&bs, "grpco", "gco", &coop);
    let m2 = member(&bs, "grpco", "gco", &coop);
    poll_until(&[&m1, &m2], Duration::from_secs(60), |a| {
        split_completely(a, 12) && a.iter().all(|s| s.len() == 6)
    });
    let (b1, b2) = (assigned(&m1), assigned(&m2));
    let m3 = member(&bs, "grpco", "gco", &coop);
    poll_until(&[&m1, &m2, &m3], Duration::from_secs(60), |a| {
        split_completely(a, 12) && a.iter().all(|s| s.len() == 4)
    });
    assert!(
        assigned(&m1).is_subset(&b1),
        "member 1 kept only its own partitions"
    );
    assert!(
        assigned(&m2).is_subset(&b2),
        "member 2 kept only its own partitions"
    );
}

#[test]
fn kip848_consumer_protocol_joins_splits_and_consumes() {
    let b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic(&bs, "g848", 6);
    let proto = [("group.protocol", "consumer")];
    let m1 = member(&bs, "grp848", "g848", &proto);
    let m2 = member(&bs, "grp848", "g848", &proto);
    poll_until(&[&m1, &m2], Duration::from_secs(60), |a| {
        split_completely(a, 6)
    });
    drop(m2);
    // The remaining member takes every partition and reads all records produced from now on.
    let msgs: Vec<Msg> = (0..300)
        .map(|i| Msg {
            partition: Some(i % 6),
            value: Some(format!("new-{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    client::produce(&bs, "g848", &msgs, &[]);
    let mut seen = BTreeSet::new();
    let start = Instant::now();
    while seen.len() < 300 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "got {}",
            seen.len()
        );
        if let Some(Ok(msg)) = m1.c.poll(Duration::from_millis(50)) {
            seen.insert(msg.payload().unwrap().to_vec());
        }
    }
    assert_eq!(assigned(&m1).len(), 6);
}

#[test]
fn first_join_is_held_for_the_initial_rebalance_delay_only() {
    let b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic(&bs, "gj", 4);
    let start = Instant::now();
    let m = member(&bs, "grpj", "gj", &[]);
    poll_until(&[&m], Duration::from_secs(30), |a| a[0].len() == 4);
    let join = start.elapsed();
    eprintln!("first join with default settings took {join:?}");
    assert!(
        join >= Duration::from_millis(2500) && join < Duration::from_secs(10),
        "group.initial.rebalance.delay.ms is 3 s: join took {join:?}"
    );
}

/// Done-means of consumer groups: 4 consumers share 1,000,000 messages while members join and
/// leave; with commits on revoke every message is seen exactly once.
#[test]
fn million_messages_while_members_join_and_leave() {
    use std::sync::atomic::{AtomicBool, AtomicU8};
    const N: usize = 1_000_000;
    const PARTS: i32 = 12;
    let b = Broker::start();
    let bs = b.bootstrap();
    client::create_topic(&bs, "gm", PARTS);
    let msgs: Vec<Msg> = (0..N)
        .map(|i| Msg {
            partition: Some((i % PARTS as usize) as i32),
            value: Some((i as u32).to_be_bytes().to_vec()),
            ..Default::default()
        })
        .collect();
    let acked = client::produce(&bs, "gm", &msgs, &[("linger.ms", "20")]);
    assert_eq!(acked.len(), N);
    drop(msgs);
    let seen: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
    let total = Arc::new(AtomicUsize::new(0));
    let spawn = |name: &'static str| {
        let stop = Arc::new(AtomicBool::new(false));
        let (bs, seen, total, stop2) = (bs.clone(), seen.clone(), total.clone(), stop.clone());
        let h = std::thread::spawn(move || {
            // Members learn of a rebalance from a heartbeat: with librdkafka's 3 s default,
            // two rebalances in a row can outlast the last joiner's share of the messages.
            let m = member(
                &bs,
                "grpm",
                "gm",
                &[("client.id", name), ("heartbeat.interval.ms", "500")],
            );
            let mut mine = 0usize;
            while !stop2.load(Ordering::SeqCst) {
                match m.c.poll(Duration::from_millis(50)) {
                    Some(Ok(msg)) => {
                        // About 20k messages/s per consumer, so that members join and leave
                        // while the group is consuming.
                        mine += 1;
                        if mine.is_multiple_of(1000) {
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        let v = msg.payload().unwrap();
                        let i = u32::from_be_bytes(v.try_into().unwrap()) as usize;
                        seen[i].fetch_add(1, Ordering::SeqCst);
                        total.fetch_add(1, Ordering::SeqCst);
                        m.ctx
                            .processed
                            .lock()
                            .unwrap()
                            .insert(msg.partition(), msg.offset() + 1);
                    }
                    Some(Err(e)) => eprintln!("{name}: {e}"),
                    None => {}
                }
            }
            // Leaving: commit what was processed, then close (LeaveGroup).
            let owned = assigned(&m);
            let mut tpl = TopicPartitionList::new();
            for (p, next) in m.ctx.processed.lock().unwrap().iter() {
                if owned.contains(p) {
                    tpl.add_partition_offset("gm", *p, Offset::Offset(*next))
                        .unwrap();
                }
            }
            if tpl.count() > 0 {
                m.c.commit(&tpl, CommitMode::Sync).expect("commit on leave");
            }
            // Everything processed is committed: the revoke that closing runs has nothing left
            // to commit (and may run after LeaveGroup, when a commit is refused).
            m.ctx.processed.lock().unwrap().clear();
            mine
        });
        (stop, h)
    };
    let start = Instant::now();
    let limit = Duration::from_secs(300);
    let wait_for = |n: usize| {
        while total.load(Ordering::SeqCst) < n {
            assert!(
                start.elapsed() < limit,
                "stalled at {}",
                total.load(Ordering::SeqCst)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let c1 = spawn("c1");
    let c2 = spawn("c2");
    wait_for(150_000);
    let c3 = spawn("c3");
    wait_for(300_000);
    let c4 = spawn("c4");
    wait_for(450_000);
    c1.0.store(true, Ordering::SeqCst);
    let n1 = c1.1.join().unwrap();
    wait_for(600_000);
    let c5 = spawn("c5");
    wait_for(750_000);
    c2.0.store(true, Ordering::SeqCst);
    let n2 = c2.1.join().unwrap();
    let distinct = || seen.iter().filter(|s| s.load(Ordering::SeqCst) > 0).count();
    while distinct() < N {
        assert!(start.elapsed() < limit, "only {} of {N} seen", distinct());
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "1M messages consumed by a changing group in {:?}",
        start.elapsed()
    );
    let mut counts = vec![n1, n2];
    for (stop, h) in [c3, c4, c5] {
        stop.store(true, Ordering::SeqCst);
        counts.push(h.join().unwrap());
    }
    eprintln!("messages per consumer c1..c5: {counts:?}");
    assert!(
        counts.iter().all(|&n| n > 0),
        "every member, including late joiners, consumed: {counts:?}"
    );
    let dups: Vec<usize> = (0..N)
        .filter(|&i| seen[i].load(Ordering::SeqCst) > 1)
        .take(10)
        .collect();
    assert!(dups.is_empty(), "messages seen twice (first 10): {dups:?}");
    assert_eq!(total.load(Ordering::SeqCst), N);
}
