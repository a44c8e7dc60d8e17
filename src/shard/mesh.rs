//! [`Mesh`]: this core's end of the channel mesh. It knows the core's index and the number of
//! cores, runs typed [`CoreCall`]s on the core that owns the data (in place when that is this
//! core), and keeps the registry of the services calls run against ([`Mesh::provide`]).
//!
//! The mesh is the bottom core service: it names no other service. The composition root
//! (`services::Core`) registers the topic view's users, the partition store, the metadata admin
//! and the coordinators on it by type.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use glommio::channels::channel_mesh::{Receivers, Senders};

use super::call::{CoreCall, Envelope, Unavailable};
use super::messages::MeshMessage;
use super::oneshot;

/// One core's end of the channel mesh (see the module comment).
pub struct Mesh {
    /// Index of this core among the executors (0-based).
    id: usize,
    /// Number of executors.
    cores: usize,
    pub(super) senders: Senders<MeshMessage>,
    pending: RefCell<HashMap<u64, oneshot::Sender<Envelope>>>,
    next_id: Cell<u64>,
    /// Services calls run against, by type; held weakly (the composition root owns them).
    services: RefCell<Vec<(TypeId, Weak<dyn Any>)>>,
}

impl Mesh {
    /// The mesh end of core `id` of `cores`, sending through `senders`.
    pub fn new(id: usize, cores: usize, senders: Senders<MeshMessage>) -> Rc<Mesh> {
        Rc::new(Mesh {
            id,
            cores,
            senders,
            pending: RefCell::new(HashMap::new()),
            next_id: Cell::new(1),
            services: RefCell::new(Vec::new()),
        })
    }

    /// Index of this core.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.cores
    }

    /// Registers `service` on this core, so that calls whose [`CoreCall::Service`] is `S` run
    /// against it. The mesh keeps a weak reference; the caller keeps the service alive.
    pub fn provide<S: 'static>(&self, service: &Rc<S>) {
        let weak: Weak<dyn Any> = Rc::downgrade(service) as Weak<dyn Any>;
        let mut services = self.services.borrow_mut();
        services.retain(|(t, _)| *t != TypeId::of::<S>());
        services.push((TypeId::of::<S>(), weak));
    }

    /// The service of type `S` registered on this core with [`Mesh::provide`], if still alive.
    pub(super) fn service<S: 'static>(&self) -> Option<Rc<S>> {
        let services = self.services.borrow();
        let (_, weak) = services.iter().find(|(t, _)| *t == TypeId::of::<S>())?;
        weak.upgrade()?.downcast::<S>().ok()
    }

    /// Runs `call` on core `core`: in place when that is this core, otherwise over the mesh.
    /// Answered with exactly the call's reply, or [`Unavailable`] when the core (or the
    /// service the call runs against) cannot be reached.
    pub async fn call<C: CoreCall>(&self, core: usize, call: C) -> Result<C::Reply, Unavailable> {
        if core == self.id {
            let service = self.service::<C::Service>().ok_or(Unavailable)?;
            // Boxed: a call may itself call other cores (topic changes broadcast), which would
            // otherwise make this future infinitely sized.
            let fut: Pin<Box<dyn Future<Output = C::Reply>>> =
                Box::pin(async move { call.run(&service).await });
            return Ok(fut.await);
        }
        let waits = call.waits_on_purpose();
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let (tx, rx) = oneshot::channel();
        self.pending.borrow_mut().insert(id, tx);
        let msg = MeshMessage::Call {
            id,
            from: self.id,
            envelope: Envelope::new(call),
        };
        let sent = std::time::Instant::now();
        if self.senders.send_to(core, msg).await.is_err() {
            self.pending.borrow_mut().remove(&id);
            return Err(Unavailable);
        }
        let envelope = rx.await;
        crate::metrics::hooks::forwarded(core, (!waits).then(|| sent.elapsed()));
        envelope.and_then(Envelope::reply::<C>).ok_or(Unavailable)
    }

    /// Runs `call` on core `core` without waiting for it to finish: over the mesh nothing comes
    /// back (the reply is dropped on the target core), so the calling core is not woken for an
    /// answer it does not need. Returns once the call is on its way (or has run, on this core).
    pub async fn cast<C: CoreCall<Reply = ()>>(
        &self,
        core: usize,
        call: C,
    ) -> Result<(), Unavailable> {
        if core == self.id {
            return self.call(core, call).await;
        }
        let msg = MeshMessage::Cast {
            envelope: Envelope::new(call),
        };
        self.senders
            .send_to(core, msg)
            .await
            .map_err(|_| Unavailable)?;
        crate::metrics::hooks::forwarded(core, None);
        Ok(())
    }

    /// Runs the call built by `make` on every core (this one included), one after another, and
    /// waits for all; the replies are dropped.
    pub async fn broadcast<C, F>(&self, make: F)
    where
        C: CoreCall,
        F: Fn() -> C,
    {
        let calls: Vec<_> = (0..self.cores).map(|c| self.call(c, make())).collect();
        for c in calls {
            let _ = c.await;
        }
    }

    /// Serves calls and replies arriving from the other cores, until the mesh closes.
    pub fn start_receivers(self: &Rc<Self>, mut receivers: Receivers<MeshMessage>) {
        for (_, stream) in receivers.streams() {
            let me = self.clone();
            glommio::spawn_local(async move {
                while let Some(msg) = stream.recv().await {
                    match msg {
                        MeshMessage::Call { id, from, envelope } => {
                            envelope.serve(me.clone(), Some((id, from)));
                        }
                        MeshMessage::Cast { envelope } => {
                            envelope.serve(me.clone(), None);
                        }
                        MeshMessage::Reply { id, envelope } => {
                            if let Some(tx) = me.pending.borrow_mut().remove(&id) {
                                tx.send(envelope);
                            }
                        }
                    }
                }
            })
            .detach();
        }
    }
}
