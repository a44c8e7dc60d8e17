//! Settings of the HTTP endpoint's protection (`metrics.ssl.*`, `metrics.basic.auth.*`): TLS
//! with Kafka's `ssl.*` keys under a `metrics.` prefix, and one basic-authentication user.

use anyhow::{anyhow, Result};

use crate::metrics::http_auth::BasicAuth;
use crate::security::tls::TlsSettings;

/// How `/metrics`, `/health` and `/ready` are protected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsHttpSettings {
    /// TLS, when `metrics.ssl.keystore.location` is set.
    pub tls: Option<TlsSettings>,
    /// Basic authentication, when `metrics.basic.auth.user` is set.
    pub basic: Option<BasicAuth>,
}

impl MetricsHttpSettings {
    /// From the configuration's string values (`get` answers every key of config/runnel.toml).
    pub fn from_keys(get: &dyn Fn(&str) -> Result<String>) -> Result<MetricsHttpSettings> {
        let tls = if get("metrics.ssl.keystore.location")?.is_empty() {
            None
        } else {
            let lookup = |k: &str| get(&format!("metrics.{k}")).ok().filter(|v| !v.is_empty());
            Some(TlsSettings::from_kafka_keys(lookup).map_err(|e| anyhow!("metrics.{e}"))?)
        };
        let user = get("metrics.basic.auth.user")?;
        let basic = if user.is_empty() {
            None
        } else {
            Some(
                BasicAuth::new(&user, &get("metrics.basic.auth.password.sha256")?)
                    .map_err(|e| anyhow!(e))?,
            )
        };
        Ok(MetricsHttpSettings { tls, basic })
    }
}
