//! Raw TCP clients for malformed-input and wire-level tests: hand-written frames that no client
//! library sends, and [`Conn`], which sends kafka-protocol requests at a version the test picks.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

use super::Broker;

/// A plain TCP connection to the broker, with a 10 s read timeout.
pub fn connect(b: &Broker) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", b.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// True when the broker closed the connection (EOF or reset) instead of answering.
pub fn closed(mut s: TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
    }
}

/// Frames a request body with its 4-byte size prefix.
pub fn framed(body: &[u8]) -> Vec<u8> {
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    frame
}

/// Bytes from a hex string ("00ff...").
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A protocol connection that sends requests encoded by kafka-protocol at the version the test
/// asks for (no negotiation), and decodes the responses at that version.
pub struct Conn {
    stream: TcpStream,
    correlation_id: i32,
}

impl Conn {
    /// Connects to the broker (20 s read timeout).
    pub fn open(b: &Broker) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", b.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Conn {
            stream,
            correlation_id: 0,
        }
    }

    /// Sends `req` at `version` and returns the response, checking its correlation id and that
    /// the response is decoded to its last byte.
    pub fn call<R: Request>(&mut self, req: &R, version: i16) -> R::Response {
        self.try_call(req, version)
            .expect("the broker answers (it did not close the connection)")
    }

    /// As [`Conn::call`], but `None` when the broker closed the connection instead of answering
    /// (or the read timed out).
    pub fn try_call<R: Request>(&mut self, req: &R, version: i16) -> Option<R::Response> {
        self.correlation_id += 1;
        let mut h = RequestHeader::default();
        h.request_api_key = R::KEY;
        h.request_api_version = version;
        h.correlation_id = self.correlation_id;
        h.client_id = Some(StrBytes::from_static_str("raw-conn"));
        let mut body = BytesMut::new();
        h.encode(&mut body, R::header_version(version)).unwrap();
        req.encode(&mut body, version).unwrap();
        self.stream.write_all(&framed(&body)).ok()?;
        let mut buf = self.read_frame()?;
        let header =
            ResponseHeader::decode(&mut buf, R::Response::header_version(version)).unwrap();
        assert_eq!(header.correlation_id, self.correlation_id, "correlation id");
        let resp = R::Response::decode(&mut buf, version).unwrap();
        assert!(
            buf.is_empty(),
            "{} bytes left after the response",
            buf.len()
        );
        Some(resp)
    }

    fn read_frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).ok()?;
        let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut buf).ok()?;
        Some(Bytes::from(buf))
    }
}

/// One uncompressed batch holding `values`.
pub fn batch(values: &[&str]) -> Bytes {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: 1_700_000_000_000 + i as i64,
            key: None,
            value: Some(Bytes::from(v.to_string())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let opts = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &opts).unwrap();
    buf.freeze()
}
