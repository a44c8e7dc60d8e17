//! The one rule both quorum handles follow when they answer a routed call (a proposal, a
//! heartbeat, a producer-id allocation, a controlled shutdown): the call runs on the leader,
//! and a committed proposal is answered only once this node's image has applied it, so the
//! caller reads its own change. [`Controller`](crate::handle::Controller) routes through its
//! own Raft node, [`RemoteQuorum`](crate::remote::RemoteQuorum) over the controllers' protocol.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::error::ControllerError;
use crate::node::Routed;

/// Something that can run a routed call on the leader and wait for its own image.
pub(crate) trait Routes: Send + Sync + 'static {
    /// Runs `call` on the leader (bounded by the request timeout): the log index for a
    /// proposal.
    fn route_call(&self, call: Routed)
        -> impl Future<Output = Result<u64, ControllerError>> + Send;
    /// Waits, bounded, until this side's image has applied `index`.
    fn wait_image(&self, index: u64) -> impl Future<Output = ()> + Send;
}

/// Runs `call` on a task of its own and sends its outcome to `reply`; a proposal's answer waits
/// for the image to have it.
pub(crate) fn spawn_route<T: Routes>(
    target: Arc<T>,
    call: Routed,
    reply: oneshot::Sender<Result<u64, ControllerError>>,
) {
    tokio::spawn(async move {
        let propose = matches!(call, Routed::Propose(_));
        let result = target.route_call(call).await;
        if let (true, Ok(index)) = (propose, &result) {
            target.wait_image(*index).await;
        }
        let _ = reply.send(result);
    });
}
