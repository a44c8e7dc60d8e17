//! Durability of transaction state: each change of a transactional id is one record in its
//! partition of `__transaction_state`, synced before the change is answered, and replayed when
//! the owning core opens the partition at startup.

use super::records::{self, TxnValue};
use super::state::TxnMeta;
use super::Coordinator;
use super::TXN_TOPIC;
use crate::errors::KafkaError;
use crate::shard::internal::{self, InternalWriteError};
use crate::storage::PartitionLog;

/// Writes the state of `m` and waits until it is durable.
pub async fn persist(coord: &Coordinator, m: &TxnMeta) -> Result<(), KafkaError> {
    let entry = (
        records::encode_key(&m.txn_id),
        Some(records::encode_value(&TxnValue::of(m))),
    );
    coord
        .topics
        .append(TXN_TOPIC, m.partition, vec![entry], None)
        .await
        .map_err(|e| match e {
            InternalWriteError::NotHere => KafkaError::NotCoordinator,
            _ => KafkaError::CoordinatorNotAvailable,
        })
}

/// Replays partition `partition` of `__transaction_state` into this core's coordinator.
/// Transactions found decided but unfinished are finished by the sweep.
pub async fn load(coord: &Coordinator, partition: i32, log: &PartitionLog) {
    let mut loaded = 0usize;
    internal::replay(log, TXN_TOPIC, |r| {
        let Some(id) = r.key.and_then(records::decode_key) else {
            return;
        };
        let mut txns = coord.txns.borrow_mut();
        match r.value.and_then(records::decode_value) {
            Some(v) => {
                let m = txns
                    .entry(id.clone())
                    .or_insert_with(|| TxnMeta::new(&id, partition, v.producer_id, v.timeout_ms));
                if v.producer_id == m.producer_id && v.epoch > m.epoch {
                    m.last_epoch = m.epoch;
                }
                m.producer_id = v.producer_id;
                m.epoch = v.epoch;
                m.timeout_ms = v.timeout_ms;
                m.state = v.state;
                m.partitions = v.partitions;
                m.update_ms = v.update_ms;
                m.start_ms = v.start_ms;
                loaded += 1;
            }
            None => {
                txns.remove(&id);
            }
        }
    })
    .await;
    if loaded > 0 {
        tracing::info!(partition, records = loaded, "loaded transaction state");
    }
}
