//! The state the transaction coordinator keeps per transactional id.

use std::collections::BTreeSet;

/// Kafka's transaction states, numbered as in `__transaction_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    /// No transaction open (after InitProducerId).
    Empty = 0,
    /// Partitions have been added; records may be written.
    Ongoing = 1,
    /// Commit decided; markers being written.
    PrepareCommit = 2,
    /// Abort decided; markers being written.
    PrepareAbort = 3,
    /// Commit finished.
    CompleteCommit = 4,
    /// Abort finished.
    CompleteAbort = 5,
    /// Expired.
    Dead = 6,
    /// A newer producer is fencing this one; the open transaction is being aborted.
    PrepareEpochFence = 7,
}

impl TxnState {
    /// From the stored number.
    pub fn from_i8(v: i8) -> Option<TxnState> {
        Some(match v {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            7 => TxnState::PrepareEpochFence,
            _ => return None,
        })
    }

    /// The name Kafka's admin APIs report.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// Markers are being written (the outcome is decided but not finished).
    pub fn is_preparing(self) -> bool {
        matches!(
            self,
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence
        )
    }
}

/// One transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMeta {
    /// The transactional id.
    pub txn_id: String,
    /// Partition of `__transaction_state` holding it.
    pub partition: i32,
    /// Current producer id.
    pub producer_id: i64,
    /// Current epoch.
    pub epoch: i16,
    /// Epoch before the last bump by the coordinator (-1 when none), for KIP-360 recovery.
    pub last_epoch: i16,
    /// transaction.timeout.ms of the producer.
    pub timeout_ms: i32,
    /// State.
    pub state: TxnState,
    /// Partitions in the open (or finishing) transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// When the open transaction started, ms since the epoch.
    pub start_ms: i64,
    /// Last change, ms since the epoch.
    pub update_ms: i64,
    /// A write or marker round is in flight: other requests get CONCURRENT_TRANSACTIONS.
    pub busy: bool,
}

impl TxnMeta {
    /// A new transactional id with producer `producer_id`, epoch 0.
    pub fn new(txn_id: &str, partition: i32, producer_id: i64, timeout_ms: i32) -> TxnMeta {
        TxnMeta {
            txn_id: txn_id.to_string(),
            partition,
            producer_id,
            epoch: -1,
            last_epoch: -1,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: -1,
            update_ms: now_ms(),
            busy: false,
        }
    }
}

pub use crate::clock::now_ms;
