//! Kafka request decode and response encode with kafka-protocol, as the broker does them:
//! Produce and Fetch requests (header + body), Produce responses, and Fetch responses encoded
//! through the zero-copy rope (records spliced in as `Bytes`, see `runnel::kafka::rope`), and
//! the request validator's pass over a Produce request (`runnel::kafka::validate`).

mod common;

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, ProduceRequest, ProduceResponse, RequestHeader,
    RequestKind, ResponseKind,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use runnel::kafka::dispatch::{encode, Outcome, Reply};
use runnel::kafka::rope::{records_field, Substitutions};
use runnel::kafka::validate::check_request;

const PRODUCE_V: i16 = 9;
const FETCH_V: i16 = 12;
const PARTITIONS: i32 = 6;

/// A request frame as `read_frame` returns it: header and body, no size prefix.
fn frame<T: Encodable>(key: ApiKey, version: i16, body: &T) -> Bytes {
    let mut header = RequestHeader::default();
    header.request_api_key = key as i16;
    header.request_api_version = version;
    header.correlation_id = 7;
    header.client_id = Some(StrBytes::from_static_str("bench"));
    let mut buf = BytesMut::new();
    let res = header
        .encode(&mut buf, key.request_header_version(version))
        .and_then(|_| body.encode(&mut buf, version));
    if let Err(e) = res {
        panic!("encoding a benchmark request: {e}");
    }
    buf.freeze()
}

/// A Produce request with one batch of `count` x `size` per partition.
fn produce_request(count: usize, size: usize) -> ProduceRequest {
    let records = common::batch(count, size);
    let mut t = TopicProduceData::default();
    t.name = common::topic_name("bench");
    for p in 0..PARTITIONS {
        let mut pd = PartitionProduceData::default();
        pd.index = p;
        pd.records = Some(records.clone());
        t.partition_data.push(pd);
    }
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 30_000;
    req.topic_data.push(t);
    req
}

fn fetch_request() -> FetchRequest {
    let mut t = FetchTopic::default();
    t.topic = common::topic_name("bench");
    for p in 0..PARTITIONS {
        let mut fp = FetchPartition::default();
        fp.partition = p;
        fp.fetch_offset = 123_456;
        fp.partition_max_bytes = 1 << 20;
        t.partitions.push(fp);
    }
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = 500;
    req.min_bytes = 1;
    req.max_bytes = 50 << 20;
    req.isolation_level = 1;
    req.topics.push(t);
    req
}

fn decode(frame: Bytes, key: ApiKey, version: i16) -> RequestKind {
    use kafka_protocol::protocol::Decodable;
    let mut buf = frame;
    let r = RequestHeader::decode(&mut buf, key.request_header_version(version))
        .and_then(|_| RequestKind::decode(key, &mut buf, version));
    match r {
        Ok(k) => k,
        Err(e) => panic!("decoding: {e}"),
    }
}

fn produce_response() -> ProduceResponse {
    let mut t = TopicProduceResponse::default();
    t.name = common::topic_name("bench");
    for p in 0..PARTITIONS {
        let mut pr = PartitionProduceResponse::default();
        pr.index = p;
        pr.base_offset = 1_000_000;
        pr.log_append_time_ms = -1;
        t.partition_responses.push(pr);
    }
    let mut resp = ProduceResponse::default();
    resp.responses.push(t);
    resp
}

/// A Fetch response whose partitions each carry `chunks` cached batches.
fn fetch_reply(chunks: &[Bytes]) -> Reply {
    let mut subs = Substitutions::default();
    let mut t = FetchableTopicResponse::default();
    t.topic = common::topic_name("bench");
    for p in 0..PARTITIONS {
        let mut pd = PartitionData::default();
        pd.partition_index = p;
        pd.high_watermark = 2_000_000;
        pd.last_stable_offset = 2_000_000;
        pd.preferred_read_replica = BrokerId(-1);
        pd.aborted_transactions = Some(Vec::new());
        pd.records = Some(records_field(chunks.to_vec(), &mut subs));
        t.partitions.push(pd);
    }
    let mut resp = FetchResponse::default();
    resp.responses.push(t);
    Reply {
        body: ResponseKind::Fetch(resp),
        subs,
    }
}

fn chunks_len(o: &Outcome) -> usize {
    match o {
        Outcome::Respond(c) => c.iter().map(|b| b.len()).sum(),
        _ => panic!("encoding failed"),
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("protocol");
    for (count, size) in [(128usize, 1024usize), (1000, 100)] {
        let f = frame(ApiKey::Produce, PRODUCE_V, &produce_request(count, size));
        // Records are not copied or parsed by the decoder (they stay `Bytes` slices of the
        // frame), so the cost is per request, not per byte.
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("decode_produce_6x{count}x{size}B"), |b| {
            b.iter(|| decode(black_box(f.clone()), ApiKey::Produce, PRODUCE_V))
        });
        // The request validator's pass over the same frame (it runs before the decoder).
        g.bench_function(format!("validate_produce_6x{count}x{size}B"), |b| {
            b.iter(|| check_request(black_box(&f)).map_err(|e| panic!("refused: {e}")))
        });
    }
    let f = frame(ApiKey::Fetch, FETCH_V, &fetch_request());
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_fetch_6_partitions", |b| {
        b.iter(|| decode(black_box(f.clone()), ApiKey::Fetch, FETCH_V))
    });
    g.bench_function("encode_produce_response_6_partitions", |b| {
        b.iter(|| {
            let reply = Reply::from(ResponseKind::Produce(produce_response()));
            chunks_len(&encode(ApiKey::Produce, PRODUCE_V, 7, reply))
        })
    });
    // 16 cached 16 KiB batches per partition: 1.5 MiB of records spliced in, not copied.
    let batch = common::batch(16, 1000);
    let chunks: Vec<Bytes> = (0..16).map(|_| batch.clone()).collect();
    let total = chunks.iter().map(|b| b.len()).sum::<usize>() * PARTITIONS as usize;
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("encode_fetch_response_6x16_batches_rope", |b| {
        b.iter(|| chunks_len(&encode(ApiKey::Fetch, FETCH_V, 7, fetch_reply(&chunks))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::short();
    targets = bench
}
criterion_main!(benches);
