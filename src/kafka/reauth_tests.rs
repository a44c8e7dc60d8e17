//! The re-authentication state machine: session lifetimes, a successful re-login, and the
//! refusals (another principal or mechanism, a wrong password, a deleted credential, the
//! one-second rate, v0 handshakes, timeouts).

use super::*;

fn mechs() -> Vec<String> {
    ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn cred(m: Mechanism, password: &[u8]) -> ScramCredential {
    ScramCredential::derive(m, password, b"salty-salt", 4096).unwrap()
}

/// alice (password `a-pw`) and bob (`b-pw`), SCRAM-SHA-512 credentials.
fn users(u: &str, m: Mechanism) -> Option<ScramCredential> {
    match (u, m) {
        ("alice", Mechanism::Sha512) => Some(cred(m, b"a-pw")),
        ("bob", Mechanism::Sha512) => Some(cred(m, b"b-pw")),
        _ => None,
    }
}

fn nobody(_: &str, _: Mechanism) -> Option<ScramCredential> {
    None
}

const LIFE: Duration = Duration::from_secs(2);

fn session(t0: Instant) -> Session {
    Session::new("alice", "PLAIN", Some(LIFE), t0)
}

fn auth_resp(v: &Verdict) -> &SaslAuthenticateResponse {
    match v {
        Verdict::Answer(ResponseKind::SaslAuthenticate(r))
        | Verdict::Reauthenticated(ResponseKind::SaslAuthenticate(r))
        | Verdict::Failed(ResponseKind::SaslAuthenticate(r), _) => r,
        other => panic!("not a SaslAuthenticate answer: {other:?}"),
    }
}

fn handshake_code(v: &Verdict) -> i16 {
    match v {
        Verdict::Answer(ResponseKind::SaslHandshake(r))
        | Verdict::Failed(ResponseKind::SaslHandshake(r), _) => r.error_code,
        other => panic!("not a SaslHandshake answer: {other:?}"),
    }
}

#[test]
fn lifetimes_are_reported_in_ms_and_expire_after_the_lifetime() {
    assert_eq!(lifetime_ms(None), 0);
    assert_eq!(lifetime_ms(Some(LIFE)), 2000);
    assert_eq!(lifetime_ms(Some(Duration::MAX)), i64::MAX);
    let t0 = Instant::now();
    let s = session(t0);
    assert!(!s.expired(t0 + LIFE));
    assert!(s.expired(t0 + LIFE + Duration::from_millis(1)));
    // Off, or a lifetime past what an Instant holds: never.
    assert!(!Session::new("alice", "PLAIN", None, t0).expired(t0 + LIFE * 1000));
    assert!(!Session::new("alice", "PLAIN", Some(Duration::MAX), t0).expired(t0 + LIFE));
}

#[test]
fn a_relogin_as_the_same_user_restarts_the_session() {
    let t0 = Instant::now();
    let mut s = session(t0);
    let t1 = t0 + Duration::from_millis(1500);
    let v = s.handshake("PLAIN", 1, &mechs(), t1);
    assert_eq!(handshake_code(&v), 0);
    assert!(matches!(v, Verdict::Answer(_)));
    assert_eq!(s.pending_deadline(), Some(t1 + AUTH_TIMEOUT));
    let v = s.authenticate(b"\0alice\0a-pw", t1, users);
    assert!(matches!(v, Verdict::Reauthenticated(_)), "{v:?}");
    let r = auth_resp(&v);
    assert_eq!((r.error_code, r.session_lifetime_ms), (0, 2000));
    assert_eq!(s.pending_deadline(), None);
    // The new session runs from t1, past the first one's end.
    assert!(!s.expired(t0 + LIFE + Duration::from_millis(100)));
    assert!(s.expired(t1 + LIFE + Duration::from_millis(1)));
    // A SaslAuthenticate outside an exchange: ILLEGAL_SASL_STATE, the connection stays.
    let v = s.authenticate(b"\0alice\0a-pw", t1, users);
    assert!(matches!(v, Verdict::Answer(_)));
    assert_eq!(auth_resp(&v).error_code, 34);
}

#[test]
fn another_principal_is_refused() {
    let t0 = Instant::now();
    let mut s = session(t0);
    s.handshake("PLAIN", 1, &mechs(), t0);
    let v = s.authenticate(b"\0bob\0b-pw", t0, users);
    let r = auth_resp(&v);
    assert!(matches!(v, Verdict::Failed(..)));
    assert_eq!(r.error_code, 58);
    let msg = r.error_message.as_ref().unwrap().to_string();
    assert!(msg.contains("Cannot change principals"), "{msg}");
    assert!(
        msg.contains("User.alice") && msg.contains("User.bob"),
        "{msg}"
    );
}

#[test]
fn a_wrong_password_or_a_deleted_credential_is_refused() {
    let t0 = Instant::now();
    let mut s = session(t0);
    s.handshake("PLAIN", 1, &mechs(), t0);
    let v = s.authenticate(b"\0alice\0wrong", t0, users);
    assert!(matches!(v, Verdict::Failed(..)));
    assert_eq!(auth_resp(&v).error_code, 58);

    let mut s = session(t0);
    s.handshake("PLAIN", 1, &mechs(), t0);
    let v = s.authenticate(b"\0alice\0a-pw", t0, nobody);
    assert!(matches!(v, Verdict::Failed(..)));
    assert_eq!(auth_resp(&v).error_code, 58);
}

#[test]
fn another_mechanism_is_refused_at_its_first_token() {
    let t0 = Instant::now();
    let mut s = session(t0);
    // The handshake itself succeeds, as on Kafka.
    let v = s.handshake("SCRAM-SHA-512", 1, &mechs(), t0);
    assert_eq!(handshake_code(&v), 0);
    let v = s.authenticate(b"n,,n=alice,r=abcdefgh", t0, users);
    assert!(matches!(v, Verdict::Failed(..)));
    let r = auth_resp(&v);
    assert_eq!(r.error_code, 58);
    let msg = r.error_message.as_ref().unwrap().to_string();
    assert!(
        msg.contains("re-authentication of mechanism 'PLAIN'"),
        "{msg}"
    );
    // A mechanism the listener does not offer: UNSUPPORTED_SASL_MECHANISM, then closed.
    let mut s = session(t0);
    let v = s.handshake("GSSAPI", 1, &mechs(), t0);
    assert!(matches!(v, Verdict::Failed(..)));
    assert_eq!(handshake_code(&v), 33);
}

#[test]
fn off_early_v0_and_nested_handshakes() {
    let t0 = Instant::now();
    // Re-authentication off: ILLEGAL_SASL_STATE, the connection stays, nothing expires.
    let mut off = Session::new("alice", "PLAIN", None, t0);
    let v = off.handshake("PLAIN", 1, &mechs(), t0);
    assert!(matches!(v, Verdict::Answer(_)));
    assert_eq!(handshake_code(&v), 34);
    assert_eq!(off.pending_deadline(), None);

    // Once a second at most: a second start within it is refused, the session goes on...
    let mut s = session(t0);
    s.handshake("PLAIN", 1, &mechs(), t0);
    assert!(matches!(
        s.authenticate(b"\0alice\0a-pw", t0, users),
        Verdict::Reauthenticated(_)
    ));
    let soon = t0 + Duration::from_millis(500);
    let v = s.handshake("PLAIN", 1, &mechs(), soon);
    assert!(matches!(v, Verdict::Answer(_)));
    assert_eq!(handshake_code(&v), 34);
    assert_eq!(s.pending_deadline(), None);
    // ...unless it has expired by then: closed unanswered.
    let mut short = Session::new("alice", "PLAIN", Some(Duration::from_millis(100)), t0);
    short.handshake("PLAIN", 1, &mechs(), t0);
    short.authenticate(b"\0alice\0a-pw", t0, users);
    assert!(matches!(
        short.handshake("PLAIN", 1, &mechs(), soon),
        Verdict::Close(Closing::Expired)
    ));

    // v0 (raw tokens) cannot re-authenticate.
    let mut s = session(t0);
    let v = s.handshake("PLAIN", 0, &mechs(), t0);
    assert!(matches!(v, Verdict::Failed(..)));
    // A second handshake inside an exchange fails it.
    let mut s = session(t0);
    s.handshake("PLAIN", 1, &mechs(), t0);
    assert!(matches!(
        s.handshake("PLAIN", 1, &mechs(), t0),
        Verdict::Failed(..)
    ));
}

#[test]
fn a_late_token_or_a_request_after_expiry_closes() {
    let t0 = Instant::now();
    let mut s = session(t0);
    s.handshake("PLAIN", 1, &mechs(), t0);
    let late = t0 + AUTH_TIMEOUT + Duration::from_millis(1);
    assert!(matches!(
        s.authenticate(b"\0alice\0a-pw", late, users),
        Verdict::Close(Closing::Overdue)
    ));
    // Expired, no exchange: a SaslAuthenticate is an ordinary request, so the end.
    let s2 = &mut session(t0);
    assert!(matches!(
        s2.authenticate(b"\0alice\0a-pw", t0 + LIFE * 2, users),
        Verdict::Close(Closing::Expired)
    ));
    // Expired, then re-authenticated: alive again.
    let mut s3 = session(t0);
    let after = t0 + LIFE * 2;
    assert!(s3.expired(after));
    s3.handshake("PLAIN", 1, &mechs(), after);
    assert!(matches!(
        s3.authenticate(b"\0alice\0a-pw", after, users),
        Verdict::Reauthenticated(_)
    ));
    assert!(!s3.expired(after));
}
