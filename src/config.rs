//! Broker configuration: built-in defaults, overridden by a TOML file, overridden by flags.
//!
//! Keys use Kafka's names where Kafka has one. In the TOML file they may be written as dotted
//! keys (`num.partitions = 3`) or quoted (`"num.partitions" = 3`); both mean the same.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cluster::bounds;
use crate::cluster::broker_config::{parse_table, BrokerConfigs};
use crate::cluster::topic_config::TopicDefaults;

pub mod authorizer;
pub mod controller_tls;
pub mod cores;
mod dynamic;
pub mod inter_broker;
pub mod listener_tls;
pub mod listeners;
pub mod metrics_http;
pub mod quorum;
pub mod replica;

pub use crate::cluster::broker_config::{builtin_value, DEFAULT_CONFIG};
pub use crate::cluster::dynamic_config::groups::GroupSettings;

/// Fully resolved broker configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the first client listener binds (`listeners`).
    pub listen: SocketAddr,
    /// Host and port advertised for the first client listener (`advertised.listeners`).
    pub advertised: (String, u16),
    /// Every client listener, with its name, security protocol and SASL mechanisms.
    pub listeners: listeners::Listeners,
    /// How this broker connects and logs in to the other brokers (the inter-broker listener's
    /// TLS and SASL; `sasl.mechanism.inter.broker.protocol`, `sasl.jaas.config`).
    pub inter_broker_auth: inter_broker::InterBrokerAuth,
    /// Data directory (`log.dirs`).
    pub data_dir: PathBuf,
    /// This broker's node id (`node.id`).
    pub node_id: i32,
    /// Roles, controller quorum, rack and heartbeat timing (`process.roles`,
    /// `controller.quorum.voters`, ...).
    pub quorum: quorum::QuorumSettings,
    /// CPUs to run one executor on each.
    pub cores: Vec<usize>,
    /// Partitions of auto-created topics and of CreateTopics with -1 (`num.partitions`).
    pub num_partitions: i32,
    /// Whether Metadata requests may create missing topics (`auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// The ACL authorizer's settings, `None` without one (`authorizer.class.name`; see
    /// [`authorizer`]).
    pub authorizer: Option<crate::security::acl::AuthorizerSettings>,
    /// Replication factor used when a request says -1 (`default.replication.factor`).
    pub default_replication_factor: i16,
    /// Follower fetch settings (`replica.fetch.*`).
    pub replica_fetch: replica::ReplicaFetch,
    /// Largest record batch accepted (`message.max.bytes`).
    pub message_max_bytes: usize,
    /// Largest request frame accepted (`socket.request.max.bytes`).
    pub socket_request_max_bytes: usize,
    /// Recent-batch cache per core (`runnel.cache.bytes.per.core`).
    pub cache_bytes_per_core: usize,
    /// Busy-poll time before an idle executor parks (`runnel.spin.before.park.us`).
    pub spin_before_park_us: u64,
    /// Address of the metrics and health HTTP listener (`metrics.listen`); `None`: off.
    pub metrics_listen: Option<SocketAddr>,
    /// TLS and basic authentication of that listener (`metrics.ssl.*`, `metrics.basic.auth.*`).
    pub metrics_http: metrics_http::MetricsHttpSettings,
    /// Requests slower than this are logged (`runnel.slow.request.warn.ms`); `None`: never.
    pub slow_request_warn: Option<std::time::Duration>,
    /// Connection and request-reading limits.
    pub limits: LimitSettings,
    /// Consumer-group coordinator settings.
    pub groups: GroupSettings,
    /// Transaction coordinator settings.
    pub txns: TxnSettings,
    /// Log housekeeping settings (retention checks, the cleaner, preallocation).
    pub log: LogSettings,
    /// Broker-level defaults of topic configs (`log.retention.ms` for `retention.ms`, ...).
    pub topic_defaults: TopicDefaults,
    /// Every broker config with its static value (file, flag or built-in), for
    /// DescribeConfigs.
    pub broker_configs: BrokerConfigs,
    /// Configs changed at run time (AlterConfigs), applied over the static ones by
    /// [`Config::with_dynamic`].
    pub dynamic: std::sync::Arc<crate::cluster::dynamic_config::DynamicConfigs>,
    /// Where the values came from, for the startup log.
    pub source: String,
    /// How long a stop (SIGTERM) may take before the process exits anyway
    /// (`runnel.shutdown.timeout.ms`).
    pub shutdown_timeout: std::time::Duration,
    /// `/health` fails when a core's periodic timer has not run for this long
    /// (`runnel.health.stall.timeout.ms`).
    pub health_stall_timeout: std::time::Duration,
    /// Every periodic loop turns this often when non-zero (`runnel.test.periodic.interval.us`;
    /// for the long-run regression test only).
    pub periodic_interval_override_us: u64,
}

/// Limits on connections, request reading and partitions (Kafka's names where Kafka has one).
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// connections.max.idle.ms: a connection with no traffic and no request in flight for this
    /// long is closed; `None` (-1): never.
    pub connections_max_idle: Option<std::time::Duration>,
    /// runnel.request.read.timeout.ms: a request frame that has started must be complete
    /// within this, or the connection is closed.
    pub request_read_timeout: std::time::Duration,
    /// max.connections: open client connections, broker-wide.
    pub max_connections: usize,
    /// max.connections.per.ip: open client connections from one address.
    pub max_connections_per_ip: usize,
    /// queued.max.request.bytes: bytes of requests being read or processed, per core; `None`
    /// (-1): no budget.
    pub queued_max_request_bytes: Option<usize>,
    /// runnel.topic.partitions.per.core: partitions one core may own.
    pub partitions_per_core: usize,
    /// runnel.log.open.files.per.core: segment files a core keeps open at once.
    pub open_segment_files_per_core: usize,
}

/// Transaction coordinator settings (Kafka's names in `config/runnel.toml`).
#[derive(Debug, Clone)]
pub struct TxnSettings {
    /// transaction.state.log.num.partitions
    pub state_partitions: i32,
    /// transaction.state.log.replication.factor (capped by the live brokers at creation)
    pub state_replication_factor: usize,
    /// transaction.state.log.min.isr: `min.insync.replicas` of `__transaction_state`
    pub state_min_isr: i64,
    /// transaction.max.timeout.ms
    pub max_timeout_ms: i32,
    /// transaction.abort.timed.out.transaction.cleanup.interval.ms
    pub abort_check_interval_ms: u64,
}

/// Log housekeeping settings (Kafka's names in `config/runnel.toml`).
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// log.retention.check.interval.ms: how often each core applies retention.
    pub retention_check_interval_ms: u64,
    /// log.cleaner.backoff.ms: how often each core looks for logs to compact.
    pub cleaner_backoff_ms: u64,
    /// log.cleaner.dedupe.buffer.size: memory for one compaction's key map, per core.
    pub cleaner_dedupe_buffer_bytes: usize,
    /// runnel.preallocate.step.bytes: disk space reserved ahead of the write position.
    pub preallocate_step_bytes: u64,
}

/// Values given on the command line; `None` keeps the file's or default value.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--listen`
    pub listen: Option<String>,
    /// `--advertised-listener`
    pub advertised: Option<String>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--cores`
    pub cores: Option<String>,
    /// `--node-id`
    pub node_id: Option<i32>,
    /// `--metrics-listen` (empty or `off` disables the listener)
    pub metrics_listen: Option<String>,
}

/// Strips an optional `PLAINTEXT://` (or any `NAME://`) prefix from a listener.
fn strip_scheme(s: &str) -> &str {
    s.split_once("://").map(|(_, r)| r).unwrap_or(s)
}

fn parse_host_port(s: &str) -> Result<(String, u16)> {
    let s = strip_scheme(s.split(',').next().unwrap_or(s).trim());
    let (h, p) = s
        .rsplit_once(':')
        .with_context(|| format!("listener '{s}' is not HOST:PORT"))?;
    let port: u16 = p.parse().with_context(|| format!("bad port in '{s}'"))?;
    let host = h.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok((host.to_string(), port))
}

/// Parses a metrics listener: `HOST:PORT`, or empty / `off` for none.
fn parse_metrics_listen(s: &str) -> Result<Option<SocketAddr>> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (h, p) = parse_host_port(s)?;
    use std::net::ToSocketAddrs;
    let addr = (h.as_str(), p)
        .to_socket_addrs()
        .with_context(|| format!("resolving metrics listener {s}"))?
        .next()
        .with_context(|| format!("metrics listener {s} resolves to no address"))?;
    Ok(Some(addr))
}

/// The connection, request-reading and partition limits (ranges checked by [`crate::cluster::bounds`]).
fn limit_settings(get_int: &dyn Fn(&str) -> Result<i64>) -> Result<LimitSettings> {
    use std::time::Duration;
    let positive = |k: &str| -> Result<Option<u64>> {
        let v = get_int(k)?;
        Ok((v > 0).then_some(v as u64))
    };
    let need = |k: &str| -> Result<u64> { Ok(get_int(k)?.max(1) as u64) };
    Ok(LimitSettings {
        connections_max_idle: positive("connections.max.idle.ms")?.map(Duration::from_millis),
        request_read_timeout: Duration::from_millis(need("runnel.request.read.timeout.ms")?),
        max_connections: need("max.connections")? as usize,
        max_connections_per_ip: need("max.connections.per.ip")? as usize,
        queued_max_request_bytes: positive("queued.max.request.bytes")?.map(|b| b as usize),
        partitions_per_core: need("runnel.topic.partitions.per.core")? as usize,
        open_segment_files_per_core: need("runnel.log.open.files.per.core")? as usize,
    })
}

impl Config {
    /// Loads the configuration: embedded defaults, then `file` if given, then `ov`.
    pub fn load(file: Option<&Path>, ov: &Overrides) -> Result<Config> {
        let mut table = parse_table(DEFAULT_CONFIG).context("embedded default config")?;
        let mut source = "built-in defaults".to_string();
        let mut explicit = std::collections::BTreeSet::new();
        let mut per_listener = std::collections::BTreeMap::new();
        let mut per_listener_reauth = std::collections::BTreeMap::new();
        let mut tls_keys = listener_tls::TlsKeys::default();
        let mut jaas_keys = inter_broker::JaasKeys::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            for (k, v) in parse_table(&text)? {
                if tls_keys.take(&k, &v) || jaas_keys.take(&k, &v) {
                    continue;
                }
                if let Some(name) = k
                    .strip_prefix("listener.name.")
                    .and_then(|r| r.strip_suffix(".sasl.enabled.mechanisms"))
                {
                    let v = v.as_str().map(str::to_string).unwrap_or(v.to_string());
                    per_listener.insert(name.to_ascii_lowercase(), v);
                    continue;
                }
                if let Some(name) = k
                    .strip_prefix("listener.name.")
                    .and_then(|r| r.strip_suffix(".connections.max.reauth.ms"))
                {
                    let v = v.as_str().map(str::to_string).unwrap_or(v.to_string());
                    per_listener_reauth.insert(name.to_ascii_lowercase(), v);
                    continue;
                }
                if !table.contains_key(&k) {
                    tracing::warn!(key = %k, "unknown configuration key ignored");
                    continue;
                }
                explicit.insert(k.clone());
                table.insert(k, v);
            }
            source = format!("{}", path.display());
        }
        let origin = |k: &str| -> String {
            if explicit.contains(k) {
                format!("set in {source}")
            } else {
                "built-in default".to_string()
            }
        };
        bounds::check(&table, &origin)?;
        if let Some(n) = ov.node_id {
            if n < 0 {
                bail!("--node-id {n} is out of range: it must be at least 0");
            }
        }
        let get_str = |k: &str| -> Result<String> {
            match table.get(k) {
                Some(toml::Value::String(s)) => Ok(s.clone()),
                Some(v) => Ok(v.to_string()),
                None => bail!("missing config key {k}"),
            }
        };
        let get_int = |k: &str| -> Result<i64> {
            match table.get(k) {
                Some(toml::Value::Integer(i)) => Ok(*i),
                Some(toml::Value::String(s)) => {
                    s.parse().with_context(|| format!("{k} must be an integer"))
                }
                _ => bail!("config key {k} must be an integer"),
            }
        };
        let get_bool = |k: &str| -> Result<bool> {
            match table.get(k) {
                Some(toml::Value::Boolean(b)) => Ok(*b),
                Some(toml::Value::String(s)) => s
                    .parse()
                    .with_context(|| format!("{k} must be true or false")),
                _ => bail!("config key {k} must be a boolean"),
            }
        };
        let node_id = ov.node_id.unwrap_or(get_int("node.id")? as i32);
        let (_, controller_listener) = quorum::split_listeners(
            &get_str("listeners")?,
            &get_str("controller.listener.names")?,
        );
        let mut quorum = quorum::QuorumSettings::from_keys(&quorum::QuorumKeys {
            node_id,
            roles: &get_str("process.roles")?,
            voters: &get_str("controller.quorum.voters")?,
            controller_listener: controller_listener.as_deref(),
            rack: &get_str("broker.rack")?,
            session_timeout_ms: get_int("broker.session.timeout.ms")?,
            heartbeat_interval_ms: get_int("broker.heartbeat.interval.ms")?,
        })?;
        quorum.leader_rebalance =
            get_bool("auto.leader.rebalance.enable")?.then(|| runnel_controller::LeaderRebalance {
                interval: std::time::Duration::from_secs(
                    get_int("leader.imbalance.check.interval.seconds")
                        .unwrap_or(300)
                        .max(1) as u64,
                ),
                percentage: get_int("leader.imbalance.per.broker.percentage")
                    .unwrap_or(10)
                    .clamp(0, 100) as u32,
            });
        quorum.unclean_leader_election = get_bool("unclean.leader.election.enable")?;
        let listeners = listeners::resolve_listeners(
            &listeners::ListenerKeys {
                listeners: &get_str("listeners")?,
                advertised: &get_str("advertised.listeners")?,
                protocol_map: &get_str("listener.security.protocol.map")?,
                controller_names: &quorum::controller_names(&get_str("controller.listener.names")?),
                inter_broker: &get_str("inter.broker.listener.name")?,
                sasl_mechanisms: &get_str("sasl.enabled.mechanisms")?,
                per_listener_mechanisms: &per_listener,
                max_reauth_ms: get_int("connections.max.reauth.ms")?,
                per_listener_reauth: &per_listener_reauth,
                listen_flag: ov.listen.as_deref(),
                advertised_flag: ov.advertised.as_deref(),
            },
            quorum.roles.broker,
        )?;
        let listeners = listeners.with_tls(&tls_keys)?;
        let inter_broker_auth = inter_broker::resolve(
            &listeners,
            &get_str("sasl.mechanism.inter.broker.protocol")?,
            &jaas_keys,
            quorum.voters.len() > 1 || !quorum.roles.controller,
        )?;
        quorum.tls = controller_tls::resolve(
            &controller_tls::ControllerTlsKeys {
                protocol_map: &get_str("listener.security.protocol.map")?,
                controller_names: &quorum::controller_names(&get_str("controller.listener.names")?),
                voters: &get_str("controller.quorum.voters")?,
                resolved_voters: &quorum.voters,
                serves: quorum.roles.controller,
            },
            &tls_keys,
        )?;
        let listen = listeners.all[0].bind;
        let advertised = listeners.all[0].advertised.clone();
        let data_dir = ov.data_dir.clone().unwrap_or_else(|| {
            PathBuf::from(get_str("log.dirs").unwrap_or_else(|_| "./data".into()))
        });
        let cores_spec = match &ov.cores {
            Some(c) => c.clone(),
            None => get_str("cores")?,
        };
        let cores = cores::resolve(&cores_spec, &cores::allowed_cpus())?;
        let cfg = Config {
            listen,
            advertised,
            listeners,
            inter_broker_auth,
            data_dir,
            node_id,
            quorum,
            cores,
            num_partitions: get_int("num.partitions")? as i32,
            auto_create_topics: get_bool("auto.create.topics.enable")?,
            authorizer: authorizer::settings(
                &get_str("authorizer.class.name")?,
                &get_str("super.users")?,
                get_bool("allow.everyone.if.no.acl.found")?,
            )?,
            default_replication_factor: get_int("default.replication.factor")? as i16,
            replica_fetch: replica::ReplicaFetch::from_keys(&get_int)?,
            message_max_bytes: get_int("message.max.bytes")?.max(1) as usize,
            socket_request_max_bytes: get_int("socket.request.max.bytes")?.max(1024) as usize,
            cache_bytes_per_core: get_int("runnel.cache.bytes.per.core")?.max(0) as usize,
            spin_before_park_us: get_int("runnel.spin.before.park.us")?.max(0) as u64,
            metrics_listen: parse_metrics_listen(&match &ov.metrics_listen {
                Some(m) => m.clone(),
                None => get_str("metrics.listen")?,
            })?,
            metrics_http: metrics_http::MetricsHttpSettings::from_keys(&get_str)?,
            slow_request_warn: match get_int("runnel.slow.request.warn.ms")? {
                ms if ms <= 0 => None,
                ms => Some(std::time::Duration::from_millis(ms as u64)),
            },
            limits: limit_settings(&get_int)?,
            groups: GroupSettings {
                offsets_partitions: get_int("offsets.topic.num.partitions")?.clamp(1, 1000) as i32,
                offsets_replication_factor: get_int("offsets.topic.replication.factor")?
                    .clamp(1, i16::MAX as i64) as usize,
                initial_rebalance_delay_ms: get_int("group.initial.rebalance.delay.ms")?.max(0)
                    as u64,
                min_session_timeout_ms: get_int("group.min.session.timeout.ms")? as i32,
                max_session_timeout_ms: get_int("group.max.session.timeout.ms")? as i32,
                max_size: get_int("group.max.size")?.clamp(1, i32::MAX as i64) as usize,
                offsets_retention_ms: get_int("offsets.retention.minutes")?.max(1) as u64 * 60_000,
                offset_metadata_max_bytes: get_int("offset.metadata.max.bytes")?.max(0) as usize,
                consumer_session_timeout_ms: get_int("group.consumer.session.timeout.ms")? as i32,
                consumer_heartbeat_interval_ms: get_int("group.consumer.heartbeat.interval.ms")?
                    as i32,
                consumer_min_session_timeout_ms: get_int("group.consumer.min.session.timeout.ms")?
                    as i32,
                consumer_max_session_timeout_ms: get_int("group.consumer.max.session.timeout.ms")?
                    as i32,
                consumer_min_heartbeat_interval_ms: get_int(
                    "group.consumer.min.heartbeat.interval.ms",
                )? as i32,
                consumer_max_heartbeat_interval_ms: get_int(
                    "group.consumer.max.heartbeat.interval.ms",
                )? as i32,
                consumer_assignors: get_str("group.consumer.assignors")?
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            },
            txns: TxnSettings {
                state_partitions: get_int("transaction.state.log.num.partitions")?.clamp(1, 1000)
                    as i32,
                state_replication_factor: get_int("transaction.state.log.replication.factor")?
                    .clamp(1, i16::MAX as i64) as usize,
                state_min_isr: get_int("transaction.state.log.min.isr")?.max(1),
                max_timeout_ms: get_int("transaction.max.timeout.ms")?.clamp(1, i32::MAX as i64)
                    as i32,
                abort_check_interval_ms: get_int(
                    "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                )?
                .max(10) as u64,
            },
            log: LogSettings {
                retention_check_interval_ms: get_int("log.retention.check.interval.ms")?.max(10)
                    as u64,
                cleaner_backoff_ms: get_int("log.cleaner.backoff.ms")?.max(10) as u64,
                cleaner_dedupe_buffer_bytes: get_int("log.cleaner.dedupe.buffer.size")?.max(1 << 20)
                    as usize,
                preallocate_step_bytes: get_int("runnel.preallocate.step.bytes")?.max(0) as u64,
            },
            topic_defaults: TopicDefaults::from_broker(
                &table
                    .iter()
                    .map(|(k, v)| {
                        let v = match v {
                            toml::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            broker_configs: BrokerConfigs::from_table(&table, &explicit),
            dynamic: Default::default(),
            shutdown_timeout: std::time::Duration::from_millis(get_int(
                "runnel.shutdown.timeout.ms",
            )? as u64),
            health_stall_timeout: std::time::Duration::from_millis(get_int(
                "runnel.health.stall.timeout.ms",
            )? as u64),
            periodic_interval_override_us: get_int("runnel.test.periodic.interval.us")? as u64,
            source,
        };
        let mut cfg = cfg;
        if ov.listen.is_some() {
            let all: Vec<String> = (cfg.listeners.all.iter())
                .map(|l| format!("{}://{}", l.name, l.bind))
                .collect();
            cfg.broker_configs.set_from_flag("listeners", all.join(","));
        }
        if ov.advertised.is_some() {
            let (h, p) = &cfg.advertised;
            cfg.broker_configs
                .set_from_flag("advertised.listeners", format!("{h}:{p}"));
        }
        if let Some(d) = &ov.data_dir {
            cfg.broker_configs
                .set_from_flag("log.dirs", d.display().to_string());
        }
        if let Some(c) = &ov.cores {
            cfg.broker_configs.set_from_flag("cores", c.clone());
        }
        if let Some(n) = ov.node_id {
            cfg.broker_configs.set_from_flag("node.id", n.to_string());
        }
        if let Some(m) = &ov.metrics_listen {
            cfg.broker_configs
                .set_from_flag("metrics.listen", m.clone());
        }
        if cfg.num_partitions < 1 {
            bail!("num.partitions must be at least 1");
        }
        Ok(cfg)
    }
}

#[cfg(test)]
#[path = "config/config_tests.rs"]
mod tests;
