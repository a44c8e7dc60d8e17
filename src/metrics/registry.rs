//! The broker-wide registry: every core's [`CoreMetrics`] plus the readiness and health state
//! behind `/ready` and `/health`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::core::CoreMetrics;

/// A core whose periodic timer has not run for this long makes `/health` fail, unless
/// [`Registry::set_stall_timeout`] says otherwise (`runnel.health.stall.timeout.ms`).
pub const WEDGED_AFTER: Duration = Duration::from_secs(10);

/// All cores' metrics and the broker's lifecycle state.
#[derive(Debug)]
pub struct Registry {
    cores: Vec<Arc<CoreMetrics>>,
    started: Instant,
    listening: AtomicUsize,
    /// Registered with the controller quorum, last heartbeat accepted.
    registered: AtomicBool,
    failed: AtomicBool,
    shutdown: Arc<AtomicBool>,
    stall_timeout_ms: AtomicU64,
}

impl Registry {
    /// A registry for `cores` executors; `shutdown` is the broker's stop flag.
    pub fn new(cores: usize, shutdown: Arc<AtomicBool>) -> Arc<Registry> {
        Arc::new(Registry {
            cores: (0..cores)
                .map(|i| Arc::new(CoreMetrics::new(i, cores)))
                .collect(),
            started: Instant::now(),
            listening: AtomicUsize::new(0),
            registered: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            shutdown,
            stall_timeout_ms: AtomicU64::new(WEDGED_AFTER.as_millis() as u64),
        })
    }

    /// Every core's metrics, by core index.
    pub fn cores(&self) -> &[Arc<CoreMetrics>] {
        &self.cores
    }

    /// The metrics of core `i`.
    pub fn core(&self, i: usize) -> Option<Arc<CoreMetrics>> {
        self.cores.get(i).cloned()
    }

    /// Time since the registry was created.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Milliseconds since the registry was created, never 0 (0 means "never" in tick stamps).
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64 + 1
    }

    /// Sets how long a core may go without running its periodic timer before `/health` fails.
    pub fn set_stall_timeout(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        self.stall_timeout_ms.store(ms, Ordering::Relaxed);
    }

    /// A core has loaded its partitions and bound its Kafka listener.
    pub fn core_listening(&self) {
        self.listening.fetch_add(1, Ordering::SeqCst);
    }

    /// The broker is (`true`) or is no longer (`false`) registered with the controller quorum
    /// and heartbeating.
    pub fn set_registered(&self, yes: bool) {
        self.registered.store(yes, Ordering::SeqCst);
    }

    /// Whether the broker is registered with the controller quorum and heartbeating.
    pub fn is_registered(&self) -> bool {
        self.registered.load(Ordering::SeqCst)
    }

    /// A core stopped with an error: the broker is no longer healthy.
    pub fn core_failed(&self) {
        self.failed.store(true, Ordering::SeqCst);
    }

    /// Every core is listening, the broker is registered with the controller quorum and not
    /// shutting down.
    pub fn is_ready(&self) -> bool {
        self.listening.load(Ordering::SeqCst) >= self.cores.len()
            && self.registered.load(Ordering::SeqCst)
            && !self.shutdown.load(Ordering::Relaxed)
            && !self.failed.load(Ordering::SeqCst)
    }

    /// `Ok` while no core has failed and no started core has stopped running its timers for
    /// the stall timeout; otherwise why not.
    pub fn health(&self) -> Result<(), Unhealthy> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(Unhealthy::CoreFailed);
        }
        let now = self.now_ms();
        let limit = self.stall_timeout_ms.load(Ordering::Relaxed);
        for c in &self.cores {
            let last = c.last_tick_ms.load(Ordering::Relaxed);
            if last != 0 && now.saturating_sub(last) > limit {
                return Err(Unhealthy::Stalled {
                    core: c.core,
                    ms: now - last,
                });
            }
        }
        Ok(())
    }
}

/// Why the broker is not healthy ([`Registry::health`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unhealthy {
    /// A core stopped with an error.
    CoreFailed,
    /// A started core has not run its timers for longer than the stall timeout.
    Stalled {
        /// The core.
        core: usize,
        /// Milliseconds since it last ran its timers.
        ms: u64,
    },
}

impl std::fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unhealthy::CoreFailed => write!(f, "a core stopped with an error"),
            Unhealthy::Stalled { core, ms } => {
                write!(f, "core {core} has not run its timers for {ms} ms")
            }
        }
    }
}

impl std::error::Error for Unhealthy {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_every_core_registration_and_no_shutdown() {
        let stop = Arc::new(AtomicBool::new(false));
        let r = Registry::new(2, stop.clone());
        assert!(!r.is_ready());
        r.core_listening();
        assert!(!r.is_ready());
        r.core_listening();
        // Every core listens, but the broker is not registered with the quorum yet.
        assert!(!r.is_ready());
        r.set_registered(true);
        assert!(r.is_ready());
        stop.store(true, Ordering::Relaxed);
        assert!(!r.is_ready());
    }

    #[test]
    fn health_fails_on_a_failed_or_wedged_core() {
        let r = Registry::new(1, Arc::new(AtomicBool::new(false)));
        assert!(r.health().is_ok());
        let c = r.core(0).unwrap();
        c.last_tick_ms.store(1, Ordering::Relaxed);
        assert!(r.health().is_ok()); // just started: not stale yet
        r.core_failed();
        assert!(r.health().is_err());
        assert!(!r.is_ready());
    }
}
