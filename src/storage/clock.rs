//! The log engine's clock: wall-clock time as Kafka uses it (milliseconds since the Unix epoch)
//! and sleeping, both replaced by a virtual clock under the simulation ([`simulate`]), so that
//! a seed replays the same run whatever the machine's speed.

use std::cell::Cell;
use std::time::Duration;

thread_local! {
    /// The virtual time of this thread in ms, when it runs a simulation.
    static VIRTUAL_MS: Cell<Option<i64>> = const { Cell::new(None) };
}

/// Milliseconds since the Unix epoch (0 if the clock is before it); the virtual time under a
/// simulation.
pub fn now_ms() -> i64 {
    if let Some(v) = VIRTUAL_MS.with(Cell::get) {
        return v;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Waits for `d` on the executor's timer; under a simulation, moves the virtual clock forward
/// by `d` and yields once to the other tasks.
pub async fn sleep(d: Duration) {
    if let Some(v) = VIRTUAL_MS.with(Cell::get) {
        VIRTUAL_MS.with(|c| c.set(Some(v.saturating_add(d.as_millis() as i64))));
        futures_lite::future::yield_now().await;
        return;
    }
    glommio::timer::sleep(d).await;
}

/// Runs this thread on a virtual clock starting at `start_ms` (`None`: the real clock again).
pub fn simulate(start_ms: Option<i64>) {
    VIRTUAL_MS.with(|c| c.set(start_ms));
}
