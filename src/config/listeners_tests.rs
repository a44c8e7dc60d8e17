//! Named listeners: Kafka's forms, defaults and the startup refusals.

use super::*;

static NO_REAUTH: BTreeMap<String, String> = BTreeMap::new();

fn keys<'a>(
    listeners: &'a str,
    advertised: &'a str,
    per: &'a BTreeMap<String, String>,
    names: &'a [String],
) -> ListenerKeys<'a> {
    ListenerKeys {
        listeners,
        advertised,
        protocol_map: DEFAULT_PROTOCOL_MAP,
        controller_names: names,
        inter_broker: "",
        sasl_mechanisms: "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        per_listener_mechanisms: per,
        max_reauth_ms: 0,
        per_listener_reauth: &NO_REAUTH,
        listen_flag: None,
        advertised_flag: None,
    }
}

#[test]
fn plaintext_and_sasl_listeners_with_per_listener_mechanisms() {
    let names = vec!["CONTROLLER".to_string()];
    let mut per = BTreeMap::new();
    per.insert("sasl_plaintext".to_string(), "SCRAM-SHA-512".to_string());
    let k = keys(
        "PLAINTEXT://127.0.0.1:23092,SASL_PLAINTEXT://0.0.0.0:23093,CONTROLLER://127.0.0.1:23094",
        "SASL_PLAINTEXT://broker.example:9093",
        &per,
        &names,
    );
    let l = resolve_listeners(&k, true).unwrap();
    assert_eq!(l.all.len(), 2);
    assert_eq!(l.inter_broker, "PLAINTEXT");
    assert_eq!(l.all[0].protocol, SecurityProtocol::Plaintext);
    assert_eq!(l.all[0].advertised, ("127.0.0.1".to_string(), 23092));
    assert!(l.all[0].sasl_mechanisms.is_empty());
    let sasl = l.get("SASL_PLAINTEXT").unwrap();
    assert_eq!(sasl.protocol, SecurityProtocol::SaslPlaintext);
    assert_eq!(sasl.advertised, ("broker.example".to_string(), 9093));
    assert_eq!(sasl.sasl_mechanisms, vec!["SCRAM-SHA-512".to_string()]);
}

#[test]
fn a_plain_address_is_plaintext_and_the_flag_replaces_the_first_listener() {
    let per = BTreeMap::new();
    let mut k = keys("127.0.0.1:9092", "", &per, &[]);
    k.listen_flag = Some("127.0.0.1:23100");
    k.advertised_flag = Some("example:1");
    let l = resolve_listeners(&k, true).unwrap();
    assert_eq!(l.all.len(), 1);
    assert_eq!(l.all[0].name, "PLAINTEXT");
    assert_eq!(l.all[0].bind.port(), 23100);
    assert_eq!(l.all[0].advertised, ("example".to_string(), 1));
}

#[test]
fn custom_names_use_the_protocol_map() {
    let per = BTreeMap::new();
    let mut k = keys(
        "INTERNAL://127.0.0.1:23101,CLIENTS://127.0.0.1:23102",
        "",
        &per,
        &[],
    );
    k.protocol_map = "INTERNAL:PLAINTEXT,CLIENTS:SASL_PLAINTEXT";
    k.sasl_mechanisms = "PLAIN";
    let l = resolve_listeners(&k, true).unwrap();
    assert_eq!(l.inter_broker, "INTERNAL");
    assert_eq!(l.get("CLIENTS").unwrap().sasl_mechanisms, vec!["PLAIN"]);
    // A SASL-only broker: the inter-broker listener defaults to it (fine on one node).
    let k = keys("SASL_PLAINTEXT://127.0.0.1:23103", "", &per, &[]);
    assert_eq!(
        resolve_listeners(&k, true).unwrap().inter_broker,
        "SASL_PLAINTEXT"
    );
}

#[test]
fn startup_refusals_name_the_key() {
    let per = BTreeMap::new();
    let refused = |k: ListenerKeys<'_>, what: &str| {
        let e = resolve_listeners(&k, true).unwrap_err().to_string();
        assert!(e.contains(what), "{e}");
    };
    // A TLS listener without key material.
    let ssl = resolve_listeners(&keys("SSL://127.0.0.1:23104", "", &per, &[]), true).unwrap();
    assert_eq!(ssl.all[0].protocol, SecurityProtocol::Ssl);
    let e = ssl
        .with_tls(&crate::config::listener_tls::TlsKeys::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("listener SSL") && e.contains("ssl.keystore.location"),
        "{e}"
    );
    refused(keys("FOO://127.0.0.1:23104", "", &per, &[]), "FOO");
    refused(
        keys(
            "PLAINTEXT://127.0.0.1:23104,PLAINTEXT://127.0.0.1:23105",
            "",
            &per,
            &[],
        ),
        "twice",
    );
    refused(
        keys(
            "PLAINTEXT://127.0.0.1:23104",
            "SASL_PLAINTEXT://h:1",
            &per,
            &[],
        ),
        "advertised.listeners",
    );
    let mut k = keys("SASL_PLAINTEXT://127.0.0.1:23104", "", &per, &[]);
    k.sasl_mechanisms = "GSSAPI";
    refused(k, "GSSAPI");
    let mut k = keys(
        "PLAINTEXT://127.0.0.1:23104,SASL_PLAINTEXT://127.0.0.1:23105",
        "",
        &per,
        &[],
    );
    // A SASL inter-broker listener is fine here (its credentials are checked by
    // config::inter_broker); one that names no listener is not.
    k.inter_broker = "SASL_PLAINTEXT";
    assert_eq!(
        resolve_listeners(&k, true).unwrap().inter_broker,
        "SASL_PLAINTEXT"
    );
    k.inter_broker = "NOPE";
    refused(k, "inter.broker.listener.name");
    let names = vec!["CONTROLLER".to_string()];
    refused(
        keys("CONTROLLER://127.0.0.1:23104", "", &per, &names),
        "no client listener",
    );
}

#[test]
fn reauth_lifetime_defaults_to_off_and_is_set_per_listener() {
    let names = vec!["CONTROLLER".to_string()];
    let per = BTreeMap::new();
    let listeners = "PLAINTEXT://127.0.0.1:23092,SASL_PLAINTEXT://127.0.0.1:23093,\
                     INTERNAL://127.0.0.1:23095";
    let mut k = keys(listeners, "", &per, &names);
    k.protocol_map = "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT";
    let l = resolve_listeners(&k, true).unwrap();
    assert!(l.all.iter().all(|x| x.max_reauth.is_none()));

    k.max_reauth_ms = 60_000;
    let mut own = BTreeMap::new();
    own.insert("internal".to_string(), "2000".to_string());
    k.per_listener_reauth = &own;
    let l = resolve_listeners(&k, true).unwrap();
    // PLAINTEXT clients never authenticate: no session to expire.
    assert_eq!(l.get("PLAINTEXT").unwrap().max_reauth, None);
    assert_eq!(
        l.get("SASL_PLAINTEXT").unwrap().max_reauth,
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        l.get("INTERNAL").unwrap().max_reauth,
        Some(Duration::from_secs(2))
    );

    // 0 or negative turns one listener off; a non-number is refused, naming the key.
    let mut off = BTreeMap::new();
    off.insert("internal".to_string(), "-1".to_string());
    k.per_listener_reauth = &off;
    assert_eq!(
        resolve_listeners(&k, true)
            .unwrap()
            .get("INTERNAL")
            .unwrap()
            .max_reauth,
        None
    );
    let mut bad = BTreeMap::new();
    bad.insert("internal".to_string(), "soon".to_string());
    k.per_listener_reauth = &bad;
    let e = resolve_listeners(&k, true).unwrap_err().to_string();
    assert!(
        e.contains("listener.name.internal.connections.max.reauth.ms"),
        "{e}"
    );
}
