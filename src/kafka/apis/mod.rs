//! One module per Kafka API. Each turns a decoded request into a response, forwarding the
//! per-partition work to the owning cores through [`crate::shard::Mesh::call`].

pub mod acls;
pub mod api_versions;
pub mod authorized_ops;
pub mod authz;
pub mod brokers;
pub mod cluster_admin;
pub mod configs;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_records;
pub mod delete_topics;
pub mod elect_leaders;
pub mod fetch;
pub mod find_coordinator;
pub mod group_admin;
pub mod groups;
pub mod leader_epoch;
pub mod leader_hint;
pub mod list_offsets;
pub mod metadata;
pub mod offset_for_leader_epoch;
pub mod offsets;
pub mod plan;
pub mod produce;
pub mod produce_errors;
pub mod produce_policy;
pub mod reassignments;
pub mod replica_fetch;
pub mod scram_credentials;
pub mod single_node;
pub mod txn;
pub mod txn_admin;
pub mod write_txn_markers;
