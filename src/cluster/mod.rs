//! Cluster-wide metadata: the topic table (names, ids, partition placement on cores, topic
//! configs) and the broker's identity (cluster id). Core 0 derives it from the controller's
//! metadata image ([`image_table`]) and persists it; every other core holds an immutable
//! snapshot that core 0 broadcasts after each change.

pub mod acls;
pub mod bounds;
pub mod broker_config;
pub mod dynamic_config;
pub mod identity;
pub mod image_table;
pub mod membership;
pub mod producer_ids;
pub mod topic_config;
pub mod topics;

pub use topics::{TopicMeta, TopicTable};
