//! Metrics in the Prometheus text format, and the `/health` and `/ready` endpoints.
//!
//! - [`histogram`]: fixed-bucket latency histograms of relaxed atomics.
//! - [`core`]: the metrics of one core, written only by that core.
//! - [`registry`]: every core's metrics plus readiness and health.
//! - [`hooks`]: the calls made on the request, storage and forwarding paths.
//! - [`errors`]: the error codes a response carries.
//! - [`snapshot`]: the per-core task measuring reactor stalls and publishing partition and
//!   group gauges once a second.
//! - [`expose`]: the text exposition encoder.
//! - [`http`]: the HTTP listener (`metrics.listen`, `--metrics-listen`).
//!
//! The request path only ever touches its own core's counters; the scraper reads them from its
//! own thread. The metric catalogue is documented in `docs/operations.md`.

pub mod core;
pub mod errors;
pub mod expose;
pub mod histogram;
pub mod hooks;
pub mod http;
pub mod http_auth;
pub mod http_conn;
pub mod registry;
pub mod snapshot;

pub use registry::Registry;
