//! SCRAM credential changes on core 0 (AlterUserScramCredentials): under the
//! [`MetadataAdmin`]'s lock, the request is checked against the controller's newest image with
//! Kafka's rules ([`crate::security::credentials::plan_alter`]) and its records are proposed
//! to the quorum as one batch, so that the whole request commits or none of it does. Every
//! core then sees the credentials in its next cluster snapshot (`ClusterState::image`).

use std::rc::Rc;

use super::call::CoreCall;
use super::MetadataAdmin;
use crate::errors::{ErrorMessage, KafkaError};
use crate::security::credentials::{plan_alter, Deletion, Upsertion};
use runnel_controller::RecordBatch;

/// One result per user named, and the image index that holds the change (0: nothing was
/// committed).
pub type AlterScramReply = (Vec<(String, Result<(), ErrorMessage>)>, u64);

/// Alters SCRAM credentials (sent to core 0).
#[derive(Debug)]
pub struct AlterScramCall {
    /// Credentials to remove.
    pub deletions: Vec<Deletion>,
    /// Credentials to create or replace.
    pub upsertions: Vec<Upsertion>,
}

impl CoreCall for AlterScramCall {
    type Reply = AlterScramReply;
    type Service = MetadataAdmin;
    async fn run(self, admin: &Rc<MetadataAdmin>) -> AlterScramReply {
        alter(admin, &self.deletions, &self.upsertions).await
    }
}

async fn alter(
    admin: &MetadataAdmin,
    deletions: &[Deletion],
    upsertions: &[Upsertion],
) -> AlterScramReply {
    let _guard = admin.exclusive().await;
    let Some(q) = admin.quorum() else {
        let e = ErrorMessage::new(
            KafkaError::NotController,
            "this broker has no controller quorum to store credentials in",
        );
        let mut seen = std::collections::HashSet::new();
        let results = (deletions.iter().map(|d| &d.name))
            .chain(upsertions.iter().map(|u| &u.name))
            .filter(|name| seen.insert(name.as_str()))
            .map(|name| (name.clone(), Err(e.clone())))
            .collect();
        return (results, 0);
    };
    let mut plan = plan_alter(&q.image(), deletions, upsertions);
    if plan.records.is_empty() {
        return (plan.results, 0);
    }
    let batch = RecordBatch {
        records: std::mem::take(&mut plan.records),
    };
    match q.propose(batch).await {
        Ok(()) => {
            tracing::info!(
                changed = plan.results.iter().filter(|(_, r)| r.is_ok()).count(),
                "SCRAM credentials changed"
            );
            (plan.results, q.image().applied_index())
        }
        Err(e) => {
            for (_, r) in plan.results.iter_mut().filter(|(_, r)| r.is_ok()) {
                *r = Err(e.clone());
            }
            (plan.results, 0)
        }
    }
}
