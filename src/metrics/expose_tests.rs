//! Tests of the exposition encoder.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::*;
use crate::metrics::core::{CoreMetrics, GroupOffset, PartitionGauge};

fn registry() -> Arc<Registry> {
    let reg = Registry::new(2, Arc::new(AtomicBool::new(false)));
    let c0 = reg.core(0).unwrap();
    CoreMetrics::add(&c0.apis[0].requests, 3);
    c0.apis[0].latency.observe(Duration::from_millis(2));
    CoreMetrics::add(&c0.errors.get_or_create(&(0, 3)), 2);
    CoreMetrics::add(&c0.forwards[1], 4);
    c0.fsync.observe(Duration::from_micros(700));
    let t: Arc<str> = Arc::from("orders");
    CoreMetrics::add(&c0.topics.get_or_create(&t).bytes_in, 100);
    let c1 = reg.core(1).unwrap();
    CoreMetrics::add(&c1.topics.get_or_create(&t).bytes_in, 11);
    c1.publish(Snapshot {
        partitions: vec![PartitionGauge {
            topic: t.clone(),
            partition: 0,
            log_start: 0,
            high_watermark: 10,
            log_end: 12,
            size_bytes: 4096,
        }],
        group_offsets: vec![],
    });
    c0.publish(Snapshot {
        partitions: vec![],
        group_offsets: vec![GroupOffset {
            group: Arc::from("we\"ird\\g\nroup"),
            topic: t,
            partition: 0,
            offset: 7,
        }],
    });
    reg
}

#[test]
fn encodes_counters_histograms_gauges_and_lag() {
    let text = render(&registry());
    assert!(text.contains("runnel_requests_total{api=\"Produce\",core=\"0\"} 3\n"));
    assert!(text.contains("runnel_request_errors_total{api=\"Produce\",core=\"0\",code=\"3\"} 2"));
    assert!(text.contains(
        "runnel_request_duration_seconds_bucket{api=\"Produce\",core=\"0\",le=\"0.001\"} 0\n"
    ));
    assert!(text.contains(
        "runnel_request_duration_seconds_bucket{api=\"Produce\",core=\"0\",le=\"0.0025\"} 1\n"
    ));
    assert!(text.contains(
        "runnel_request_duration_seconds_bucket{api=\"Produce\",core=\"0\",le=\"+Inf\"} 1\n"
    ));
    assert!(text.contains("runnel_request_duration_seconds_count{api=\"Produce\",core=\"0\"} 1\n"));
    assert!(text.contains("runnel_forwarded_requests_total{core=\"0\",target=\"1\"} 4\n"));
    assert!(
        !text.contains("core=\"0\",target=\"0\""),
        "no series for calls to itself"
    );
    assert!(text.contains("runnel_topic_bytes_in_total{topic=\"orders\"} 111\n"));
    assert!(text.contains("runnel_partition_high_watermark{topic=\"orders\",partition=\"0\"} 10"));
    assert!(text.contains("runnel_partition_size_bytes{topic=\"orders\",partition=\"0\"} 4096"));
    let g = "group=\"we\\\"ird\\\\g\\nroup\",topic=\"orders\",partition=\"0\"";
    assert!(text.contains(&format!("runnel_group_committed_offset{{{g}}} 7\n")));
    assert!(text.contains(&format!("runnel_group_lag{{{g}}} 3\n")));
    assert!(text.contains("runnel_fsync_duration_seconds_count{core=\"0\"} 1\n"));
    assert!(text.contains("runnel_ready 0\n"));
}

#[test]
fn every_sample_belongs_to_a_declared_family() {
    let text = render(&registry());
    let mut families: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            families.push((name.to_string(), kind.to_string()));
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let name = line.split(['{', ' ']).next().unwrap();
        let ok = families.iter().any(|(f, kind)| {
            name == f
                || (kind == "histogram"
                    && [("_bucket"), ("_sum"), ("_count")]
                        .iter()
                        .any(|s| name == format!("{f}{s}")))
        });
        assert!(ok, "sample {name} has no # TYPE line before it");
    }
}

#[test]
fn operations_doc_lists_every_metric() {
    let doc = include_str!("../../docs/operations.md");
    let text = render(&registry());
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            assert!(
                doc.contains(&format!("`{name}`")),
                "docs/operations.md does not describe {name}"
            );
        }
    }
}
