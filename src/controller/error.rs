//! The errors a controller's handle answers.

use std::fmt;

use crate::image::RejectReason;

/// Why a controller call failed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ControllerError {
    /// The configuration cannot work (voters, node id, addresses).
    Config(String),
    /// The data directory cannot be opened, read or written.
    Storage(String),
    /// The batch does not apply to the metadata (unknown topic, stale epoch, ...).
    Rejected(RejectReason),
    /// This node does not lead (the leader's id when known); routed calls try again on it.
    NotLeader(Option<u64>),
    /// No leader could be reached before the call's deadline.
    NoLeader,
    /// The proposal was sent but no answer came: it may or may not have been applied.
    OutcomeUnknown(String),
    /// A batch larger than an entry may be.
    TooLarge(usize),
    /// The controller is shutting down or has stopped.
    Shutdown,
    /// Anything else openraft reported.
    Raft(String),
}

impl fmt::Display for ControllerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControllerError::Config(m) => write!(f, "controller configuration: {m}"),
            ControllerError::Storage(m) => write!(f, "controller storage: {m}"),
            ControllerError::Rejected(r) => write!(f, "rejected: {r}"),
            ControllerError::NotLeader(l) => write!(f, "not the leader (leader: {l:?})"),
            ControllerError::NoLeader => write!(f, "no controller leader reachable"),
            ControllerError::OutcomeUnknown(m) => write!(f, "proposal outcome unknown: {m}"),
            ControllerError::TooLarge(n) => write!(f, "batch of {n} bytes is too large"),
            ControllerError::Shutdown => write!(f, "controller shut down"),
            ControllerError::Raft(m) => write!(f, "raft: {m}"),
        }
    }
}

impl std::error::Error for ControllerError {}
