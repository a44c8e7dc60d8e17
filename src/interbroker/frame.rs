//! Request framing and response decoding for the inter-broker client, with kafka-protocol's
//! typed messages: a request goes out as size, request header (the version the API's header
//! version mapping gives, with this broker's client id) and body; an answer is checked for its
//! correlation id and decoded as the request's response type.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

use super::error::PeerError;

/// Encodes `req` at `version` as a size-prefixed request frame.
pub fn encode_request<R: Request>(
    req: &R,
    version: i16,
    correlation_id: i32,
    client_id: &str,
) -> Result<Bytes, PeerError> {
    let mut header = RequestHeader::default();
    header.request_api_key = R::KEY;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = Some(StrBytes::from_string(client_id.to_string()));
    let mut buf = BytesMut::new();
    buf.put_i32(0); // size, patched below
    header
        .encode(&mut buf, R::header_version(version))
        .and_then(|_| req.encode(&mut buf, version))
        .map_err(|e| PeerError::Encode(e.to_string()))?;
    let size = i32::try_from(buf.len() - 4).map_err(|_| PeerError::Encode("too large".into()))?;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}

/// Decodes an answer (without its size prefix) to the request sent with `correlation_id` at
/// `version`.
pub fn decode_response<R: Request>(
    mut body: Bytes,
    version: i16,
    correlation_id: i32,
) -> Result<R::Response, PeerError> {
    let header_version = <R::Response as HeaderVersion>::header_version(version);
    let header = ResponseHeader::decode(&mut body, header_version)
        .map_err(|e| PeerError::Malformed(e.to_string()))?;
    if header.correlation_id != correlation_id {
        return Err(PeerError::Malformed(format!(
            "correlation id {} answers no request in flight (expected {correlation_id})",
            header.correlation_id
        )));
    }
    <R::Response as Decodable>::decode(&mut body, version)
        .map_err(|e| PeerError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::write_txn_markers_response::WritableTxnMarkerResult;
    use kafka_protocol::messages::{ProducerId, WriteTxnMarkersRequest, WriteTxnMarkersResponse};

    #[test]
    fn a_request_frame_carries_its_size_header_and_body() {
        let req = WriteTxnMarkersRequest::default();
        let f = encode_request(&req, 1, 7, "runnel-broker-1").unwrap();
        let size = i32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize;
        assert_eq!(size, f.len() - 4);
        assert_eq!(i16::from_be_bytes([f[4], f[5]]), 27);
        assert_eq!(i16::from_be_bytes([f[6], f[7]]), 1);
        assert_eq!(i32::from_be_bytes([f[8], f[9], f[10], f[11]]), 7);
        let mut rest = f.slice(4..);
        let h = RequestHeader::decode(&mut rest, 2).unwrap();
        assert_eq!(h.client_id.unwrap().as_str(), "runnel-broker-1");
    }

    fn answer(correlation_id: i32) -> Bytes {
        let mut resp = WriteTxnMarkersResponse::default();
        let mut m = WritableTxnMarkerResult::default();
        m.producer_id = ProducerId(42);
        resp.markers.push(m);
        let mut h = ResponseHeader::default();
        h.correlation_id = correlation_id;
        let mut b = BytesMut::new();
        h.encode(&mut b, 1).unwrap();
        resp.encode(&mut b, 1).unwrap();
        b.freeze()
    }

    #[test]
    fn answers_decode_as_the_requests_response() {
        let r = decode_response::<WriteTxnMarkersRequest>(answer(9), 1, 9).unwrap();
        assert_eq!(r.markers[0].producer_id, ProducerId(42));
    }

    #[test]
    fn answers_to_another_request_or_garbage_are_refused() {
        let e = decode_response::<WriteTxnMarkersRequest>(answer(8), 1, 9).unwrap_err();
        assert!(matches!(e, PeerError::Malformed(_)));
        let e = decode_response::<WriteTxnMarkersRequest>(
            Bytes::from_static(&[0, 0, 0, 9, 0xff]),
            1,
            9,
        )
        .unwrap_err();
        assert!(matches!(e, PeerError::Malformed(_)));
    }
}
