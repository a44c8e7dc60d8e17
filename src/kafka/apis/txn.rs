//! Producer and transaction APIs on the connection's core: InitProducerId (idempotent producers
//! get an id here; transactional ones from their coordinator), AddPartitionsToTxn,
//! AddOffsetsToTxn and EndTxn (forwarded to the core coordinating the transactional id), and
//! TxnOffsetCommit (forwarded to the group's coordinator).

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, InitProducerIdRequest,
    InitProducerIdResponse, ProducerId, ResponseKind, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};

use super::authz::Authz;
use super::groups::{
    ensure_internal_topic, ensure_offsets_topic, forward as forward_group, InternalShape,
};
use crate::errors::{self, KafkaError};
use crate::group::calls::TxnOffsetCommitCall;
use crate::group::OFFSETS_TOPIC;
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::{Operation, ResourceType};
use crate::shard::call::CoreCall;
use crate::shard::{Mesh, TopicView};
use crate::txn::calls::{AddPartitionsCall, EndTxnCall, InitProducerIdCall};
use crate::txn::{self, TXN_TOPIC};

/// Makes sure `__transaction_state` exists, creating it on first use as Kafka does.
pub async fn ensure_txn_topic(view: &TopicView, mesh: &Mesh) -> bool {
    let txns = &view.config().txns;
    let shape = InternalShape {
        partitions: txns.state_partitions,
        replication_factor: txns.state_replication_factor,
        min_insync_replicas: Some(txns.state_min_isr),
    };
    ensure_internal_topic(view, mesh, TXN_TOPIC, shape).await
}

/// Sends `call` to the core coordinating `txn_id`; `Err` holds the error for the client.
async fn forward<C: CoreCall>(
    view: &TopicView,
    mesh: &Mesh,
    txn_id: &str,
    call: C,
) -> Result<C::Reply, KafkaError> {
    if !ensure_txn_topic(view, mesh).await {
        return Err(KafkaError::CoordinatorNotAvailable);
    }
    let partition = txn::partition_in(&view.topic_table(), &view.config(), txn_id);
    let Some(core) = view.owner_of(TXN_TOPIC, partition) else {
        if view.hosted_elsewhere(TXN_TOPIC, partition) {
            return Err(KafkaError::NotCoordinator);
        }
        return Err(KafkaError::CoordinatorNotAvailable);
    };
    mesh.call(core, call)
        .await
        .map_err(|_| KafkaError::CoordinatorNotAvailable)
}

/// Clients older than `fenced_since` know a stale epoch as INVALID_PRODUCER_EPOCH.
fn fit(error: KafkaError, version: i16, fenced_since: i16) -> KafkaError {
    if error == KafkaError::ProducerFenced && version < fenced_since {
        KafkaError::InvalidProducerEpoch
    } else {
        error
    }
}

/// [`fit`] for an outcome, as its wire code.
fn fit_code(r: Result<(), KafkaError>, version: i16, fenced_since: i16) -> i16 {
    errors::code(r.err().map(|e| fit(e, version, fenced_since)))
}

/// Handles InitProducerId.
pub async fn init_producer_id(ctx: &RequestContext, req: InitProducerIdRequest) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let mut resp = InitProducerIdResponse::default();
    let txn_id = req
        .transactional_id
        .as_ref()
        .map(|t| t.0.to_string())
        .filter(|t| !t.is_empty());
    // A transactional producer needs WRITE on its id; an idempotent one IDEMPOTENT_WRITE on
    // the cluster or WRITE on some topic (Kafka 4's rule).
    let authz = Authz::of(ctx);
    let denied = match &txn_id {
        Some(id) => authz.txn_id(Operation::Write, id).err(),
        None => (authz.cluster(Operation::IdempotentWrite).is_err()
            && !authz.allowed_any(Operation::Write, ResourceType::Topic))
        .then_some(KafkaError::ClusterAuthorizationFailed),
    };
    let initialized = match txn_id {
        _ if denied.is_some() => Err(denied.unwrap_or(KafkaError::UnknownServerError)),
        // An idempotent producer: a fresh id every time, as Kafka does.
        // Blocks come from the quorum; none within a few seconds is the retriable
        // COORDINATOR_LOAD_IN_PROGRESS Kafka answers then.
        None => ctx.core.producer_ids.allocate().await.map(|pid| (pid, 0)),
        Some(id) => {
            let expected = (ctx.version >= 3 && req.producer_id.0 >= 0)
                .then_some((req.producer_id.0, req.producer_epoch));
            let call = InitProducerIdCall {
                txn_id: id.clone(),
                timeout_ms: req.transaction_timeout_ms,
                expected,
            };
            forward(view, mesh, &id, call).await.and_then(|r| r)
        }
    };
    let (pid, epoch) = *initialized.as_ref().unwrap_or(&(-1, -1));
    resp.error_code = fit_code(initialized.map(|_| ()), ctx.version, 4);
    resp.producer_id = ProducerId(pid);
    resp.producer_epoch = epoch;
    ResponseKind::InitProducerId(resp)
}

/// Adds partitions to a transaction; unknown partitions fail the whole request.
async fn add_partitions(
    view: &TopicView,
    mesh: &Mesh,
    txn_id: &str,
    producer_id: i64,
    epoch: i16,
    partitions: Vec<(String, i32)>,
) -> Result<(), KafkaError> {
    let call = AddPartitionsCall {
        txn_id: txn_id.to_string(),
        producer_id,
        epoch,
        partitions,
    };
    forward(view, mesh, txn_id, call).await.and_then(|r| r)
}

/// Handles AddPartitionsToTxn (v0-v3: one transaction per request).
pub async fn add_partitions_to_txn(
    ctx: &RequestContext,
    req: AddPartitionsToTxnRequest,
) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let table = view.topic_table();
    // A partition of any broker may join (the coordinator writes its marker wherever it is).
    let unknown = |t: &str, p: i32| !table.has_partition(t, p);
    // WRITE on the transactional id (every partition refused without it), WRITE on each
    // topic (those refused, the others not attempted), as KafkaApis.
    let authz = Authz::of(ctx);
    let txn_denied = authz
        .txn_id(
            Operation::Write,
            req.v3_and_below_transactional_id.0.as_str(),
        )
        .err();
    let topic_denied = |t: &str| authz.topic(Operation::Write, t).err();
    let any_denied = req
        .v3_and_below_topics
        .iter()
        .any(|t| topic_denied(t.name.0.as_str()).is_some());
    let any_unknown = req
        .v3_and_below_topics
        .iter()
        .any(|t| t.partitions.iter().any(|&p| unknown(t.name.0.as_str(), p)));
    let code = if let Some(e) = txn_denied {
        Some(e.code())
    } else if any_denied || any_unknown {
        None
    } else {
        let parts = req
            .v3_and_below_topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|&p| (t.name.0.to_string(), p)))
            .collect();
        let c = add_partitions(
            view,
            mesh,
            req.v3_and_below_transactional_id.0.as_str(),
            req.v3_and_below_producer_id.0,
            req.v3_and_below_producer_epoch,
            parts,
        )
        .await;
        Some(fit_code(c, ctx.version, 2))
    };
    let mut resp = AddPartitionsToTxnResponse::default();
    for t in &req.v3_and_below_topics {
        let mut rt = AddPartitionsToTxnTopicResult::default();
        rt.name = t.name.clone();
        for &p in &t.partitions {
            let mut rp = AddPartitionsToTxnPartitionResult::default();
            rp.partition_index = p;
            rp.partition_error_code = match code {
                Some(c) => c,
                None if any_denied => topic_denied(t.name.0.as_str())
                    .unwrap_or(KafkaError::OperationNotAttempted)
                    .code(),
                None if unknown(t.name.0.as_str(), p) => KafkaError::UnknownTopicOrPartition.code(),
                None => KafkaError::OperationNotAttempted.code(),
            };
            rt.results_by_partition.push(rp);
        }
        resp.results_by_topic_v3_and_below.push(rt);
    }
    ResponseKind::AddPartitionsToTxn(resp)
}

/// Handles AddOffsetsToTxn: the group's `__consumer_offsets` partition joins the transaction.
pub async fn add_offsets_to_txn(ctx: &RequestContext, req: AddOffsetsToTxnRequest) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let mut resp = AddOffsetsToTxnResponse::default();
    let authz = Authz::of(ctx);
    let denied = authz
        .txn_id(Operation::Write, req.transactional_id.0.as_str())
        .and_then(|()| authz.group(Operation::Read, req.group_id.0.as_str()));
    resp.error_code = if let Err(e) = denied {
        e.code()
    } else if !ensure_offsets_topic(view, mesh).await {
        KafkaError::CoordinatorNotAvailable.code()
    } else {
        let partition = crate::group::partition_in(
            &view.topic_table(),
            &view.config(),
            req.group_id.0.as_str(),
        );
        let c = add_partitions(
            view,
            mesh,
            req.transactional_id.0.as_str(),
            req.producer_id.0,
            req.producer_epoch,
            vec![(OFFSETS_TOPIC.to_string(), partition)],
        )
        .await;
        fit_code(c, ctx.version, 2)
    };
    ResponseKind::AddOffsetsToTxn(resp)
}

/// Handles EndTxn.
pub async fn end_txn(ctx: &RequestContext, req: EndTxnRequest) -> ResponseKind {
    let txn_id = req.transactional_id.0.to_string();
    let call = EndTxnCall {
        txn_id: txn_id.clone(),
        producer_id: req.producer_id.0,
        epoch: req.producer_epoch,
        commit: req.committed,
    };
    let allowed = Authz::of(ctx).txn_id(Operation::Write, &txn_id);
    let ended = super::groups::guarded(
        allowed,
        forward(&ctx.core.view, &ctx.core.mesh, &txn_id, call),
    )
    .await
    .and_then(|r| r);
    let mut resp = EndTxnResponse::default();
    resp.error_code = fit_code(ended, ctx.version, 2);
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    ResponseKind::EndTxn(resp)
}

/// Handles TxnOffsetCommit on the group's coordinator.
pub async fn txn_offset_commit(ctx: &RequestContext, req: TxnOffsetCommitRequest) -> ResponseKind {
    let group = req.group_id.0.to_string();
    let version = ctx.version;
    let shape: Vec<_> = req
        .topics
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.partitions
                    .iter()
                    .map(|p| p.partition_index)
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let authz = Authz::of(ctx);
    let allowed = authz
        .txn_id(Operation::Write, req.transactional_id.0.as_str())
        .and_then(|()| authz.group(Operation::Read, &group))
        .and_then(|()| {
            req.topics
                .iter()
                .try_for_each(|t| authz.topic(Operation::Read, t.name.0.as_str()))
        });
    let call = TxnOffsetCommitCall { req, version };
    let call = forward_group(&ctx.core.view, &ctx.core.mesh, &group, call);
    let mut resp = match super::groups::guarded(allowed, call).await {
        Ok(r) => r,
        Err(e) => {
            let code = e.code();
            let mut r = TxnOffsetCommitResponse::default();
            for (name, parts) in shape {
                let mut rt = TxnOffsetCommitResponseTopic::default();
                rt.name = name;
                for p in parts {
                    let mut rp = TxnOffsetCommitResponsePartition::default();
                    rp.partition_index = p;
                    rp.error_code = code;
                    rt.partitions.push(rp);
                }
                r.topics.push(rt);
            }
            r
        }
    };
    for t in resp.topics.iter_mut() {
        for p in t.partitions.iter_mut() {
            if p.error_code == KafkaError::ProducerFenced.code() {
                p.error_code = fit(KafkaError::ProducerFenced, version, 2).code();
            }
        }
    }
    ResponseKind::TxnOffsetCommit(resp)
}
