//! The client side of the controllers' protocol: openraft's `RaftNetwork` to each peer (one
//! reused connection per peer, dropped on any error), and one-shot calls for forwarded proposals
//! and heartbeats. Every connect, write and read has a deadline.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;

use crate::transport::{Stream, Transport};
use crate::types::TypeConfig;
use crate::wire::{self, Request, Response};

pub use crate::transport::CONNECT_TIMEOUT;

/// One open connection to a controller.
pub struct Connection {
    stream: Stream,
}

impl Connection {
    /// Connects to `addr` over `transport` (TLS: the handshake included) and sends the magic.
    pub async fn open(addr: SocketAddr, transport: &Transport) -> io::Result<Connection> {
        let stream = transport.connect(addr).await?;
        let mut conn = Connection { stream };
        tokio::time::timeout(CONNECT_TIMEOUT, async {
            use tokio::io::AsyncWriteExt;
            conn.stream.write_all(&wire::MAGIC).await?;
            conn.stream.flush().await
        })
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timed out"))??;
        Ok(conn)
    }

    /// Sends `req` and reads its response, within `limit` for each step.
    pub async fn call(&mut self, req: &Request, limit: Duration) -> io::Result<Response> {
        wire::write_frame(&mut self.stream, req, limit).await?;
        wire::read_frame(&mut self.stream, limit)
            .await?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed"))
    }
}

/// Makes a [`PeerClient`] per peer for openraft, connecting over its transport.
pub struct NetworkFactory(pub Transport);

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerClient {
        PeerClient {
            target,
            addr: node.addr.parse().ok(),
            transport: self.0.clone(),
            conn: None,
        }
    }
}

/// The connection from this controller to one peer.
pub struct PeerClient {
    target: u64,
    addr: Option<SocketAddr>,
    transport: Transport,
    conn: Option<Connection>,
}

/// An error of one RPC, before openraft's typing.
enum CallError {
    /// Could not connect: openraft backs off.
    Unreachable(io::Error),
    /// Failed after connecting.
    Network(io::Error),
}

impl<E: std::error::Error> From<CallError> for RPCError<u64, BasicNode, E> {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Unreachable(e) => RPCError::Unreachable(Unreachable::new(&e)),
            CallError::Network(e) => RPCError::Network(NetworkError::new(&e)),
        }
    }
}

impl PeerClient {
    async fn call(&mut self, req: Request, limit: Duration) -> Result<Response, CallError> {
        let Some(addr) = self.addr else {
            let e = io::Error::new(io::ErrorKind::InvalidInput, "peer address does not parse");
            return Err(CallError::Unreachable(e));
        };
        if self.conn.is_none() {
            self.conn = Some(
                Connection::open(addr, &self.transport)
                    .await
                    .map_err(CallError::Unreachable)?,
            );
        }
        let conn = self.conn.as_mut().ok_or_else(|| {
            CallError::Unreachable(io::Error::new(io::ErrorKind::NotConnected, "no connection"))
        })?;
        match conn.call(&req, limit).await {
            Ok(resp) => Ok(resp),
            Err(e) => {
                self.conn = None;
                Err(CallError::Network(e))
            }
        }
    }

    fn mismatch() -> CallError {
        CallError::Network(io::Error::new(
            io::ErrorKind::InvalidData,
            "response of another kind",
        ))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        match self
            .call(Request::AppendEntries(rpc), option.hard_ttl())
            .await?
        {
            Response::AppendEntries(r) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(Self::mismatch().into()),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        match self
            .call(Request::InstallSnapshot(rpc), option.hard_ttl())
            .await?
        {
            Response::InstallSnapshot(r) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(Self::mismatch().into()),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        match self.call(Request::Vote(rpc), option.hard_ttl()).await? {
            Response::Vote(r) => {
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(Self::mismatch().into()),
        }
    }
}
