//! Transaction tooling: ListTransactions (every core's coordinator), DescribeTransactions (the
//! coordinator of each id) and DescribeProducers (the producer state of partitions, from their
//! owning cores).
//!
//! ListTransactions v2 filters by a transactional id pattern (KIP-1152): a regular expression
//! the whole id must match; a null or empty pattern matches every id. Kafka compiles it as a
//! Java-style regular expression; Runnel uses the `regex` crate, whose syntax agrees on the
//! usual constructs (literals, classes, alternation, repetition, anchors) and which refuses
//! backreferences and lookaround, answered as INVALID_REGULAR_EXPRESSION like any pattern that
//! does not compile.

use std::sync::Arc;

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::describe_transactions_response::{
    TopicData, TransactionState as DescribedTxn,
};
use kafka_protocol::messages::list_transactions_response::TransactionState as ListedTxn;
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeProducersResponse, DescribeTransactionsRequest,
    DescribeTransactionsResponse, ListTransactionsRequest, ListTransactionsResponse, ProducerId,
    ResponseKind, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use super::authz::Authz;
use super::txn::ensure_txn_topic;
use crate::errors::KafkaError;
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;
use crate::shard::handlers::DescribeProducersCall;
use crate::shard::messages::TopicPartition;
use crate::txn::calls::{DescribeTxnsCall, ListTxnsCall};
use crate::txn::{self, state::now_ms, TxnMeta, TxnState, TXN_TOPIC};

const STATES: [TxnState; 8] = [
    TxnState::Empty,
    TxnState::Ongoing,
    TxnState::PrepareCommit,
    TxnState::PrepareAbort,
    TxnState::CompleteCommit,
    TxnState::CompleteAbort,
    TxnState::Dead,
    TxnState::PrepareEpochFence,
];

/// Handles ListTransactions.
pub async fn list(ctx: &RequestContext, req: ListTransactionsRequest) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let mut resp = ListTransactionsResponse::default();
    resp.unknown_state_filters = req
        .state_filters
        .iter()
        .filter(|f| !STATES.iter().any(|s| s.name() == f.as_str()))
        .cloned()
        .collect();
    let pattern = match id_pattern(ctx.version, req.transactional_id_pattern.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            let mut resp = ListTransactionsResponse::default();
            resp.error_code = e.code();
            return ResponseKind::ListTransactions(resp);
        }
    };
    let now = now_ms();
    // Only the transactional ids the principal may DESCRIBE are listed (KafkaApis).
    let authz = Authz::of(ctx);
    for core in 0..view.cores() {
        let Ok(txns) = mesh.call(core, ListTxnsCall).await else {
            resp.error_code = KafkaError::CoordinatorNotAvailable.code();
            continue;
        };
        for m in txns {
            let state_ok = req.state_filters.is_empty()
                || req
                    .state_filters
                    .iter()
                    .any(|f| f.as_str() == m.state.name());
            let pid_ok = req.producer_id_filters.is_empty()
                || req.producer_id_filters.iter().any(|p| p.0 == m.producer_id);
            let duration_ok = ctx.version < 1
                || req.duration_filter < 0
                || (m.state == TxnState::Ongoing && now - m.start_ms >= req.duration_filter);
            let id_ok = pattern.as_ref().is_none_or(|p| p.is_match(&m.txn_id))
                && authz.txn_id(Operation::Describe, &m.txn_id).is_ok();
            if state_ok && pid_ok && duration_ok && id_ok {
                let mut t = ListedTxn::default();
                t.transactional_id = TransactionalId(StrBytes::from_string(m.txn_id.clone()));
                t.producer_id = ProducerId(m.producer_id);
                t.transaction_state = StrBytes::from_static_str(m.state.name());
                resp.transaction_states.push(t);
            }
        }
    }
    ResponseKind::ListTransactions(resp)
}

/// Longest transactional id pattern compiled, in bytes; a longer one is refused as invalid.
const MAX_PATTERN_LEN: usize = 4096;

/// Compiled heap the pattern may take (the `regex` crate's size limit).
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// ListTransactions v2's transactional id filter: `None` matches every id (before v2, or a
/// null or empty pattern); an invalid pattern is INVALID_REGULAR_EXPRESSION.
fn id_pattern(version: i16, pattern: Option<&str>) -> Result<Option<regex::Regex>, KafkaError> {
    let Some(p) = pattern.filter(|p| version >= 2 && !p.is_empty()) else {
        return Ok(None);
    };
    if p.len() > MAX_PATTERN_LEN {
        return Err(KafkaError::InvalidRegularExpression);
    }
    // The whole id must match, as with Java's `Matcher.matches`.
    regex::RegexBuilder::new(&format!("^(?:{p})$"))
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map(Some)
        .map_err(|_| KafkaError::InvalidRegularExpression)
}

/// A transaction's description: `Ok` with what its coordinator knows (none: not found), or
/// the error that kept the coordinator from answering.
fn described(id: &TransactionalId, found: Result<Option<TxnMeta>, KafkaError>) -> DescribedTxn {
    let mut t = DescribedTxn::default();
    t.transactional_id = id.clone();
    t.producer_id = ProducerId(-1);
    t.producer_epoch = -1;
    t.transaction_start_time_ms = -1;
    t.transaction_state = StrBytes::default();
    let m = match found {
        Ok(Some(m)) => m,
        Ok(None) => {
            t.error_code = KafkaError::TransactionalIdNotFound.code();
            return t;
        }
        Err(e) => {
            t.error_code = e.code();
            return t;
        }
    };
    t.transaction_state = StrBytes::from_static_str(m.state.name());
    t.transaction_timeout_ms = m.timeout_ms;
    t.transaction_start_time_ms = m.start_ms;
    t.producer_id = ProducerId(m.producer_id);
    t.producer_epoch = m.epoch;
    for (topic, p) in &m.partitions {
        match t.topics.last_mut() {
            Some(td) if td.topic.0.as_str() == topic => td.partitions.push(*p),
            _ => {
                let mut td = TopicData::default();
                td.topic = TopicName(StrBytes::from_string(topic.clone()));
                td.partitions.push(*p);
                t.topics.push(td);
            }
        }
    }
    t
}

/// Handles DescribeTransactions.
pub async fn describe(ctx: &RequestContext, req: DescribeTransactionsRequest) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let mut resp = DescribeTransactionsResponse::default();
    let have_topic = ensure_txn_topic(view, mesh).await;
    let authz = Authz::of(ctx);
    for id in &req.transactional_ids {
        if let Err(e) = authz.txn_id(Operation::Describe, id.0.as_str()) {
            resp.transaction_states.push(described(id, Err(e)));
            continue;
        }
        let partition = txn::partition_in(&view.topic_table(), &view.config(), id.0.as_str());
        let owner = view.owner_of(TXN_TOPIC, partition).filter(|_| have_topic);
        let Some(core) = owner else {
            resp.transaction_states
                .push(described(id, Err(KafkaError::CoordinatorNotAvailable)));
            continue;
        };
        let call = DescribeTxnsCall(vec![id.0.to_string()]);
        resp.transaction_states
            .push(match mesh.call(core, call).await {
                Ok(mut v) => described(id, v.pop().unwrap_or(Ok(None))),
                Err(_) => described(id, Err(KafkaError::CoordinatorNotAvailable)),
            });
    }
    ResponseKind::DescribeTransactions(resp)
}

/// Handles DescribeProducers.
pub async fn describe_producers(
    ctx: &RequestContext,
    req: DescribeProducersRequest,
) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let mut resp = DescribeProducersResponse::default();
    let authz = Authz::of(ctx);
    for t in &req.topics {
        let mut rt = TopicResponse::default();
        rt.name = t.name.clone();
        // READ on the topic (KafkaApis).
        let denied = authz.topic(Operation::Read, t.name.0.as_str()).err();
        for &p in &t.partition_indexes {
            let mut rp = PartitionResponse::default();
            rp.partition_index = p;
            if let Some(e) = denied {
                rp.error_code = e.code();
                rt.partitions.push(rp);
                continue;
            }
            let tp = TopicPartition {
                topic: Arc::from(t.name.0.as_str()),
                partition: p,
            };
            match view.owner_of(&tp.topic, p) {
                None => rp.error_code = KafkaError::UnknownTopicOrPartition.code(),
                Some(owner) => match mesh.call(owner, DescribeProducersCall(tp)).await {
                    Ok(Some(list)) => {
                        for (pid, e) in list {
                            let mut ps = ProducerState::default();
                            ps.producer_id = ProducerId(pid);
                            ps.producer_epoch = e.epoch as i32;
                            ps.last_sequence = e.batches.back().map_or(-1, |b| b.last_seq);
                            ps.last_timestamp = e.last_write_ms;
                            ps.coordinator_epoch = e.coordinator_epoch;
                            ps.current_txn_start_offset = e.txn_first_offset.unwrap_or(-1);
                            rp.active_producers.push(ps);
                        }
                    }
                    _ => rp.error_code = KafkaError::NotLeaderOrFollower.code(),
                },
            }
            rt.partitions.push(rp);
        }
        resp.topics.push(rt);
    }
    ResponseKind::DescribeProducers(resp)
}
