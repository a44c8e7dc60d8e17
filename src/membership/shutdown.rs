//! The controlled shutdown (Kafka's heartbeat with `wantShutDown`): on a clean stop, core 0
//! asks the quorum to fence this broker at once, so that the other brokers stop listing it and
//! its partitions get another leader (or none, with a new leader epoch) now rather than a
//! session timeout later. The wait is bounded: an unreachable quorum delays the stop by
//! [`WAIT`] at most, and the broker then stops as after a crash (fenced after its session).

use std::time::{Duration, Instant};

use runnel_controller::records::BrokerId;

use super::Membership;

/// Longest a stopping broker waits for the quorum to fence it.
pub const WAIT: Duration = Duration::from_secs(5);

/// What became of a controlled shutdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The quorum fenced the broker.
    Fenced,
    /// The broker was not registered in this run: nothing to move.
    NotRegistered,
    /// The quorum refused or did not answer within the wait (why).
    Failed(String),
}

/// Asks the quorum to fence broker `id` (its heartbeats must have stopped first: a heartbeat
/// of the same epoch arriving later is refused by the controller), waiting at most `wait`.
pub async fn run(membership: &Membership, id: BrokerId, wait: Duration) -> Outcome {
    let Some(epoch) = membership.epoch() else {
        return Outcome::NotRegistered;
    };
    let started = Instant::now();
    let ask = membership.controller.controlled_shutdown(id, epoch);
    let asked = async { Some(ask.await) };
    let timer = async {
        glommio::timer::sleep(wait).await;
        None
    };
    let outcome = match futures_lite::future::or(asked, timer).await {
        Some(Ok(())) => Outcome::Fenced,
        Some(Err(e)) => Outcome::Failed(e.to_string()),
        None => Outcome::Failed(format!("no answer within {} ms", wait.as_millis())),
    };
    match &outcome {
        Outcome::Fenced => tracing::info!(
            node_id = id,
            broker_epoch = epoch,
            took_ms = started.elapsed().as_millis() as u64,
            "controlled shutdown: fenced by the quorum, partitions moved off"
        ),
        Outcome::Failed(why) => tracing::warn!(
            node_id = id,
            broker_epoch = epoch,
            error = %why,
            "controlled shutdown failed; stopping anyway (the quorum fences this broker after \
             broker.session.timeout.ms)"
        ),
        Outcome::NotRegistered => {}
    }
    outcome
}
