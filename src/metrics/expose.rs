//! The Prometheus text exposition format (version 0.0.4) of the whole registry.
//!
//! Every family gets `# HELP` and `# TYPE` lines; histograms get cumulative `_bucket` series
//! with an `le` label, `_sum` and `_count`. Label values are escaped (backslash, double quote,
//! newline), since group ids may hold any character. Consumer-group lag is computed here, from
//! the group offsets and high watermarks the cores published last.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use kafka_protocol::messages::ApiKey;

use super::core::{CoreMetrics, PartitionGauge, Snapshot};
use super::histogram::{HistogramSnapshot, LATENCY_BOUNDS_S};
use super::registry::Registry;

/// The name of API key `key` ("Produce"), or its number when unknown.
pub fn api_name(key: i16) -> String {
    match ApiKey::try_from(key) {
        Ok(k) => format!("{k:?}"),
        Err(_) => key.to_string(),
    }
}

/// Content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                self.0.push_str(k);
                self.0.push_str("=\"");
                escape_into(&mut self.0, v);
                self.0.push('"');
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &HistogramSnapshot) {
        let bucket = format!("{name}_bucket");
        let mut with_le: Vec<(&str, &str)> = labels.to_vec();
        let bounds: Vec<String> = LATENCY_BOUNDS_S.iter().map(|b| b.to_string()).collect();
        for (i, c) in h.cumulative.iter().enumerate() {
            let le = bounds.get(i).map(String::as_str).unwrap_or("+Inf");
            with_le.push(("le", le));
            self.sample(&bucket, &with_le, c);
            with_le.pop();
        }
        self.sample(&format!("{name}_sum"), labels, h.sum_s);
        self.sample(&format!("{name}_count"), labels, h.count);
    }
}

fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Encodes every metric of `reg`.
pub fn render(reg: &Registry) -> String {
    let mut o = Out(String::with_capacity(64 * 1024));
    let cores = reg.cores();
    let core_names: Vec<String> = cores.iter().map(|c| c.core.to_string()).collect();

    o.family(
        "runnel_build_info",
        "gauge",
        "Always 1; the version label is the broker's version.",
    );
    o.sample(
        "runnel_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );
    o.family(
        "runnel_uptime_seconds",
        "gauge",
        "Seconds since the broker started.",
    );
    o.sample("runnel_uptime_seconds", &[], reg.uptime().as_secs_f64());
    o.family(
        "runnel_ready",
        "gauge",
        "1 when every core has loaded its partitions and listens, and the broker is registered with the controller quorum.",
    );
    o.sample("runnel_ready", &[], u8::from(reg.is_ready()));

    o.family(
        "runnel_requests_total",
        "counter",
        "Requests handled, by API and core.",
    );
    for (c, cn) in cores.iter().zip(&core_names) {
        for (key, a) in c.apis.iter().enumerate() {
            let n = a.requests.load(Ordering::Relaxed);
            if n > 0 {
                let api = api_name(key as i16);
                o.sample("runnel_requests_total", &[("api", &api), ("core", cn)], n);
            }
        }
    }
    o.family(
        "runnel_request_duration_seconds",
        "histogram",
        "Time from decoding a request to its response being ready, by API and core.",
    );
    for (c, cn) in cores.iter().zip(&core_names) {
        for (key, a) in c.apis.iter().enumerate() {
            if a.latency.count() > 0 {
                let api = api_name(key as i16);
                let labels = [("api", api.as_str()), ("core", cn.as_str())];
                o.histogram(
                    "runnel_request_duration_seconds",
                    &labels,
                    &a.latency.snapshot(),
                );
            }
        }
    }
    o.family(
        "runnel_request_errors_total",
        "counter",
        "Non-zero error codes in responses (one per partition, topic or group entry), by API, \
         core and Kafka error code.",
    );
    for (c, cn) in cores.iter().zip(&core_names) {
        for ((api, code), n) in c.errors.entries() {
            let (api, code) = (api_name(api), code.to_string());
            let labels = [
                ("api", api.as_str()),
                ("core", cn.as_str()),
                ("code", &code),
            ];
            o.sample(
                "runnel_request_errors_total",
                &labels,
                n.load(Ordering::Relaxed),
            );
        }
    }
    per_core(&mut o, reg, &core_names);
    topics(&mut o, reg);
    let snaps: Vec<Arc<Snapshot>> = cores.iter().map(|c| c.snapshot()).collect();
    partitions_and_groups(&mut o, &snaps);
    o.0
}

fn per_core(o: &mut Out, reg: &Registry, core_names: &[String]) {
    let cores = reg.cores();
    type Get = fn(&CoreMetrics) -> u64;
    type Get2 = fn(&CoreMetrics, usize) -> u64;
    let counters: [(&str, &str, Get); 10] = [
        (
            "runnel_requests_dropped_total",
            "Request frames that closed the connection (unknown API or version, malformed).",
            |c| c.dropped_requests.load(Ordering::Relaxed),
        ),
        (
            "runnel_slow_requests_total",
            "Requests slower than runnel.slow.request.warn.ms (long-polling APIs excluded).",
            |c| c.slow_requests.load(Ordering::Relaxed),
        ),
        (
            "runnel_connections_accepted_total",
            "Client connections accepted, by core.",
            |c| c.connections_accepted.load(Ordering::Relaxed),
        ),
        (
            "runnel_storage_errors_total",
            "Failed writes and syncs of partition logs (KAFKA_STORAGE_ERROR), by core.",
            |c| c.storage_errors.load(Ordering::Relaxed),
        ),
        (
            "runnel_replica_fetches_served_total",
            "Partition reads served to followers' fetches by this broker as a leader, by core.",
            |c| c.replica_fetches_served.load(Ordering::Relaxed),
        ),
        (
            "runnel_isr_shrinks_total",
            "ISR shrinks committed by this broker's partition leaders (a follower left), by core.",
            |c| c.isr_shrinks.load(Ordering::Relaxed),
        ),
        (
            "runnel_isr_expands_total",
            "ISR expands committed by this broker's partition leaders (a follower joined), by core.",
            |c| c.isr_expands.load(Ordering::Relaxed),
        ),
        (
            "runnel_leader_elections_total",
            "Leader elections (leader epoch changes) in the metadata images this broker \
             installed, counted on core 0 (every broker counts the whole cluster's).",
            |c| c.leader_elections.load(Ordering::Relaxed),
        ),
        (
            "runnel_corrupt_batch_reads_total",
            "Fetches answered CORRUPT_MESSAGE because a stored batch failed its check, by core.",
            |c| c.corrupt_batch_reads.load(Ordering::Relaxed),
        ),
        (
            "runnel_sasl_sessions_expired_total",
            "SASL connections closed at a request that came after their session expired \
             (connections.max.reauth.ms) without re-authentication.",
            |c| c.sasl_sessions_expired.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, get) in counters {
        o.family(name, "counter", help);
        for (c, cn) in cores.iter().zip(core_names) {
            o.sample(name, &[("core", cn)], get(c));
        }
    }
    let labelled: [(&str, &str, &str, [&str; 2], Get2); 6] = [
        (
            "runnel_follower_fetch_requests_total",
            "Fetch requests this broker's followers sent to partition leaders: answered, or \
             failed (no answer, or an answer refused).",
            "result",
            ["ok", "error"],
            |c, i| c.follower_fetches[i].load(Ordering::Relaxed),
        ),
        (
            "runnel_connections_rejected_total",
            "Connections closed right after accept, over a connection limit.",
            "reason",
            ["max_connections", "max_connections_per_ip"],
            |c, i| c.connections_rejected[i].load(Ordering::Relaxed),
        ),
        (
            "runnel_connections_timed_out_total",
            "Connections closed by a timer: idle, or a request frame not complete in time.",
            "reason",
            ["idle", "partial_request"],
            |c, i| c.connections_timed_out[i].load(Ordering::Relaxed),
        ),
        (
            "runnel_sasl_authentications_total",
            "SASL authentications on SASL listeners: succeeded, or failed (wrong credentials, a \
             refused mechanism, a request before authentication, a timeout).",
            "result",
            ["succeeded", "failed"],
            |c, i| c.sasl_authentications[i].load(Ordering::Relaxed),
        ),
        (
            "runnel_sasl_reauthentications_total",
            "SASL re-authentications on an authenticated connection (KIP-368): succeeded, or \
             failed (wrong credentials, another principal or mechanism, a timeout).",
            "result",
            ["succeeded", "failed"],
            |c, i| c.sasl_reauthentications[i].load(Ordering::Relaxed),
        ),
        (
            "runnel_tls_handshakes_total",
            "TLS handshakes on SSL and SASL_SSL listeners: completed, or failed (not TLS, a \
             refused certificate or protocol version, a timeout).",
            "result",
            ["completed", "failed"],
            |c, i| c.tls_handshakes[i].load(Ordering::Relaxed),
        ),
    ];
    for (name, help, label, values, get) in labelled {
        o.family(name, "counter", help);
        for (c, cn) in cores.iter().zip(core_names) {
            for (i, v) in values.iter().enumerate() {
                o.sample(name, &[("core", cn), (label, v)], get(c, i));
            }
        }
    }
    o.family(
        "runnel_periodic_turns_total",
        "counter",
        "Turns of each periodic loop of a core (stop watch, sweeps, housekeeping, metrics).",
    );
    for (c, cn) in cores.iter().zip(core_names) {
        for l in crate::periodic::Loop::ALL {
            let n = c.periodic_turns[l.index()].load(Ordering::Relaxed);
            o.sample(
                "runnel_periodic_turns_total",
                &[("core", cn.as_str()), ("loop", l.name())],
                n,
            );
        }
    }
    o.family(
        "runnel_connections_open",
        "gauge",
        "Client connections open, by core.",
    );
    for (c, cn) in cores.iter().zip(core_names) {
        let n = c.connections_open.load(Ordering::Relaxed);
        o.sample("runnel_connections_open", &[("core", cn)], n);
    }
    o.family(
        "runnel_under_replicated_partitions",
        "gauge",
        "Replicated partitions led here whose ISR is smaller than their replica set, by core.",
    );
    for (c, cn) in cores.iter().zip(core_names) {
        let n = c.under_replicated.load(Ordering::Relaxed);
        o.sample("runnel_under_replicated_partitions", &[("core", cn)], n);
    }
    type GetGauge = fn(&CoreMetrics) -> i64;
    let gauges: [(&str, &str, GetGauge); 3] = [
        (
            "runnel_under_min_isr_partitions",
            "Replicated partitions led here whose ISR is smaller than their effective \
             min.insync.replicas (acks=all is refused), by core.",
            |c| c.under_min_isr.load(Ordering::Relaxed),
        ),
        (
            "runnel_offline_partitions",
            "Partitions of the cluster without a leader in the newest metadata image, set by \
             core 0.",
            |c| c.offline_partitions.load(Ordering::Relaxed),
        ),
        (
            "runnel_follower_max_lag",
            "The largest lag in offsets (leader's high watermark minus log end offset) of the \
             partitions this core follows, from their last fetch answers, by core.",
            |c| c.follower_max_lag.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, get) in gauges {
        o.family(name, "gauge", help);
        for (c, cn) in cores.iter().zip(core_names) {
            o.sample(name, &[("core", cn)], get(c));
        }
    }
    o.family(
        "runnel_partitions_offline",
        "gauge",
        "Partitions offline after a failed fsync (KAFKA_STORAGE_ERROR until restart), by core.",
    );
    for (c, cn) in cores.iter().zip(core_names) {
        let n = c.partitions_offline.load(Ordering::Relaxed);
        o.sample("runnel_partitions_offline", &[("core", cn)], n);
    }
    o.family(
        "runnel_fetch_waiting",
        "gauge",
        "Long-polling fetches waiting for data on this core's partitions, by core.",
    );
    for (c, cn) in cores.iter().zip(core_names) {
        let n = c.fetch_waiting.load(Ordering::Relaxed);
        o.sample("runnel_fetch_waiting", &[("core", cn)], n);
    }
    o.family(
        "runnel_fsync_duration_seconds",
        "histogram",
        "Duration of each group-commit fdatasync of a partition log, by core.",
    );
    for (c, cn) in cores.iter().zip(core_names) {
        o.histogram(
            "runnel_fsync_duration_seconds",
            &[("core", cn)],
            &c.fsync.snapshot(),
        );
    }
    o.family(
        "runnel_forwarded_requests_total",
        "counter",
        "Calls a core sent to another core over the channel mesh, by sender and target.",
    );
    for (c, cn) in cores.iter().zip(core_names) {
        for (t, n) in c.forwards.iter().enumerate() {
            if t != c.core {
                let t = t.to_string();
                let labels = [("core", cn.as_str()), ("target", t.as_str())];
                o.sample(
                    "runnel_forwarded_requests_total",
                    &labels,
                    n.load(Ordering::Relaxed),
                );
            }
        }
    }
    o.family(
        "runnel_forward_duration_seconds",
        "histogram",
        "Round trip of calls to other cores (sent to answered), by sending core.",
    );
    for (c, cn) in cores.iter().zip(core_names) {
        let h = c.forward_latency.snapshot();
        o.histogram("runnel_forward_duration_seconds", &[("core", cn)], &h);
    }
    o.family(
        "runnel_reactor_stall_seconds",
        "histogram",
        "How late each core's 100 ms timer fired: time its reactor could not react.",
    );
    for (c, cn) in cores.iter().zip(core_names) {
        o.histogram(
            "runnel_reactor_stall_seconds",
            &[("core", cn)],
            &c.stall.snapshot(),
        );
    }
    o.family(
        "runnel_reactor_busy_seconds_total",
        "counter",
        "Time each executor spent running tasks and polling I/O (not parked or spinning).",
    );
    for (c, cn) in cores.iter().zip(core_names) {
        let s = c.busy_ns.load(Ordering::Relaxed) as f64 / 1e9;
        o.sample("runnel_reactor_busy_seconds_total", &[("core", cn)], s);
    }
}

fn topics(o: &mut Out, reg: &Registry) {
    // Summed over cores: a topic's partitions may live on several.
    let mut sums: Vec<(Arc<str>, [u64; 3])> = Vec::new();
    for c in reg.cores() {
        for (name, t) in c.topics.entries() {
            let v = [
                t.bytes_in.load(Ordering::Relaxed),
                t.messages_in.load(Ordering::Relaxed),
                t.bytes_out.load(Ordering::Relaxed),
            ];
            match sums.iter_mut().find(|(n, _)| *n == name) {
                Some((_, s)) => s.iter_mut().zip(v).for_each(|(a, b)| *a += b),
                None => sums.push((name, v)),
            }
        }
    }
    sums.sort_by(|a, b| a.0.cmp(&b.0));
    let families = [
        (
            "runnel_topic_bytes_in_total",
            "Record batch bytes produced to the topic.",
        ),
        (
            "runnel_topic_messages_in_total",
            "Records produced to the topic.",
        ),
        (
            "runnel_topic_bytes_out_total",
            "Record batch bytes fetched from the topic.",
        ),
    ];
    for (i, (name, help)) in families.into_iter().enumerate() {
        o.family(name, "counter", help);
        for (t, v) in &sums {
            o.sample(name, &[("topic", t)], v[i]);
        }
    }
}

fn partitions_and_groups(o: &mut Out, snaps: &[Arc<Snapshot>]) {
    let mut parts: Vec<_> = snaps.iter().flat_map(|s| &s.partitions).collect();
    parts.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    type Get = fn(&PartitionGauge) -> i64;
    let gauges: [(&str, &str, Get); 4] = [
        (
            "runnel_partition_log_start_offset",
            "First offset in the partition's log.",
            |p| p.log_start,
        ),
        (
            "runnel_partition_high_watermark",
            "Offset below which records are durable and visible to consumers.",
            |p| p.high_watermark,
        ),
        (
            "runnel_partition_log_end_offset",
            "Next offset to be assigned.",
            |p| p.log_end,
        ),
        (
            "runnel_partition_size_bytes",
            "Bytes in the partition's segments.",
            |p| p.size_bytes as i64,
        ),
    ];
    for (name, help, get) in gauges {
        o.family(name, "gauge", help);
        for p in &parts {
            let pn = p.partition.to_string();
            o.sample(name, &[("topic", &p.topic), ("partition", &pn)], get(p));
        }
    }
    let hwm: HashMap<(&str, i32), i64> = parts
        .iter()
        .map(|p| ((&*p.topic, p.partition), p.high_watermark))
        .collect();
    let mut offsets: Vec<_> = snaps.iter().flat_map(|s| &s.group_offsets).collect();
    offsets
        .sort_by(|a, b| (&a.group, &a.topic, a.partition).cmp(&(&b.group, &b.topic, b.partition)));
    o.family(
        "runnel_group_committed_offset",
        "gauge",
        "Offset a consumer group committed for a partition.",
    );
    for g in &offsets {
        let pn = g.partition.to_string();
        let labels = [
            ("group", &*g.group),
            ("topic", &*g.topic),
            ("partition", &pn),
        ];
        o.sample("runnel_group_committed_offset", &labels, g.offset);
    }
    o.family(
        "runnel_group_lag",
        "gauge",
        "High watermark minus the group's committed offset (records not yet consumed).",
    );
    for g in &offsets {
        let Some(&h) = hwm.get(&(&*g.topic, g.partition)) else {
            continue;
        };
        let pn = g.partition.to_string();
        let labels = [
            ("group", &*g.group),
            ("topic", &*g.topic),
            ("partition", &pn),
        ];
        o.sample("runnel_group_lag", &labels, (h - g.offset).max(0));
    }
}

#[cfg(test)]
#[path = "expose_tests.rs"]
mod tests;
