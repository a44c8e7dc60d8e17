//! A single-threaded "something changed" signal: tasks wait, the owner wakes them all.
//!
//! Used for high-watermark advances (produce acknowledgements and long-polling fetches). Waiters
//! re-check their own condition after every wake-up.
//!
//! Each waiting future holds one slot: polling it again replaces its waker, and dropping it (a
//! long poll that timed out first, a cancelled request) frees the slot. The number of stored
//! wakers is therefore at most the number of live waiting futures, however long the signal goes
//! without firing (an idle partition with consumers long-polling it for months).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A broadcast wake-up for tasks of one executor.
#[derive(Default)]
pub struct Signal {
    generation: Cell<u64>,
    next_slot: Cell<u64>,
    waiters: RefCell<BTreeMap<u64, Waker>>,
}

impl Signal {
    /// New signal with no waiter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes every waiting task.
    pub fn notify_all(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters.into_values() {
            w.wake();
        }
    }

    /// A future that completes at the next `notify_all`.
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            signal: self,
            generation: self.generation.get(),
            slot: None,
        }
    }

    /// Wakers stored now (one per pending, live [`Wait`] at most).
    pub fn waiting(&self) -> usize {
        self.waiters.borrow().len()
    }
}

/// Future returned by [`Signal::wait`].
pub struct Wait<'a> {
    signal: &'a Signal,
    generation: u64,
    slot: Option<u64>,
}

impl Future for Wait<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.generation.get() != self.generation {
            return Poll::Ready(());
        }
        let slot = match self.slot {
            Some(s) => s,
            None => {
                let s = self.signal.next_slot.get();
                self.signal.next_slot.set(s.wrapping_add(1));
                self.slot = Some(s);
                s
            }
        };
        let mut waiters = self.signal.waiters.borrow_mut();
        match waiters.get_mut(&slot) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => w.clone_from(cx.waker()),
            None => {
                waiters.insert(slot, cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            self.signal.waiters.borrow_mut().remove(&slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn repolled_and_dropped_waits_leave_no_waker_behind() {
        let signal = Signal::new();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut kept = Box::pin(signal.wait());
        for _ in 0..100_000 {
            assert!(kept.as_mut().poll(&mut cx).is_pending());
            let mut gone = Box::pin(signal.wait());
            assert!(gone.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(signal.waiting(), 1);
        // The clones of the dropped waits were released: left are `count`, `waker` and the one
        // stored for `kept`.
        assert_eq!(Arc::strong_count(&count), 3);
        signal.notify_all();
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert!(kept.as_mut().poll(&mut cx).is_ready());
        assert_eq!(signal.waiting(), 0);
    }
}
