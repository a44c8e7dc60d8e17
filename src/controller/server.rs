//! The controller's listener: accepts peers' connections and answers openraft's RPCs,
//! forwarded proposals and heartbeats, and the image fetches of brokers without a controller.
//! Connections are bounded in number; on a TLS listener each must first complete a handshake
//! with a client certificate the truststore and the authorization check accept
//! ([`crate::transport`]). A connection that fails that, does not start with the magic, sends
//! a frame beyond the limit or that does not decode, or stays silent too long, is closed.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::node::{Routed, Shared};
use crate::state_machine::MAX_SNAPSHOT;
use crate::transport::{Stream, Transport};
use crate::wire::{self, Request, Response};

/// Most connections served at once.
const MAX_CONNECTIONS: usize = 64;
/// A connection must send its magic within this.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection silent for this long is closed (peers send heartbeats far more often).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Accepts connections over `transport` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    transport: Transport,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors, most likely: do not spin on it.
                        tracing::warn!("controller: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    tracing::warn!("controller: too many connections, refusing {peer}");
                    continue;
                };
                let shared = shared.clone();
                let transport = transport.clone();
                tokio::spawn(async move {
                    let served = match transport.accept(stream).await {
                        Ok(stream) => connection(stream, &shared).await,
                        Err(e) => {
                            // A stranger, or a peer with the wrong key material: worth a line.
                            tracing::warn!("controller: connection from {peer} refused: {e}");
                            Ok(())
                        }
                    };
                    match served {
                        Err(e) if e.to_string() == wire::NOT_A_CONTROLLER_CONNECTION => {
                            tracing::warn!("controller: connection from {peer} closed: {e}");
                        }
                        Err(e) => tracing::debug!("controller connection from {peer} closed: {e}"),
                        Ok(()) => {}
                    }
                    drop(permit);
                });
            }
            _ = stop.changed() => return,
        }
    }
}

async fn connection(mut stream: Stream, shared: &Shared) -> io::Result<()> {
    wire::read_magic(&mut stream, HELLO_TIMEOUT).await?;
    while let Some(req) = wire::read_frame::<_, Request>(&mut stream, IDLE_TIMEOUT).await? {
        let resp = answer(req, shared).await?;
        wire::write_frame(&mut stream, &resp, IDLE_TIMEOUT).await?;
    }
    Ok(())
}

async fn answer(req: Request, shared: &Shared) -> io::Result<Response> {
    Ok(match req {
        Request::AppendEntries(r) => Response::AppendEntries(shared.raft.append_entries(r).await),
        Request::Vote(r) => Response::Vote(shared.raft.vote(r).await),
        Request::InstallSnapshot(r) => {
            if r.offset.saturating_add(r.data.len() as u64) > MAX_SNAPSHOT as u64 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "snapshot too large",
                ));
            }
            Response::InstallSnapshot(shared.raft.install_snapshot(r).await)
        }
        Request::Propose(batch) => {
            let r = shared.route_here_only(Routed::Propose(batch)).await;
            Response::Propose(r)
        }
        Request::Heartbeat {
            broker_id,
            broker_epoch,
        } => {
            let r = shared
                .route_here_only(Routed::Heartbeat(broker_id, broker_epoch))
                .await;
            Response::Heartbeat(r.map(|_| ()))
        }
        Request::AllocateProducerIds {
            broker_id,
            broker_epoch,
            count,
        } => {
            let call = Routed::ProducerIds(broker_id, broker_epoch, count);
            Response::AllocateProducerIds(shared.route_here_only(call).await)
        }
        Request::ControlledShutdown {
            broker_id,
            broker_epoch,
        } => {
            let call = Routed::ControlledShutdown(broker_id, broker_epoch);
            Response::ControlledShutdown(shared.route_here_only(call).await.map(|_| ()))
        }
        Request::FetchImage { have, wait_ms } => {
            let wait = Duration::from_millis(u64::from(wait_ms)).min(wire::MAX_FETCH_WAIT);
            let mut images = shared.image.clone();
            let newer =
                tokio::time::timeout(wait, images.wait_for(|i| i.applied_index() > have)).await;
            let image = match newer {
                Ok(Ok(image)) => Some(Arc::clone(&image)),
                _ => None,
            };
            let leader = shared.raft.metrics().borrow().current_leader;
            Response::FetchImage(wire::ImageReply { leader, image })
        }
    })
}
