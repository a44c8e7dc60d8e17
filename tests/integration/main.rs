//! The integration tests that drive the real `runnel` binary (and its command line client) on
//! loopback with real data directories and real client libraries, built as one test binary:
//! one build and one link instead of one per file, and the test harness keeps its threads busy
//! across files instead of running each file's tests after the previous file's last one ended.
//!
//! Each file is a module named after what it tests; run one with
//! `cargo test --test integration NAME::` (for example `cargo test --test integration
//! replication::`). Tests outside this binary: `fsync_failure` (it sets an environment variable
//! the brokers it starts inherit), `request_fuzz` (its counting global allocator),
//! `layering` (reads the sources) and `python_clients` (the pytest suites, two workers of their
//! own).

#[path = "../common/mod.rs"]
mod common;

mod admin;
mod api_versions;
mod bad_input;
mod broker_only;
mod cli;
mod cli_groups;
mod cluster_identity;
mod cluster_membership;
mod cluster_tls;
mod cluster_topics;
mod cluster_transactions;
mod compaction;
mod controlled_shutdown;
mod crash_harness;
mod deleted_topic_offsets;
mod disk_full;
mod durability;
mod dynamic_configs;
mod exactly_once;
mod group_timers;
mod groups;
mod hostile_frames;
mod idempotence;
mod js_clients;
mod leader_epochs;
mod long_poll;
mod long_run;
mod many_partitions;
mod metrics;
mod metrics_security;
mod open_files;
mod power_loss;
mod produce_consume;
mod reassign;
mod record_errors;
mod record_validation;
mod replication;
mod replication_hw;
mod replication_isr;
mod replication_quorum;
mod resource_limits;
mod retention;
mod security;
mod stored_corruption;
mod transactions;
mod unprivileged;
