//! Request dispatch: header parsing, version checks, decoding with kafka-protocol, routing to
//! the API handlers and encoding the response frame.

use std::rc::Rc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

use super::apis;
use super::rope::{RopeBuf, Substitutions};
use super::validate;
use crate::config::listeners::Listener;
use crate::metrics::hooks as metrics;
use crate::security::principal::KafkaPrincipal;
use crate::services::Core;

/// What the connection does with a request.
pub enum Outcome {
    /// Write these chunks (a whole response frame).
    Respond(Vec<Bytes>),
    /// Nothing to write (acks=0 produce).
    NoResponse,
    /// Malformed or unsupported: close the connection.
    Close,
}

/// What a handler produced.
pub struct Reply {
    /// The response message.
    pub body: ResponseKind,
    /// Record chunks to splice in while encoding (see [`super::rope`]).
    pub subs: Substitutions,
}

impl From<ResponseKind> for Reply {
    fn from(body: ResponseKind) -> Self {
        Reply {
            body,
            subs: Substitutions::default(),
        }
    }
}

/// Context of one request.
pub struct RequestContext {
    /// The services of the core serving the connection (handlers take the ones they use).
    pub core: Rc<Core>,
    /// API version of the request.
    pub version: i16,
    /// Client id from the request header.
    pub client_id: Option<String>,
    /// Client address as Kafka reports it ("/127.0.0.1").
    pub client_host: String,
    /// Who the connection acts as (`User:ANONYMOUS` until authentication says otherwise).
    pub principal: Rc<KafkaPrincipal>,
    /// The listener the client connected to: Metadata, FindCoordinator and DescribeCluster
    /// answer each broker's endpoint of this listener, as Kafka does.
    pub listener: Rc<Listener>,
}

/// Handles one request frame, counting and timing it (see [`crate::metrics::hooks`]).
pub async fn handle_frame(
    core: Rc<Core>,
    frame: Bytes,
    peer: Option<std::net::SocketAddr>,
    principal: Rc<KafkaPrincipal>,
    listener: Rc<Listener>,
) -> Outcome {
    let timer = metrics::RequestTimer::start(i16::from_be_bytes([frame[0], frame[1]]));
    let outcome = serve_frame(core, frame, peer, principal, listener).await;
    timer.finish(matches!(outcome, Outcome::Close));
    outcome
}

/// What a request frame is, after the checks that precede serving it.
// Returned once per frame and matched at once: boxing the big variant would only add an
// allocation per request.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// A decoded request of a supported API and version.
    Request {
        /// The API.
        key: ApiKey,
        /// Its version.
        version: i16,
        /// The request header.
        header: RequestHeader,
        /// The request body.
        request: RequestKind,
    },
    /// Produce v2, decoded as v3 (see [`apis::produce::decode_legacy`]).
    LegacyProduce(kafka_protocol::messages::ProduceRequest),
    /// ApiVersions of a version we cannot parse: answer v0 with UNSUPPORTED_VERSION (KIP-511).
    ApiVersionsFallback,
    /// Unknown API or version, or a malformed request: close the connection.
    Close,
}

/// Checks and decodes a request frame (at least [`super::frame::MIN_REQUEST`] bytes, without its
/// size prefix) exactly as the broker does before serving it: API and version support, the
/// request validator ([`validate::check_request`]), then kafka-protocol's decoder.
pub fn parse(frame: Bytes) -> Parsed {
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let Ok(key) = ApiKey::try_from(api_key) else {
        tracing::debug!(api_key, "unknown API key; closing connection");
        return Parsed::Close;
    };
    let Some(range) = apis::api_versions::supported(key) else {
        tracing::debug!(?key, "unsupported API; closing connection");
        return Parsed::Close;
    };
    if version < range.0 || version > range.1 {
        if key == ApiKey::ApiVersions {
            return Parsed::ApiVersionsFallback;
        }
        tracing::debug!(?key, version, "unsupported version; closing connection");
        return Parsed::Close;
    }
    // Bound every count and length before kafka-protocol sizes allocations from them. The walk
    // does not panic (the fuzzers call it unguarded); the guard is defence in depth.
    let checked = crate::panic_exit::catching(|| validate::check_request(&frame));
    match checked {
        Some(Ok(_)) => {}
        Some(Err(e)) => {
            refused(key, version, &e);
            return Parsed::Close;
        }
        None => {
            tracing::warn!(
                ?key,
                version,
                "request validator panicked; closing connection"
            );
            return Parsed::Close;
        }
    }
    if key == ApiKey::Produce && version < 3 {
        return match apis::produce::decode_legacy(version, frame) {
            Some(r) => Parsed::LegacyProduce(r),
            None => Parsed::Close,
        };
    }
    let decoded = crate::panic_exit::catching(|| decode(key, version, frame));
    match decoded {
        Some(Ok((header, request))) => Parsed::Request {
            key,
            version,
            header,
            request,
        },
        Some(Err(e)) => {
            tracing::debug!(?key, version, error = %e, "malformed request; closing connection");
            Parsed::Close
        }
        None => {
            tracing::warn!(
                ?key,
                version,
                "request decoder panicked; closing connection"
            );
            Parsed::Close
        }
    }
}

async fn serve_frame(
    core: Rc<Core>,
    frame: Bytes,
    peer: Option<std::net::SocketAddr>,
    principal: Rc<KafkaPrincipal>,
    listener: Rc<Listener>,
) -> Outcome {
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let (key, version, header, request) = match parse(frame) {
        Parsed::Request {
            key,
            version,
            header,
            request,
        } => (key, version, header, request),
        Parsed::LegacyProduce(r) => {
            let host = peer.map(|p| p.ip().to_string()).unwrap_or_default();
            let authz = apis::authz::Authz::new(&core, &principal, &host);
            return apis::produce::handle_legacy(&core, &authz, correlation_id, r).await;
        }
        Parsed::ApiVersionsFallback => {
            let body = apis::api_versions::unsupported_version_response();
            return encode(ApiKey::ApiVersions, 0, correlation_id, Reply::from(body));
        }
        Parsed::Close => return Outcome::Close,
    };
    let ctx = RequestContext {
        core,
        version,
        client_id: header.client_id.as_ref().map(|s| s.to_string()),
        client_host: peer.map(|p| format!("/{}", p.ip())).unwrap_or_default(),
        principal,
        listener,
    };
    let reply = match request {
        RequestKind::ApiVersions(r) => apis::api_versions::handle(&ctx, r).into(),
        RequestKind::FindCoordinator(r) => apis::find_coordinator::handle(&ctx, r).await.into(),
        RequestKind::Metadata(r) => apis::metadata::handle(&ctx, r).await.into(),
        RequestKind::Produce(r) => match apis::produce::handle(&ctx, r).await {
            Some(body) => body.into(),
            None => return Outcome::NoResponse,
        },
        RequestKind::Fetch(r) => apis::fetch::handle(&ctx, r).await,
        RequestKind::ListOffsets(r) => apis::list_offsets::handle(&ctx, r).await.into(),
        RequestKind::OffsetForLeaderEpoch(r) => {
            apis::offset_for_leader_epoch::handle(&ctx, r).await.into()
        }
        RequestKind::DeleteRecords(r) => apis::delete_records::handle(&ctx, r).await.into(),
        RequestKind::CreateTopics(r) => apis::create_topics::handle(&ctx, r).await.into(),
        RequestKind::DeleteTopics(r) => apis::delete_topics::handle(&ctx, r).await.into(),
        RequestKind::JoinGroup(r) => apis::groups::join(&ctx, r).await.into(),
        RequestKind::SyncGroup(r) => apis::groups::sync(&ctx, r).await.into(),
        RequestKind::Heartbeat(r) => apis::groups::heartbeat(&ctx, r).await.into(),
        RequestKind::LeaveGroup(r) => apis::groups::leave(&ctx, r).await.into(),
        RequestKind::OffsetCommit(r) => apis::offsets::commit(&ctx, r).await.into(),
        RequestKind::OffsetFetch(r) => apis::offsets::fetch(&ctx, r).await.into(),
        RequestKind::OffsetDelete(r) => apis::offsets::delete(&ctx, r).await.into(),
        RequestKind::InitProducerId(r) => apis::txn::init_producer_id(&ctx, r).await.into(),
        RequestKind::AddPartitionsToTxn(r) => {
            apis::txn::add_partitions_to_txn(&ctx, r).await.into()
        }
        RequestKind::AddOffsetsToTxn(r) => apis::txn::add_offsets_to_txn(&ctx, r).await.into(),
        RequestKind::EndTxn(r) => apis::txn::end_txn(&ctx, r).await.into(),
        RequestKind::TxnOffsetCommit(r) => apis::txn::txn_offset_commit(&ctx, r).await.into(),
        RequestKind::WriteTxnMarkers(r) => apis::write_txn_markers::handle(&ctx, r).await.into(),
        RequestKind::ListTransactions(r) => apis::txn_admin::list(&ctx, r).await.into(),
        RequestKind::DescribeTransactions(r) => apis::txn_admin::describe(&ctx, r).await.into(),
        RequestKind::DescribeProducers(r) => {
            apis::txn_admin::describe_producers(&ctx, r).await.into()
        }
        RequestKind::ListGroups(r) => apis::group_admin::list(&ctx, r).await.into(),
        RequestKind::DescribeGroups(r) => apis::group_admin::describe(&ctx, r).await.into(),
        RequestKind::DeleteGroups(r) => apis::group_admin::delete(&ctx, r).await.into(),
        RequestKind::ConsumerGroupHeartbeat(r) => {
            apis::groups::consumer_heartbeat(&ctx, r).await.into()
        }
        RequestKind::ConsumerGroupDescribe(r) => {
            apis::group_admin::consumer_describe(&ctx, r).await.into()
        }
        RequestKind::DescribeConfigs(r) => apis::configs::describe(&ctx, r).into(),
        RequestKind::AlterConfigs(r) => apis::configs::alter(&ctx, r).await.into(),
        RequestKind::IncrementalAlterConfigs(r) => {
            apis::configs::incremental_alter(&ctx, r).await.into()
        }
        RequestKind::CreatePartitions(r) => apis::create_partitions::handle(&ctx, r).await.into(),
        RequestKind::DescribeCluster(r) => apis::cluster_admin::describe_cluster(&ctx, r).into(),
        RequestKind::DescribeLogDirs(r) => {
            apis::cluster_admin::describe_log_dirs(&ctx, r).await.into()
        }
        RequestKind::DescribeTopicPartitions(r) => {
            apis::cluster_admin::describe_topic_partitions(&ctx, r).into()
        }
        RequestKind::AlterPartitionReassignments(r) => {
            apis::reassignments::alter(&ctx, r).await.into()
        }
        RequestKind::ListPartitionReassignments(r) => apis::reassignments::list(&ctx, r).into(),
        RequestKind::ElectLeaders(r) => apis::elect_leaders::handle(&ctx, r).await.into(),
        RequestKind::AlterReplicaLogDirs(r) => {
            apis::single_node::alter_replica_log_dirs(&ctx, r).into()
        }
        RequestKind::DescribeAcls(r) => apis::acls::describe(&ctx, r).into(),
        RequestKind::CreateAcls(r) => apis::acls::create(&ctx, r).await.into(),
        RequestKind::DeleteAcls(r) => apis::acls::delete(&ctx, r).await.into(),
        RequestKind::SaslHandshake(_) | RequestKind::SaslAuthenticate(_) => {
            apis::api_versions::sasl_out_of_place(key).into()
        }
        RequestKind::DescribeUserScramCredentials(r) => {
            apis::scram_credentials::describe(&ctx, r).into()
        }
        RequestKind::AlterUserScramCredentials(r) => {
            apis::scram_credentials::alter(&ctx, r).await.into()
        }
        _ => return Outcome::Close,
    };
    metrics::response_errors(api_key, &reply.body);
    encode(key, version, correlation_id, reply)
}

/// Least time between two warnings about refused requests on one core.
const REFUSED_WARN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

thread_local! {
    /// When this core last warned about a refused request, and how many it refused since.
    static REFUSED: std::cell::Cell<(Option<std::time::Instant>, u64)> =
        const { std::cell::Cell::new((None, 0)) };
}

/// Logs a request the validator refused: a warning at most every
/// [`REFUSED_WARN_INTERVAL`] per core (with the number refused since), debug otherwise. The
/// request is counted as dropped by the caller's timer.
fn refused(key: ApiKey, version: i16, e: &validate::Invalid) {
    let now = std::time::Instant::now();
    REFUSED.with(|c| {
        let (last, since) = c.get();
        if last.is_some_and(|t| now.duration_since(t) < REFUSED_WARN_INTERVAL) {
            c.set((last, since + 1));
            tracing::debug!(?key, version, error = %e, "malformed request; closing connection");
        } else {
            c.set((Some(now), 0));
            tracing::warn!(
                ?key,
                version,
                error = %e,
                refused_since_last_warning = since,
                "malformed request; closing connection"
            );
        }
    });
}

fn decode(key: ApiKey, version: i16, frame: Bytes) -> anyhow::Result<(RequestHeader, RequestKind)> {
    let mut buf = frame;
    let header = RequestHeader::decode(&mut buf, key.request_header_version(version))?;
    let request = RequestKind::decode(key, &mut buf, version)?;
    Ok((header, request))
}

/// Encodes a response frame: size, header, body.
pub fn encode(key: ApiKey, version: i16, correlation_id: i32, reply: Reply) -> Outcome {
    let header_version = if key == ApiKey::ApiVersions {
        0
    } else {
        key.response_header_version(version)
    };
    let mut rope = RopeBuf::new(reply.subs);
    rope.put_i32(0); // size, patched below
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    let res = header
        .encode(&mut rope, header_version)
        .and_then(|_| encode_body(&reply.body, &mut rope, version));
    if let Err(e) = res {
        tracing::error!(?key, version, error = %e, "cannot encode response; closing connection");
        return Outcome::Close;
    }
    let size = (rope.len() - 4) as i32;
    let mut chunks = rope.into_chunks();
    let first = &chunks[0];
    let mut patched = BytesMut::with_capacity(first.len());
    patched.put_i32(size);
    patched.extend_from_slice(&first[4..]);
    chunks[0] = patched.freeze();
    Outcome::Respond(chunks)
}

fn encode_body(body: &ResponseKind, buf: &mut RopeBuf, version: i16) -> anyhow::Result<()> {
    match body {
        ResponseKind::ApiVersions(r) => r.encode(buf, version),
        ResponseKind::Metadata(r) => r.encode(buf, version),
        ResponseKind::FindCoordinator(r) => r.encode(buf, version),
        ResponseKind::Produce(r) => r.encode(buf, version),
        ResponseKind::Fetch(r) => r.encode(buf, version),
        ResponseKind::ListOffsets(r) => r.encode(buf, version),
        ResponseKind::CreateTopics(r) => r.encode(buf, version),
        ResponseKind::DeleteTopics(r) => r.encode(buf, version),
        other => {
            // Small responses without record data: encode, then copy in.
            let mut b = BytesMut::new();
            other.encode(&mut b, version)?;
            buf.put_slice(&b);
            Ok(())
        }
    }
}
