//! Core services below the coordinators, each with one job, owned and wired by the composition
//! root (`services::Core`). Dependencies point one way:
//!
//! - [`mesh::Mesh`]: this core's end of the channel mesh: core id and count, typed calls to
//!   other cores ([`call::CoreCall`]), and the registry of services calls run against.
//! - [`topic_view::TopicView`]: the configuration, cluster id, topic table snapshot and produce
//!   policies, and who owns which partition.
//! - [`cluster_view::ClusterView`]: the cluster's brokers and active controller, as the
//!   controller's newest metadata image has them.
//! - [`partition_store::PartitionStore`] (uses the view): the partition logs this core owns,
//!   their cache budget, long polls and partition-event hooks; the data calls run against it.
//! - [`metadata_admin::MetadataAdmin`] (uses the mesh and the view): topic and dynamic-config
//!   changes on core 0, broadcast to every core's store; topic changes are first proposed to
//!   the controller quorum through [`quorum::Quorum`] ([`quorum_admin`]), and the local topic
//!   table follows the controller's image ([`image_sync`]).
//!
//! This layer imports nothing above it: the group and transaction coordinators reach it through
//! [`internal::InternalTopics`] and [`Mesh`], and learn what they must about partitions (an
//! internal partition opened, topics deleted) through the [`PartitionEvents`] hooks the
//! composition root installs.

pub mod acks_all;
pub mod acl_admin;
pub mod call;
pub mod cluster_id;
pub mod cluster_view;
pub mod coordinator_loads;
pub mod dynamic_admin;
pub mod elect_admin;
pub mod epoch_end;
pub mod handlers;
pub mod housekeeping;
pub mod hw_checkpoint;
pub mod image_sync;
pub mod internal;
pub mod internal_create;
pub mod isr;
pub mod long_poll;
pub mod mesh;
pub mod messages;
pub mod metadata_admin;
pub mod oneshot;
pub mod partition_store;
pub mod partitions;
pub mod quorum;
pub mod quorum_admin;
pub mod reassign_admin;
pub mod replica_progress;
pub mod replica_serve;
pub mod scram_admin;
pub mod topic_admin;
pub mod topic_view;

pub use cluster_view::ClusterView;
pub use mesh::Mesh;
pub use metadata_admin::MetadataAdmin;
pub use partition_store::{EventFuture, LocalTopic, PartitionEvents, PartitionStore};
pub use topic_view::TopicView;
