//! The SASL client against RFC 7677's published SCRAM-SHA-256 exchange, and the settings it
//! reads.

use super::*;

fn props(kv: &[(&str, &str)]) -> Vec<(String, String)> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn scram_sha_256_reproduces_rfc_7677() {
    let login = Login {
        mechanism: Mechanism::ScramSha256,
        username: "user".into(),
        password: "pencil".into(),
    };
    let mut c = ScramClient::new(&login, "rOprNGfwEbeRWgbNEkqO");
    assert_eq!(c.first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                         s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    let fin = c.final_message(server_first).unwrap();
    assert_eq!(
        String::from_utf8(fin).unwrap(),
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
         p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    );
    c.verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        .unwrap();
    assert!(c.verify(b"v=AAAA").is_err());
    assert!(c.verify(b"e=invalid-proof").is_err());
}

#[test]
fn scram_refuses_bad_server_messages() {
    let login = Login {
        mechanism: Mechanism::ScramSha512,
        username: "a,b=c".into(),
        password: "pw".into(),
    };
    let c = ScramClient::new(&login, "abc");
    assert_eq!(c.first(), b"n,,n=a=2Cb=3Dc,r=abc");
    for bad in [
        &b"r=xyz123,s=AAAA,i=4096"[..], // not our nonce
        b"r=abc,s=AAAA,i=4096",         // nothing of the server's
        b"r=abcdef,s=AAAA,i=100",       // too few iterations
        b"r=abcdef,s=AAAA,i=99999999",  // too many
        b"r=abcdef,i=4096",             // no salt
        b"e=unknown-user",
    ] {
        let mut c = ScramClient::new(&login, "abc");
        assert!(c.final_message(bad).is_err(), "{bad:?}");
    }
    // No final message answered yet: nothing to verify against.
    assert!(c.verify(b"v=AAAA").is_err());
}

#[test]
fn logins_come_from_librdkafka_or_kafka_properties() {
    assert_eq!(login_from(&props(&[])).unwrap(), None);
    for no_sasl in ["plaintext", "SSL"] {
        let p = props(&[("security.protocol", no_sasl)]);
        assert_eq!(login_from(&p).unwrap(), None);
    }
    let l = login_from(&props(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanisms", "scram-sha-512"),
        ("sasl.username", "alice"),
        ("sasl.password", "pw"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(l.mechanism, Mechanism::ScramSha512);
    assert_eq!((l.username.as_str(), l.password.as_str()), ("alice", "pw"));
    // Kafka's --command-config form; a later sasl.username wins.
    let jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required \
                username=\"bob\" password=\"b p=w\";";
    let l = login_from(&props(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.jaas.config", jaas),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!((l.username.as_str(), l.password.as_str()), ("bob", "b p=w"));
    assert_eq!(plain_token(&l), b"\0bob\0b p=w");
    for bad in [
        props(&[("security.protocol", "SASL_PLAINTEXT")]),
        props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "GSSAPI"),
        ]),
        props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "u"),
        ]),
        props(&[("security.protocol", "KERBEROS")]),
    ] {
        assert!(login_from(&bad).is_err(), "{bad:?}");
    }
}
