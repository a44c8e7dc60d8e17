//! Malformed input: garbage, truncated and oversized frames close that connection only; an
//! ApiVersions request of an unknown version gets the v0 UNSUPPORTED_VERSION answer (KIP-511).
//! Hand-written frames are used here on purpose: no client sends such bytes.

use crate::common;

use std::io::{Read, Write};

use common::client::{self, Msg};
use common::raw::{closed, connect, framed};
use common::Broker;
use rdkafka::Offset;

fn still_serves(b: &Broker) {
    let msgs = vec![Msg {
        partition: Some(0),
        value: Some(b"alive".to_vec()),
        ..Default::default()
    }];
    let r = client::produce(&b.bootstrap(), "alive", &msgs, &[]);
    let got = client::consume(
        &b.bootstrap(),
        "alive",
        &[0],
        Offset::Offset(r[0].1),
        1,
        &[],
    );
    assert_eq!(got[0].value.as_deref(), Some(&b"alive"[..]));
}

#[test]
fn garbage_truncated_and_oversized_frames_disconnect_only_that_client() {
    let b = Broker::start();
    // A connection that stays open and idle throughout.
    let idle = connect(&b);
    // Pure garbage with a plausible size.
    let mut s = connect(&b);
    let mut frame = 40i32.to_be_bytes().to_vec();
    frame.extend((0..40).map(|i| (i * 37 % 251) as u8));
    s.write_all(&frame).unwrap();
    assert!(closed(s), "garbage closes the connection");
    // Unknown API key.
    let mut s = connect(&b);
    let mut frame = 10i32.to_be_bytes().to_vec();
    frame.extend_from_slice(&[0x7f, 0x00, 0, 1, 0, 0, 0, 1, 0xff, 0xff]);
    s.write_all(&frame).unwrap();
    assert!(closed(s), "unknown API key closes the connection");
    // Negative and oversized sizes.
    for size in [-5i32, 3, 200 << 20] {
        let mut s = connect(&b);
        s.write_all(&size.to_be_bytes()).unwrap();
        assert!(closed(s), "size {size} closes the connection");
    }
    // A Metadata v9 request cut short (valid header, truncated body).
    let mut s = connect(&b);
    let body: Vec<u8> = [
        &3i16.to_be_bytes()[..],
        &9i16.to_be_bytes(),
        &7i32.to_be_bytes(),
        &(-1i16).to_be_bytes(),
        &[0u8],
        &[5u8],
    ]
    .concat();
    s.write_all(&framed(&body)).unwrap();
    assert!(closed(s), "truncated body closes the connection");
    // A frame whose declared size is never fully sent, then the client goes away.
    let mut s = connect(&b);
    s.write_all(&100i32.to_be_bytes()).unwrap();
    s.write_all(&[0, 18, 0, 3]).unwrap();
    drop(s);
    // A produce with a corrupted batch gets CORRUPT_MESSAGE through a real client? librdkafka
    // computes CRCs itself, so corruption is covered by the storage unit tests instead.
    still_serves(&b);
    drop(idle);
    assert!(b.log_text().contains("core ready"));
}

#[test]
fn unknown_api_versions_version_gets_v0_fallback() {
    let b = Broker::start();
    let mut s = connect(&b);
    // ApiVersions v99, flexible-style header the broker cannot parse.
    let body: Vec<u8> = [
        &18i16.to_be_bytes()[..],
        &99i16.to_be_bytes(),
        &42i32.to_be_bytes(),
        &(-1i16).to_be_bytes(),
        &[0u8, 0, 0],
    ]
    .concat();
    s.write_all(&framed(&body)).unwrap();
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let n = i32::from_be_bytes(size) as usize;
    let mut resp = vec![0u8; n];
    s.read_exact(&mut resp).unwrap();
    assert_eq!(
        i32::from_be_bytes(resp[0..4].try_into().unwrap()),
        42,
        "correlation id"
    );
    assert_eq!(
        i16::from_be_bytes(resp[4..6].try_into().unwrap()),
        35,
        "UNSUPPORTED_VERSION"
    );
    let count = i32::from_be_bytes(resp[6..10].try_into().unwrap());
    assert!(count >= 7, "v0 body lists the supported APIs ({count})");
    // ApiVersions (18) must be listed with max version 4.
    let mut found = false;
    for i in 0..count as usize {
        let at = 10 + i * 6;
        let key = i16::from_be_bytes(resp[at..at + 2].try_into().unwrap());
        let max = i16::from_be_bytes(resp[at + 4..at + 6].try_into().unwrap());
        if key == 18 {
            assert_eq!(max, 4);
            found = true;
        }
    }
    assert!(found);
}
