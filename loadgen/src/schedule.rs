//! Send schedule for fixed-rate producers.
//!
//! Message `i` of a producer is *intended* to be sent at `t0 + offset + i / rate`. Latency is
//! measured from that intended time, not from when the send actually happened, so a stall in the
//! broker (or in the producer) shows up in the latencies of every message that should have been
//! sent during it. This avoids coordinated omission: a producer that simply waited for the stall
//! to end and then carried on would record one slow message instead of many.

use std::time::{Duration, Instant};

/// If the next intended time is at most this far away, send now instead of sleeping (sleeps
/// shorter than this are not precise anyway).
const SPIN_THRESHOLD: Duration = Duration::from_micros(50);

/// The intended send times of one producer.
#[derive(Clone, Debug)]
pub struct Schedule {
    start: Instant,
    /// Nanoseconds between two messages; `None` = as fast as possible.
    interval_ns: Option<f64>,
    next_index: u64,
}

impl Schedule {
    /// Producer `producer` of `producers` sharing `total_rate` messages per second (0 = as fast
    /// as possible). Producers are staggered by `1 / total_rate` so that their sends interleave
    /// instead of arriving in bursts.
    pub fn new(start: Instant, total_rate: f64, producer: usize, producers: usize) -> Schedule {
        if total_rate <= 0.0 {
            return Schedule {
                start,
                interval_ns: None,
                next_index: 0,
            };
        }
        let per_producer = total_rate / producers.max(1) as f64;
        let offset_ns = producer as f64 * 1e9 / total_rate;
        Schedule {
            start: start + Duration::from_nanos(offset_ns as u64),
            interval_ns: Some(1e9 / per_producer),
            next_index: 0,
        }
    }

    /// Intended send time of message `index`, or `None` when not paced.
    pub fn intended(&self, index: u64) -> Option<Instant> {
        self.interval_ns
            .map(|ns| self.start + Duration::from_nanos((index as f64 * ns) as u64))
    }

    /// Waits until the next message is due (not at all when unpaced, or when behind schedule),
    /// but never past `deadline`. Returns the intended send time of the message and advances the
    /// schedule, or `None` (without advancing) if the deadline came first.
    pub fn wait_next(&mut self, deadline: Instant) -> Option<Instant> {
        self.wait_next_from(Instant::now(), deadline)
    }

    /// [`Schedule::wait_next`] with the caller's reading of the clock (`now`), so that a
    /// max-rate producer reads the clock once per message.
    pub fn wait_next_from(&mut self, now: Instant, deadline: Instant) -> Option<Instant> {
        let due = match self.intended(self.next_index) {
            None => now,
            Some(t) => t,
        };
        if due > deadline {
            if now < deadline {
                std::thread::sleep(deadline - now);
            }
            return None;
        }
        if due > now + SPIN_THRESHOLD {
            std::thread::sleep(due - now);
        }
        self.next_index += 1;
        Some(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intended_times_follow_the_rate() {
        let t0 = Instant::now();
        // 1000 msg/s over 2 producers: each sends every 2 ms, the second 1 ms after the first.
        let a = Schedule::new(t0, 1000.0, 0, 2);
        let b = Schedule::new(t0, 1000.0, 1, 2);
        assert!(a.interval_ns.is_some());
        assert_eq!(a.intended(0), Some(t0));
        assert_eq!(a.intended(3), Some(t0 + Duration::from_millis(6)));
        assert_eq!(b.intended(0), Some(t0 + Duration::from_millis(1)));
        assert_eq!(b.intended(2), Some(t0 + Duration::from_millis(5)));
    }

    #[test]
    fn unpaced_schedule_never_waits() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, 0.0, 0, 1);
        assert!(s.interval_ns.is_none());
        assert_eq!(s.intended(10), None);
        let before = Instant::now();
        for _ in 0..1000 {
            s.wait_next(before + Duration::from_secs(5)).unwrap();
        }
        assert!(before.elapsed() < Duration::from_secs(1));
        assert_eq!(s.next_index, 1000);
    }

    #[test]
    fn behind_schedule_keeps_the_intended_time() {
        // Started 1 s ago at 10 msg/s: the first ten messages are all overdue and are sent at
        // once, each keeping its own intended time.
        let t0 = Instant::now() - Duration::from_secs(1);
        let mut s = Schedule::new(t0, 10.0, 0, 1);
        let deadline = Instant::now() + Duration::from_secs(5);
        let before = Instant::now();
        for i in 0..10u64 {
            let due = s.wait_next(deadline).unwrap();
            assert_eq!(due, t0 + Duration::from_millis(100 * i));
        }
        assert!(before.elapsed() < Duration::from_millis(200));
    }

    #[test]
    fn deadline_stops_waiting() {
        let t0 = Instant::now() + Duration::from_secs(60);
        let mut s = Schedule::new(t0, 1.0, 0, 1);
        let deadline = Instant::now() + Duration::from_millis(20);
        assert_eq!(s.wait_next(deadline), None);
        assert_eq!(s.next_index, 0);
    }
}
