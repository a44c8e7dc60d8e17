//! The client side of TLS, for connections this broker opens to other brokers over an `SSL` or
//! `SASL_SSL` inter-broker listener: the listener's own settings turned into a rustls
//! [`ClientConfig`]. Peers are checked against the listener's truststore (there is no system
//! CA fallback: a broker that trusts nothing is refused at startup), the broker presents its
//! own certificate chain when asked (mTLS between brokers), and the peer's certificate must
//! name the host connected to unless `ssl.endpoint.identification.algorithm` is empty.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::material::{key_and_chain, provider, roots, versions};
use super::{bad, TlsConfigError, TlsSettings};

/// The client configuration of `settings` (see the module comment).
pub fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let provider = Arc::new(provider(&settings.cipher_suites)?);
    if settings.truststore.is_none() {
        return Err(bad(
            "connecting to other brokers over TLS needs ssl.truststore.location (or \
             ssl.truststore.certificates) on the inter-broker listener",
        ));
    }
    let roots = Arc::new(roots(settings.truststore.as_ref())?);
    let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| bad(format!("ssl.truststore: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = if settings.verify_hostname {
        webpki
    } else {
        Arc::new(ChainOnly(webpki))
    };
    let (chain, key) = key_and_chain(&settings.keystore)?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(&settings.protocols))
        .map_err(|e| bad(format!("ssl.enabled.protocols with ssl.cipher.suites: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(chain, key)
        .map_err(|e| bad(format!("ssl.keystore: {e}")))?;
    Ok(Arc::new(config))
}

/// WebPKI verification without the host name check (an empty
/// `ssl.endpoint.identification.algorithm`): the chain must still lead to a trusted CA, be
/// valid now and be meant for servers; only a name mismatch is forgiven.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
