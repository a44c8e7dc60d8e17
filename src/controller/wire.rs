//! The controllers' wire protocol: openraft's RPCs and proposal forwarding over TCP.
//!
//! A connection starts with the client's 4-byte [`MAGIC`]; then each request and its response is
//! one frame: `len: u32 BE` and `len` bytes of a postcard-encoded [`Request`] or [`Response`],
//! with `len` at most [`MAX_FRAME`]. Every read has a deadline. Anything else (a wrong magic, a
//! length beyond the bound, bytes that do not decode) ends the connection with an error; nothing
//! a peer sends can panic the reader or make it wait forever.

use std::io;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::ControllerError;
use crate::image::MetadataImage;
use crate::records::{BrokerId, RecordBatch};
use crate::types::TypeConfig;

/// The first bytes of every controller connection.
pub const MAGIC: [u8; 4] = *b"RNC1";
/// Largest frame read or written.
pub const MAX_FRAME: usize = 16 << 20;

/// What one controller asks another.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// openraft's AppendEntries.
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// openraft's RequestVote.
    Vote(VoteRequest<u64>),
    /// One chunk of a snapshot.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// A batch proposed on a follower, forwarded to the leader.
    Propose(RecordBatch),
    /// A broker's heartbeat, forwarded to the leader.
    Heartbeat {
        /// The broker.
        broker_id: BrokerId,
        /// Its epoch.
        broker_epoch: u64,
    },
    /// A broker asks for a block of producer ids, forwarded to the leader.
    AllocateProducerIds {
        /// The broker.
        broker_id: BrokerId,
        /// Its epoch.
        broker_epoch: u64,
        /// How many ids.
        count: u32,
    },
    /// A broker about to stop asks to be fenced at once (Kafka's heartbeat with
    /// `wantShutDown`), forwarded to the leader.
    ControlledShutdown {
        /// The broker.
        broker_id: BrokerId,
        /// Its epoch.
        broker_epoch: u64,
    },
    /// A broker without a controller (`process.roles = "broker"`) long-polls a voter for an
    /// image newer than the one it has.
    FetchImage {
        /// The applied index of the broker's newest image.
        have: u64,
        /// How long the voter may wait for a newer one (bounded by [`MAX_FETCH_WAIT`]).
        wait_ms: u32,
    },
}

/// Longest a voter holds a [`Request::FetchImage`] before answering that nothing is newer.
pub const MAX_FETCH_WAIT: Duration = Duration::from_secs(5);

/// The answer to a [`Request::FetchImage`].
#[derive(Debug, Serialize, Deserialize)]
pub struct ImageReply {
    /// The active controller as this voter knows it.
    pub leader: Option<u64>,
    /// The voter's image, when newer than the one asked about (none newer within the wait:
    /// `None`).
    pub image: Option<std::sync::Arc<MetadataImage>>,
}

/// The answer to a [`Request`], of the same variant.
#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    /// To [`Request::AppendEntries`].
    AppendEntries(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    /// To [`Request::Vote`].
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    /// To [`Request::InstallSnapshot`].
    InstallSnapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    /// To [`Request::Propose`]: the log index the batch committed at.
    Propose(Result<u64, ControllerError>),
    /// To [`Request::Heartbeat`].
    Heartbeat(Result<(), ControllerError>),
    /// To [`Request::AllocateProducerIds`]: the block's first id.
    AllocateProducerIds(Result<u64, ControllerError>),
    /// To [`Request::ControlledShutdown`]: the broker is fenced, it may stop.
    ControlledShutdown(Result<(), ControllerError>),
    /// To [`Request::FetchImage`].
    FetchImage(ImageReply),
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

async fn timed<T>(
    limit: Duration,
    what: &str,
    f: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{what} timed out"),
        )),
    }
}

/// Writes one frame of `msg`.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    msg: &T,
    limit: Duration,
) -> io::Result<()> {
    let payload = postcard::to_stdvec(msg).map_err(|e| invalid(e.to_string()))?;
    if payload.len() > MAX_FRAME {
        return Err(invalid(format!("frame of {} bytes", payload.len())));
    }
    let mut buf = Vec::with_capacity(4 + payload.len());
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    buf.extend_from_slice(&payload);
    timed(limit, "write", async {
        w.write_all(&buf).await?;
        w.flush().await
    })
    .await
}

/// Reads one frame and decodes it; `Ok(None)` at a clean end of stream before a frame.
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
    limit: Duration,
) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    let first = timed(limit, "read", r.read(&mut len[..1])).await?;
    if first == 0 {
        return Ok(None);
    }
    timed(limit, "read", r.read_exact(&mut len[1..])).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(invalid(format!("frame length {len} over the limit")));
    }
    let mut payload = vec![0u8; len];
    timed(limit, "read", r.read_exact(&mut payload)).await?;
    postcard::from_bytes(&payload)
        .map(Some)
        .map_err(|e| invalid(format!("undecodable frame: {e}")))
}

/// The error of a connection that does not start with [`MAGIC`]: most likely a Kafka client
/// pointed at a controller listener.
pub const NOT_A_CONTROLLER_CONNECTION: &str = "not a controller connection (this is a controller \
     listener; Kafka clients connect to a broker's listeners, not to controller.quorum.voters)";

/// Reads and checks a connection's magic.
pub async fn read_magic<R: AsyncRead + Unpin>(r: &mut R, limit: Duration) -> io::Result<()> {
    let mut magic = [0u8; 4];
    timed(limit, "read", r.read_exact(&mut magic)).await?;
    if magic != MAGIC {
        return Err(invalid(NOT_A_CONTROLLER_CONNECTION));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_bad_ones_error() {
        let t = Duration::from_secs(1);
        let mut buf = Vec::new();
        write_frame(
            &mut buf,
            &Request::Heartbeat {
                broker_id: 1,
                broker_epoch: 2,
            },
            t,
        )
        .await
        .unwrap();
        let got: Option<Request> = read_frame(&mut &buf[..], t).await.unwrap();
        assert!(matches!(
            got,
            Some(Request::Heartbeat {
                broker_id: 1,
                broker_epoch: 2
            })
        ));
        // Cut short, too long, and garbage.
        assert!(read_frame::<_, Request>(&mut &buf[..buf.len() - 1], t)
            .await
            .is_err());
        let huge = (MAX_FRAME as u32 + 1).to_be_bytes();
        assert!(read_frame::<_, Request>(&mut &huge[..], t).await.is_err());
        let garbage = [0, 0, 0, 3, 0xff, 0xff, 0xff];
        assert!(read_frame::<_, Request>(&mut &garbage[..], t)
            .await
            .is_err());
        assert!(read_frame::<_, Request>(&mut &[][..], t)
            .await
            .unwrap()
            .is_none());
        assert!(read_magic(&mut &b"GET "[..], t).await.is_err());
    }
}
