//! [`ClusterView`]: this core's snapshot of the cluster's brokers and controllers
//! ([`ClusterState`]: the controller's newest metadata image and the active controller).
//!
//! The core only ever reads its own snapshot; a task of the core ([`ClusterView::follow`])
//! swaps in each new one published by the broker's membership agent over a `watch` channel.
//! A new snapshot is an `Arc` swap, so the data path never waits for the controller.
//!
//! The view also keeps this core's ACL authorizer ([`ClusterView::authorizer`]): its index is
//! built from the image's ACLs the first time a check needs it after they changed (the image
//! keeps them in one `Arc` that only an ACL change replaces), so a core rebuilds it once per
//! ACL change, never per request.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use tokio::sync::watch;

use crate::cluster::membership::ClusterState;
use crate::security::acl::{Authorizer, AuthorizerSettings};

/// The ACLs an authorizer was built from (compared by pointer).
type AclsOf = Arc<
    std::collections::BTreeMap<uuid::Uuid, runnel_controller::records::AccessControlEntryRecord>,
>;

/// One core's view of the cluster (see the module comment).
pub struct ClusterView {
    state: RefCell<Arc<ClusterState>>,
    authorizer: RefCell<Option<(AclsOf, Rc<Authorizer>)>>,
    /// Told after each new snapshot (the partition store, which stamps leader epochs).
    listeners: RefCell<Vec<Box<dyn Fn()>>>,
}

impl ClusterView {
    /// A view starting from `state`.
    pub fn new(state: Arc<ClusterState>) -> Rc<ClusterView> {
        Rc::new(ClusterView {
            state: RefCell::new(state),
            authorizer: RefCell::new(None),
            listeners: RefCell::new(Vec::new()),
        })
    }

    /// The authorizer over the current image's ACLs with `settings` (see the module comment).
    pub fn authorizer(&self, settings: &AuthorizerSettings) -> Rc<Authorizer> {
        let acls = self.state.borrow().image.acls().clone();
        if let Some((built, a)) = &*self.authorizer.borrow() {
            if Arc::ptr_eq(built, &acls) {
                return a.clone();
            }
        }
        let bindings = crate::cluster::acls::bindings(&acls);
        let a = Rc::new(Authorizer::new(
            settings.clone(),
            bindings.iter().map(|(_, b)| b),
        ));
        *self.authorizer.borrow_mut() = Some((acls, a.clone()));
        a
    }

    /// The current snapshot.
    pub fn state(&self) -> Arc<ClusterState> {
        self.state.borrow().clone()
    }

    /// Installs a new snapshot and tells the listeners.
    pub fn set(&self, state: Arc<ClusterState>) {
        *self.state.borrow_mut() = state;
        for listener in self.listeners.borrow().iter() {
            listener();
        }
    }

    /// Registers `listener`, called after each new snapshot (a few, registered at startup).
    pub fn on_change(&self, listener: Box<dyn Fn()>) {
        self.listeners.borrow_mut().push(listener);
    }

    /// Installs every snapshot `updates` publishes, on a task of this core, until its sender
    /// is dropped. Only the newest value is kept by the channel, so a slow core skips
    /// intermediate snapshots instead of queueing them.
    pub fn follow(self: &Rc<Self>, mut updates: watch::Receiver<Arc<ClusterState>>) {
        let view = Rc::downgrade(self);
        glommio::spawn_local(async move {
            loop {
                let next = updates.borrow_and_update().clone();
                match view.upgrade() {
                    Some(v) => v.set(next),
                    None => return,
                }
                if updates.changed().await.is_err() {
                    return;
                }
            }
        })
        .detach();
    }
}
