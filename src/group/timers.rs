//! When the group timers are due: each group's next deadline (session expiry, pending member
//! ids, the initial rebalance delay, the rebalance timeout, KIP-848 revocation timeouts), and
//! the wake-up of the timer task when a request sets an earlier one.
//!
//! The timer task ([`super::sweep`]) sleeps until the earliest deadline of all groups, so a
//! member expires at its deadline rather than on the next turn of a coarse sweep, and an idle
//! coordinator does not wake up at all (but for offsets retention).

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::state::{ClassicGroup, ClassicState, GroupKind};
use super::Group;
use crate::config::Config;
use crate::storage::signal::Signal;

/// Margin past a deadline: expiry tests are "longer than", so wake just after.
const PAST: Duration = Duration::from_millis(1);

/// The timer task's next wake-up and the signal that moves it earlier.
#[derive(Default)]
pub struct Timers {
    next_wake: Cell<Option<Instant>>,
    changed: Signal,
}

impl Timers {
    /// The timer task will wake at `at` unless told otherwise.
    pub fn set_next_wake(&self, at: Instant) {
        self.next_wake.set(Some(at));
    }

    /// A group now has a deadline at `at`: wake the timer task if that is earlier than planned.
    pub fn deadline(&self, at: Instant) {
        if self.next_wake.get().is_none_or(|w| at < w) {
            self.next_wake.set(Some(at));
            self.changed.notify_all();
        }
    }

    /// Wakes the timer task now (groups loaded, many changed at once).
    pub fn wake_now(&self) {
        self.next_wake.set(Some(Instant::now()));
        self.changed.notify_all();
    }

    /// Completes at the next [`Timers::deadline`] earlier than planned, or [`Timers::wake_now`].
    pub fn changed(&self) -> crate::storage::signal::Wait<'_> {
        self.changed.wait()
    }
}

/// The earliest instant at which `g`'s timers need attention, if any.
pub fn next_deadline(g: &Group, config: &Config) -> Option<Instant> {
    match &g.kind {
        GroupKind::Classic(c) => classic_deadline(c),
        GroupKind::Consumer(cg) => {
            let session = config
                .dynamic
                .group(&g.id)
                .map(|o| config.groups.for_group(Some(o)).consumer_session_timeout_ms)
                .unwrap_or(config.groups.consumer_session_timeout_ms);
            let session = Duration::from_millis(session.max(0) as u64);
            cg.members
                .values()
                .flat_map(|m| [Some(m.last_seen + session), m.revoke_deadline])
                .flatten()
                .min()
                .map(|d| d + PAST)
        }
    }
}

fn classic_deadline(c: &ClassicGroup) -> Option<Instant> {
    let sessions = c
        .members
        .values()
        .filter(|m| m.join_waiter.is_none() && m.sync_waiter.is_none())
        .map(|m| m.last_seen + Duration::from_millis(m.session_timeout_ms.max(0) as u64) + PAST);
    let pending = c.pending.values().copied();
    let delay = c.initial_delay.map(|d| d.until);
    let rebalance = match c.state {
        ClassicState::PreparingRebalance => c.rebalance_deadline,
        _ => None,
    };
    sessions.chain(pending).chain(delay).chain(rebalance).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_deadlines_move_the_wake_up_and_later_ones_do_not() {
        let t = Timers::default();
        let now = Instant::now();
        t.set_next_wake(now + Duration::from_secs(10));
        t.deadline(now + Duration::from_secs(20));
        assert_eq!(t.next_wake.get(), Some(now + Duration::from_secs(10)));
        t.deadline(now + Duration::from_secs(5));
        assert_eq!(t.next_wake.get(), Some(now + Duration::from_secs(5)));
    }

    #[test]
    fn an_empty_classic_group_has_no_deadline() {
        let g = Group::new("g", 0);
        let cfg = crate::config::Config::load(None, &Default::default()).unwrap();
        assert_eq!(next_deadline(&g, &cfg), None);
    }
}
