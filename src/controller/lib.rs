//! Runnel's controller quorum: the cluster's metadata as a replicated log on openraft, and the
//! in-memory [`image::MetadataImage`] every node builds from it.
//!
//! - [`records`]: the typed metadata records (KRaft's record types) and atomic batches of them.
//! - [`image`]: the immutable metadata image and the pure, validating apply of a batch.
//! - [`placement`]: replica placement for new topics and partitions (Kafka's rules).
//!
//! This crate does not depend on the broker; the broker depends on it (docs/cluster.md).

pub mod image;
pub mod placement;
pub mod records;
