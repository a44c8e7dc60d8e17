//! Typed calls between cores.
//!
//! Each kind of cross-core work is a small struct implementing [`CoreCall`], which names the
//! reply type and the core service it runs against ([`CoreCall::Service`]: the [`Shard`] itself
//! for partition work, the group or transaction coordinator for theirs), and runs the work on
//! the core it is sent to. [`Shard::call`] returns exactly that reply, or [`Unavailable`] when
//! the target core cannot be reached, so a caller never sees an answer of another kind.
//!
//! The services above this layer are registered on each core with [`Shard::provide`] by the
//! composition root (`services::Core`); the mesh finds them by type, so this module
//! never names them.
//!
//! A call to another core travels over the channel mesh in one boxed [`Envelope`]: it goes out
//! holding the call and comes back, in the same allocation, holding the reply. The receiving
//! core spawns one task per call (the call's future lives in that task, unboxed) and sends the
//! envelope back when it is done; the caller's mesh receiver hands it to the waiting call, which
//! takes the typed reply out. A call to the caller's own core runs in place. A call whose
//! answer the caller does not need goes with [`Shard::cast`]: nothing comes back, which saves
//! the calling core a wake-up per call.

use std::any::{Any, TypeId};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use super::messages::MeshMessage;
use super::{oneshot, Shard};

/// Work one core asks another to do, answered with a [`CoreCall::Reply`].
///
/// Calls are `Send` (they cross executors) and carry record data as `bytes::Bytes`, so sending
/// a produce or a fetch moves reference-counted slices, never copies of the records.
pub trait CoreCall: Send + Sized + 'static {
    /// The answer.
    type Reply: Send + 'static;

    /// The core service the call runs against: [`Shard`], or a service registered with
    /// [`Shard::provide`].
    type Service: 'static;

    /// Runs the call on the core it was sent to.
    fn run(self, service: &Rc<Self::Service>) -> impl Future<Output = Self::Reply>;

    /// Whether the call waits by design (long polls, rebalances): such calls are counted but
    /// kept out of the forward latency histogram.
    fn waits_on_purpose(&self) -> bool {
        false
    }
}

/// The target core could not be reached (it is shutting down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the target core is unavailable")
    }
}

impl std::error::Error for Unavailable {}

/// A call crossing the mesh: out with the call, back with its reply.
pub struct Envelope(Box<dyn Erased>);

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Envelope")
    }
}

/// The typed contents of an [`Envelope`].
struct Typed<C: CoreCall> {
    call: Option<C>,
    reply: Option<C::Reply>,
}

/// What the receiving core can do with an envelope without knowing its call type.
trait Erased: Send {
    /// Runs the call in a task of its own on `shard`'s core and, when `reply_to` names a call
    /// id and a core, sends the envelope back to that core with the reply.
    fn serve(self: Box<Self>, shard: Rc<Shard>, reply_to: Option<(u64, usize)>);
    /// For the caller, which knows the type, to take the reply out.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<C: CoreCall> Erased for Typed<C> {
    fn serve(mut self: Box<Self>, shard: Rc<Shard>, reply_to: Option<(u64, usize)>) {
        glommio::spawn_local(async move {
            // Without the service (not registered on this core) the reply stays empty and the
            // caller gets `Unavailable`.
            if let (Some(call), Some(service)) = (self.call.take(), shard.service::<C::Service>()) {
                self.reply = Some(call.run(&service).await);
            }
            let Some((id, from)) = reply_to else {
                return;
            };
            let envelope = Envelope(self);
            let _ = shard
                .senders
                .send_to(from, MeshMessage::Reply { id, envelope })
                .await;
        })
        .detach();
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl Envelope {
    fn new<C: CoreCall>(call: C) -> Envelope {
        Envelope(Box::new(Typed {
            call: Some(call),
            reply: None,
        }))
    }

    /// The reply of the call `C` this envelope went out with.
    fn reply<C: CoreCall>(self) -> Option<C::Reply> {
        self.0.into_any().downcast::<Typed<C>>().ok()?.reply
    }
}

/// The services registered on one core, by type. Held weakly: the composition root owns them
/// (and they may hold handles to the shard).
#[derive(Default)]
pub(super) struct Services(std::cell::RefCell<Vec<(TypeId, Weak<dyn Any>)>>);

impl Shard {
    /// Registers `service` on this core, so that calls whose [`CoreCall::Service`] is `S` run
    /// against it. The shard keeps a weak reference; the caller keeps the service alive.
    pub fn provide<S: 'static>(&self, service: &Rc<S>) {
        let weak: Weak<dyn Any> = Rc::downgrade(service) as Weak<dyn Any>;
        let mut services = self.services.0.borrow_mut();
        services.retain(|(t, _)| *t != TypeId::of::<S>());
        services.push((TypeId::of::<S>(), weak));
    }

    /// The service of type `S` on this core: the shard itself, or one registered with
    /// [`Shard::provide`] and still alive.
    fn service<S: 'static>(self: &Rc<Self>) -> Option<Rc<S>> {
        let me: Rc<dyn Any> = self.clone();
        if let Ok(s) = me.downcast::<S>() {
            return Some(s);
        }
        let services = self.services.0.borrow();
        let (_, weak) = services.iter().find(|(t, _)| *t == TypeId::of::<S>())?;
        weak.upgrade()?.downcast::<S>().ok()
    }

    /// Runs `call` on core `core`: in place when that is this core, otherwise over the mesh.
    pub async fn call<C: CoreCall>(
        self: &Rc<Self>,
        core: usize,
        call: C,
    ) -> Result<C::Reply, Unavailable> {
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
        self: &Rc<Self>,
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
    pub async fn broadcast<C, F>(self: &Rc<Self>, make: F)
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
    pub fn start_mesh_receivers(
        self: &Rc<Self>,
        mut receivers: glommio::channels::channel_mesh::Receivers<MeshMessage>,
    ) {
        for (_, stream) in receivers.streams() {
            let me = self.clone();
            glommio::spawn_local(async move {
                while let Some(msg) = stream.recv().await {
                    match msg {
                        MeshMessage::Call { id, from, envelope } => {
                            envelope.0.serve(me.clone(), Some((id, from)));
                        }
                        MeshMessage::Cast { envelope } => {
                            envelope.0.serve(me.clone(), None);
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
