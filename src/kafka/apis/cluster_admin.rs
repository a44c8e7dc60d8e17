//! Cluster-level admin reads: DescribeCluster (the live brokers, or the controller quorum),
//! DescribeLogDirs (the data directory, partition sizes gathered from every core, and the
//! file system's total and usable bytes) and DescribeTopicPartitions (KIP-966, paged with a
//! cursor).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, DescribeLogDirsRequest,
    DescribeLogDirsResponse, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse,
    ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::authz::Authz;
use crate::errors::KafkaError;
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;
use crate::shard::topic_admin::PartitionSizesCall;

/// Most partitions one DescribeTopicPartitions response carries (Kafka's
/// `max.request.partition.size.limit` default).
const MAX_PARTITIONS_PER_RESPONSE: i32 = 2000;

/// Handles DescribeCluster: the live brokers and a controller id (endpoint type 1), or the
/// controller quorum's voters and its active controller (endpoint type 2, v1+).
pub fn describe_cluster(ctx: &RequestContext, req: DescribeClusterRequest) -> ResponseKind {
    let mut r = DescribeClusterResponse::default();
    r.endpoint_type = req.endpoint_type;
    let listing = super::brokers::listing(ctx);
    r.cluster_id = StrBytes::from_string(super::brokers::cluster_id(ctx, &listing.state));
    let entry = |id: i32, host: &str, port: u16, rack: Option<String>, fenced: bool| {
        let mut b = DescribeClusterBroker::default();
        b.broker_id = BrokerId(id);
        b.host = StrBytes::from_string(host.to_string());
        b.port = port as i32;
        b.rack = rack.map(StrBytes::from_string);
        b.is_fenced = fenced;
        b
    };
    match (ctx.version, req.endpoint_type) {
        (0, _) | (_, 1) => {
            r.controller_id = BrokerId(listing.controller);
            for b in &listing.brokers {
                r.brokers
                    .push(entry(b.id, &b.host, b.port, b.rack.clone(), false));
            }
            // v2 (KIP-1073): fenced brokers only when asked for.
            if ctx.version >= 2 && req.include_fenced_brokers {
                let me = super::brokers::this_broker(ctx).id;
                for b in listing.state.fenced_brokers(me, &ctx.listener.name) {
                    r.brokers.push(entry(b.id, &b.host, b.port, b.rack, true));
                }
            }
        }
        (_, 2) => {
            // This node is a voter too: it lists the quorum, as a controller does.
            r.controller_id = BrokerId(listing.state.controller.unwrap_or(-1));
            for (id, addr) in &listing.state.voters {
                let host = addr.ip().to_string();
                r.brokers.push(entry(*id, &host, addr.port(), None, false));
            }
        }
        _ => {
            r.error_code = KafkaError::UnsupportedEndpointType.code();
            r.error_message = Some(StrBytes::from_static_str(
                "Endpoint type must be 1 (brokers) or 2 (controllers).",
            ));
            r.controller_id = BrokerId(-1);
            return ResponseKind::DescribeCluster(r);
        }
    }
    r.cluster_authorized_operations =
        super::authorized_ops::cluster(&Authz::of(ctx), req.include_cluster_authorized_operations);
    ResponseKind::DescribeCluster(r)
}

/// (total, usable) bytes of the file system holding `dir`.
fn fs_space(dir: &std::path::Path) -> Option<(i64, i64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid NUL-terminated string and `st` a writable statvfs.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let frsize = st.f_frsize as i64;
    Some((st.f_blocks as i64 * frsize, st.f_bavail as i64 * frsize))
}

/// Handles DescribeLogDirs: the one data directory and the partitions in it.
pub async fn describe_log_dirs(ctx: &RequestContext, req: DescribeLogDirsRequest) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    // DESCRIBE on the cluster (KafkaApis), or nothing but the error.
    if let Err(e) = Authz::of(ctx).cluster(Operation::Describe) {
        let mut resp = DescribeLogDirsResponse::default();
        if ctx.version >= 3 {
            resp.error_code = e.code();
        }
        return ResponseKind::DescribeLogDirs(resp);
    }
    let calls: Vec<_> = (0..view.cores())
        .map(|c| mesh.call(c, PartitionSizesCall))
        .collect();
    let mut sizes: BTreeMap<String, BTreeMap<i32, u64>> = BTreeMap::new();
    for c in calls {
        if let Ok(v) = c.await {
            for (t, p, size) in v {
                sizes.entry(t).or_default().insert(p, size);
            }
        }
    }
    let mut dir = DescribeLogDirsResult::default();
    let data_dir = view
        .config()
        .data_dir
        .canonicalize()
        .unwrap_or_else(|_| view.config().data_dir.clone());
    dir.log_dir = StrBytes::from_string(data_dir.display().to_string());
    let (total, usable) = fs_space(&data_dir).unwrap_or((-1, -1));
    dir.total_bytes = total;
    dir.usable_bytes = usable;
    let wanted: Option<BTreeMap<String, Vec<i32>>> = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.topic.0.to_string(), t.partitions))
            .collect()
    });
    for (topic, parts) in sizes {
        let only = match &wanted {
            Some(w) => match w.get(&topic) {
                Some(p) => Some(p),
                None => continue,
            },
            None => None,
        };
        let mut t = DescribeLogDirsTopic::default();
        t.name = TopicName(StrBytes::from_string(topic));
        for (p, size) in parts {
            if only.is_some_and(|o| !o.contains(&p)) {
                continue;
            }
            let mut dp = DescribeLogDirsPartition::default();
            dp.partition_index = p;
            dp.partition_size = size as i64;
            dp.offset_lag = 0;
            t.partitions.push(dp);
        }
        if !t.partitions.is_empty() {
            dir.topics.push(t);
        }
    }
    let mut r = DescribeLogDirsResponse::default();
    r.results.push(dir);
    ResponseKind::DescribeLogDirs(r)
}

/// Handles DescribeTopicPartitions: the named topics (all when none are named) in name order,
/// at most `response_partition_limit` partitions per response, continuing from the cursor.
pub fn describe_topic_partitions(
    ctx: &RequestContext,
    req: DescribeTopicPartitionsRequest,
) -> ResponseKind {
    let authz = Authz::of(ctx);
    let node = BrokerId(ctx.core.view.config().node_id);
    let table = ctx.core.view.topic_table();
    let image = ctx.core.cluster.state().image.clone();
    // Listing all topics leaves out those without DESCRIBE; a named one without it is
    // TOPIC_AUTHORIZATION_FAILED (below), as Metadata.
    let mut names: Vec<String> = if req.topics.is_empty() {
        table
            .topics
            .keys()
            .filter(|n| authz.topic(Operation::Describe, n).is_ok())
            .cloned()
            .collect()
    } else {
        req.topics.iter().map(|t| t.name.0.to_string()).collect()
    };
    names.sort();
    names.dedup();
    let limit = if req.response_partition_limit > 0 {
        req.response_partition_limit
            .min(MAX_PARTITIONS_PER_RESPONSE)
    } else {
        MAX_PARTITIONS_PER_RESPONSE
    };
    let (start_topic, start_part) = match &req.cursor {
        Some(c) => (Some(c.topic_name.0.to_string()), c.partition_index.max(0)),
        None => (None, 0),
    };
    let mut resp = DescribeTopicPartitionsResponse::default();
    let mut left = limit;
    for name in names {
        if start_topic.as_ref().is_some_and(|s| name < *s) {
            continue;
        }
        let first = if start_topic.as_deref() == Some(name.as_str()) {
            start_part
        } else {
            0
        };
        if left == 0 {
            resp.next_cursor = Some(cursor(&name, first));
            break;
        }
        let mut t = DescribeTopicPartitionsResponseTopic::default();
        t.name = Some(TopicName(StrBytes::from_string(name.clone())));
        // DescribeTopicPartitions has no flag: Kafka always fills in the topic's operations.
        t.topic_authorized_operations = super::authorized_ops::topic(&authz, true, &name);
        if let Err(e) = authz.topic(Operation::Describe, &name) {
            t.error_code = e.code();
            resp.topics.push(t);
            continue;
        }
        let Some(meta) = table.get(&name) else {
            t.error_code = KafkaError::UnknownTopicOrPartition.code();
            resp.topics.push(t);
            continue;
        };
        t.topic_id = meta.uuid();
        t.is_internal = name.starts_with("__");
        let count = meta.partitions.len() as i32;
        let mut p = first;
        while p < count && left > 0 {
            let mut dp = DescribeTopicPartitionsResponsePartition::default();
            dp.partition_index = p;
            match image
                .topic_by_name(&name)
                .filter(|ti| ti.topic_id == meta.uuid())
                .and_then(|ti| ti.partitions.get(p as usize))
            {
                // From the controller's image (leader -1: LEADER_NOT_AVAILABLE).
                Some(part) => {
                    dp.leader_id = BrokerId(part.leader);
                    if part.leader < 0 {
                        dp.error_code = KafkaError::LeaderNotAvailable.code();
                    }
                    dp.leader_epoch = part.leader_epoch;
                    dp.replica_nodes = part.replicas.iter().map(|&b| BrokerId(b)).collect();
                    dp.isr_nodes = part.isr.iter().map(|&b| BrokerId(b)).collect();
                }
                // Not in the image yet (before this broker caught up): led here.
                None => {
                    dp.leader_id = node;
                    dp.leader_epoch = 0;
                    dp.replica_nodes = vec![node];
                    dp.isr_nodes = vec![node];
                }
            }
            dp.eligible_leader_replicas = Some(Vec::new());
            dp.last_known_elr = Some(Vec::new());
            t.partitions.push(dp);
            p += 1;
            left -= 1;
        }
        resp.topics.push(t);
        if p < count {
            resp.next_cursor = Some(cursor(&name, p));
            break;
        }
    }
    ResponseKind::DescribeTopicPartitions(resp)
}

fn cursor(topic: &str, partition: i32) -> Cursor {
    let mut c = Cursor::default();
    c.topic_name = TopicName(StrBytes::from_string(topic.to_string()));
    c.partition_index = partition;
    c
}
