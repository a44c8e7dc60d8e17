//! SCRAM against RFC 7677's published exchange, a client written from RFC 5802 for
//! SCRAM-SHA-512 (which has no published vector), and hostile input.

use super::*;
use crate::security::scram_msg::decode;

/// RFC 7677 section 3: user "user", password "pencil".
const RFC_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const RFC_CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const RFC_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const RFC_SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc_credential() -> ScramCredential {
    ScramCredential::derive(
        Mechanism::Sha256,
        b"pencil",
        &decode(RFC_SALT).unwrap(),
        4096,
    )
    .unwrap()
}

#[test]
fn the_rfc_7677_exchange_is_reproduced_byte_for_byte() {
    let mut s = ScramServer::new(Mechanism::Sha256);
    let first = s
        .client_first_with_nonce(
            RFC_CLIENT_FIRST.as_bytes(),
            |u| (u == "user").then(rfc_credential),
            RFC_SERVER_NONCE,
        )
        .unwrap();
    assert_eq!(String::from_utf8(first).unwrap(), RFC_SERVER_FIRST);
    let (user, fin) = s.client_final(RFC_CLIENT_FINAL.as_bytes()).unwrap();
    assert_eq!(user, "user");
    assert_eq!(String::from_utf8(fin).unwrap(), RFC_SERVER_FINAL);
    // The exchange is over: a repeat is out of order.
    assert_eq!(
        s.client_final(RFC_CLIENT_FINAL.as_bytes()),
        Err(ScramError::OutOfOrder)
    );
}

/// A client as RFC 5802 section 3 describes it: the client-final-message for `password`.
fn client_final(
    m: Mechanism,
    password: &str,
    client_first_bare: &str,
    server_first: &str,
) -> String {
    let mut salt = None;
    let mut iterations = 0;
    let mut nonce = "";
    for attr in server_first.split(',') {
        match attr.split_at(2) {
            ("r=", v) => nonce = v,
            ("s=", v) => salt = Some(decode(v).unwrap()),
            ("i=", v) => iterations = v.parse().unwrap(),
            _ => {}
        }
    }
    let salted = m.salted_password(password.as_bytes(), &salt.unwrap(), iterations);
    let client_key = m.hmac(&salted, b"Client Key");
    let stored_key = m.hash(&client_key);
    let without_proof = format!("c=biws,r={nonce}");
    let auth = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = m.hmac(&stored_key, auth.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    format!("{without_proof},p={}", scram_msg::encode(&proof))
}

fn login(
    m: Mechanism,
    stored: &ScramCredential,
    user: &str,
    password: &str,
) -> Result<String, ScramError> {
    let mut s = ScramServer::new(m);
    let bare = format!(
        "n={},r=fyko+d2lbbFgONRv9qkxdawL",
        scram_msg::escape_name(user)
    );
    let first = s.client_first(format!("n,,{bare}").as_bytes(), |u| {
        (u == "alice,=x").then(|| stored.clone())
    })?;
    let fin = client_final(m, password, &bare, std::str::from_utf8(&first).unwrap());
    s.client_final(fin.as_bytes()).map(|(u, _)| u)
}

#[test]
fn sha512_logs_in_with_the_right_password_only() {
    let m = Mechanism::Sha512;
    let stored = ScramCredential::generate(m, "s3cret".as_bytes(), 4096).unwrap();
    assert_eq!(stored.stored_key.len(), 64);
    // The name needs escaping both ways.
    assert_eq!(login(m, &stored, "alice,=x", "s3cret").unwrap(), "alice,=x");
    assert_eq!(
        login(m, &stored, "alice,=x", "wrong"),
        Err(ScramError::InvalidCredentials)
    );
    // An unknown user gets a server-first like anyone else and fails at the proof, with the
    // same error as a wrong password.
    assert_eq!(
        login(m, &stored, "bob", "s3cret"),
        Err(ScramError::InvalidCredentials)
    );
    // A credential of the other mechanism does not log in either.
    assert_eq!(
        login(Mechanism::Sha256, &stored, "alice,=x", "s3cret"),
        Err(ScramError::InvalidCredentials)
    );
}

#[test]
fn credentials_check_passwords_and_iteration_bounds() {
    let c = ScramCredential::generate(Mechanism::Sha256, b"pw", 4096).unwrap();
    assert!(c.matches_password(b"pw"));
    assert!(!c.matches_password(b"pW"));
    let again = ScramCredential::generate(Mechanism::Sha256, b"pw", 4096).unwrap();
    assert_ne!(c.salt, again.salt, "every credential has its own salt");
    for bad in [0, 4095, 16385, u32::MAX] {
        assert_eq!(
            ScramCredential::generate(Mechanism::Sha256, b"pw", bad),
            Err(ScramError::IterationsOutOfRange)
        );
    }
}

#[test]
fn refused_first_messages() {
    let cases: &[(&str, ScramError)] = &[
        (
            "p=tls-unique,,n=user,r=abc",
            ScramError::ChannelBindingUnsupported,
        ),
        ("n,a=other,n=user,r=abc", ScramError::AuthzidMismatch),
        (
            "n,,n=user,r=abc,tokenauth=true",
            ScramError::UnsupportedExtension("tokenauth".into()),
        ),
        (
            "n,,m=ext,n=user,r=abc",
            ScramError::Malformed("mandatory extension not supported"),
        ),
        (
            "n,,n=us=er,r=abc",
            ScramError::Malformed("bad escape in user name"),
        ),
        ("n,,n=,r=abc", ScramError::Malformed("empty user name")),
        ("n,,n=user,r=a,b", ScramError::Malformed("bad extension")),
        ("n,,n=user,r=", ScramError::Malformed("bad nonce")),
        (
            "n,,r=abc,n=user",
            ScramError::Malformed("unexpected attribute"),
        ),
        (
            "x,,n=user,r=abc",
            ScramError::Malformed("bad channel binding flag"),
        ),
        ("n,,", ScramError::Malformed("unexpected attribute")),
        ("", ScramError::Malformed("no GS2 header")),
    ];
    for (msg, want) in cases {
        let mut s = ScramServer::new(Mechanism::Sha256);
        assert_eq!(
            s.client_first(msg.as_bytes(), |_| Some(rfc_credential()))
                .err()
                .as_ref(),
            Some(want),
            "{msg}"
        );
    }
    // The authorization id may name the user itself.
    let mut s = ScramServer::new(Mechanism::Sha256);
    assert!(s.client_first(b"n,a=user,n=user,r=abc", |_| None).is_ok());
    let long = format!("n,,n=user,r={}", "a".repeat(scram_msg::MAX_MESSAGE));
    let mut s = ScramServer::new(Mechanism::Sha256);
    assert_eq!(
        s.client_first(long.as_bytes(), |_| None),
        Err(ScramError::TooLong)
    );
    let mut s = ScramServer::new(Mechanism::Sha256);
    assert_eq!(
        s.client_first(&[0xff, 0xfe], |_| None),
        Err(ScramError::Malformed("not UTF-8"))
    );
}

#[test]
fn refused_final_messages() {
    let start = || {
        let mut s = ScramServer::new(Mechanism::Sha256);
        s.client_first_with_nonce(
            RFC_CLIENT_FIRST.as_bytes(),
            |_| Some(rfc_credential()),
            RFC_SERVER_NONCE,
        )
        .unwrap();
        s
    };
    let proof = RFC_CLIENT_FINAL.rsplit_once(",p=").unwrap().1;
    let cases = [
        // Another nonce.
        format!("c=biws,r=rOprNGfwEbeRWgbNEkqOX,p={proof}"),
        // Another channel binding (y,, instead of n,,).
        format!("c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p={proof}"),
    ];
    for msg in &cases {
        assert_eq!(
            start().client_final(msg.as_bytes()),
            Err(ScramError::Mismatch),
            "{msg}"
        );
    }
    let short = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA";
    assert_eq!(
        start().client_final(short.as_bytes()),
        Err(ScramError::InvalidCredentials)
    );
    let no_proof = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    assert_eq!(
        start().client_final(no_proof.as_bytes()),
        Err(ScramError::Malformed("no proof"))
    );
    let bad_b64 = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!";
    assert_eq!(
        start().client_final(bad_b64.as_bytes()),
        Err(ScramError::Malformed("bad base64"))
    );
    // A final message first is out of order.
    let mut s = ScramServer::new(Mechanism::Sha256);
    assert_eq!(
        s.client_final(RFC_CLIENT_FINAL.as_bytes()),
        Err(ScramError::OutOfOrder)
    );
}

#[test]
fn random_bytes_never_panic() {
    // A small deterministic generator: every byte string shape, thousands of times.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet = b"nyp=,ar0123456789abc=2C=3D+/\xff\x00";
    for _ in 0..20_000 {
        let len = (next() % 64) as usize;
        let msg: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let mut s = ScramServer::new(Mechanism::Sha256);
        if s.client_first(&msg, |_| Some(rfc_credential())).is_ok() {
            let _ = s.client_final(&msg);
        }
    }
}

/// librdkafka before 2.6.1 repeats its own nonce in the client-final-message
/// (`r=<client><client><server>`, librdkafka#4895); with a proof over what it sent it logs in,
/// while a nonce of any other shape is still refused.
#[test]
fn librdkafkas_repeated_client_nonce_is_accepted() {
    let m = Mechanism::Sha512;
    let stored = ScramCredential::generate(m, b"pw", 4096).unwrap();
    let bare = "n=alice,r=clientnonce";
    // Build the librdkafka message by hand: the proof is computed over the real server-first
    // and the client-final-without-proof as sent.
    let mut s = ScramServer::new(m);
    let first = s
        .client_first(format!("n,,{bare}").as_bytes(), |_| Some(stored.clone()))
        .unwrap();
    let first = String::from_utf8(first).unwrap();
    let full = &first.split(',').next().unwrap()[2..];
    let salted = m.salted_password(b"pw", &stored.salt, 4096);
    let client_key = m.hmac(&salted, b"Client Key");
    let sign = |nonce: &str| {
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("{bare},{first},{without_proof}");
        let signature = m.hmac(&m.hash(&client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        format!("{without_proof},p={}", scram_msg::encode(&proof))
    };
    let repeated = format!("clientnonce{full}");
    assert_eq!(
        s.client_final(sign(&repeated).as_bytes()).unwrap().0,
        "alice"
    );
    // Anything else around the server's nonce is refused.
    for other in [format!("xxxxxxxxxxx{full}"), format!("{full}clientnonce")] {
        let mut s = ScramServer::new(m);
        s.client_first_with_nonce(
            format!("n,,{bare}").as_bytes(),
            |_| Some(stored.clone()),
            &full["clientnonce".len()..],
        )
        .unwrap();
        assert_eq!(
            s.client_final(sign(&other).as_bytes()),
            Err(ScramError::Mismatch),
            "{other}"
        );
    }
}
