//! Three-broker clusters for tests: config/cluster/broker-N.toml with the controller ports of
//! the test, the client and metrics listeners left to the harness's flags, and short session
//! timings so that fencing is quick.

use std::time::Duration;

use super::Broker;

/// Session timeout of the test brokers (Kafka's default is 9 s).
pub const SESSION_MS: u64 = 3000;
/// Heartbeat interval of the test brokers (Kafka's default is 2 s).
pub const HEARTBEAT_MS: u64 = 300;
/// Bound on every wait for a cluster to settle.
pub const SETTLE: Duration = Duration::from_secs(40);

/// The config of broker `n` from config/cluster/broker-N.toml with the controller ports
/// replaced by `ctl` (voters 1-3), the client and metrics listeners left to the harness's
/// flags, and short session timings.
pub fn config(n: usize, ctl: &[u16; 3]) -> String {
    let path = format!(
        "{}/config/cluster/broker-{n}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut text: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("advertised.listeners") && !l.starts_with("metrics.listen"))
        .map(|l| format!("{l}\n"))
        .collect();
    for (i, port) in ctl.iter().enumerate() {
        text = text.replace(
            &format!("127.0.0.1:{}", 19192 + i),
            &format!("127.0.0.1:{port}"),
        );
    }
    assert!(
        (0..3).all(|i| !text.contains(&format!("127.0.0.1:{}", 19192 + i))),
        "every controller port rewritten: {text}"
    );
    text.push_str(&format!(
        "broker.session.timeout.ms = {SESSION_MS}\nbroker.heartbeat.interval.ms = {HEARTBEAT_MS}\n"
    ));
    text
}

/// Starts broker `n` of the cluster (one core each: three brokers share the test machine).
pub fn start(n: usize, ctl: &[u16; 3]) -> Broker {
    Broker::start_with_config(&config(n, ctl), &["--cores", "1"])
}

/// Starts brokers 1-3 of the cluster together and waits until each listens (a broker listens
/// once the quorum has unfenced it, and one voter of three alone has no quorum).
pub fn start_all(ctl: &[u16; 3]) -> Vec<Broker> {
    let mut brokers: Vec<Broker> = (1..=3)
        .map(|n| Broker::launch_with_config(&config(n, ctl), &["--cores", "1"]))
        .collect();
    for b in &mut brokers {
        b.wait_ready();
    }
    brokers
}

/// Polls `f` every 100 ms until `ok` accepts a value it returns (`None`: nothing to judge
/// yet), at most `limit`; panics with the last value seen.
pub fn within<T: std::fmt::Debug>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Option<T>,
    ok: impl Fn(&T) -> bool,
) -> T {
    let end = std::time::Instant::now() + limit;
    let mut last = None;
    loop {
        if let Some(v) = f() {
            if ok(&v) {
                return v;
            }
            last = Some(v);
        }
        assert!(
            std::time::Instant::now() < end,
            "{what}: last seen {last:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// [`within`] [`SETTLE`].
pub fn until_some<T: std::fmt::Debug>(
    what: &str,
    f: impl FnMut() -> Option<T>,
    ok: impl Fn(&T) -> bool,
) -> T {
    within(what, SETTLE, f, ok)
}

/// Polls `f` until `ok` accepts its value, at most [`SETTLE`].
pub fn until<T: std::fmt::Debug>(
    what: &str,
    mut f: impl FnMut() -> T,
    ok: impl Fn(&T) -> bool,
) -> T {
    within(what, SETTLE, || Some(f()), ok)
}
