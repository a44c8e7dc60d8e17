//! The partition fan-out plan: how a request's per-partition work reaches the owning cores and
//! how the answers come back.
//!
//! Produce, Fetch, ListOffsets and DeleteRecords (and OffsetsForLeaderEpoch when it comes) name
//! partitions that may live on any core. Each builds one [`PartitionPlan`] from the request's
//! partitions, in request order: a partition answered on the spot (unknown topic or partition,
//! a refused batch) keeps its answer ([`PartitionPlan::answer`]); the others are grouped by
//! owning core ([`PartitionPlan::send`]). Running the plan sends one typed call per core (a
//! [`CoreCall`] answered with one reply per part, in order), all at once: one core's call runs
//! in the requesting task (this core's, in place, when it owns any of the partitions), the
//! others in tasks of their own, over the mesh. The answers are put back in request order; a
//! core that cannot answer ([`crate::shard::call::Unavailable`]) yields the API's fallback
//! answer for each of its partitions.
//!
//! Parts are moved into the calls, never copied: record data stays `bytes::Bytes`.

use std::borrow::Borrow;
use std::rc::Rc;

use crate::shard::call::CoreCall;
use crate::shard::Mesh;

/// One core's share of a plan: the partitions it owns, as request positions and parts.
#[derive(Debug)]
pub struct CoreShare<P> {
    /// The owning core.
    pub core: usize,
    /// Positions of the parts in the request (indexes into the plan's answers).
    pub slots: Vec<usize>,
    /// The parts, in the order of `slots`.
    pub parts: Vec<P>,
}

/// A request's partitions in request order, each either answered already (an `R`) or a part
/// `P` bound for its owning core; see the module comment.
#[derive(Debug)]
pub struct PartitionPlan<P, R> {
    /// One entry per partition in request order; `None` until answered.
    answers: Vec<Option<R>>,
    /// The parts to send, grouped by core in order of first appearance.
    shares: Vec<CoreShare<P>>,
}

impl<P, R> Default for PartitionPlan<P, R> {
    fn default() -> Self {
        PartitionPlan {
            answers: Vec::new(),
            shares: Vec::new(),
        }
    }
}

impl<P, R> PartitionPlan<P, R> {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of partitions planned so far; the position the next one will take.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// Whether no partition is planned.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }

    /// The answers given on the spot (`None` for the sent parts) and the shares per core.
    pub fn into_parts(self) -> (Vec<Option<R>>, Vec<CoreShare<P>>) {
        (self.answers, self.shares)
    }

    /// Adds a partition answered on the spot; returns its position.
    pub fn answer(&mut self, answer: R) -> usize {
        self.answers.push(Some(answer));
        self.answers.len() - 1
    }

    /// Adds a partition to be answered by core `core`; returns its position.
    pub fn send(&mut self, core: usize, part: P) -> usize {
        let slot = self.answers.len();
        self.answers.push(None);
        match self.shares.iter_mut().find(|s| s.core == core) {
            Some(share) => {
                share.slots.push(slot);
                share.parts.push(part);
            }
            None => self.shares.push(CoreShare {
                core,
                slots: vec![slot],
                parts: vec![part],
            }),
        }
        slot
    }

    /// The cores' shares, in order of each core's first partition.
    pub fn shares(&self) -> &[CoreShare<P>] {
        &self.shares
    }
}

impl<P: 'static, R: 'static> PartitionPlan<P, R> {
    /// Sends each core its share as the call `make(parts)` and returns one answer per
    /// partition, in request order; `fallback` answers for a core that could not.
    pub async fn run<C, M, F>(self, mesh: &Rc<Mesh>, make: M, fallback: F) -> Vec<R>
    where
        C: CoreCall<Reply = Vec<R>>,
        M: Fn(Vec<P>) -> C,
        F: Fn() -> R,
    {
        let calls = self
            .shares
            .into_iter()
            .map(|s| (s.core, s.slots, make(s.parts)));
        gather(mesh, self.answers, calls, fallback).await
    }

    /// [`PartitionPlan::run`] that keeps the plan, for a request that reads its partitions more
    /// than once (a Fetch after its long poll): the parts and early answers are cloned.
    pub async fn run_again<C, M, F>(&self, mesh: &Rc<Mesh>, make: M, fallback: F) -> Vec<R>
    where
        P: Clone,
        R: Clone,
        C: CoreCall<Reply = Vec<R>>,
        M: Fn(Vec<P>) -> C,
        F: Fn() -> R,
    {
        let calls = self
            .shares
            .iter()
            .map(|s| (s.core, s.slots.as_slice(), make(s.parts.clone())));
        gather(mesh, self.answers.clone(), calls, fallback).await
    }
}

/// Runs `calls` (core, positions, call) concurrently and puts their replies into `answers`.
/// The call to this core (else the first) runs in the current task; the others are spawned.
async fn gather<R, C, S, I, F>(
    mesh: &Rc<Mesh>,
    mut answers: Vec<Option<R>>,
    calls: I,
    fallback: F,
) -> Vec<R>
where
    R: 'static,
    C: CoreCall<Reply = Vec<R>>,
    S: Borrow<[usize]>,
    I: ExactSizeIterator<Item = (usize, S, C)>,
    F: Fn() -> R,
{
    let mut here: Option<(usize, S, C)> = None;
    let mut spawned = Vec::with_capacity(calls.len().saturating_sub(1));
    for (core, slots, call) in calls {
        let take_here = match &here {
            None => true,
            Some((c, _, _)) => core == mesh.id() && *c != mesh.id(),
        };
        let (core, slots, call) = if take_here {
            match here.replace((core, slots, call)) {
                Some(previous) => previous,
                None => continue,
            }
        } else {
            (core, slots, call)
        };
        let s = mesh.clone();
        let task = glommio::spawn_local(async move { s.call(core, call).await }).detach();
        spawned.push((slots, task));
    }
    if let Some((core, slots, call)) = here {
        place(
            &mut answers,
            slots.borrow(),
            mesh.call(core, call).await.ok(),
        );
    }
    for (slots, task) in spawned {
        place(
            &mut answers,
            slots.borrow(),
            task.await.and_then(Result::ok),
        );
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(&fallback))
        .collect()
}

/// Puts one core's replies at their positions; positions left without a reply stay `None`.
fn place<R>(answers: &mut [Option<R>], slots: &[usize], replies: Option<Vec<R>>) {
    for (&i, r) in slots.iter().zip(replies.into_iter().flatten()) {
        answers[i] = Some(r);
    }
}
