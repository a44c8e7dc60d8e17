//! The transaction coordinator's request handling: InitProducerId (new ids, epoch bumps and
//! fencing of the previous producer), adding partitions to a transaction, and EndTxn.
//!
//! Every change is written to `__transaction_state` before it is answered. While a write or a
//! round of markers is in flight the id is `busy`, and requests for it get
//! CONCURRENT_TRANSACTIONS, which clients retry.

use std::rc::Rc;

use super::state::{now_ms, TxnMeta, TxnState};
use super::Coordinator;
use super::{markers, partition_of, serving, store};
use crate::errors::KafkaError;

/// Checks a request's producer id and epoch against the id's state.
fn check_producer(m: &TxnMeta, producer_id: i64, epoch: i16) -> Result<(), KafkaError> {
    if m.producer_id != producer_id {
        return Err(KafkaError::InvalidProducerIdMapping);
    }
    if m.epoch != epoch {
        return Err(KafkaError::ProducerFenced);
    }
    if m.busy || m.state.is_preparing() {
        return Err(KafkaError::ConcurrentTransactions);
    }
    Ok(())
}

/// Writes `m` as the new state of its id; on failure the old state is put back.
async fn commit_state(
    coord: &Rc<Coordinator>,
    old: TxnMeta,
    mut m: TxnMeta,
) -> Result<(), KafkaError> {
    m.update_ms = now_ms();
    m.busy = true;
    let id = m.txn_id.clone();
    coord.txns.borrow_mut().insert(id.clone(), m.clone());
    let r = store::persist(coord, &m).await;
    let mut txns = coord.txns.borrow_mut();
    match r {
        Ok(()) => {
            m.busy = false;
            txns.insert(id, m);
            Ok(())
        }
        Err(e) => {
            txns.insert(id, old);
            Err(e)
        }
    }
}

/// InitProducerId for a transactional id: a new producer id, or the existing one with its
/// epoch bumped (fencing the previous producer and aborting its open transaction).
pub async fn init_producer_id(
    coord: &Rc<Coordinator>,
    txn_id: &str,
    timeout_ms: i32,
    expected: Option<(i64, i16)>,
) -> Result<(i64, i16), KafkaError> {
    if timeout_ms <= 0 || timeout_ms > coord.config().txns.max_timeout_ms {
        return Err(KafkaError::InvalidTransactionTimeout);
    }
    let partition = partition_of(coord, txn_id);
    serving(coord, partition)?;
    // An open transaction is aborted first (fencing its producer), then the epoch is bumped.
    for _ in 0..3 {
        let current = coord.txns.borrow().get(txn_id).cloned();
        let Some(old) = current else {
            let pid = coord.producer_ids.allocate().await?;
            if coord.txns.borrow().contains_key(txn_id) {
                // Another InitProducerId created it while the id was allocated.
                continue;
            }
            let mut m = TxnMeta::new(txn_id, partition, pid, timeout_ms);
            m.epoch = 0;
            let placeholder = m.clone();
            commit_state(coord, placeholder, m).await.inspect_err(|_| {
                coord.txns.borrow_mut().remove(txn_id);
            })?;
            return Ok((pid, 0));
        };
        if old.busy || old.state.is_preparing() {
            return Err(KafkaError::ConcurrentTransactions);
        }
        if let Some((pid, epoch)) = expected {
            let known = pid == old.producer_id && (epoch == old.epoch || epoch == old.last_epoch);
            if !known {
                return Err(KafkaError::ProducerFenced);
            }
            // A retry of a bump that already happened: answer it again.
            if old.state == TxnState::Empty && epoch == old.last_epoch {
                return Ok((old.producer_id, old.epoch));
            }
        }
        if old.state == TxnState::Ongoing {
            markers::finish(coord, txn_id, false, true).await?;
            continue;
        }
        let mut m = old.clone();
        if m.epoch >= i16::MAX - 1 {
            m.producer_id = coord.producer_ids.allocate().await?;
            let unchanged = coord.txns.borrow().get(txn_id).is_some_and(|now| {
                now.producer_id == old.producer_id && now.epoch == old.epoch && !now.busy
            });
            if !unchanged {
                continue;
            }
            m.epoch = 0;
            m.last_epoch = -1;
        } else {
            m.last_epoch = m.epoch;
            m.epoch += 1;
        }
        m.timeout_ms = timeout_ms;
        m.state = TxnState::Empty;
        m.partitions.clear();
        m.start_ms = -1;
        let (pid, epoch) = (m.producer_id, m.epoch);
        commit_state(coord, old, m).await?;
        return Ok((pid, epoch));
    }
    Err(KafkaError::ConcurrentTransactions)
}

/// Adds partitions to the producer's transaction, opening it if needed.
pub async fn add_partitions(
    coord: &Rc<Coordinator>,
    txn_id: &str,
    producer_id: i64,
    epoch: i16,
    partitions: Vec<(String, i32)>,
) -> Result<(), KafkaError> {
    serving(coord, partition_of(coord, txn_id))?;
    let current = coord.txns.borrow().get(txn_id).cloned();
    let Some(old) = current else {
        return Err(KafkaError::InvalidProducerIdMapping);
    };
    check_producer(&old, producer_id, epoch)?;
    let fresh = old.state != TxnState::Ongoing;
    if !fresh && partitions.iter().all(|p| old.partitions.contains(p)) {
        return Ok(());
    }
    let mut m = old.clone();
    if fresh {
        m.partitions.clear();
        m.start_ms = now_ms();
    }
    m.state = TxnState::Ongoing;
    m.partitions.extend(partitions);
    commit_state(coord, old, m).await
}

/// EndTxn: commits or aborts the producer's transaction.
pub async fn end_txn(
    coord: &Rc<Coordinator>,
    txn_id: &str,
    producer_id: i64,
    epoch: i16,
    commit: bool,
) -> Result<(), KafkaError> {
    serving(coord, partition_of(coord, txn_id))?;
    let current = coord.txns.borrow().get(txn_id).cloned();
    let Some(m) = current else {
        return Err(KafkaError::InvalidProducerIdMapping);
    };
    if m.producer_id != producer_id {
        return Err(KafkaError::InvalidProducerIdMapping);
    }
    if m.epoch != epoch {
        return Err(KafkaError::ProducerFenced);
    }
    match (m.state, commit) {
        _ if m.busy || m.state.is_preparing() => Err(KafkaError::ConcurrentTransactions),
        (TxnState::Ongoing, _) => markers::finish(coord, txn_id, commit, false).await,
        // A retry of an EndTxn that already finished.
        (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(()),
        _ => Err(KafkaError::InvalidTxnState),
    }
}
