//! Offsets committed inside a transaction (TxnOffsetCommit): written to `__consumer_offsets` as
//! a transactional batch of the producer, held as pending, and made visible (or dropped) when
//! the transaction's marker reaches the group's partition.

use std::rc::Rc;

use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::offsets::validate_commit;
use super::records::{self, OffsetValue, OffsetsKey};
use super::state::{now_ms, Group};
use super::Coordinator;
use super::{partition_of, serving, OFFSETS_TOPIC};
use crate::errors::{self, KafkaError};
use crate::shard::internal::{InternalWriteError, TxnProducer};
use crate::storage::producers::ProducerFault;

fn answer(
    req: &TxnOffsetCommitRequest,
    error: impl Fn(&str, i32) -> Option<KafkaError>,
) -> TxnOffsetCommitResponse {
    let mut resp = TxnOffsetCommitResponse::default();
    for t in &req.topics {
        let mut rt = TxnOffsetCommitResponseTopic::default();
        rt.name = t.name.clone();
        for p in &t.partitions {
            let mut rp = TxnOffsetCommitResponsePartition::default();
            rp.partition_index = p.partition_index;
            rp.error_code = errors::code(error(t.name.0.as_str(), p.partition_index));
            rt.partitions.push(rp);
        }
        resp.topics.push(rt);
    }
    resp
}

/// Handles TxnOffsetCommit on the group's coordinating core.
pub async fn commit(
    coord: &Rc<Coordinator>,
    req: TxnOffsetCommitRequest,
    version: i16,
) -> TxnOffsetCommitResponse {
    let group_id = req.group_id.0.to_string();
    let partition = partition_of(coord, &group_id);
    let group_check = if group_id.is_empty() {
        Err(KafkaError::InvalidGroupId)
    } else if let Err(e) = serving(coord, partition) {
        Err(e)
    } else if version >= 3 && (req.generation_id >= 0 || !req.member_id.is_empty()) {
        let mut groups = coord.groups.borrow_mut();
        validate_commit(
            groups.get_mut(&group_id),
            req.generation_id,
            &req.member_id,
            req.group_instance_id.as_deref(),
            version,
        )
    } else {
        Ok(())
    };
    if let Err(e) = group_check {
        return answer(&req, |_, _| Some(e));
    }
    let max_meta = coord.config().groups.offset_metadata_max_bytes;
    let now = now_ms();
    let mut entries = Vec::new();
    let mut values = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            let metadata = p.committed_metadata.as_deref().unwrap_or("").to_string();
            if metadata.len() > max_meta {
                continue;
            }
            let key = OffsetsKey::Offset {
                group: group_id.clone(),
                topic: t.name.0.to_string(),
                partition: p.partition_index,
            };
            let value = OffsetValue {
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata,
                commit_timestamp: now,
            };
            entries.push((
                records::encode_key(&key),
                Some(records::encode_offset(&value)),
            ));
            values.push(((t.name.0.to_string(), p.partition_index), value));
        }
    }
    let producer = TxnProducer {
        producer_id: req.producer_id.0,
        epoch: req.producer_epoch,
    };
    let written = coord
        .topics
        .append(
            OFFSETS_TOPIC,
            partition,
            entries,
            Some(producer),
            super::store::COMMIT_TIMEOUT,
        )
        .await
        .map_err(|e| match e {
            InternalWriteError::Producer(ProducerFault::InvalidProducerEpoch) => {
                KafkaError::ProducerFenced
            }
            other => other.coordinator_error(),
        });
    if let Err(e) = written {
        return answer(&req, |_, _| Some(e));
    }
    {
        let mut groups = coord.groups.borrow_mut();
        let g = groups
            .entry(group_id.clone())
            .or_insert_with(|| Group::new(&group_id, partition));
        g.pending_txn
            .entry(producer.producer_id)
            .or_default()
            .extend(values);
    }
    // Partitions whose metadata was too large were not written.
    let mut resp = answer(&req, |_, _| None);
    for (rt, t) in resp.topics.iter_mut().zip(&req.topics) {
        for (rp, p) in rt.partitions.iter_mut().zip(&t.partitions) {
            if p.committed_metadata.as_deref().unwrap_or("").len() > max_meta {
                rp.error_code = KafkaError::OffsetMetadataTooLarge.code();
            }
        }
    }
    resp
}

/// Settles producer `producer_id`'s pending offsets in the groups of `partition` once its
/// transaction's marker is durable there: a commit makes them the committed offsets.
pub fn complete(coord: &Coordinator, partition: i32, producer_id: i64, commit: bool) {
    let mut groups = coord.groups.borrow_mut();
    for g in groups.values_mut().filter(|g| g.partition == partition) {
        if let Some(pending) = g.pending_txn.remove(&producer_id) {
            if commit {
                g.offsets.extend(pending);
            }
        }
    }
}
