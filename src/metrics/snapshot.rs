//! The per-core metrics task: reactor stall and busy time every 100 ms, and once a second a
//! snapshot of the core's partitions and group offsets for the scraper.
//!
//! Stall time is measured as the lateness of the task's own 100 ms timer: while a task hogs the
//! core (or the reactor is otherwise blocked), the timer fires late by about as long.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::core::{CoreMetrics, GroupOffset, PartitionGauge, Snapshot};
use super::registry::Registry;
use crate::shard::Shard;

/// Period of the stall and busy-time measurement.
pub const TICK: Duration = Duration::from_millis(100);
/// Ticks between two partition and group snapshots (one second).
const SNAPSHOT_EVERY: u32 = 10;

/// Starts the metrics task of this core; it ends when the executor stops.
pub fn start(shard: Rc<Shard>, registry: Arc<Registry>) {
    let Some(m) = registry.core(shard.id) else {
        return;
    };
    glommio::spawn_local(async move {
        let mut tick = 0u32;
        loop {
            m.last_tick_ms.store(registry.now_ms(), Ordering::Relaxed);
            if tick.is_multiple_of(SNAPSHOT_EVERY) {
                m.publish(collect(&shard));
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

/// This core's partitions and group offsets as they are now.
pub fn collect(shard: &Shard) -> Snapshot {
    let mut snap = Snapshot::default();
    for (name, topic) in shard.logs.borrow().iter() {
        let name: Arc<str> = Arc::from(name.as_str());
        for (p, log) in topic.partitions.iter().enumerate() {
            let Some(log) = log else { continue };
            snap.partitions.push(PartitionGauge {
                topic: name.clone(),
                partition: p as i32,
                log_start: log.log_start_offset(),
                high_watermark: log.high_watermark(),
                log_end: log.log_end_offset(),
                size_bytes: log.size_bytes(),
            });
        }
    }
    for (id, group) in shard.groups.groups.borrow().iter() {
        let gid: Arc<str> = Arc::from(id.as_str());
        for ((topic, partition), v) in &group.offsets {
            snap.group_offsets.push(GroupOffset {
                group: gid.clone(),
                topic: Arc::from(topic.as_str()),
                partition: *partition,
                offset: v.offset,
            });
        }
    }
    snap
}
