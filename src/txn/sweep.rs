//! The transaction coordinator's timer: aborts transactions open longer than their
//! transaction.timeout.ms (bumping the epoch, which fences the producer), and finishes decided
//! transactions whose markers are not all written (after a restart or a failed round).

use std::rc::Rc;
use std::time::Duration;

use super::markers;
use super::state::{now_ms, TxnState};
use super::Coordinator;

/// Runs the sweep on this core until the executor stops.
pub fn start(coord: &Rc<Coordinator>) {
    let s = coord.clone();
    glommio::spawn_local(async move {
        let every = Duration::from_millis(s.config().txns.abort_check_interval_ms.max(10));
        // The first pass comes soon, to finish what a crash left undone.
        glommio::timer::sleep(Duration::from_millis(500).min(every)).await;
        loop {
            sweep_once(&s);
            crate::periodic::tick(crate::periodic::Loop::TxnSweep, every).await;
        }
    })
    .detach();
}

/// One pass: aborts the transactions past their timeout and finishes the decided ones, of
/// the partitions this core serves.
fn sweep_once(coord: &Rc<Coordinator>) {
    let now = now_ms();
    let mut to_abort = Vec::new();
    let mut to_resume = Vec::new();
    for (id, m) in coord.txns.borrow().iter() {
        if m.busy || !coord.loads.is_loaded(m.partition) {
            continue;
        }
        if m.state.is_preparing() {
            to_resume.push(id.clone());
        } else if m.state == TxnState::Ongoing
            && m.start_ms >= 0
            && now - m.start_ms > m.timeout_ms as i64
        {
            to_abort.push(id.clone());
        }
    }
    for id in to_resume {
        let s = coord.clone();
        glommio::spawn_local(async move { markers::resume(&s, &id).await }).detach();
    }
    for id in to_abort {
        tracing::info!(txn_id = %id, "aborting transaction past its timeout");
        let s = coord.clone();
        glommio::spawn_local(async move {
            let _ = markers::finish(&s, &id, false, true).await;
        })
        .detach();
    }
}
