//! ElectLeaders (API 43, v0-v2; docs/replication.md, step 7), as Kafka's `handleElectLeaders`:
//! ALTER on the cluster (without it every partition named is CLUSTER_AUTHORIZATION_FAILED, and
//! from v1 the whole response too), the election type (v0: PREFERRED; v1+: PREFERRED 0 or
//! UNCLEAN 1, anything else INVALID_REQUEST), the partitions named or every partition when
//! `topic_partitions` is null (then only partitions that needed an election are listed). The
//! elections are decided and proposed on core 0 ([`ElectLeadersCall`]); what is not answered
//! within `timeout_ms` is REQUEST_TIMED_OUT. Without a controller quorum (a benchmark's cores)
//! every partition has its only replica as leader: ELECTION_NOT_NEEDED.

use std::time::Duration;

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{
    ElectLeadersRequest, ElectLeadersResponse, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::authz::Authz;
use crate::errors::{ErrorMessage, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;
use crate::shard::elect_admin::{ElectLeadersCall, ElectionResult};

/// The wait when the request asks for none (`timeout_ms` <= 0), and the longest one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

fn partition_result(partition: i32, error: Option<&ErrorMessage>) -> PartitionResult {
    let mut pr = PartitionResult::default();
    pr.partition_id = partition;
    if let Some(e) = error {
        pr.error_code = e.error.code();
        pr.error_message = Some(StrBytes::from_string(e.message.clone()));
    }
    pr
}

/// Groups `results` by topic, in order of first appearance.
fn by_topic(results: Vec<ElectionResult>) -> Vec<ReplicaElectionResult> {
    let mut out: Vec<ReplicaElectionResult> = Vec::new();
    for (topic, partition, error) in results {
        let pr = partition_result(partition, error.as_ref());
        match out.iter_mut().find(|t| t.topic.0.as_str() == topic) {
            Some(t) => t.partition_result.push(pr),
            None => {
                let mut t = ReplicaElectionResult::default();
                t.topic = TopicName(StrBytes::from_string(topic));
                t.partition_result.push(pr);
                out.push(t);
            }
        }
    }
    out
}

/// The answer of a broker without a controller quorum: each existing partition already has its
/// preferred (only) leader.
fn single_node(ctx: &RequestContext, wanted: &[(String, i32)]) -> Vec<ElectionResult> {
    wanted
        .iter()
        .map(|(t, p)| {
            let e = if ctx.core.view.owner_of(t, *p).is_some() {
                ErrorMessage::new(
                    KafkaError::ElectionNotNeeded,
                    "Leader election not needed for topic partition.",
                )
            } else {
                ErrorMessage::new(
                    KafkaError::UnknownTopicOrPartition,
                    "The topic or partition does not exist.",
                )
            };
            (t.clone(), *p, Some(e))
        })
        .collect()
}

/// Handles ElectLeaders (see the module comment).
pub async fn handle(ctx: &RequestContext, req: ElectLeadersRequest) -> ResponseKind {
    let mut resp = ElectLeadersResponse::default();
    let wanted: Option<Vec<(String, i32)>> = req.topic_partitions.as_ref().map(|tps| {
        tps.iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic.0.to_string(), *p)))
            .collect()
    });
    let fail_all = |resp: &mut ElectLeadersResponse, e: ErrorMessage| {
        let results = wanted
            .iter()
            .flatten()
            .map(|(t, p)| (t.clone(), *p, Some(e.clone())))
            .collect();
        resp.replica_election_results = by_topic(results);
    };
    // ALTER on the cluster (KafkaApis): every partition refused without it.
    if let Err(e) = Authz::of(ctx).cluster(Operation::Alter) {
        if ctx.version >= 1 {
            resp.error_code = e.code();
        }
        fail_all(
            &mut resp,
            ErrorMessage::new(e, "Cluster authorization failed."),
        );
        return ResponseKind::ElectLeaders(resp);
    }
    let unclean = match (ctx.version, req.election_type) {
        (0, _) | (_, 0) => false,
        (_, 1) => true,
        (_, t) => {
            resp.error_code = KafkaError::InvalidRequest.code();
            fail_all(
                &mut resp,
                ErrorMessage::new(
                    KafkaError::InvalidRequest,
                    format!("Unknown election type {t}"),
                ),
            );
            return ResponseKind::ElectLeaders(resp);
        }
    };
    let timeout = match req.timeout_ms {
        t if t <= 0 => DEFAULT_TIMEOUT,
        t => Duration::from_millis(t as u64).min(MAX_TIMEOUT),
    };
    let call = ctx.core.mesh.call(
        0,
        ElectLeadersCall {
            partitions: wanted.clone(),
            unclean,
        },
    );
    let answer = futures_lite::future::or(async { Some(call.await) }, async {
        glommio::timer::sleep(timeout).await;
        None
    })
    .await;
    let results = match answer {
        Some(Ok(Ok(results))) => results,
        Some(Ok(Err(_no_quorum))) => single_node(ctx, wanted.as_deref().unwrap_or(&[])),
        Some(Err(_unavailable)) => {
            fail_all(
                &mut resp,
                ErrorMessage::new(KafkaError::NotController, "The broker is shutting down."),
            );
            return ResponseKind::ElectLeaders(resp);
        }
        None => {
            fail_all(
                &mut resp,
                ErrorMessage::new(
                    KafkaError::RequestTimedOut,
                    "The elections did not complete within the request's timeout.",
                ),
            );
            return ResponseKind::ElectLeaders(resp);
        }
    };
    resp.replica_election_results = by_topic(results);
    ResponseKind::ElectLeaders(resp)
}
