//! ACL changes on core 0 (the metadata owner): CreateAcls and DeleteAcls become
//! `AccessControlEntry` and `RemoveAccessControlEntry` records proposed to the controller
//! quorum, under the [`MetadataAdmin`]'s lock so that two changes never race on the same
//! image. Every broker's cores then read the ACLs from the image they follow
//! (`ClusterView::authorizer`).

use std::collections::BTreeSet;
use std::rc::Rc;

use runnel_controller::records::{MetadataRecord, RemoveAccessControlEntryRecord};
use runnel_controller::RecordBatch;
use uuid::Uuid;

use super::call::CoreCall;
use super::MetadataAdmin;
use crate::cluster::acls::{bindings, record_of};
use crate::errors::{ErrorMessage, KafkaError};
use crate::security::acl::{AclBinding, AclFilter};

fn no_quorum() -> ErrorMessage {
    ErrorMessage::new(
        KafkaError::NotController,
        "this broker has no controller quorum attached",
    )
}

/// Creates bindings (valid ones: the caller checked them); answered once the local image has
/// them. A binding that exists already is left as it is, as on Kafka.
#[derive(Debug)]
pub struct CreateAclsCall(pub Vec<AclBinding>);

impl CoreCall for CreateAclsCall {
    type Reply = Result<(), ErrorMessage>;
    type Service = MetadataAdmin;
    async fn run(self, admin: &Rc<MetadataAdmin>) -> Self::Reply {
        let quorum = admin.quorum().ok_or_else(no_quorum)?;
        let _guard = admin.exclusive().await;
        let image = quorum.image();
        let existing: BTreeSet<AclBinding> =
            bindings(image.acls()).into_iter().map(|(_, b)| b).collect();
        let mut fresh = BTreeSet::new();
        let records: Vec<MetadataRecord> = self
            .0
            .into_iter()
            .filter(|b| !existing.contains(b) && fresh.insert(b.clone()))
            .map(|b| MetadataRecord::AccessControlEntry(record_of(Uuid::new_v4(), &b)))
            .collect();
        if records.is_empty() {
            return Ok(());
        }
        quorum.propose(RecordBatch { records }).await
    }
}

/// Deletes the bindings each filter matches; answered per filter with the bindings it
/// matched (all of them deleted, or none when the proposal failed).
#[derive(Debug)]
pub struct DeleteAclsCall(pub Vec<AclFilter>);

impl CoreCall for DeleteAclsCall {
    type Reply = Result<Vec<Vec<AclBinding>>, ErrorMessage>;
    type Service = MetadataAdmin;
    async fn run(self, admin: &Rc<MetadataAdmin>) -> Self::Reply {
        let quorum = admin.quorum().ok_or_else(no_quorum)?;
        let _guard = admin.exclusive().await;
        let image = quorum.image();
        let all = bindings(image.acls());
        let mut ids = BTreeSet::new();
        let mut matched = Vec::with_capacity(self.0.len());
        for f in &self.0 {
            let mut these = Vec::new();
            for (id, b) in &all {
                if f.matches(b) {
                    ids.insert(*id);
                    these.push(b.clone());
                }
            }
            matched.push(these);
        }
        if !ids.is_empty() {
            let records = ids
                .into_iter()
                .map(|id| {
                    MetadataRecord::RemoveAccessControlEntry(RemoveAccessControlEntryRecord { id })
                })
                .collect();
            quorum.propose(RecordBatch { records }).await?;
        }
        Ok(matched)
    }
}
