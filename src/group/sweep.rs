//! Group timers, run by one task per core: session expiry, rebalance and initial-delay
//! deadlines, expiry of member ids handed out but never used, and offsets retention.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::classic::{complete_join, maybe_complete_join, prepare_rebalance};
use super::records::OffsetsKey;
use super::state::{now_ms, ClassicGroup, ClassicState, GroupKind};
use super::timers::next_deadline;
use super::Coordinator;
use super::{consumer, store};
use crate::config::GroupSettings;
use crate::errors::KafkaError;

/// Longest sleep of the timer task when no group has a deadline (offsets retention still runs).
const IDLE: Duration = Duration::from_secs(60);
/// How often offsets retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// Starts this core's group timer task.
pub fn start(coord: Rc<Coordinator>) {
    glommio::spawn_local(async move {
        let mut last_retention = Instant::now();
        loop {
            tick(&coord);
            if last_retention.elapsed() >= RETENTION_EVERY {
                last_retention = Instant::now();
                expire_offsets(&coord).await;
            }
            let now = Instant::now();
            let config = coord.config();
            let due = coord
                .groups
                .borrow()
                .values()
                .filter_map(|g| next_deadline(g, &config))
                .min();
            let wake = due
                .unwrap_or(now + IDLE)
                .min(last_retention + RETENTION_EVERY);
            let timers = &coord.timers;
            timers.set_next_wake(wake);
            crate::periodic::tick_until(crate::periodic::Loop::GroupSweep, wake, timers.changed())
                .await;
        }
    })
    .detach();
}

fn tick(coord: &Rc<Coordinator>) {
    if coord.groups.borrow().is_empty() {
        return;
    }
    let config = coord.config();
    let cfg = &config.groups;
    let table = coord.topics.topic_table();
    let now = Instant::now();
    let mut persist = Vec::new();
    {
        let mut groups = coord.groups.borrow_mut();
        for g in groups.values_mut() {
            let _span = tracing::info_span!("group", group = %g.id).entered();
            match &mut g.kind {
                GroupKind::Classic(c) => {
                    if classic_tick(c, now, cfg) {
                        persist.push(g.id.clone());
                    }
                }
                GroupKind::Consumer(cg) => {
                    let own = config.dynamic.group(&g.id).map(|o| cfg.for_group(Some(o)));
                    consumer::tick(cg, now, &table, own.as_ref().unwrap_or(cfg));
                }
            }
        }
    }
    for id in persist {
        store::persist_group_later(coord, &id);
    }
}

/// Advances one classic group's timers; true when the group became empty.
fn classic_tick(c: &mut ClassicGroup, now: Instant, cfg: &GroupSettings) -> bool {
    if c.members.is_empty() && c.pending.is_empty() && c.state != ClassicState::PreparingRebalance {
        return false;
    }
    let before = c.pending.len();
    c.pending.retain(|_, deadline| *deadline > now);
    let mut changed = c.pending.len() != before;
    let expired: Vec<String> = c
        .members
        .values()
        .filter(|m| m.sync_waiter.is_none() && m.expired(now))
        .map(|m| m.id.clone())
        .collect();
    for id in &expired {
        tracing::info!(member = %id, "member session expired");
        c.remove_member(id, KafkaError::UnknownMemberId);
    }
    let mut emptied = false;
    if !expired.is_empty() {
        match c.state {
            ClassicState::Stable | ClassicState::CompletingRebalance => {
                prepare_rebalance(c, cfg);
                emptied = c.state == ClassicState::Empty;
                changed = false;
            }
            _ => changed = true,
        }
    }
    if c.initial_delay.is_some_and(|d| now >= d.until) {
        c.initial_delay = None;
        changed = true;
    }
    if c.state == ClassicState::PreparingRebalance {
        if c.initial_delay.is_none() && c.rebalance_deadline.is_some_and(|d| now >= d) {
            emptied |= complete_join(c);
        } else if changed {
            emptied |= maybe_complete_join(c);
        }
    }
    emptied
}

/// Deletes committed offsets of groups that have had no members for offsets.retention.minutes
/// (and the groups themselves once nothing is left).
async fn expire_offsets(coord: &Rc<Coordinator>) {
    let retention = coord.config().groups.offsets_retention_ms as i64;
    let now = now_ms();
    let mut work: Vec<(i32, Vec<OffsetsKey>)> = Vec::new();
    {
        let groups = coord.groups.borrow();
        for g in groups.values() {
            let since = match &g.kind {
                GroupKind::Classic(c) if c.members.is_empty() => c.state_since_ms,
                GroupKind::Consumer(cg) if cg.members.is_empty() => cg.state_since_ms,
                _ => continue,
            };
            if now - since < retention {
                continue;
            }
            let mut keys: Vec<OffsetsKey> = g
                .offsets
                .iter()
                .filter(|(_, v)| now - v.commit_timestamp >= retention)
                .map(|((t, p), _)| OffsetsKey::Offset {
                    group: g.id.clone(),
                    topic: t.clone(),
                    partition: *p,
                })
                .collect();
            if keys.len() == g.offsets.len() {
                keys.push(OffsetsKey::Group {
                    group: g.id.clone(),
                });
            }
            work.push((g.partition, keys));
        }
    }
    for (partition, keys) in work {
        let group = keys
            .first()
            .map(|k| k.group().to_string())
            .unwrap_or_default();
        let entries = keys.iter().cloned().map(|k| (k, None)).collect();
        if store::append(coord, partition, entries).await.is_err() {
            continue;
        }
        let mut groups = coord.groups.borrow_mut();
        for k in keys {
            match k {
                OffsetsKey::Offset {
                    topic, partition, ..
                } => {
                    if let Some(g) = groups.get_mut(&group) {
                        g.offsets.remove(&(topic, partition));
                    }
                }
                OffsetsKey::Group { .. } => {
                    if groups
                        .get(&group)
                        .is_some_and(|g| g.is_empty() && g.offsets.is_empty())
                    {
                        groups.remove(&group);
                        tracing::info!(group = %group, "group expired (offsets retention)");
                    }
                }
            }
        }
    }
}
