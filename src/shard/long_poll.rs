//! The owning core's side of a long-polling Fetch: wait until any watched partition has data
//! past what the fetch saw, then read and return the records in the same answer (one
//! cross-core round trip per wake-up, not two).
//!
//! A fetch that spans several cores waits on each of them. When the first answers, the
//! fetching core cancels the others ([`LongPolls::cancel`]): they stop waiting and answer at
//! once with whatever their partitions hold by then, so the response carries every core's
//! data and no waiter outlives its fetch. (Left waiting, they would linger until
//! `max_wait_ms`, and each flush would wake them all.)

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use super::messages::{FetchPart, FetchResult};
use super::Shard;
use crate::storage::signal::Signal;

/// Cancellation of one waiting fetch.
#[derive(Default)]
struct Cancel {
    cancelled: Cell<bool>,
    signal: Signal,
}

/// The long polls waiting on this core, by key.
#[derive(Default)]
pub struct LongPolls {
    waiting: RefCell<HashMap<u64, Rc<Cancel>>>,
    next_key: Cell<u64>,
}

impl LongPolls {
    /// A key for a new wait started by core `core`, unique across cores.
    pub fn new_key(&self, core: usize) -> u64 {
        let n = self.next_key.get().wrapping_add(1);
        self.next_key.set(n);
        ((core as u64) << 48) | (n & ((1 << 48) - 1))
    }

    /// Ends the wait `key` now, if it is still waiting here.
    pub fn cancel(&self, key: u64) {
        if let Some(c) = self.waiting.borrow_mut().remove(&key) {
            c.cancelled.set(true);
            c.signal.notify_all();
        }
    }

    /// Number of fetches waiting on this core.
    pub fn len(&self) -> usize {
        self.waiting.borrow().len()
    }

    /// True when no fetch waits on this core.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Removes the registration however the wait ends (woken, timed out, cancelled, dropped).
struct Registered<'a> {
    polls: &'a LongPolls,
    key: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.polls.waiting.borrow_mut().remove(&self.key);
        crate::metrics::hooks::fetch_waiting(-1);
    }
}

/// Waits until the high watermark (or, with `committed`, the last stable offset) of any of
/// `parts` passes its `watch` offset, the deadline passes or the wait is cancelled, then reads
/// them like a Fetch.
pub async fn wait_and_fetch(
    shard: &Rc<Shard>,
    parts: Vec<FetchPart>,
    watch: Vec<i64>,
    max_bytes: usize,
    committed: bool,
    deadline: Instant,
    key: u64,
) -> Vec<FetchResult> {
    let cancel = Rc::new(Cancel::default());
    shard
        .long_polls
        .waiting
        .borrow_mut()
        .insert(key, cancel.clone());
    crate::metrics::hooks::fetch_waiting(1);
    let registered = Registered {
        polls: &shard.long_polls,
        key,
    };
    let mut waits: Vec<Pin<Box<dyn Future<Output = ()>>>> = Vec::new();
    for (part, offset) in parts.iter().zip(&watch) {
        if let Some(log) = shard.log(&part.tp.topic, part.tp.partition) {
            let offset = *offset;
            waits.push(Box::pin(async move {
                log.wait_for_data(offset, committed, deadline).await
            }));
        }
    }
    let left = deadline.saturating_duration_since(Instant::now());
    waits.push(Box::pin(glommio::timer::sleep(left)));
    let stop = cancel.clone();
    waits.push(Box::pin(async move {
        while !stop.cancelled.get() {
            stop.signal.wait().await;
        }
    }));
    std::future::poll_fn(|cx| {
        for w in waits.iter_mut() {
            if w.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await;
    drop(waits);
    drop(registered);
    // Woken, cancelled (another core answered first: add what is here by now) or timed out:
    // answer with a read in every case.
    super::handlers::fetch(shard, parts, max_bytes, committed).await
}
