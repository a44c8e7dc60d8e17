//! The log engine's errors: what went wrong, typed, with no Kafka error codes. The broker turns
//! them into codes at the wire.

use std::fmt;

use crate::batch::BatchError;
use crate::producers::ProducerFault;
use crate::validate::Invalid;
use crate::verify::CorruptBatch;

/// A failed disk operation, kept from the `std::io::Error` that reported it (which is not
/// `Clone`, and a log hands the same failure to every waiter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoFailure {
    /// The error's kind.
    pub kind: std::io::ErrorKind,
    /// The OS error number, when the OS reported it.
    pub errno: Option<i32>,
}

impl From<&std::io::Error> for IoFailure {
    fn from(e: &std::io::Error) -> IoFailure {
        IoFailure {
            kind: e.kind(),
            errno: e.raw_os_error(),
        }
    }
}

impl From<std::io::Error> for IoFailure {
    fn from(e: std::io::Error) -> IoFailure {
        IoFailure::from(&e)
    }
}

impl fmt::Display for IoFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errno {
            Some(n) => write!(f, "{} (os error {n})", std::io::Error::from_raw_os_error(n)),
            None => write!(f, "{}", self.kind),
        }
    }
}

/// Why a log operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogError {
    /// The requested offset is outside `[log_start, high_watermark]`.
    OffsetOutOfRange,
    /// A disk write or read failed. After a failed write the log discards the appends not yet
    /// on disk and reopens its tail; it refuses appends until then.
    Io(IoFailure),
    /// The appends waited on were discarded after a failed write: they were never acknowledged.
    Discarded,
    /// A sync failed: the data's state on disk is unknown, so the log refuses every read and
    /// write until the broker restarts and recovers it from disk.
    Offline(IoFailure),
    /// The log is closed (its partition is being deleted or the broker is stopping).
    Closed,
    /// The producer state refused the batch (sequence gap, stale epoch, unknown producer).
    Producer(ProducerFault),
    /// A stored batch failed its check when a fetch read it back.
    Corrupt(CorruptBatch),
    /// A stored batch at `base_offset` failed validation when a lookup (by timestamp, or of the
    /// largest timestamp) walked its records.
    CorruptStored {
        /// The batch's base offset.
        base_offset: i64,
        /// What is wrong with it.
        fault: Invalid,
    },
    /// A batch the engine built itself (a transaction marker) failed its own framing check.
    BadOwnBatch(BatchError),
    /// A follower append was refused: the leader's batches do not continue this log.
    Follower(FollowerFault),
}

/// Why [`crate::PartitionLog::append_as_follower`] refused the leader's batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowerFault {
    /// A batch's CRC does not match its contents.
    Crc {
        /// The batch's base offset.
        base_offset: i64,
    },
    /// A batch does not start where the log (or the batch before it) ends.
    Offset {
        /// Where the batch had to start.
        expected: i64,
        /// Where it starts.
        got: i64,
    },
    /// A batch carries a leader epoch older than the log's newest, or no epoch.
    Epoch {
        /// The log's newest epoch (or the previous batch's).
        newest: i32,
        /// The batch's epoch.
        got: i32,
    },
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::OffsetOutOfRange => write!(f, "offset out of range"),
            LogError::Io(e) => write!(f, "disk I/O failed: {e}"),
            LogError::Discarded => write!(f, "the write failed and was discarded"),
            LogError::Offline(e) => write!(f, "partition offline after a failed sync: {e}"),
            LogError::Closed => write!(f, "log is closed"),
            LogError::Producer(p) => write!(f, "producer state refused the batch: {p:?}"),
            LogError::Corrupt(c) => write!(
                f,
                "corrupt batch at offset {} (file position {}): {:?}",
                c.offset, c.position, c.fault
            ),
            LogError::CorruptStored { base_offset, fault } => {
                write!(f, "corrupt batch at offset {base_offset}: {fault:?}")
            }
            LogError::BadOwnBatch(e) => write!(f, "a batch built by the log is invalid: {e:?}"),
            LogError::Follower(e) => write!(f, "follower append refused: {e:?}"),
        }
    }
}

impl std::error::Error for LogError {}
