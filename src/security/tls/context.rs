//! [`TlsContext`]: a listener's TLS server configuration, shared by every core, rebuilt when the
//! files it was made from change (certificate rotation without a restart). Files are looked at
//! (one `stat` each) at most once per check interval, when a connection is accepted; a rebuild
//! that fails (a half-written file, a key that does not match) keeps the configuration in use
//! and logs why, once per change.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use rustls::{ClientConfig, ServerConfig};

use super::{material, TlsConfigError, TlsSettings};

/// How often the files are looked at by default.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// What a file looked like: modification time and length (`None`: unreadable).
type Stamp = Option<(SystemTime, u64)>;

/// A listener's TLS configuration (see the module comment).
pub struct TlsContext {
    settings: TlsSettings,
    current: RwLock<Arc<ServerConfig>>,
    /// The client side of the same settings (connections to other brokers), made on first use
    /// and again after each reload.
    client: Mutex<Option<Arc<ClientConfig>>>,
    check_every: Duration,
    /// When the files were last looked at, and what they looked like then.
    seen: Mutex<(Instant, Vec<(PathBuf, Stamp)>)>,
}

impl TlsContext {
    /// Builds the configuration of `settings` (an error names the setting or file at fault).
    pub fn new(settings: TlsSettings) -> Result<TlsContext, TlsConfigError> {
        Self::with_check_interval(settings, DEFAULT_CHECK_INTERVAL)
    }

    /// [`TlsContext::new`], looking at the files every `check_every`.
    pub fn with_check_interval(
        settings: TlsSettings,
        check_every: Duration,
    ) -> Result<TlsContext, TlsConfigError> {
        let stamps = stamps(&settings);
        let config = material::server_config(&settings)?;
        Ok(TlsContext {
            settings,
            current: RwLock::new(config),
            client: Mutex::new(None),
            check_every,
            seen: Mutex::new((Instant::now(), stamps)),
        })
    }

    /// The settings it was made from.
    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// The configuration for a new connection, rebuilt first when a file changed since the
    /// last look (at most once per check interval).
    pub fn config(&self) -> Arc<ServerConfig> {
        self.maybe_reload();
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The client configuration of the same settings, for a new connection to another broker
    /// (see [`super::client`]); rebuilt after the files change, like [`TlsContext::config`].
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsConfigError> {
        self.maybe_reload();
        let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = client.as_ref() {
            return Ok(c.clone());
        }
        let made = super::client::client_config(&self.settings)?;
        *client = Some(made.clone());
        Ok(made)
    }

    /// Rebuilds the configuration now; `Ok(())` once the new one is in use.
    pub fn reload(&self) -> Result<(), TlsConfigError> {
        let config = material::server_config(&self.settings)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
        *self.client.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }

    fn maybe_reload(&self) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.0.elapsed() < self.check_every {
            return;
        }
        seen.0 = Instant::now();
        let now = stamps(&self.settings);
        if now == seen.1 {
            return;
        }
        // Remembered even when the rebuild fails: the next change is tried, this one is not
        // retried (and logged) at every check.
        seen.1 = now;
        drop(seen);
        match self.reload() {
            Ok(()) => tracing::info!(files = ?self.settings.files(), "TLS key material reloaded"),
            Err(e) => tracing::warn!(error = %e,
                "TLS key material changed but cannot be used; keeping the previous one"),
        }
    }
}

fn stamps(settings: &TlsSettings) -> Vec<(PathBuf, Stamp)> {
    settings
        .files()
        .into_iter()
        .map(|p| {
            let stamp = std::fs::metadata(&p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            (p, stamp)
        })
        .collect()
}
