//! Tests of the request validator against kafka-protocol's own encoder and decoder.

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::Decodable;

use super::corpus::{default_frame, random_frame, Rng};
use super::*;
use crate::kafka::apis::api_versions::ADVERTISED;

fn advertised() -> impl Iterator<Item = (ApiKey, i16)> {
    ADVERTISED
        .iter()
        .flat_map(|&(k, min, max)| (min..=max).map(move |v| (k, v)))
}

/// Decodes a frame as the broker does (Produce v2 as v3 with a null transactional id); returns
/// the bytes left over.
pub(crate) fn decode(key: ApiKey, version: i16, frame: &[u8]) -> anyhow::Result<usize> {
    let mut buf = Bytes::copy_from_slice(frame);
    RequestHeader::decode(&mut buf, key.request_header_version(version))?;
    if key == ApiKey::Produce && version < 3 {
        let mut v3 = (-1i16).to_be_bytes().to_vec();
        v3.extend_from_slice(&buf);
        let mut body = Bytes::from(v3);
        RequestKind::decode(key, &mut body, 3)?;
        return Ok(body.len());
    }
    RequestKind::decode(key, &mut buf, version)?;
    Ok(buf.len())
}

#[test]
fn every_advertised_version_has_a_layout_and_header_version() {
    for (key, version) in advertised() {
        let m = message(key as i16).unwrap_or_else(|| panic!("{key:?} has no layout"));
        assert!(m.valid.has(version), "{key:?} v{version} not in the layout");
        if !(key == ApiKey::Produce && version < 3) {
            assert_eq!(
                header_version(m, version),
                key.request_header_version(version),
                "{key:?} v{version} header version"
            );
        }
    }
}

#[test]
fn default_requests_of_every_advertised_version_pass() {
    for (key, version) in advertised() {
        let frame = default_frame(key, version);
        let used =
            check_request(&frame).unwrap_or_else(|e| panic!("{key:?} v{version} refused: {e}"));
        assert_eq!(used, frame.len(), "{key:?} v{version} not read to the end");
    }
}

#[test]
fn random_well_formed_requests_pass_and_decode() {
    let mut rng = Rng::new(16);
    for (key, version) in advertised() {
        for i in 0..200 {
            let frame = random_frame(key, version, &mut rng);
            let used = check_request(&frame)
                .unwrap_or_else(|e| panic!("{key:?} v{version} #{i} refused: {e}: {frame:02x?}"));
            assert_eq!(used, frame.len(), "{key:?} v{version} #{i}");
            if key == ApiKey::Produce && version < 2 {
                continue;
            }
            let left = decode(key, version, &frame).unwrap_or_else(|e| {
                panic!("{key:?} v{version} #{i} undecodable: {e}: {frame:02x?}")
            });
            assert_eq!(left, 0, "{key:?} v{version} #{i}: decoder stopped early");
        }
    }
}

#[test]
fn the_metadata_frame_of_issue_16_is_refused() {
    let frame = hex("00030000000534ec0007686f7374696c657f7f7f7f");
    let e = check_request(&frame).unwrap_err();
    assert_eq!(e.reason, "array count exceeds the request");
}

/// Every truncation of every default request is refused, except where the cut lands at the end
/// of the header and body (trailing fields of the tagged part cannot be cut that way).
#[test]
fn truncations_are_refused() {
    for (key, version) in advertised() {
        let frame = default_frame(key, version);
        for cut in 0..frame.len() {
            assert!(
                check_request(&frame[..cut]).is_err(),
                "{key:?} v{version} cut at {cut} accepted"
            );
        }
    }
}

#[test]
fn huge_counts_and_lengths_are_refused() {
    let mut rng = Rng::new(7);
    let mut refused = 0;
    for (key, version) in advertised() {
        for _ in 0..50 {
            let frame = random_frame(key, version, &mut rng);
            // Overwrite each position with a huge int32 or varint; whatever passes must decode.
            for pos in 8..frame.len() {
                for patch in [
                    &[0x7f, 0x7f, 0x7f, 0x7f][..],
                    &[0xff, 0xff, 0xff, 0x7f],
                    &[0x80, 0x80, 0x80, 0x80, 0x08],
                ] {
                    let mut f = frame.clone();
                    for (i, b) in patch.iter().enumerate() {
                        if pos + i < f.len() {
                            f[pos + i] = *b;
                        }
                    }
                    match check_request(&f) {
                        Err(_) => refused += 1,
                        Ok(_) => {
                            if !(key == ApiKey::Produce && version < 2) {
                                let _ = decode(key, version, &f);
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(refused > 10_000, "only {refused} refused");
}

#[test]
fn tagged_fields_are_bounded() {
    // Metadata v12 body: topics null, allow auto create, include topic ops, then tagged fields.
    let mut frame = default_frame(ApiKey::Metadata, 12);
    let n = frame.len();
    frame[n - 1] = 0x05; // five tagged fields, none present
    assert_eq!(
        check_request(&frame).unwrap_err().reason,
        "tagged-field count exceeds the request"
    );
    frame[n - 1] = 0x01;
    frame.extend_from_slice(&[0x09, 0xff, 0xff, 0xff, 0x7f]); // tag 9 of 2^28 bytes
    assert_eq!(
        check_request(&frame).unwrap_err().reason,
        "tagged-field size exceeds the request"
    );
}

#[test]
fn a_known_tagged_field_must_fill_its_size() {
    // Fetch v12 with the ClusterId tag (0) holding a one-byte string but claiming two bytes.
    let mut frame = default_frame(ApiKey::Fetch, 12);
    let n = frame.len();
    assert_eq!(frame[n - 1], 0, "no tagged fields in the default request");
    frame[n - 1] = 1;
    frame.extend_from_slice(&[0x00, 0x02, 0x01, 0x00]);
    assert_eq!(
        check_request(&frame).unwrap_err().reason,
        "tagged field does not fill its size"
    );
    frame.truncate(n);
    frame.extend_from_slice(&[0x00, 0x01, 0x01]);
    assert!(check_request(&frame).is_ok());
}

/// Fetch v18's HighWatermark (tag 1 of a partition) is read as an int64; the same tag in a v17
/// partition, where no version defines it, is refused by both readers.
#[test]
fn fetch_v18_high_watermark_tag_is_known_only_from_v18() {
    use bytes::BytesMut;
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::FetchRequest;
    use kafka_protocol::protocol::Encodable;

    let mut p = FetchPartition::default();
    p.partition_max_bytes = 1 << 20;
    p.high_watermark = 42;
    let mut t = FetchTopic::default();
    t.topic_id = uuid::Uuid::from_u128(7);
    t.partitions.push(p);
    let mut req = FetchRequest::default();
    req.topics.push(t);
    let mut frame = BytesMut::new();
    let mut h = RequestHeader::default();
    h.request_api_key = ApiKey::Fetch as i16;
    h.request_api_version = 18;
    h.encode(&mut frame, 2).unwrap();
    req.encode(&mut frame, 18).unwrap();
    let mut frame = frame.to_vec();
    assert_eq!(check_request(&frame).unwrap(), frame.len());
    assert_eq!(decode(ApiKey::Fetch, 18, &frame).unwrap(), 0);
    frame[3] = 17;
    assert_eq!(
        check_request(&frame).unwrap_err().reason,
        "tagged field not defined for this version"
    );
    assert!(decode(ApiKey::Fetch, 17, &frame).is_err());
}

pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
