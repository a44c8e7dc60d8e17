//! The executors' periodic loops: one place that sleeps between their turns and counts them.
//!
//! Every periodic task of a core (the stop watch, group and transaction sweeps, housekeeping, the
//! metrics snapshot) waits for its next turn with [`tick`]. Each turn sleeps on a *new* timer, so
//! nothing registered by one turn survives into the next: a future that stays pending across
//! turns (and is re-polled on each) would leave one waker reference behind per poll, and glommio
//! counts those in 16 bits (see docs/operations.md, "Long runs").
//!
//! Each turn is counted in `runnel_periodic_turns_total{core,loop}` (through the hook the
//! metrics install with [`on_turn`]: this module sits below them), and the interval of every
//! loop can be shortened for the long-run regression test
//! (`runnel.test.periodic.interval.us`, 0 = each loop's own interval).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

thread_local! {
    /// Told about every turn on this thread ([`on_turn`]).
    static ON_TURN: Cell<Option<fn(Loop)>> = const { Cell::new(None) };
}

/// Installs `hook` to be told about every turn of a periodic loop on this thread (the core's
/// metrics count them).
pub fn on_turn(hook: fn(Loop)) {
    ON_TURN.with(|h| h.set(Some(hook)));
}

fn turned(which: Loop) {
    if let Some(hook) = ON_TURN.with(Cell::get) {
        hook(which);
    }
}

/// The periodic loops of a core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loop {
    /// Watches the broker's stop flag and ends the accept loop.
    StopWatch,
    /// Group session, rebalance and offsets-retention timers.
    GroupSweep,
    /// Transaction timeouts and producer-id expiry.
    TxnSweep,
    /// Retention, segment rolls and the cleaner.
    Housekeeping,
    /// Reactor stall measurement and metrics snapshots.
    MetricsSnapshot,
}

impl Loop {
    /// Every loop, in metric order.
    pub const ALL: [Loop; 5] = [
        Loop::StopWatch,
        Loop::GroupSweep,
        Loop::TxnSweep,
        Loop::Housekeeping,
        Loop::MetricsSnapshot,
    ];

    /// The `loop` label of the turn counter.
    pub fn name(self) -> &'static str {
        match self {
            Loop::StopWatch => "stop_watch",
            Loop::GroupSweep => "group_sweep",
            Loop::TxnSweep => "txn_sweep",
            Loop::Housekeeping => "housekeeping",
            Loop::MetricsSnapshot => "metrics_snapshot",
        }
    }

    /// Index into per-loop counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Interval override in microseconds (0: none). Set once at startup.
static OVERRIDE_US: AtomicU64 = AtomicU64::new(0);

/// Makes every loop turn every `us` microseconds (0: each loop's own interval). For tests.
pub fn set_interval_override(us: u64) {
    OVERRIDE_US.store(us, Ordering::Relaxed);
}

/// The interval a loop with the given default actually uses.
pub fn interval(default: Duration) -> Duration {
    match OVERRIDE_US.load(Ordering::Relaxed) {
        0 => default,
        us => Duration::from_micros(us),
    }
}

/// Whether the intervals are overridden (loops that also wait on wall-clock deadlines, such as
/// offsets retention, shorten those too).
pub fn overridden() -> bool {
    OVERRIDE_US.load(Ordering::Relaxed) != 0
}

/// Waits for the next turn of `which` (a fresh timer each call) and counts it.
pub async fn tick(which: Loop, every: Duration) {
    glommio::timer::sleep(interval(every)).await;
    turned(which);
}

/// Waits until `deadline` or until `woken` completes, whichever is first, and counts a turn.
/// With the interval override set, waits no longer than the override.
pub async fn tick_until(
    which: Loop,
    deadline: std::time::Instant,
    woken: impl std::future::Future<Output = ()>,
) {
    let mut left = deadline.saturating_duration_since(std::time::Instant::now());
    if overridden() {
        left = left.min(interval(left));
    }
    futures_lite::future::or(glommio::timer::sleep(left), woken).await;
    turned(which);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_indexes_are_distinct() {
        for (i, l) in Loop::ALL.iter().enumerate() {
            assert_eq!(l.index(), i);
        }
        let mut names: Vec<_> = Loop::ALL.iter().map(|l| l.name()).collect();
        names.dedup();
        assert_eq!(names.len(), Loop::ALL.len());
    }
}
