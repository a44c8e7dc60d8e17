//! Tests of the answer check of the inter-broker client ([`super::check_response`]) against
//! kafka-protocol's own encoder.

use bytes::BytesMut;
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{
    ApiKey, ProducerId, ResponseHeader, TopicName, WriteTxnMarkersResponse,
};
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::*;

/// A WriteTxnMarkers v1 answer (header v1 and body) with `markers` markers of two topics of
/// three partitions each.
fn answer(markers: usize) -> Vec<u8> {
    let mut header = ResponseHeader::default();
    header.correlation_id = 7;
    let mut body = WriteTxnMarkersResponse::default();
    for m in 0..markers {
        let mut result = WritableTxnMarkerResult::default();
        result.producer_id = ProducerId(m as i64);
        for t in 0..2 {
            let mut topic = WritableTxnMarkerTopicResult::default();
            topic.name = TopicName(StrBytes::from_string(format!("topic-{t}")));
            for p in 0..3 {
                let mut part = WritableTxnMarkerPartitionResult::default();
                part.partition_index = p;
                part.error_code = 6;
                topic.partitions.push(part);
            }
            result.topics.push(topic);
        }
        body.markers.push(result);
    }
    let mut buf = BytesMut::new();
    header.encode(&mut buf, 1).unwrap();
    body.encode(&mut buf, 1).unwrap();
    buf.to_vec()
}

const KEY: i16 = ApiKey::WriteTxnMarkers as i16;

#[test]
fn well_formed_answers_pass_whole() {
    for markers in [0, 1, 5] {
        let frame = answer(markers);
        assert_eq!(check_response(KEY, 1, &frame), Ok(frame.len()), "{markers}");
    }
}

#[test]
fn a_count_beyond_the_bytes_is_refused() {
    let mut frame = answer(1);
    // Header v1: correlation id (4 bytes) and an empty tagged-field section (1 byte); then the
    // markers array's compact count (count + 1 as a varint): 2 for one marker.
    assert_eq!(frame[5], 2);
    // Claim 2^28 markers: five varint bytes instead of one.
    frame.splice(5..6, [0x81, 0x80, 0x80, 0x80, 0x01]);
    assert!(check_response(KEY, 1, &frame).is_err());
}

#[test]
fn every_truncation_is_refused_without_a_panic() {
    let frame = answer(2);
    for len in 0..frame.len() {
        assert!(check_response(KEY, 1, &frame[..len]).is_err(), "{len}");
    }
}

#[test]
fn apis_and_versions_the_client_does_not_send_have_no_layout() {
    let frame = answer(1);
    assert!(check_response(KEY, 0, &frame).is_err());
    assert!(check_response(KEY, 2, &frame).is_err());
    assert!(check_response(ApiKey::Fetch as i16, 1, &frame).is_err());
    assert_eq!(
        check_peer_response(KEY, 1, &frame),
        Ok(()),
        "the client's adapter passes what the check passes"
    );
}

/// An OffsetForLeaderEpoch answer at `version` (header v0 below v4, v1 from it) for two
/// partitions.
fn epoch_answer(version: i16) -> Vec<u8> {
    use kafka_protocol::messages::offset_for_leader_epoch_response::{
        EpochEndOffset, OffsetForLeaderTopicResult,
    };
    use kafka_protocol::messages::OffsetForLeaderEpochResponse;
    let mut body = OffsetForLeaderEpochResponse::default();
    let mut topic = OffsetForLeaderTopicResult::default();
    topic.topic = TopicName(StrBytes::from_static_str("t"));
    for p in 0..2 {
        let mut e = EpochEndOffset::default();
        e.partition = p;
        e.leader_epoch = 3;
        e.end_offset = 100 + p as i64;
        topic.partitions.push(e);
    }
    body.topics.push(topic);
    let mut buf = BytesMut::new();
    ResponseHeader::default()
        .encode(&mut buf, if version >= 4 { 1 } else { 0 })
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    buf.to_vec()
}

/// A Fetch answer at `version` with one partition holding `records`.
fn fetch_answer(version: i16, records: bytes::Bytes) -> Vec<u8> {
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::FetchResponse;
    let mut part = PartitionData::default();
    part.high_watermark = 10;
    part.records = Some(records);
    let mut topic = FetchableTopicResponse::default();
    topic.topic = TopicName(StrBytes::from_static_str("t"));
    topic.partitions.push(part);
    let mut body = FetchResponse::default();
    body.responses.push(topic);
    let mut buf = BytesMut::new();
    ResponseHeader::default()
        .encode(&mut buf, if version >= 12 { 1 } else { 0 })
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    buf.to_vec()
}

#[test]
fn offset_for_leader_epoch_and_fetch_answers_have_layouts() {
    let key = ApiKey::OffsetForLeaderEpoch as i16;
    for version in 2..=4 {
        let frame = epoch_answer(version);
        assert_eq!(
            check_response(key, version, &frame),
            Ok(frame.len()),
            "v{version}"
        );
        for len in 0..frame.len() {
            assert!(
                check_response(key, version, &frame[..len]).is_err(),
                "v{version} {len}"
            );
        }
    }
    assert!(
        check_response(key, 1, &epoch_answer(2)).is_err(),
        "v1 is not sent"
    );
    let records = bytes::Bytes::from(vec![0u8; 70]);
    for version in [4, 11, 12, 17] {
        let frame = fetch_answer(version, records.clone());
        let key = ApiKey::Fetch as i16;
        assert_eq!(
            check_response(key, version, &frame),
            Ok(frame.len()),
            "v{version}"
        );
        assert!(check_response(key, version, &frame[..frame.len() - 1]).is_err());
    }
}
