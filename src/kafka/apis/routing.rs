//! Scatter/gather of per-partition work across cores.
//!
//! A request's partitions are grouped by owning core, each group is sent as one typed call
//! answered per part (all groups concurrently), and the answers are put back in request order.

use std::rc::Rc;

use crate::shard::call::CoreCall;
use crate::shard::Shard;

/// Sends `items` (each tagged with its owning core) to their owners and returns one result per
/// item, in the original order. `fallback` fills in for an owner that could not answer.
pub async fn scatter<P, R, C, M, F>(
    shard: &Rc<Shard>,
    items: Vec<(usize, P)>,
    make: M,
    fallback: F,
) -> Vec<R>
where
    P: 'static,
    R: 'static,
    C: CoreCall<Reply = Vec<R>>,
    M: Fn(Vec<P>) -> C,
    F: Fn() -> R,
{
    let n = items.len();
    let mut groups: Vec<(usize, Vec<usize>, Vec<P>)> = Vec::new();
    for (i, (core, p)) in items.into_iter().enumerate() {
        match groups.iter_mut().find(|g| g.0 == core) {
            Some(g) => {
                g.1.push(i);
                g.2.push(p);
            }
            None => groups.push((core, vec![i], vec![p])),
        }
    }
    let mut tasks = Vec::with_capacity(groups.len());
    for (core, idx, parts) in groups {
        let call = make(parts);
        let s = shard.clone();
        let t = glommio::spawn_local(async move { s.call(core, call).await }).detach();
        tasks.push((idx, t));
    }
    let mut out: Vec<Option<R>> = (0..n).map(|_| None).collect();
    for (idx, t) in tasks {
        if let Some(Ok(results)) = t.await {
            for (i, r) in idx.into_iter().zip(results) {
                out[i] = Some(r);
            }
        }
    }
    out.into_iter()
        .map(|r| r.unwrap_or_else(&fallback))
        .collect()
}

/// [`scatter`] for items of which some are already answered (`Err`, e.g. an unknown
/// partition): only the `Ok((core, part))` items are sent; answers come back in item order.
pub async fn scatter_answered<P, R, C, M, F>(
    shard: &Rc<Shard>,
    items: Vec<Result<(usize, P), R>>,
    make: M,
    fallback: F,
) -> Vec<R>
where
    P: 'static,
    R: 'static,
    C: CoreCall<Reply = Vec<R>>,
    M: Fn(Vec<P>) -> C,
    F: Fn() -> R,
{
    let mut answers: Vec<Option<R>> = Vec::with_capacity(items.len());
    let mut sent = Vec::new();
    let mut where_ = Vec::new();
    for item in items {
        match item {
            Ok(target) => {
                where_.push(answers.len());
                answers.push(None);
                sent.push(target);
            }
            Err(early) => answers.push(Some(early)),
        }
    }
    let got = scatter(shard, sent, make, &fallback).await;
    for (i, r) in where_.into_iter().zip(got) {
        answers[i] = Some(r);
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(&fallback))
        .collect()
}
