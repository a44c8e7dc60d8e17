//! Typed calls between cores.
//!
//! Each kind of cross-core work is a small struct implementing [`CoreCall`], which names the
//! reply type and the narrowest core service it runs against ([`CoreCall::Service`]: the
//! partition store for partition work, the metadata admin for topic and config changes, the
//! group or transaction coordinator for theirs), and runs the work on the core it is sent to.
//! [`Mesh::call`] returns exactly that reply, or [`Unavailable`] when the target core cannot be
//! reached, so a caller never sees an answer of another kind.
//!
//! Services are registered on each core with [`Mesh::provide`] by the composition root
//! (`services::Core`); the mesh finds them by type, so this module never names them.
//!
//! A call to another core travels over the channel mesh in one boxed [`Envelope`]: it goes out
//! holding the call and comes back, in the same allocation, holding the reply. The receiving
//! core spawns one task per call (the call's future lives in that task, unboxed) and sends the
//! envelope back when it is done; the caller's mesh receiver hands it to the waiting call, which
//! takes the typed reply out. A call to the caller's own core runs in place. A call whose
//! answer the caller does not need goes with [`Mesh::cast`]: nothing comes back, which saves
//! the calling core a wake-up per call.

use std::any::Any;
use std::future::Future;
use std::rc::Rc;

use super::mesh::Mesh;
use super::messages::MeshMessage;

/// Work one core asks another to do, answered with a [`CoreCall::Reply`].
///
/// Calls are `Send` (they cross executors) and carry record data as `bytes::Bytes`, so sending
/// a produce or a fetch moves reference-counted slices, never copies of the records.
pub trait CoreCall: Send + Sized + 'static {
    /// The answer.
    type Reply: Send + 'static;

    /// The core service the call runs against: a service registered with [`Mesh::provide`].
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
    /// Runs the call in a task of its own on `mesh`'s core and, when `reply_to` names a call
    /// id and a core, sends the envelope back to that core with the reply.
    fn serve(self: Box<Self>, mesh: Rc<Mesh>, reply_to: Option<(u64, usize)>);
    /// For the caller, which knows the type, to take the reply out.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<C: CoreCall> Erased for Typed<C> {
    fn serve(mut self: Box<Self>, mesh: Rc<Mesh>, reply_to: Option<(u64, usize)>) {
        glommio::spawn_local(async move {
            // Without the service (not registered on this core) the reply stays empty and the
            // caller gets `Unavailable`.
            if let (Some(call), Some(service)) = (self.call.take(), mesh.service::<C::Service>()) {
                self.reply = Some(call.run(&service).await);
            }
            let Some((id, from)) = reply_to else {
                return;
            };
            let envelope = Envelope(self);
            let _ = mesh
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
    /// Runs the call inside on `mesh`'s core and, when `reply_to` names a call id and a core,
    /// sends the envelope back to that core (a [`Mesh::cast`] has no reply to send).
    pub(super) fn serve(self, mesh: Rc<Mesh>, reply_to: Option<(u64, usize)>) {
        self.0.serve(mesh, reply_to);
    }

    pub(super) fn new<C: CoreCall>(call: C) -> Envelope {
        Envelope(Box::new(Typed {
            call: Some(call),
            reply: None,
        }))
    }

    /// The reply of the call `C` this envelope went out with.
    pub(super) fn reply<C: CoreCall>(self) -> Option<C::Reply> {
        self.0.into_any().downcast::<Typed<C>>().ok()?.reply
    }
}
