//! The openraft type configuration of the metadata log: what an entry carries ([`RecordBatch`])
//! and what applying it answers ([`ApplyOutcome`]).

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::image::RejectReason;
use crate::records::RecordBatch;

openraft::declare_raft_types!(
    /// The metadata log's openraft types: controller ids are `u64`, a node is its address.
    pub TypeConfig:
        D = RecordBatch,
        R = ApplyOutcome,
        NodeId = u64,
        Node = openraft::BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// What applying one committed entry did: `Ok` when its batch applied, or why it was skipped
/// (the same on every node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyOutcome {
    /// The batch's effect.
    pub result: Result<(), RejectReason>,
}

/// A log entry of the metadata log.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log id of the metadata log.
pub type LogId = openraft::LogId<u64>;
/// openraft's storage error, with controller ids.
pub type StorageError = openraft::StorageError<u64>;
/// The openraft instance of a controller.
pub type Raft = openraft::Raft<TypeConfig>;
