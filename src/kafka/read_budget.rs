//! The per-core budget of request bytes being read or processed (`queued.max.request.bytes`).
//!
//! A frame reserves its whole announced size before its body is read, and gives it back when
//! its request has been handled. A reader that does not get its reservation waits, holding
//! nothing, until others give bytes back; so readers never hold parts of the budget while
//! waiting for more, and cannot deadlock each other. The wait is bounded by the caller (the
//! partial-frame timeout). A frame larger than the whole budget can never fit and is refused.

use std::cell::Cell;
use std::rc::Rc;

use crate::storage::signal::Signal;

/// Request bytes one core may hold.
pub struct ReadBudget {
    capacity: Option<usize>,
    used: Cell<usize>,
    freed: Signal,
}

/// Bytes reserved from a [`ReadBudget`], given back on drop.
pub struct Reservation {
    budget: Rc<ReadBudget>,
    bytes: usize,
}

impl ReadBudget {
    /// A budget of `capacity` bytes; `None`: unlimited (reservations are only counted).
    pub fn new(capacity: Option<usize>) -> Rc<ReadBudget> {
        Rc::new(ReadBudget {
            capacity,
            used: Cell::new(0),
            freed: Signal::new(),
        })
    }

    /// Bytes reserved now.
    pub fn used(&self) -> usize {
        self.used.get()
    }

    /// Whether a frame of `bytes` can ever be reserved.
    pub fn fits(&self, bytes: usize) -> bool {
        self.capacity.is_none_or(|c| bytes <= c)
    }

    /// Reserves `bytes` now if they are free.
    pub fn try_reserve(self: &Rc<Self>, bytes: usize) -> Option<Reservation> {
        let used = self.used.get();
        if self
            .capacity
            .is_some_and(|c| used.saturating_add(bytes) > c)
        {
            return None;
        }
        self.used.set(used.saturating_add(bytes));
        Some(Reservation {
            budget: self.clone(),
            bytes,
        })
    }

    /// Reserves `bytes`, waiting until they are free. The caller must have checked
    /// [`ReadBudget::fits`], or this waits for ever.
    pub async fn reserve(self: &Rc<Self>, bytes: usize) -> Reservation {
        loop {
            let freed = self.freed.wait();
            if let Some(r) = self.try_reserve(bytes) {
                return r;
            }
            freed.await;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.set(self.budget.used.get() - self.bytes);
        if self.bytes > 0 {
            self.budget.freed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_wait_for_freed_bytes() {
        glommio::LocalExecutor::default().run(async {
            let b = ReadBudget::new(Some(100));
            assert!(!b.fits(101));
            let r1 = b.try_reserve(60).unwrap();
            assert!(b.try_reserve(60).is_none());
            let b2 = b.clone();
            let waiter = glommio::spawn_local(async move { b2.reserve(60).await.bytes });
            glommio::yield_if_needed().await;
            drop(r1);
            assert_eq!(waiter.await, 60);
            assert_eq!(b.used(), 0);
            let unlimited = ReadBudget::new(None);
            let _big = unlimited.try_reserve(1 << 40).unwrap();
            assert_eq!(unlimited.used(), 1 << 40);
        });
    }
}
