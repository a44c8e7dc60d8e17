//! Tests of [`Peers`] against a real TCP peer on loopback (a glommio listener answering
//! WriteTxnMarkers frames): answers decode, a closed connection is reopened, an unknown broker,
//! an oversized answer and a silent peer are errors, and one connection serves many requests.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpListener;
use kafka_protocol::messages::write_txn_markers_response::WritableTxnMarkerResult;
use kafka_protocol::messages::{
    ProducerId, ResponseHeader, WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};
use kafka_protocol::protocol::Encodable;
use runnel_controller::records::{
    Endpoint, MetadataRecord, RegisterBrokerRecord, UnfenceBrokerRecord,
};
use runnel_controller::{MetadataImage, RecordBatch};

use super::*;
use crate::cluster::membership::CLIENT_LISTENER;

/// How the fake peer answers the next request.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Answers, keeps the connection.
    Answer,
    /// Answers, then closes the connection.
    AnswerAndClose,
    /// Claims an answer of 1 GiB.
    Huge,
    /// Never answers.
    Silent,
}

/// An image in which broker `id` is registered and unfenced at 127.0.0.1:`port`.
/// A response check that lets every answer through (these tests are about the transport; the
/// real check, `kafka::validate::check_peer_response`, is tested with the layouts).
fn fits(_: i16, _: i16, _: &[u8]) -> Result<(), String> {
    Ok(())
}

/// A response check that refuses every answer.
fn refuses(_: i16, _: i16, _: &[u8]) -> Result<(), String> {
    Err("array count over the bytes left".into())
}

fn state_with(id: i32, port: u16) -> Arc<ClusterState> {
    let rec = RegisterBrokerRecord {
        broker_id: id,
        incarnation_id: uuid::Uuid::new_v4(),
        endpoints: vec![Endpoint {
            name: CLIENT_LISTENER.into(),
            host: "127.0.0.1".into(),
            port,
            security_protocol: "PLAINTEXT".into(),
        }],
        rack: None,
    };
    let image = MetadataImage::default()
        .apply(&RecordBatch::one(MetadataRecord::RegisterBroker(rec)), 1)
        .unwrap();
    let unfence = UnfenceBrokerRecord {
        broker_id: id,
        broker_epoch: 1,
    };
    let image = image
        .apply(&RecordBatch::one(MetadataRecord::UnfenceBroker(unfence)), 2)
        .unwrap();
    Arc::new(ClusterState {
        image: Arc::new(image),
        ..Default::default()
    })
}

/// Serves connections on `listener`, answering as `mode` says; counts accepted connections.
fn serve(listener: TcpListener, mode: Rc<Cell<Mode>>, accepted: Rc<Cell<usize>>) {
    glommio::spawn_local(async move {
        while let Ok(mut s) = listener.accept().await {
            accepted.set(accepted.get() + 1);
            let mode = mode.clone();
            glommio::spawn_local(async move {
                loop {
                    let mut size = [0u8; 4];
                    if s.read_exact(&mut size).await.is_err() {
                        return;
                    }
                    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
                    if s.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let correlation = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                    let m = mode.get();
                    let out = match m {
                        Mode::Silent => continue,
                        Mode::Huge => (1i32 << 30).to_be_bytes().to_vec(),
                        Mode::Answer | Mode::AnswerAndClose => answer(correlation),
                    };
                    if s.write_all(&out).await.is_err() {
                        return;
                    }
                    if m == Mode::AnswerAndClose {
                        return;
                    }
                }
            })
            .detach();
        }
    })
    .detach();
}

/// A size-prefixed WriteTxnMarkers v1 answer for producer 7.
fn answer(correlation_id: i32) -> Vec<u8> {
    let mut resp = WriteTxnMarkersResponse::default();
    let mut m = WritableTxnMarkerResult::default();
    m.producer_id = ProducerId(7);
    resp.markers.push(m);
    let mut h = ResponseHeader::default();
    h.correlation_id = correlation_id;
    let mut b = BytesMut::new();
    h.encode(&mut b, 1).unwrap();
    resp.encode(&mut b, 1).unwrap();
    let mut out = (b.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&b);
    out
}

#[test]
fn requests_reach_a_real_peer_and_errors_reopen_the_connection() {
    let ex = glommio::LocalExecutorBuilder::default().make().unwrap();
    ex.run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Rc::new(Cell::new(Mode::Answer));
        let accepted = Rc::new(Cell::new(0));
        serve(listener, mode.clone(), accepted.clone());
        let state = state_with(2, port);
        let settings = Settings {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_millis(300),
            max_response: 4096,
            ..Settings::new(fits)
        };
        let peers = Peers::new(
            "runnel-broker-1".into(),
            settings,
            Box::new(move || state.clone()),
        );
        let req = WriteTxnMarkersRequest::default();
        // Many requests, one connection.
        for _ in 0..5 {
            let r = peers.send(2, 1, &req).await.unwrap();
            assert_eq!(r.markers[0].producer_id, ProducerId(7));
        }
        assert_eq!(accepted.get(), 1);
        assert_eq!(peers.open_connections(), 1);
        // The peer closes after answering: the next request fails, the one after reconnects.
        mode.set(Mode::AnswerAndClose);
        peers.send(2, 1, &req).await.unwrap();
        mode.set(Mode::Answer);
        let e = peers.send(2, 1, &req).await.unwrap_err();
        assert!(matches!(e, PeerError::Io(_)), "{e:?}");
        assert_eq!(peers.open_connections(), 0);
        peers.send(2, 1, &req).await.unwrap();
        assert_eq!(accepted.get(), 2);
        // An answer above the bound, and no answer at all, drop the connection.
        mode.set(Mode::Huge);
        let e = peers.send(2, 1, &req).await.unwrap_err();
        assert_eq!(e, PeerError::TooLarge(1 << 30));
        mode.set(Mode::Silent);
        let e = peers.send(2, 1, &req).await.unwrap_err();
        assert_eq!(e, PeerError::Timeout);
        assert_eq!(peers.open_connections(), 0);
        mode.set(Mode::Answer);
        peers.send(2, 1, &req).await.unwrap();
        assert_eq!(accepted.get(), 4);
        // A broker the image does not have.
        let e = peers.send(9, 1, &req).await.unwrap_err();
        assert_eq!(e, PeerError::NoEndpoint(9));
    });
}

#[test]
fn a_closed_port_is_a_connect_error() {
    let ex = glommio::LocalExecutorBuilder::default().make().unwrap();
    ex.run(async {
        // Bound then dropped: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let state = state_with(3, port);
        let peers = Peers::new(
            "t".into(),
            Settings::new(fits),
            Box::new(move || state.clone()),
        );
        let e = peers
            .send(3, 1, &WriteTxnMarkersRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(e, PeerError::Connect(_)), "{e:?}");
    });
}

#[test]
fn an_answer_its_check_refuses_is_malformed_and_drops_the_connection() {
    let ex = glommio::LocalExecutorBuilder::default().make().unwrap();
    ex.run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Rc::new(Cell::new(Mode::Answer));
        let accepted = Rc::new(Cell::new(0));
        serve(listener, mode, accepted.clone());
        let state = state_with(2, port);
        let peers = Peers::new(
            "t".into(),
            Settings::new(refuses),
            Box::new(move || state.clone()),
        );
        let req = WriteTxnMarkersRequest::default();
        let e = peers.send(2, 1, &req).await.unwrap_err();
        assert!(
            matches!(&e, PeerError::Malformed(m) if m.contains("array count")),
            "{e:?}"
        );
        assert_eq!(peers.open_connections(), 0);
    });
}
