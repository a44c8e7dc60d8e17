//! A minimal blocking Kafka client over a `std::net::TcpStream`, for the few admin requests that
//! the `rdkafka` crate does not expose (IncrementalAlterConfigs, the SCRAM credential APIs). It
//! connects to the first bootstrap broker that answers, negotiates versions with ApiVersions,
//! speaks TLS when `security.protocol` is `SSL` or `SASL_SSL` ([`super::tls`]), logs in with
//! SASL when it is `SASL_PLAINTEXT` or `SASL_SSL` ([`super::sasl`]: PLAIN, SCRAM-SHA-256/512,
//! SaslHandshake v1 and SaslAuthenticate), and sends one request at a time with
//! kafka-protocol's encoders.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
    SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

use super::common::{CliError, CliResult, ConnArgs, ExitCode};
use super::sasl::{self, Login, Mechanism, ScramClient};
use super::tls::{self, Stream};

/// Largest response accepted (admin answers are small).
const MAX_RESPONSE: usize = 64 << 20;

/// A connection to one broker with the API versions it advertised.
pub struct WireClient {
    stream: Stream,
    correlation_id: i32,
    /// API key -> (min, max) version the broker supports.
    versions: HashMap<i16, (i16, i16)>,
    addr: String,
}

impl WireClient {
    /// Connects to the first reachable bootstrap broker and reads its API versions.
    pub fn connect(conn: &ConnArgs) -> CliResult<WireClient> {
        let props = conn.properties()?;
        let login = sasl::login_from(&props)?;
        let tls = tls::config_from(&props)?;
        let mut last = String::from("no bootstrap broker given");
        for addr in conn.broker_list() {
            match Self::connect_one(&addr, conn.timeout(), tls.as_ref()) {
                Ok(mut c) => {
                    if let Some(login) = &login {
                        // A refused login is an answer, not an unreachable broker.
                        c.login(login)?;
                    }
                    return Ok(c);
                }
                Err(e) => last = e.msg,
            }
        }
        Err(CliError {
            code: ExitCode::Unreachable,
            msg: last,
        })
    }

    fn connect_one(
        addr: &str,
        timeout: Duration,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> CliResult<WireClient> {
        let unreachable = |e: std::io::Error| CliError {
            code: ExitCode::Unreachable,
            msg: format!("connecting to {addr}: {e}"),
        };
        let sock = addr
            .to_socket_addrs()
            .map_err(unreachable)?
            .next()
            .ok_or_else(|| CliError::usage(format!("cannot resolve {addr}")))?;
        let stream = TcpStream::connect_timeout(&sock, timeout).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(unreachable)?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(unreachable)?;
        let _ = stream.set_nodelay(true);
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let mut c = WireClient {
            stream: Stream::new(stream, tls, host)?,
            correlation_id: 0,
            versions: HashMap::new(),
            addr: addr.to_string(),
        };
        let resp: ApiVersionsResponse = c.exchange(&ApiVersionsRequest::default(), 0)?;
        if resp.error_code != 0 {
            return Err(CliError::failed(format!(
                "ApiVersions to {addr}: {}",
                kafka_error_name(resp.error_code)
            )));
        }
        c.versions = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(c)
    }

    /// Logs in with SASL: SaslHandshake v1 naming the mechanism, then its tokens in
    /// SaslAuthenticate requests.
    fn login(&mut self, login: &Login) -> CliResult<()> {
        let mut hs = SaslHandshakeRequest::default();
        hs.mechanism = StrBytes::from_static_str(login.mechanism.name());
        let version = self.versions.get(&hs_key()).map_or(1, |v| v.1.min(1));
        if version < 1 {
            return Err(CliError::failed(format!(
                "the broker at {} does not support SaslHandshake v1",
                self.addr
            )));
        }
        let resp = self.exchange(&hs, 1)?;
        if resp.error_code != 0 {
            let offered: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(CliError::failed(format!(
                "SASL handshake with {}: {} (the listener offers {})",
                self.addr,
                kafka_error_name(resp.error_code),
                offered.join(", ")
            )));
        }
        match login.mechanism {
            Mechanism::Plain => {
                self.authenticate(sasl::plain_token(login))?;
            }
            Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
                let mut nonce = [0u8; 24];
                getrandom::fill(&mut nonce)
                    .map_err(|e| CliError::failed(format!("no random nonce: {e}")))?;
                let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
                let mut scram = ScramClient::new(login, &nonce);
                let server_first = self.authenticate(scram.first())?;
                let fin = scram.final_message(&server_first)?;
                let server_final = self.authenticate(fin)?;
                scram.verify(&server_final)?;
            }
        }
        Ok(())
    }

    /// One SaslAuthenticate round trip; the server's token.
    fn authenticate(&mut self, token: Vec<u8>) -> CliResult<Bytes> {
        let mut req = SaslAuthenticateRequest::default();
        req.auth_bytes = token.into();
        let resp = self.send(&req)?;
        if resp.error_code != 0 {
            let detail = resp
                .error_message
                .as_ref()
                .map(|m| format!(": {}", m.as_str()))
                .unwrap_or_default();
            return Err(CliError::failed(format!(
                "SASL login to {}: {}{detail}",
                self.addr,
                kafka_error_name(resp.error_code)
            )));
        }
        Ok(resp.auth_bytes)
    }

    /// Sends `req` at the highest version both sides support and returns the response.
    pub fn send<R: Request>(&mut self, req: &R) -> CliResult<R::Response> {
        let name = ApiKey::try_from(R::KEY)
            .map(|k| format!("{k:?}"))
            .unwrap_or_else(|_| format!("API {}", R::KEY));
        let Some(&(min, max)) = self.versions.get(&R::KEY) else {
            return Err(CliError::failed(format!(
                "the broker at {} does not support {name} (UNSUPPORTED_VERSION)",
                self.addr
            )));
        };
        let version = max.min(R::VERSIONS.max);
        if version < min.max(R::VERSIONS.min) {
            return Err(CliError::failed(format!(
                "the broker at {} supports {name} v{min}-{max} only (UNSUPPORTED_VERSION)",
                self.addr
            )));
        }
        self.exchange(req, version)
    }

    /// One request/response round trip at `version`.
    fn exchange<R: Request>(&mut self, req: &R, version: i16) -> CliResult<R::Response> {
        self.correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("runnel-cli")));
        let mut body = BytesMut::new();
        let encoded = header
            .encode(&mut body, R::header_version(version))
            .and_then(|_| req.encode(&mut body, version));
        if let Err(e) = encoded {
            return Err(CliError::failed(format!("encoding the request: {e}")));
        }
        let io = |e: std::io::Error| CliError {
            code: ExitCode::Unreachable,
            msg: format!("talking to {}: {e}", self.addr),
        };
        let mut frame = Vec::with_capacity(body.len() + 4);
        frame.extend_from_slice(&(body.len() as i32).to_be_bytes());
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame).map_err(io)?;
        self.stream.flush().map_err(io)?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(io)?;
        let len = i32::from_be_bytes(len);
        if len < 0 || len as usize > MAX_RESPONSE {
            return Err(CliError::failed(format!("bad response length {len}")));
        }
        let mut buf = vec![0u8; len as usize];
        self.stream.read_exact(&mut buf).map_err(io)?;
        let mut buf = Bytes::from(buf);
        let decoded = ResponseHeader::decode(&mut buf, R::Response::header_version(version))
            .and_then(|h| Ok((h, R::Response::decode(&mut buf, version)?)));
        match decoded {
            Ok((h, _)) if h.correlation_id != self.correlation_id => Err(CliError::failed(
                format!("response correlation id {} mismatch", h.correlation_id),
            )),
            Ok((_, resp)) => Ok(resp),
            Err(e) => Err(CliError::failed(format!("decoding the response: {e}"))),
        }
    }
}

fn hs_key() -> i16 {
    ApiKey::SaslHandshake as i16
}

/// The Kafka name of an error code, e.g. `INVALID_CONFIG` for 40.
pub fn kafka_error_name(code: i16) -> String {
    match kafka_protocol::error::ResponseError::try_from_code(code) {
        None => "NONE".to_string(),
        Some(kafka_protocol::error::ResponseError::Unknown(c)) => format!("UNKNOWN_ERROR_{c}"),
        Some(e) => super::common::screaming_snake(&e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_get_kafka_names() {
        assert_eq!(kafka_error_name(40), "INVALID_CONFIG");
        assert_eq!(kafka_error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(kafka_error_name(0), "NONE");
    }
}
