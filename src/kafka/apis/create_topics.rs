//! CreateTopics: validates names, partition counts, replication factors and assignments, then
//! asks core 0 (the metadata owner) to create the topics.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse, ResponseKind};
use kafka_protocol::protocol::StrBytes;

use super::authz::Authz;
use crate::cluster::topic_config;
use crate::cluster::topics::CreateError;
use crate::errors::{self, ErrorMessage, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::acl::Operation;
use crate::shard::messages::NewTopic;
use crate::shard::partitions::CreateTopicsCall;

/// Handles CreateTopics.
pub async fn handle(ctx: &RequestContext, req: CreateTopicsRequest) -> ResponseKind {
    let (view, mesh) = (&ctx.core.view, &ctx.core.mesh);
    let cfg = &view.config();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &req.topics {
        *counts.entry(t.name.0.as_str()).or_default() += 1;
    }
    let authz = Authz::of(ctx);
    let create_cluster = authz.cluster(Operation::Create).is_ok();
    let mut results: Vec<CreatableTopicResult> = Vec::new();
    let mut to_create: Vec<(usize, NewTopic)> = Vec::new();
    for t in &req.topics {
        let mut r = CreatableTopicResult::default();
        r.name = t.name.clone();
        let name = t.name.0.to_string();
        let rf = if t.replication_factor == -1 {
            cfg.default_replication_factor
        } else {
            t.replication_factor
        };
        let mut partitions = t.num_partitions;
        let bad_config = t.configs.iter().find_map(|c| {
            let value = c.value.as_ref().map(|v| v.to_string()).unwrap_or_default();
            topic_config::validate(c.name.as_str(), &value).err()
        });
        let err: Option<ErrorMessage> = if !create_cluster
            && authz.topic(Operation::Create, &name).is_err()
        {
            // CREATE on the cluster or on the topic (KafkaApis).
            Some(ErrorMessage::new(
                KafkaError::TopicAuthorizationFailed,
                "Authorization failed.",
            ))
        } else if counts[name.as_str()] > 1 {
            Some(ErrorMessage::new(
                KafkaError::InvalidRequest,
                format!("Create topics request from client contains duplicate topic name {name}"),
            ))
        } else if let Some(e) = bad_config {
            Some(e)
        } else if !t.assignments.is_empty() {
            if t.num_partitions != -1 || t.replication_factor != -1 {
                Some(ErrorMessage::new(KafkaError::InvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time."))
            } else if t
                .assignments
                .iter()
                .any(|a| a.broker_ids.len() != 1 || a.broker_ids[0].0 != cfg.node_id)
            {
                Some(ErrorMessage::new(
                    KafkaError::InvalidReplicaAssignment,
                    format!("Replica assignment must name only broker {}", cfg.node_id),
                ))
            } else {
                partitions = t.assignments.len() as i32;
                None
            }
        } else if t.num_partitions == 0 || t.num_partitions < -1 {
            Some(ErrorMessage::new(
                KafkaError::InvalidPartitions,
                "Number of partitions must be larger than 0.",
            ))
        } else if rf <= 0 {
            Some(ErrorMessage::new(
                KafkaError::InvalidReplicationFactor,
                "Replication factor must be larger than 0.",
            ))
        } else {
            None
        };
        match err {
            Some(e) => {
                r.error_code = e.error.code();
                r.error_message = Some(StrBytes::from_string(e.message));
            }
            None => {
                let configs: BTreeMap<String, String> = t
                    .configs
                    .iter()
                    .filter_map(|c| {
                        c.value
                            .as_ref()
                            .map(|v| (c.name.to_string(), v.to_string()))
                    })
                    .collect();
                to_create.push((
                    results.len(),
                    NewTopic {
                        name,
                        partitions,
                        configs,
                        replication_factor: rf.max(1) as usize,
                    },
                ));
            }
        }
        results.push(r);
    }
    if !to_create.is_empty() {
        let (idx, topics): (Vec<usize>, Vec<NewTopic>) = to_create.into_iter().unzip();
        let rfs: Vec<i16> = topics.iter().map(|t| t.replication_factor as i16).collect();
        let outcome = mesh
            .call(
                0,
                CreateTopicsCall {
                    topics,
                    validate_only: req.validate_only,
                },
            )
            .await;
        let created = match outcome {
            Ok(v) => v,
            Err(_) => idx
                .iter()
                .map(|_| {
                    Err(CreateError::Refused(ErrorMessage::new(
                        KafkaError::InvalidTopicException,
                        "broker shutting down",
                    )))
                })
                .collect(),
        };
        for ((i, c), rf) in idx.into_iter().zip(created).zip(rfs) {
            let r = &mut results[i];
            match c {
                Ok(meta) => {
                    r.error_code = errors::NONE;
                    if ctx.version >= 7 {
                        r.topic_id = meta.uuid();
                    }
                    if ctx.version >= 5 {
                        r.num_partitions = meta.partitions.len() as i32;
                        r.replication_factor = rf;
                        r.configs = Some(super::configs::created_topic_configs(ctx, &meta.configs));
                    }
                    if !req.validate_only {
                        tracing::info!(topic = %meta.name, partitions = meta.partitions.len(), "created topic");
                    }
                }
                Err(CreateError::Exists) => {
                    r.error_code = KafkaError::TopicAlreadyExists.code();
                    r.error_message = Some(StrBytes::from_string(format!(
                        "Topic '{}' already exists.",
                        r.name.0
                    )));
                }
                Err(CreateError::InvalidPartitions) => {
                    r.error_code = KafkaError::InvalidPartitions.code();
                    r.error_message = Some(StrBytes::from_static_str(
                        "Number of partitions is invalid.",
                    ));
                }
                Err(CreateError::Refused(e)) => {
                    r.error_code = e.error.code();
                    r.error_message = Some(StrBytes::from_string(e.message));
                }
            }
        }
    }
    let mut resp = CreateTopicsResponse::default();
    resp.topics = results;
    ResponseKind::CreateTopics(resp)
}
