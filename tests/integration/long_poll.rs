//! Long-polling fetches against the real broker on two cores, driven by librdkafka: a record
//! produced to either core's partition answers a fetch that waits on both cores at once, long
//! before `fetch.wait.max.ms`, and the waits left on the other core are cancelled rather than
//! lingering until their deadline.

use crate::common;

use std::time::{Duration, Instant};

use common::client;
use common::metrics::{scrape_until, value};
use common::{free_port, Broker};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};

const ROUNDS: usize = 24;
const PARTITIONS: i32 = 4;

#[test]
fn a_woken_fetch_answers_at_once_and_cancels_its_waits_on_other_cores() {
    let mport = free_port();
    let listen = format!("127.0.0.1:{mport}");
    let b = Broker::start_with(&["--cores", "2", "--metrics-listen", &listen]);
    let bs = b.bootstrap();
    client::create_topic(&bs, "lp", PARTITIONS);

    // A long wait: without a wake-up each record would take 20 s to arrive, and without
    // cancellation every round would leave a waiter behind on the other core for 20 s.
    let consumer: BaseConsumer = b
        .client_config()
        .set("group.id", "lp-readers")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "20000")
        .set("socket.timeout.ms", "60000")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset("lp", p, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&tpl).expect("assign");
    let producer: ThreadedProducer<DefaultProducerContext> = b
        .client_config()
        .set("linger.ms", "0")
        .create()
        .expect("producer");

    let send = |partition: i32, value: &str| {
        producer
            .send(
                BaseRecord::<(), _>::to("lp")
                    .partition(partition)
                    .payload(value),
            )
            .map_err(|(e, _)| e)
            .expect("enqueue");
        producer.flush(Duration::from_secs(10)).expect("flush");
    };
    let receive = |what: &str, limit: Duration| {
        let since = Instant::now();
        loop {
            assert!(
                since.elapsed() < limit,
                "{what}: the waiting fetch was not answered"
            );
            if let Some(m) = consumer.poll(Duration::from_millis(100)) {
                let m = m.expect("consume");
                return (m.partition(), m.payload().map(<[u8]>::to_vec));
            }
        }
    };
    // Warm-up: one record in every partition, so that librdkafka knows every partition's
    // offset and puts all four in each fetch from now on.
    for p in 0..PARTITIONS {
        send(p, "warm-up");
    }
    for p in 0..PARTITIONS {
        receive(&format!("warm-up {p}"), Duration::from_secs(25));
    }

    let started = Instant::now();
    for round in 0..ROUNDS {
        // Always partition 0: the fetch's waits on the core that does not own it never fire,
        // so only cancellation removes them.
        let partition = 0;
        let value = format!("round-{round}");
        send(partition, &value);
        let got = receive(&format!("round {round}"), Duration::from_secs(5));
        assert_eq!(got, (partition, Some(value.into_bytes())), "round {round}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the rounds must end well inside the 20 s wait for the check below to mean anything"
    );

    // The consumer's next fetch is waiting now: at most one wait per core may be registered.
    // Waiters of the earlier fetches, had they not been cancelled, would still be there.
    let s = scrape_until(mport, "a waiting fetch", |s| {
        value(s, "runnel_fetch_waiting", &[]) >= 1.0
    });
    let waiting = value(&s, "runnel_fetch_waiting", &[]);
    assert!(
        waiting <= 2.0,
        "{waiting} fetch waits registered after {ROUNDS} answered fetches"
    );
}
