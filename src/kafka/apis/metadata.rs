//! Metadata: the live brokers of the controller's image, cluster id, controller, and topics with
//! their partitions (the topic table, derived from the image) and each partition's leader,
//! leader epoch, replicas and ISR from the image (LEADER_NOT_AVAILABLE while it has no leader;
//! a topic the image does not have yet, such as before the broker caught up, is described as
//! led by this broker); creates missing topics when auto-creation is enabled and the client
//! allows it.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, MetadataRequest, MetadataResponse, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use runnel_controller::MetadataImage;

use super::authz::Authz;
use crate::cluster::topics::{validate_name, TopicMeta};
use crate::errors::{self, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;
use crate::shard::messages::NewTopic;
use crate::shard::partitions::CreateTopicsCall;

/// Answers Metadata.
pub async fn handle(ctx: &RequestContext, req: MetadataRequest) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let cfg = &view.config();
    let node = BrokerId(cfg.node_id);
    let mut resp = MetadataResponse::default();
    let listing = super::brokers::listing(ctx);
    resp.brokers = listing
        .brokers
        .iter()
        .map(|b| {
            let mut broker = MetadataResponseBroker::default();
            broker.node_id = BrokerId(b.id);
            broker.host = StrBytes::from_string(b.host.clone());
            broker.port = b.port as i32;
            if ctx.version >= 1 {
                broker.rack = b.rack.clone().map(StrBytes::from_string);
            }
            broker
        })
        .collect();
    if ctx.version >= 2 {
        let id = super::brokers::cluster_id(ctx, &listing.state);
        resp.cluster_id = Some(StrBytes::from_string(id));
    }
    if ctx.version >= 1 {
        resp.controller_id = BrokerId(listing.controller);
    }
    // v13's top-level error code: Kafka sets it only to ask a client to rebootstrap
    // (REBOOTSTRAP_REQUIRED, KIP-1102), which a single node never does.
    resp.error_code = errors::NONE;

    let allow_create = cfg.auto_create_topics && (ctx.version < 4 || req.allow_auto_topic_creation);
    let authz = Authz::of(ctx);
    let table = view.topic_table();
    let mut wanted: Vec<(Option<String>, uuid::Uuid)> = Vec::new();
    match &req.topics {
        None => {
            // All topics: those the principal may not DESCRIBE are left out, as on Kafka.
            for t in table.topics.values() {
                if authz.topic(Operation::Describe, &t.name).is_ok() {
                    wanted.push((Some(t.name.clone()), t.uuid()));
                }
            }
        }
        Some(list) => {
            for t in list {
                let name = t.name.as_ref().map(|n| n.0.to_string());
                wanted.push((name, t.topic_id));
            }
        }
    }
    // Named topics the principal may not DESCRIBE: TOPIC_AUTHORIZATION_FAILED, and never
    // created; missing ones need CREATE on the cluster or the topic to be created.
    let describable = |n: &Option<String>| {
        n.as_ref()
            .is_none_or(|n| authz.topic(Operation::Describe, n).is_ok())
    };
    let create_cluster = authz.cluster(Operation::Create).is_ok();
    let may_create = |n: &str| create_cluster || authz.topic(Operation::Create, n).is_ok();
    // Auto-create the missing, validly named topics in one call to the metadata owner.
    let missing: Vec<NewTopic> = wanted
        .iter()
        .filter(|(n, _)| describable(n))
        .filter_map(|(n, _)| n.as_ref())
        .filter(|n| table.get(n).is_none() && validate_name(n).is_ok() && may_create(n))
        .map(|n| NewTopic {
            name: n.clone(),
            partitions: -1,
            configs: Default::default(),
            replication_factor: 1,
        })
        .collect();
    let table = if allow_create && !missing.is_empty() {
        if let Ok(results) = mesh
            .call(
                0,
                CreateTopicsCall {
                    topics: missing,
                    validate_only: false,
                },
            )
            .await
        {
            for r in results.iter().filter_map(|r| r.as_ref().ok()) {
                tracing::info!(topic = %r.name, partitions = r.partitions.len(), "auto-created topic");
            }
        }
        view.topic_table()
    } else {
        table
    };
    let image = ctx.core.cluster.state().image.clone();
    for (name, id) in wanted {
        let meta = match &name {
            Some(n) => table.get(n),
            None => table.by_id(id),
        };
        let mut t = MetadataResponseTopic::default();
        t.name = name.clone().map(|n| TopicName(StrBytes::from_string(n)));
        if ctx.version >= 10 {
            t.topic_id = id;
        }
        let denied = !describable(&name)
            || meta.is_some_and(|m| authz.topic(Operation::Describe, &m.name).is_err())
            || (meta.is_none()
                && allow_create
                && name
                    .as_ref()
                    .is_some_and(|n| validate_name(n).is_ok() && !may_create(n)));
        match meta {
            _ if denied => t.error_code = KafkaError::TopicAuthorizationFailed.code(),
            Some(m) => describe(&mut t, m, node, ctx.version, &image),
            None => {
                t.error_code = match &name {
                    Some(n) if validate_name(n).is_err() => {
                        KafkaError::InvalidTopicException.code()
                    }
                    Some(_) => KafkaError::UnknownTopicOrPartition.code(),
                    None => KafkaError::UnknownTopicId.code(),
                };
            }
        }
        if ctx.version >= 8 && t.error_code == errors::NONE {
            t.topic_authorized_operations = super::authorized_ops::topic(
                &authz,
                req.include_topic_authorized_operations,
                name.as_deref().unwrap_or_default(),
            );
        }
        resp.topics.push(t);
    }
    if (8..=10).contains(&ctx.version) {
        resp.cluster_authorized_operations =
            super::authorized_ops::cluster(&authz, req.include_cluster_authorized_operations);
    }
    ResponseKind::Metadata(resp)
}

fn describe(
    t: &mut MetadataResponseTopic,
    m: &TopicMeta,
    node: BrokerId,
    version: i16,
    image: &MetadataImage,
) {
    let in_image = image
        .topic_by_name(&m.name)
        .filter(|ti| ti.topic_id == m.uuid());
    t.error_code = errors::NONE;
    t.name = Some(TopicName(StrBytes::from_string(m.name.clone())));
    if version >= 10 {
        t.topic_id = m.uuid();
    }
    if version >= 1 {
        t.is_internal = m.name.starts_with("__");
    }
    t.partitions = (0..m.partitions.len() as i32)
        .map(|p| {
            let mut pm = MetadataResponsePartition::default();
            pm.error_code = errors::NONE;
            pm.partition_index = p;
            match in_image.and_then(|ti| ti.partitions.get(p as usize)) {
                Some(part) => {
                    pm.leader_id = BrokerId(part.leader);
                    if part.leader < 0 {
                        pm.error_code = KafkaError::LeaderNotAvailable.code();
                    }
                    if version >= 7 {
                        pm.leader_epoch = part.leader_epoch;
                    }
                    pm.replica_nodes = part.replicas.iter().map(|&b| BrokerId(b)).collect();
                    pm.isr_nodes = part.isr.iter().map(|&b| BrokerId(b)).collect();
                    if version >= 5 {
                        pm.offline_replicas = part
                            .replicas
                            .iter()
                            .filter(|&&b| image.broker(b).is_none_or(|r| r.fenced))
                            .map(|&b| BrokerId(b))
                            .collect();
                    }
                }
                None => {
                    pm.leader_id = node;
                    if version >= 7 {
                        pm.leader_epoch = 0;
                    }
                    pm.replica_nodes = vec![node];
                    pm.isr_nodes = vec![node];
                }
            }
            pm
        })
        .collect();
}
