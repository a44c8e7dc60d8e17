//! Hostile clients against a real broker: frames whose counts and lengths claim far more than
//! they hold (the 25-byte Metadata frame of issue 16, which used to abort the broker on a
//! huge allocation), truncated frames and huge sizes, over every advertised API and version.
//! Each closes only its own connection: fresh clients keep working, the process stays up, and
//! every record acknowledged before and during the attack is read back at the end.
//! Hand-written frames are used on purpose: no client sends such bytes.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::client::{self, Msg};
use common::raw::{closed, connect, framed, hex};
use common::Broker;
use kafka_protocol::messages::ApiKey;
use rdkafka::Offset;
use runnel::kafka::apis::api_versions::ADVERTISED;
use runnel::kafka::validate::corpus::default_frame;

const TOPIC: &str = "kept";

/// Sends `bytes` as they are (size prefix included) on a new connection and returns it.
fn send(b: &Broker, bytes: &[u8]) -> TcpStream {
    let mut s = connect(b);
    // The broker may close before reading everything: a failed write is fine.
    let _ = s.write_all(bytes);
    s
}

/// The broker process is running and a fresh connection gets an ApiVersions answer.
fn alive(b: &mut Broker, after: &str) {
    let status = b.child.as_mut().unwrap().try_wait().unwrap();
    assert!(
        status.is_none(),
        "broker exited ({status:?}) after {after}: {}",
        b.log_text()
    );
    let mut s = connect(b);
    // ApiVersions v0, correlation id 1, null client id.
    s.write_all(&framed(&[0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff]))
        .unwrap_or_else(|e| panic!("fresh client cannot write after {after}: {e}"));
    let mut head = [0u8; 8];
    s.read_exact(&mut head)
        .unwrap_or_else(|e| panic!("fresh client gets no answer after {after}: {e}"));
    assert_eq!(
        &head[4..],
        &1i32.to_be_bytes(),
        "correlation id after {after}"
    );
}

/// A librdkafka producer gets `value` acknowledged; returns its offset.
fn produce_acked(b: &Broker, value: &str) -> i64 {
    let msgs = vec![Msg {
        partition: Some(0),
        value: Some(value.as_bytes().to_vec()),
        ..Default::default()
    }];
    let r = client::produce(&b.bootstrap(), TOPIC, &msgs, &[("acks", "all")]);
    assert_eq!(r.len(), 1, "{value} acknowledged");
    r[0].1
}

fn header_len(key: ApiKey, version: i16) -> usize {
    // api key, version, correlation id, client id "corpus" (as default_frame writes it), and
    // the tagged-field count in header v2.
    let v2 = !(key == ApiKey::Produce && version < 3) && key.request_header_version(version) >= 2;
    16 + usize::from(v2)
}

/// Hostile variants of a valid frame: every body position overwritten with a huge int32
/// count/length, a five-byte varint of 2^32-1, an int16 length of 32767, and the body cut short.
fn variants(key: ApiKey, version: i16) -> Vec<Vec<u8>> {
    let base = default_frame(key, version);
    let body = header_len(key, version);
    let mut out = Vec::new();
    for pos in body..base.len() {
        for patch in [
            &[0x7f, 0x7f, 0x7f, 0x7f][..],
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0x7f, 0xff],
        ] {
            let mut f = base[..pos].to_vec();
            f.extend_from_slice(patch);
            if f.len() < base.len() {
                f.extend_from_slice(&base[f.len()..]);
            }
            out.push(framed(&f));
        }
    }
    for cut in body..base.len() {
        out.push(framed(&base[..cut]));
    }
    out
}

#[test]
fn hostile_frames_disconnect_only_their_client_and_lose_nothing() {
    let mut b = Broker::start();
    client::create_topic(&b.bootstrap(), TOPIC, 1);
    let mut acked = vec![(produce_acked(&b, "before"), "before".to_string())];

    // The frame of issue 16: Metadata v0 whose topic array claims 0x7f7f7f7f entries.
    let metadata = hex("0000001500030000000534ec0007686f7374696c657f7f7f7f");
    assert!(
        closed(send(&b, &metadata)),
        "the Metadata frame closes its connection"
    );
    alive(&mut b, "the Metadata frame of issue 16");

    // Sizes: negative, huge, and a frame cut off by the client's close.
    for bytes in [
        &[0xff, 0xff, 0xff, 0xfe][..],
        &[0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0],
        &[0, 0, 0, 100, 0, 3, 0, 0, 0, 0, 0, 1],
    ] {
        drop(send(&b, bytes));
        alive(&mut b, &format!("size frame {bytes:02x?}"));
    }

    let mut sent = 0;
    for &(key, min, max) in ADVERTISED {
        for version in min..=max {
            for frame in variants(key, version) {
                // Whatever the broker makes of it (most are refused, a few are valid requests),
                // the connection is dropped without waiting for an answer.
                drop(send(&b, &frame));
                sent += 1;
                if sent % 100 == 0 {
                    alive(&mut b, &format!("{key:?} v{version} frame {frame:02x?}"));
                }
            }
        }
        alive(&mut b, &format!("the {key:?} frames"));
        let value = format!("after {key:?}");
        acked.push((produce_acked(&b, &value), value));
    }
    assert!(sent > 2_000, "only {sent} frames sent");

    // Every acknowledged record is still there, in order.
    let got = client::consume(
        &b.bootstrap(),
        TOPIC,
        &[0],
        Offset::Beginning,
        acked.len(),
        &[],
    );
    let got: Vec<(i64, String)> = got
        .iter()
        .map(|g| {
            (
                g.offset,
                String::from_utf8_lossy(g.value.as_deref().unwrap_or_default()).into(),
            )
        })
        .collect();
    assert_eq!(got, acked);
    alive(&mut b, "the whole run");
}
