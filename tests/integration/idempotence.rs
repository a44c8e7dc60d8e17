//! Idempotent producers: retried batches are not written twice, sequence gaps, stale epochs and
//! unknown producers are refused with Kafka's error codes, and librdkafka's idempotent producer
//! goes on without errors or duplicates across broker restarts and kill -9.
//!
//! The retry test speaks the protocol itself (requests built with the `kafka-protocol` crate),
//! because no client lets a test resend the very same sequenced batch on purpose.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::client;
use common::raw::Conn;
use common::Broker;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use rdkafka::Offset;

impl Conn {
    fn init_producer_id(&mut self) -> (i64, i16) {
        let mut req = InitProducerIdRequest::default();
        req.transaction_timeout_ms = 60000;
        req.producer_id = kafka_protocol::messages::ProducerId(-1);
        req.producer_epoch = -1;
        let r: InitProducerIdResponse = self.call(&req, 4);
        assert_eq!(r.error_code, 0);
        (r.producer_id.0, r.producer_epoch)
    }

    /// Produces one batch of `n` records; returns (error code, base offset).
    fn produce_idempotent(
        &mut self,
        topic: &str,
        pid: i64,
        epoch: i16,
        seq: i32,
        n: usize,
    ) -> (i16, i64) {
        let recs: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: pid,
                producer_epoch: epoch,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: seq + i as i32,
                timestamp: 1_700_000_000_000,
                key: None,
                value: Some(Bytes::from(format!("seq-{}", seq + i as i32))),
                headers: Default::default(),
            })
            .collect();
        let mut records = BytesMut::new();
        let opts = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        RecordBatchEncoder::encode(&mut records, &recs, &opts).unwrap();
        let mut pd = PartitionProduceData::default();
        pd.index = 0;
        pd.records = Some(records.freeze());
        let mut td = TopicProduceData::default();
        td.name = TopicName(StrBytes::from_string(topic.to_string()));
        td.partition_data.push(pd);
        let mut req = ProduceRequest::default();
        req.acks = -1;
        req.timeout_ms = 10000;
        req.topic_data.push(td);
        let r: ProduceResponse = self.call(&req, 9);
        let p = &r.responses[0].partition_responses[0];
        (p.error_code, p.base_offset)
    }
}

const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const UNKNOWN_PRODUCER_ID: i16 = 59;

/// High watermark of partition 0 (retried while the client's metadata warms up).
fn end_offset(b: &Broker, topic: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = b.client_config().create().unwrap();
    for _ in 0..50 {
        if let Ok((_, high)) = c.fetch_watermarks(topic, 0, Duration::from_secs(10)) {
            return high;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no watermarks for {topic}");
}

#[test]
fn resent_batches_are_written_once_and_bad_sequences_refused() {
    let mut b = Broker::start();
    client::create_topic(&b.bootstrap(), "idem", 1);
    let mut c = Conn::open(&b);
    let (pid, epoch) = c.init_producer_id();
    assert!(pid >= 0);
    assert_eq!(epoch, 0);
    let (code, first) = c.produce_idempotent("idem", pid, epoch, 0, 3);
    assert_eq!((code, first), (0, 0));
    // The same batch again (a retry after a lost response): same offset, nothing written.
    assert_eq!(c.produce_idempotent("idem", pid, epoch, 0, 3), (0, 0));
    assert_eq!(end_offset(&b, "idem"), 3);
    assert_eq!(c.produce_idempotent("idem", pid, epoch, 3, 2), (0, 3));
    // An older batch still among the last five is also recognised.
    assert_eq!(c.produce_idempotent("idem", pid, epoch, 0, 3), (0, 0));
    assert_eq!(c.produce_idempotent("idem", pid, epoch, 3, 2), (0, 3));
    assert_eq!(end_offset(&b, "idem"), 5);
    // A gap in the sequence.
    assert_eq!(
        c.produce_idempotent("idem", pid, epoch, 7, 1).0,
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    // A producer id the broker never saw, not starting at sequence 0.
    assert_eq!(
        c.produce_idempotent("idem", pid + 1_000_000, 0, 5, 1).0,
        UNKNOWN_PRODUCER_ID
    );
    // A new epoch starts at 0; the old epoch is then fenced.
    assert_eq!(c.produce_idempotent("idem", pid, epoch + 1, 0, 1), (0, 5));
    assert_eq!(
        c.produce_idempotent("idem", pid, epoch, 5, 1).0,
        INVALID_PRODUCER_EPOCH
    );
    assert_eq!(end_offset(&b, "idem"), 6);

    // After kill -9 the producer state is rebuilt from the log: a retry is still recognised.
    b.kill9();
    b.restart();
    let mut c = Conn::open(&b);
    assert_eq!(c.produce_idempotent("idem", pid, epoch + 1, 0, 1), (0, 5));
    assert_eq!(c.produce_idempotent("idem", pid, epoch + 1, 1, 2), (0, 6));
    // And after a clean stop, from the snapshot.
    assert!(b.stop());
    b.restart();
    let mut c = Conn::open(&b);
    assert_eq!(c.produce_idempotent("idem", pid, epoch + 1, 1, 2), (0, 6));
    assert_eq!(
        c.produce_idempotent("idem", pid, epoch + 1, 9, 1).0,
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    assert_eq!(end_offset(&b, "idem"), 8);
    // Every record once, in order.
    let got = client::consume(&b.bootstrap(), "idem", &[0], Offset::Beginning, 8, &[]);
    let values: Vec<String> = got
        .iter()
        .map(|g| String::from_utf8(g.value.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(
        values,
        ["seq-0", "seq-1", "seq-2", "seq-3", "seq-4", "seq-0", "seq-1", "seq-2"]
    );
}

/// librdkafka's idempotent producer keeps producing through a kill -9 and a clean restart of
/// the broker: every message is delivered, exactly once.
#[test]
fn rdkafka_idempotent_producer_across_restarts() {
    use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
    let mut b = Broker::start();
    client::create_topic(&b.bootstrap(), "idem-rk", 3);
    let reports = client::Reports::default();
    let producer: ThreadedProducer<client::Reports> = b
        .client_config()
        .set("enable.idempotence", "true")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "60000")
        .set("retry.backoff.ms", "50")
        .create_with_context(reports.clone())
        .unwrap();
    let total = 30_000usize;
    for i in 0..total {
        let value = format!("m{i}");
        let mut rec: BaseRecord<'_, [u8], [u8], Box<usize>> =
            BaseRecord::with_opaque_to("idem-rk", Box::new(i)).payload(value.as_bytes());
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
        if i == total / 3 {
            b.kill9();
            b.restart();
        }
        if i == 2 * total / 3 {
            assert!(b.stop());
            b.restart();
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
    let reps = reports.0.lock().unwrap();
    assert_eq!(reps.len(), total);
    for (i, r) in reps.iter() {
        assert!(r.is_ok(), "message {i} failed: {r:?}");
    }
    drop(reps);
    let mut got = Vec::new();
    for p in 0..3 {
        let end = {
            use rdkafka::consumer::{BaseConsumer, Consumer};
            let c: BaseConsumer = b.client_config().create().unwrap();
            c.fetch_watermarks("idem-rk", p, Duration::from_secs(10))
                .unwrap()
                .1
        };
        got.extend(client::consume(
            &b.bootstrap(),
            "idem-rk",
            &[p],
            Offset::Beginning,
            end as usize,
            &[],
        ));
    }
    assert_eq!(got.len(), total, "no duplicates and nothing lost");
    let distinct: HashSet<Vec<u8>> = got.iter().map(|g| g.value.clone().unwrap()).collect();
    assert_eq!(distinct.len(), total);
}

/// The tooling APIs (DescribeProducers, ListTransactions, DescribeTransactions) show an open
/// transaction of a librdkafka transactional producer. The installed clients do not expose these
/// admin calls, so they are sent with the protocol crate.
#[test]
fn transaction_tooling_apis_show_an_open_transaction() {
    use kafka_protocol::messages::describe_producers_request::TopicRequest;
    use kafka_protocol::messages::{
        DescribeProducersRequest, DescribeProducersResponse, DescribeTransactionsRequest,
        DescribeTransactionsResponse, ListTransactionsRequest, ListTransactionsResponse,
        TransactionalId,
    };
    use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
    let b = Broker::start();
    client::create_topic(&b.bootstrap(), "tooling", 1);
    let p: ThreadedProducer<rdkafka::producer::DefaultProducerContext> = b
        .client_config()
        .set("transactional.id", "tooling-tx")
        .create()
        .unwrap();
    p.init_transactions(Duration::from_secs(30)).unwrap();
    p.begin_transaction().unwrap();
    p.send(BaseRecord::<[u8], [u8]>::to("tooling").payload(b"open".as_slice()))
        .map_err(|(e, _)| e)
        .unwrap();
    p.flush(Duration::from_secs(30)).unwrap();

    let mut c = Conn::open(&b);
    let mut req = DescribeProducersRequest::default();
    let mut t = TopicRequest::default();
    t.name = TopicName(StrBytes::from_static_str("tooling"));
    t.partition_indexes = vec![0];
    req.topics.push(t);
    let r: DescribeProducersResponse = c.call(&req, 0);
    let part = &r.topics[0].partitions[0];
    assert_eq!(part.error_code, 0);
    assert_eq!(part.active_producers.len(), 1);
    assert_eq!(part.active_producers[0].current_txn_start_offset, 0);
    assert_eq!(part.active_producers[0].last_sequence, 0);

    let mut req = ListTransactionsRequest::default();
    req.duration_filter = -1;
    let r: ListTransactionsResponse = c.call(&req, 1);
    let listed: Vec<(String, String)> = r
        .transaction_states
        .iter()
        .map(|t| {
            (
                t.transactional_id.0.to_string(),
                t.transaction_state.to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![("tooling-tx".to_string(), "Ongoing".to_string())]
    );

    let mut req = DescribeTransactionsRequest::default();
    req.transactional_ids = vec![
        TransactionalId(StrBytes::from_static_str("tooling-tx")),
        TransactionalId(StrBytes::from_static_str("nobody")),
    ];
    let r: DescribeTransactionsResponse = c.call(&req, 0);
    let known = &r.transaction_states[0];
    assert_eq!(known.error_code, 0);
    assert_eq!(known.transaction_state.as_str(), "Ongoing");
    assert_eq!(known.topics[0].topic.0.as_str(), "tooling");
    assert_eq!(known.topics[0].partitions, vec![0]);
    assert_eq!(r.transaction_states[1].error_code, 105); // TRANSACTIONAL_ID_NOT_FOUND
    p.commit_transaction(Duration::from_secs(30)).unwrap();
}
