//! The owning core's side of a long-polling Fetch: wait until any watched partition has data
//! past what the fetch saw, then read and return the records in the same answer (one
//! cross-core round trip per wake-up, not two).
//!
//! A fetch's first round reads and waits in the same call ([`WaitAndFetchCall::read_first`]):
//! at light load a fetch usually finds nothing new, and one call per owner core instead of a
//! read and then a wait halves the messages (and wake-ups) between cores.
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

use super::call::CoreCall;
use super::messages::{FetchPart, FetchResult};
use super::PartitionStore;
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

    /// Registers a wait under `key` (a replica fetch's, [`super::replica_serve`]); the
    /// registration ends when the returned guard is dropped.
    pub(super) fn register(&self, key: u64) -> Waiting<'_> {
        let cancel = Rc::new(Cancel::default());
        self.waiting.borrow_mut().insert(key, cancel.clone());
        crate::metrics::hooks::fetch_waiting(1);
        Waiting {
            _registered: Registered { polls: self, key },
            cancel,
        }
    }
}

/// A registered wait ([`LongPolls::register`]).
pub(super) struct Waiting<'a> {
    _registered: Registered<'a>,
    cancel: Rc<Cancel>,
}

impl Waiting<'_> {
    /// Ends when the wait is cancelled ([`LongPolls::cancel`]).
    pub(super) fn cancelled(&self) -> impl Future<Output = ()> + 'static {
        let stop = self.cancel.clone();
        async move {
            while !stop.cancelled.get() {
                stop.signal.wait().await;
            }
        }
    }
}

/// Long poll: when any partition's high watermark (or last stable offset) passes its watch
/// offset, reads the partitions like a [`super::handlers::FetchCall`] and answers with the
/// results; at the deadline or when cancelled, answers with a read of what is there by then.
#[derive(Debug)]
pub struct WaitAndFetchCall {
    /// Partitions to read once woken.
    pub parts: Vec<FetchPart>,
    /// Offset to watch, one per part.
    pub watch: Vec<i64>,
    /// Response-wide byte budget (max_bytes).
    pub max_bytes: usize,
    /// read_committed isolation: watch and read up to the last stable offset.
    pub committed: bool,
    /// When to give up.
    pub deadline: Instant,
    /// Identifies the wait for [`CancelWaitCall`].
    pub key: u64,
    /// Read first, and answer at once when the read has records or an error or the deadline
    /// has passed; otherwise wait past what the read saw (the larger of it and `watch`).
    pub read_first: bool,
}

impl CoreCall for WaitAndFetchCall {
    type Reply = Vec<FetchResult>;
    type Service = PartitionStore;
    async fn run(self, store: &Rc<PartitionStore>) -> Vec<FetchResult> {
        let w = self;
        wait_and_fetch(
            store,
            w.parts,
            w.watch,
            w.max_bytes,
            w.committed,
            w.deadline,
            w.key,
            w.read_first,
        )
        .await
    }

    fn waits_on_purpose(&self) -> bool {
        true
    }
}

/// Ends the long poll with this key (another core answered the fetch first).
#[derive(Debug)]
pub struct CancelWaitCall(pub u64);

impl CoreCall for CancelWaitCall {
    type Reply = ();
    type Service = PartitionStore;
    async fn run(self, store: &Rc<PartitionStore>) {
        store.long_polls.cancel(self.0);
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
/// them like a Fetch. With `read_first`, reads before waiting and answers at once when there is
/// something to answer (see [`WaitAndFetchCall::read_first`]).
#[allow(clippy::too_many_arguments)]
pub async fn wait_and_fetch(
    store: &Rc<PartitionStore>,
    parts: Vec<FetchPart>,
    watch: Vec<i64>,
    max_bytes: usize,
    committed: bool,
    deadline: Instant,
    key: u64,
    read_first: bool,
) -> Vec<FetchResult> {
    // Registered before the first read, so that a cancel arriving during it is not lost.
    let cancel = Rc::new(Cancel::default());
    store
        .long_polls
        .waiting
        .borrow_mut()
        .insert(key, cancel.clone());
    crate::metrics::hooks::fetch_waiting(1);
    let registered = Registered {
        polls: &store.long_polls,
        key,
    };
    let mut watch = watch;
    if read_first {
        let results = super::handlers::fetch(store, parts.clone(), max_bytes, committed).await;
        let answer_now = results.iter().any(|r| r.bytes() > 0 || r.error.is_some());
        if answer_now || Instant::now() >= deadline {
            return results;
        }
        for (w, r) in watch.iter_mut().zip(&results) {
            let seen = if committed {
                r.last_stable_offset
            } else {
                r.high_watermark
            };
            *w = (*w).max(seen);
        }
    }
    let mut waits: Vec<Pin<Box<dyn Future<Output = ()>>>> = Vec::new();
    for (part, offset) in parts.iter().zip(&watch) {
        if let Some(log) = store.log(&part.tp.topic, part.tp.partition) {
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
    super::handlers::fetch(store, parts, max_bytes, committed).await
}
