//! [`MetadataAdmin`]: topic-table and dynamic-config changes, made on core 0 (the metadata
//! owner) one at a time. Each change is made on a copy of the table or of the dynamic configs
//! under the admin's lock, persisted, and broadcast over the mesh to every core's partition
//! store ([`super::partitions`], [`super::topic_admin`], [`super::dynamic_admin`]).
//!
//! Topic changes are proposed to the controller quorum ([`Quorum`], attached on core 0 at
//! startup with [`MetadataAdmin::set_quorum`]); the local table is then derived from the
//! controller's image (super::image_sync). An admin without a quorum (the benchmarks' cores)
//! changes the local table directly.

use std::cell::RefCell;
use std::rc::Rc;

use glommio::sync::{Permit, Semaphore};

use super::mesh::Mesh;
use super::quorum::Quorum;
use super::topic_view::TopicView;

/// The metadata owner's side of topic and config changes (see the module comment). Every core
/// has one (any core's calls may name it), but changes are only sent to core 0.
pub struct MetadataAdmin {
    mesh: Rc<Mesh>,
    view: Rc<TopicView>,
    /// Serialises topic-table and dynamic-config changes.
    lock: Semaphore,
    /// The controller quorum topic changes go through (core 0, once started).
    quorum: RefCell<Option<Rc<Quorum>>>,
}

impl MetadataAdmin {
    /// The admin of `view`'s core, broadcasting changes over `mesh`.
    pub fn new(mesh: Rc<Mesh>, view: Rc<TopicView>) -> Rc<MetadataAdmin> {
        Rc::new(MetadataAdmin {
            mesh,
            view,
            lock: Semaphore::new(1),
            quorum: RefCell::new(None),
        })
    }

    /// The mesh changes are broadcast over.
    pub fn mesh(&self) -> &Mesh {
        &self.mesh
    }

    /// This core's view of the table and configuration being changed.
    pub fn view(&self) -> &TopicView {
        &self.view
    }

    /// Sends topic changes through `quorum` from now on.
    pub fn set_quorum(&self, quorum: Rc<Quorum>) {
        *self.quorum.borrow_mut() = Some(quorum);
    }

    /// Detaches the quorum (at stop, so that the controller can be shut down).
    pub fn clear_quorum(&self) {
        self.quorum.borrow_mut().take();
    }

    /// The controller quorum topic changes go through, when attached.
    pub fn quorum(&self) -> Option<Rc<Quorum>> {
        self.quorum.borrow().clone()
    }

    /// Waits until no other change is being made; the change holds the permit until it is done
    /// (`None` only if the lock was closed, which it never is).
    pub async fn exclusive(&self) -> Option<Permit<'_>> {
        self.lock.acquire_permit(1).await.ok()
    }
}
