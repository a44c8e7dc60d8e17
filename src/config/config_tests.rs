//! Tests of [`super::Config::load`]: defaults, files, flags and refusals.
use super::*;

#[test]
fn defaults_parse_and_flags_override() {
    let cfg = Config::load(None, &Overrides::default()).unwrap();
    assert_eq!(cfg.listen.port(), 9092);
    assert_eq!(cfg.num_partitions, 1);
    let ov = Overrides {
        listen: Some("127.0.0.1:19092".into()),
        node_id: Some(7),
        cores: Some("1".into()),
        ..Default::default()
    };
    let cfg = Config::load(None, &ov).unwrap();
    assert_eq!(cfg.listen.port(), 19092);
    assert_eq!(cfg.advertised, ("127.0.0.1".to_string(), 19092));
    assert_eq!(cfg.node_id, 7);
    assert_eq!(cfg.cores.len(), 1);
}

#[test]
fn file_overrides_defaults_with_dotted_keys() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.toml");
    std::fs::write(&p, "num.partitions = 6\n\"message.max.bytes\" = 2000\n").unwrap();
    let cfg = Config::load(Some(&p), &Overrides::default()).unwrap();
    assert_eq!(cfg.num_partitions, 6);
    assert_eq!(cfg.message_max_bytes, 2000);
}

#[test]
fn cluster_broker_files_load() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cluster/broker-2.toml");
    let cfg = Config::load(Some(&p), &Overrides::default()).unwrap();
    assert_eq!(cfg.node_id, 2);
    assert_eq!(cfg.listen, "127.0.0.1:19093".parse().unwrap());
    assert_eq!(cfg.advertised, ("127.0.0.1".to_string(), 19093));
    assert_eq!(cfg.metrics_listen, Some("127.0.0.1:19645".parse().unwrap()));
    let q = &cfg.quorum;
    assert!(q.roles.broker && q.roles.controller);
    assert_eq!(q.voters.len(), 3);
    assert_eq!(
        q.controller_listen,
        Some("127.0.0.1:19193".parse().unwrap())
    );
    // The defaults: a one-member quorum, Kafka's session timings.
    let d = Config::load(None, &Overrides::default()).unwrap().quorum;
    assert!(d.voters.is_empty() && d.controller_listen.is_none());
    assert_eq!(d.session_timeout, std::time::Duration::from_secs(9));
    assert_eq!(d.heartbeat_interval, std::time::Duration::from_secs(2));
}

#[test]
fn listener_schemes_are_stripped() {
    assert_eq!(parse_host_port("PLAINTEXT://h:1").unwrap(), ("h".into(), 1));
}

#[test]
fn out_of_range_values_in_a_file_name_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.toml");
    std::fs::write(&p, "log.segment.bytes = 10\n").unwrap();
    let e = format!(
        "{:#}",
        Config::load(Some(&p), &Overrides::default()).unwrap_err()
    );
    assert!(e.contains("log.segment.bytes = 10"), "{e}");
    assert!(e.contains("r.toml"), "{e}");
    let ov = Overrides {
        cores: Some("4096".into()),
        ..Default::default()
    };
    let e = format!("{:#}", Config::load(None, &ov).unwrap_err());
    assert!(e.contains("one executor per CPU"), "{e}");
}

#[test]
fn resource_limits_have_defaults_offs_and_ranges() {
    let l = Config::load(None, &Overrides::default()).unwrap().limits;
    assert_eq!(
        l.connections_max_idle,
        Some(std::time::Duration::from_secs(600))
    );
    assert_eq!(l.max_connections, 65536);
    assert_eq!(l.max_connections_per_ip, i32::MAX as usize);
    assert_eq!(l.queued_max_request_bytes, Some(256 << 20));
    assert_eq!(l.partitions_per_core, 7000);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.toml");
    std::fs::write(
        &p,
        "connections.max.idle.ms = -1\nqueued.max.request.bytes = -1\n",
    )
    .unwrap();
    let l = Config::load(Some(&p), &Overrides::default())
        .unwrap()
        .limits;
    assert_eq!(l.connections_max_idle, None);
    assert_eq!(l.queued_max_request_bytes, None);
    for bad in [
        "\"max.connections\" = 0",
        "runnel.request.read.timeout.ms = 0",
        "runnel.topic.partitions.per.core = 0",
        "runnel.log.open.files.per.core = 1",
        "queued.max.request.bytes = -2",
    ] {
        std::fs::write(&p, format!("{bad}\n")).unwrap();
        assert!(
            Config::load(Some(&p), &Overrides::default()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn metrics_listener_defaults_on_loopback_and_can_be_turned_off() {
    let cfg = Config::load(None, &Overrides::default()).unwrap();
    assert_eq!(cfg.metrics_listen, Some("127.0.0.1:9644".parse().unwrap()));
    assert_eq!(
        cfg.slow_request_warn,
        Some(std::time::Duration::from_secs(1))
    );
    for off in ["", "off", "OFF"] {
        let ov = Overrides {
            metrics_listen: Some(off.into()),
            ..Default::default()
        };
        assert_eq!(Config::load(None, &ov).unwrap().metrics_listen, None);
    }
    let ov = Overrides {
        metrics_listen: Some("127.0.0.1:0".into()),
        ..Default::default()
    };
    let cfg = Config::load(None, &ov).unwrap();
    assert_eq!(cfg.metrics_listen, Some("127.0.0.1:0".parse().unwrap()));
    let ov = Overrides {
        metrics_listen: Some("nonsense".into()),
        ..Default::default()
    };
    assert!(Config::load(None, &ov).is_err());
}
