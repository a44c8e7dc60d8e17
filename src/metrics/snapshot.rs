//! The per-core metrics task: reactor stall and busy time every 100 ms, and once a second a
//! snapshot of the core's partitions and group offsets for the scraper.
//!
//! Stall time is measured as the lateness of the task's own 100 ms timer: while a task hogs the
//! core (or the reactor is otherwise blocked), the timer fires late by about as long.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::core::{CoreMetrics, Snapshot};
use super::registry::Registry;

/// Period of the stall and busy-time measurement.
pub const TICK: Duration = Duration::from_millis(100);
/// Ticks between two partition and group snapshots (one second).
const SNAPSHOT_EVERY: u32 = 10;

/// Starts the metrics task of core `core`; it ends when the executor stops. `collect` gives the
/// core's partitions and group offsets as they are now (the core's services put it together).
pub fn start(core: usize, registry: Arc<Registry>, collect: impl Fn() -> Snapshot + 'static) {
    let Some(m) = registry.core(core) else {
        return;
    };
    glommio::spawn_local(async move {
        let mut tick = 0u32;
        loop {
            m.last_tick_ms.store(registry.now_ms(), Ordering::Relaxed);
            if tick.is_multiple_of(SNAPSHOT_EVERY) {
                m.publish(collect());
            }
            tick = tick.wrapping_add(1);
            let before = Instant::now();
            let every = crate::periodic::interval(TICK);
            crate::periodic::tick(crate::periodic::Loop::MetricsSnapshot, TICK).await;
            m.stall.observe(before.elapsed().saturating_sub(every));
            add_busy_time(&m);
        }
    })
    .detach();
}

fn add_busy_time(m: &CoreMetrics) {
    // glommio hands out the stats gathered since the previous call and resets them.
    let stats = glommio::executor().executor_stats();
    let ns = u64::try_from(stats.total_runtime().as_nanos()).unwrap_or(u64::MAX);
    CoreMetrics::add(&m.busy_ns, ns);
}
