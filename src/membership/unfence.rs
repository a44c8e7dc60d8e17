//! Each core's wait, at startup, for the quorum to unfence this run of the broker before it
//! listens for clients (as Kafka's broker waits for its first unfence): until then the
//! partitions it leads have no leader, and clients would cache that. Bounded by
//! [`unfence_wait`], after which a broker that cannot reach its quorum listens anyway.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::config::Config;
use crate::services::Core;

/// How long a core waits for the first unfence before it listens anyway: long enough for a
/// crashed predecessor's registration to be fenced (twice the session timeout) and this run to
/// register and heartbeat, after which a broker that cannot reach its quorum still serves what
/// it can (Metadata, and the quorum's answers once it returns).
pub fn unfence_wait(config: &Config) -> Duration {
    config.quorum.session_timeout * 2 + Duration::from_secs(5)
}

/// Waits until this core's cluster view has this run of the broker unfenced, or
/// [`unfence_wait`] has passed, or the broker is stopping.
pub async fn await_unfenced(
    core: &Rc<Core>,
    config: &Config,
    incarnation: uuid::Uuid,
    stop: &AtomicBool,
) {
    let started = std::time::Instant::now();
    let limit = unfence_wait(config);
    let id = config.node_id;
    while !core.cluster.state().is_unfenced(id, incarnation) {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        if started.elapsed() >= limit {
            tracing::warn!(
                node_id = id,
                waited_ms = limit.as_millis() as u64,
                "not unfenced by the controller quorum yet; listening anyway (partitions this \
                 broker leads stay leaderless until it is)"
            );
            return;
        }
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    tracing::debug!(
        node_id = id,
        waited_ms = started.elapsed().as_millis() as u64,
        "unfenced"
    );
}
