//! A single-threaded "something changed" signal: tasks wait, the owner wakes them all.
//!
//! Used for high-watermark advances (produce acknowledgements and long-polling fetches). Waiters
//! re-check their own condition after every wake-up.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A broadcast wake-up for tasks of one executor.
#[derive(Default)]
pub struct Signal {
    generation: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
}

impl Signal {
    /// New signal with no waiter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes every waiting task.
    pub fn notify_all(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// A future that completes at the next `notify_all`.
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            signal: self,
            generation: self.generation.get(),
        }
    }
}

/// Future returned by [`Signal::wait`].
pub struct Wait<'a> {
    signal: &'a Signal,
    generation: u64,
}

impl Future for Wait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.generation.get() != self.generation {
            return Poll::Ready(());
        }
        self.signal.waiters.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
}
