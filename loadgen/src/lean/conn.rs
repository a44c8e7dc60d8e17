//! A blocking Kafka connection built on `kafka-protocol`: framing, request headers, version
//! negotiation (ApiVersions) and the one-shot Metadata lookup.
//!
//! Requests and responses are length-prefixed frames. [`Conn::split`] gives a writer half and a
//! reader half (two handles on the same socket) so that a producer or consumer can keep several
//! requests in flight: the broker answers them in order on one connection.

use std::io::{BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};

/// Newest versions the lean client speaks (capped below the versions that identify topics by id
/// only, so that every request can name its topic).
const WANTED: [(ApiKey, i16, i16); 3] = [
    (ApiKey::Produce, 3, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::Metadata, 1, 9),
];

/// API versions agreed with the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    /// Produce version.
    pub produce: i16,
    /// Fetch version.
    pub fetch: i16,
    /// Metadata version.
    pub metadata: i16,
}

/// Picks, for each API the client needs, the newest version both sides support.
pub fn pick_versions(resp: &ApiVersionsResponse) -> Result<Versions> {
    let mut got = [0i16; 3];
    for (i, (key, min, max)) in WANTED.iter().enumerate() {
        let Some(k) = resp.api_keys.iter().find(|k| k.api_key == *key as i16) else {
            bail!("broker does not support {key:?}");
        };
        let v = (*max).min(k.max_version);
        if v < (*min).max(k.min_version) {
            bail!(
                "no common {key:?} version: broker {}..={}, lean client {min}..={max}",
                k.min_version,
                k.max_version
            );
        }
        got[i] = v;
    }
    Ok(Versions {
        produce: got[0],
        fetch: got[1],
        metadata: got[2],
    })
}

/// Encodes one request frame (length prefix, header, body) into `out`.
pub fn encode_request<R: Encodable + HeaderVersion>(
    out: &mut BytesMut,
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    req: &R,
) -> Result<()> {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_string())));
    let start = out.len();
    out.put_i32(0);
    header.encode(out, R::header_version(version))?;
    req.encode(out, version)?;
    let len = (out.len() - start - 4) as i32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Decodes a response frame body (without the length prefix): checks the correlation id and
/// returns the response.
pub fn decode_response<R: Decodable>(
    mut frame: Bytes,
    key: ApiKey,
    version: i16,
    correlation_id: i32,
) -> Result<R> {
    let header = ResponseHeader::decode(&mut frame, key.response_header_version(version))?;
    if header.correlation_id != correlation_id {
        bail!(
            "{key:?} response has correlation id {}, expected {correlation_id}",
            header.correlation_id
        );
    }
    R::decode(&mut frame, version).with_context(|| format!("decoding {key:?} v{version} response"))
}

/// Sending half of a connection.
pub struct Writer {
    out: BufWriter<TcpStream>,
    buf: BytesMut,
    next_id: i32,
    client_id: String,
}

impl Writer {
    /// Sends one request and returns its correlation id.
    pub fn send<R: Encodable + HeaderVersion>(
        &mut self,
        key: ApiKey,
        version: i16,
        req: &R,
    ) -> Result<i32> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.buf.clear();
        encode_request(&mut self.buf, key, version, id, &self.client_id, req)?;
        self.out.write_all(&self.buf)?;
        self.out
            .flush()
            .with_context(|| format!("sending {key:?}"))?;
        Ok(id)
    }
}

/// Receiving half of a connection.
pub struct Reader {
    inp: BufReader<TcpStream>,
}

impl Reader {
    /// Reads the next response frame (without its length prefix).
    pub fn recv_frame(&mut self) -> Result<Bytes> {
        let mut len = [0u8; 4];
        self.inp.read_exact(&mut len).context("reading response")?;
        let len = i32::from_be_bytes(len);
        if !(4..=256 << 20).contains(&len) {
            bail!("bad response frame length {len}");
        }
        let mut body = vec![0u8; len as usize];
        self.inp.read_exact(&mut body).context("reading response")?;
        Ok(Bytes::from(body))
    }

    /// Reads the next response, which must answer request `id`.
    pub fn recv<R: Decodable>(&mut self, key: ApiKey, version: i16, id: i32) -> Result<R> {
        decode_response(self.recv_frame()?, key, version, id)
    }
}

/// A connection to one broker with its negotiated versions.
pub struct Conn {
    /// Sending half.
    pub writer: Writer,
    /// Receiving half.
    pub reader: Reader,
    /// Versions agreed with the broker.
    pub versions: Versions,
}

impl Conn {
    /// Connects to the first address of `bootstrap` and negotiates versions. `read_timeout`
    /// bounds every wait for a response.
    pub fn connect(bootstrap: &str, client_id: &str, read_timeout: Duration) -> Result<Conn> {
        let addr = bootstrap.split(',').next().unwrap_or(bootstrap).trim();
        let stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(read_timeout))?;
        let mut writer = Writer {
            out: BufWriter::with_capacity(256 << 10, stream.try_clone()?),
            buf: BytesMut::with_capacity(256 << 10),
            next_id: 1,
            client_id: client_id.to_string(),
        };
        let mut reader = Reader {
            inp: BufReader::with_capacity(256 << 10, stream),
        };
        let id = writer.send(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default())?;
        let resp: ApiVersionsResponse = reader.recv(ApiKey::ApiVersions, 0, id)?;
        if resp.error_code != 0 {
            bail!("ApiVersions failed with error code {}", resp.error_code);
        }
        let versions = pick_versions(&resp)?;
        Ok(Conn {
            writer,
            reader,
            versions,
        })
    }

    /// Number of partitions of `topic`, from a Metadata request. Fails if the broker that answers
    /// does not lead every partition (the lean client talks to the bootstrap broker only).
    pub fn partitions(&mut self, topic: &str) -> Result<i32> {
        let v = self.versions.metadata;
        let req = MetadataRequest::default().with_topics(Some(vec![
            kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(topic.to_string())))),
        ]));
        let id = self.writer.send(ApiKey::Metadata, v, &req)?;
        let resp: MetadataResponse = self.reader.recv(ApiKey::Metadata, v, id)?;
        let t = resp
            .topics
            .first()
            .with_context(|| format!("no metadata for {topic}"))?;
        if t.error_code != 0 || t.partitions.is_empty() {
            bail!("metadata for {topic}: error code {}", t.error_code);
        }
        let leaders: std::collections::BTreeSet<i32> =
            t.partitions.iter().map(|p| p.leader_id.0).collect();
        if leaders.len() > 1 {
            bail!("{topic} has several leaders {leaders:?}; the lean client needs a single broker");
        }
        Ok(t.partitions.len() as i32)
    }
}

/// Reads a big-endian `i32` at `at` (caller checks bounds).
pub fn be_i32(b: &[u8], at: usize) -> i32 {
    (&b[at..at + 4]).get_i32()
}

/// Reads a big-endian `i64` at `at` (caller checks bounds).
pub fn be_i64(b: &[u8], at: usize) -> i64 {
    (&b[at..at + 8]).get_i64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::ApiVersion;

    #[test]
    fn request_frames_carry_length_and_header() {
        let mut out = BytesMut::new();
        encode_request(
            &mut out,
            ApiKey::ApiVersions,
            0,
            7,
            "c",
            &ApiVersionsRequest::default(),
        )
        .unwrap();
        let len = be_i32(&out, 0) as usize;
        assert_eq!(len, out.len() - 4);
        assert_eq!((&out[4..6]).get_i16(), ApiKey::ApiVersions as i16);
        assert_eq!(be_i32(&out, 8), 7);
    }

    #[test]
    fn responses_are_checked_against_the_correlation_id() {
        // v0 header (correlation id) and body: error code, one api key (Produce 3..=9).
        let mut frame = BytesMut::new();
        frame.put_i32(3);
        frame.put_i16(0);
        frame.put_i32(1);
        frame.put_i16(ApiKey::Produce as i16);
        frame.put_i16(3);
        frame.put_i16(9);
        let frame = frame.freeze();
        let back: ApiVersionsResponse =
            decode_response(frame.clone(), ApiKey::ApiVersions, 0, 3).unwrap();
        assert_eq!(back.api_keys.len(), 1);
        assert_eq!(back.api_keys[0].max_version, 9);
        assert!(decode_response::<ApiVersionsResponse>(frame, ApiKey::ApiVersions, 0, 4).is_err());
    }

    #[test]
    fn versions_are_the_newest_common_ones() {
        let key = |k: ApiKey, min, max| {
            ApiVersion::default()
                .with_api_key(k as i16)
                .with_min_version(min)
                .with_max_version(max)
        };
        let mut resp = ApiVersionsResponse::default().with_api_keys(vec![
            key(ApiKey::Produce, 0, 13),
            key(ApiKey::Fetch, 0, 7),
            key(ApiKey::Metadata, 0, 12),
        ]);
        let v = pick_versions(&resp).unwrap();
        assert_eq!((v.produce, v.fetch, v.metadata), (9, 7, 9));
        resp.api_keys[1] = key(ApiKey::Fetch, 13, 17);
        assert!(pick_versions(&resp).is_err());
        resp.api_keys.remove(1);
        assert!(pick_versions(&resp).is_err());
    }
}
