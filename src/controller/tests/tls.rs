//! The controller quorum over mutual TLS ([`Transport::Tls`]) on loopback, with certificates
//! made by rcgen and rustls configurations built here the way the broker builds them: three
//! voters elect and apply a proposal forwarded from a follower, a remote client with its own
//! certificate proposes and fetches the image, and strangers (plaintext, no certificate, a
//! principal the authorization check refuses) get a closed connection and change nothing.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use runnel_controller::network::Connection;
use runnel_controller::wire::{Request, Response};
use runnel_controller::{
    Authorize, Controller, RemoteConfig, RemoteQuorum, ServerConfigSource, TlsTransport, Transport,
};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};

const SECS: Duration = Duration::from_secs(10);

#[allow(deprecated)] // ring: the provider the broker uses
fn provider() -> Arc<CryptoProvider> {
    Arc::new(tokio_rustls::rustls::crypto::ring::default_provider())
}

struct Ca {
    der: CertificateDer<'static>,
    params: CertificateParams,
    key: KeyPair,
}

struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

impl Identity {
    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()))
    }
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let der = params.self_signed(&key).unwrap().der().clone();
        Ca { der, params, key }
    }

    fn issue(&self, cn: &str) -> Identity {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Identity {
            chain: vec![cert.der().clone()],
            key: key.serialize_der(),
        }
    }

    fn roots(&self) -> Arc<RootCertStore> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        Arc::new(roots)
    }

    fn client(&self, me: Option<&Identity>) -> Arc<ClientConfig> {
        let b = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(self.roots());
        Arc::new(match me {
            Some(me) => b.with_client_auth_cert(me.chain.clone(), me.key()).unwrap(),
            None => b.with_no_client_auth(),
        })
    }

    /// The transport of a node with identity `me`: a server requiring client certificates
    /// (when `serves`), whose authorization refuses the certificate `refused`.
    fn transport(&self, me: &Identity, serves: bool, refused: Option<&Identity>) -> Transport {
        let server = serves.then(|| {
            let verifier = WebPkiClientVerifier::builder_with_provider(self.roots(), provider())
                .build()
                .unwrap();
            let config = Arc::new(
                ServerConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_client_cert_verifier(verifier)
                    .with_single_cert(me.chain.clone(), me.key())
                    .unwrap(),
            );
            let source: ServerConfigSource = Arc::new(move || config.clone());
            source
        });
        let authorize = refused.map(|r| {
            let refused = r.chain[0].clone();
            let check: Authorize = Arc::new(move |cert: &CertificateDer<'_>| {
                if *cert == refused {
                    Err("not a super user".to_string())
                } else {
                    Ok(())
                }
            });
            check
        });
        Transport::Tls(Arc::new(TlsTransport {
            server,
            client: self.client(Some(me)),
            server_names: Default::default(),
            authorize,
        }))
    }
}

/// Proposes a topic over a connection of `transport`: `Some` answer, or `None` when the
/// connection failed or closed before one.
async fn propose_over(t: &Transport, addr: SocketAddr, name: &str) -> Option<Response> {
    let mut conn = Connection::open(addr, t).await.ok()?;
    conn.call(&Request::Propose(topic(name, 1)), SECS)
        .await
        .ok()
}

#[tokio::test]
async fn voters_and_a_remote_client_over_mutual_tls_refuse_strangers() {
    let root = tempfile::tempdir().unwrap();
    let v = voters(&free_addrs(3));
    let ca = Ca::new("test-ca");
    let intruder = ca.issue("intruder");
    let nodes: Vec<Controller> = (1..=3u64)
        .map(|id| {
            let mut c = config(id, &v, root.path());
            c.transport = ca.transport(&ca.issue(&format!("node-{id}")), true, Some(&intruder));
            Controller::start(c).unwrap()
        })
        .collect();
    let leader = nodes[0].wait_for_leader(SECS).await.unwrap();
    let follower = nodes.iter().find(|n| n.node_id() != leader).unwrap();
    // Registered through a follower: forwarded to the leader over TLS.
    follower.propose(register(1)).await.unwrap();
    for n in &nodes {
        assert!(eventually(SECS, || n.image().broker(1).is_some()).await);
    }
    // A broker without a controller, with its own certificate.
    let remote = RemoteQuorum::start(RemoteConfig {
        node_id: 10,
        voters: v.clone(),
        request_timeout: SECS,
        transport: ca.transport(&ca.issue("node-10"), false, None),
    })
    .unwrap();
    remote.propose(topic("remote", 1)).await.unwrap();
    assert!(remote.image().topic_by_name("remote").is_some());

    // Strangers, on every voter.
    let other = Ca::new("other-ca");
    let plain = Transport::Plaintext;
    let anonymous = Transport::Tls(Arc::new(TlsTransport {
        server: None,
        client: ca.client(None),
        server_names: Default::default(),
        authorize: None,
    }));
    let foreign = other.transport(&other.issue("node-1"), false, None);
    let refused = ca.transport(&intruder, false, None);
    for (who, t) in [
        ("plaintext", &plain),
        ("no certificate", &anonymous),
        ("another CA", &foreign),
        ("refused principal", &refused),
    ] {
        for (id, addr) in &v {
            let answer = propose_over(t, *addr, &format!("stolen-{id}")).await;
            assert!(answer.is_none(), "{who} on voter {id}: {answer:?}");
        }
    }
    // A legitimate connection's proposal of the same kind is answered.
    let admitted = ca.transport(&ca.issue("node-11"), false, None);
    let answers = propose_to_each(&admitted, &v).await;
    assert!(
        answers
            .iter()
            .any(|a| matches!(a, Some(Response::Propose(Ok(_))))),
        "{answers:?}"
    );
    for n in &nodes {
        assert!(eventually(SECS, || n.image().topic_by_name("granted").is_some()).await);
        assert!((1..=3).all(|id| n.image().topic_by_name(&format!("stolen-{id}")).is_none()));
    }
    remote.shutdown().await;
    for n in nodes {
        n.shutdown().await;
    }
}

async fn propose_to_each(t: &Transport, v: &[(u64, SocketAddr)]) -> Vec<Option<Response>> {
    let mut out = Vec::new();
    for (_, addr) in v {
        out.push(propose_over(t, *addr, "granted").await);
    }
    out
}
