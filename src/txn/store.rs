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

/// How long a write of transaction state waits for the ISR (Kafka's transaction coordinator
/// waits `request.timeout.ms`; its default): REQUEST_TIMED_OUT after it, answered
/// COORDINATOR_NOT_AVAILABLE.
pub const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Writes the state of `m` and waits until the ISR has it (acks=all; on one replica:
/// durable here). Errors mapped as Kafka's `TransactionStateManager` maps them.
pub async fn persist(coord: &Coordinator, m: &TxnMeta) -> Result<(), KafkaError> {
    let entry = (
        records::encode_key(&m.txn_id),
        Some(records::encode_value(&TxnValue::of(m))),
    );
    coord
        .topics
        .append(TXN_TOPIC, m.partition, vec![entry], None, WRITE_TIMEOUT)
        .await
        .map_err(|e| match e {
            InternalWriteError::Producer(_) => KafkaError::CoordinatorNotAvailable,
            other => other.coordinator_error(),
        })
}

/// Replays partition `partition` of `__transaction_state` into this core's coordinator, as
/// load `generation` of it (nothing more is applied once it is no longer current).
/// Transactions found decided but unfinished are finished by [`super::leadership`].
pub async fn load(coord: &Coordinator, partition: i32, generation: u64, log: &PartitionLog) {
    let mut loaded = 0usize;
    internal::replay(log, TXN_TOPIC, |r| {
        if !coord.loads.is_current(partition, generation) {
            return;
        }
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
