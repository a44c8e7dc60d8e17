//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for resource types TOPIC, BROKER
//! and GROUP.
//!
//! Topics list every topic-level config with its value, source, synonyms and documentation
//! (see [`crate::cluster::topic_config::describe`]). Brokers (this broker's id, or the empty
//! name for the cluster-wide default) list their configs with the layer each value comes from;
//! Kafka's dynamically updatable broker configs may be changed, the others are refused as
//! Kafka refuses them ([`crate::cluster::dynamic_config`]). Groups carry the KIP-848 group
//! configs. Every change is validated and made by core 0, persisted and applied live on every
//! core.

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;

use crate::cluster::dynamic_config::alter::DynamicChange;
use crate::cluster::dynamic_config::describe::{
    describe_broker, describe_cluster_default, describe_group,
};
use crate::cluster::dynamic_config::BrokerLevel;
use crate::cluster::topic_config::alter::ConfigOp;
use crate::cluster::topic_config::describe::{describe_topic, type_code, Described};
use crate::errors::{ErrorMessage, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::shard::call::CoreCall;
use crate::shard::dynamic_admin::AlterDynamicConfigsCall;
use crate::shard::messages::{ChangeResult, TopicConfigChange};
use crate::shard::topic_admin::AlterTopicConfigsCall;

/// Kafka's resource type code for topics.
pub const RESOURCE_TOPIC: i8 = 2;
/// Kafka's resource type code for brokers.
pub const RESOURCE_BROKER: i8 = 4;
/// Kafka's resource type code for broker loggers.
pub const RESOURCE_BROKER_LOGGER: i8 = 8;
/// Kafka's resource type code for groups.
pub const RESOURCE_GROUP: i8 = 32;

fn s(v: impl Into<String>) -> StrBytes {
    StrBytes::from_string(v.into())
}

/// Checks that a BROKER resource names this broker ("" is the cluster-wide default).
fn check_broker_name(ctx: &RequestContext, name: &str) -> Result<(), ErrorMessage> {
    if name.is_empty() || name.parse::<i32>().ok() == Some(ctx.core.view.config().node_id) {
        return Ok(());
    }
    Err(ErrorMessage::new(
        KafkaError::InvalidRequest,
        format!(
            "Unexpected broker id, expected {} or empty string, but received {name}",
            ctx.core.view.config().node_id
        ),
    ))
}

fn to_wire(d: Described, synonyms: bool, docs: bool) -> DescribeConfigsResourceResult {
    let mut r = DescribeConfigsResourceResult::default();
    r.name = s(d.name);
    // A secret is described without its value, as on Kafka.
    r.value = (!d.sensitive).then(|| s(d.value));
    r.read_only = d.read_only;
    r.config_source = d.source;
    r.is_sensitive = d.sensitive;
    r.config_type = type_code(d.kind);
    if docs && !d.doc.is_empty() {
        r.documentation = Some(s(d.doc));
    }
    if synonyms {
        let sensitive = d.sensitive;
        r.synonyms = d
            .synonyms
            .into_iter()
            .map(|y| {
                let mut w = DescribeConfigsSynonym::default();
                w.name = s(y.name);
                w.value = (!sensitive).then(|| s(y.value));
                w.source = y.source;
                w
            })
            .collect();
    }
    r
}

/// The configs of a topic as CreateTopics v5+ returns them (no synonyms, no documentation).
pub fn created_topic_configs(
    ctx: &RequestContext,
    overrides: &std::collections::BTreeMap<String, String>,
) -> Vec<kafka_protocol::messages::create_topics_response::CreatableTopicConfigs> {
    let cfg = &ctx.core.view.config();
    describe_topic(
        overrides,
        &cfg.topic_defaults,
        &cfg.broker_configs,
        &cfg.dynamic,
    )
    .into_iter()
    .map(|d| {
        let mut c =
            kafka_protocol::messages::create_topics_response::CreatableTopicConfigs::default();
        c.name = s(d.name);
        c.value = Some(s(d.value));
        c.read_only = d.read_only;
        c.config_source = d.source;
        c.is_sensitive = d.sensitive;
        c
    })
    .collect()
}

/// Handles DescribeConfigs.
pub fn describe(ctx: &RequestContext, req: DescribeConfigsRequest) -> ResponseKind {
    let cfg = &ctx.core.view.config();
    let table = ctx.core.view.topic_table();
    let mut resp = DescribeConfigsResponse::default();
    for res in req.resources {
        let mut out = DescribeConfigsResult::default();
        out.resource_type = res.resource_type;
        out.resource_name = res.resource_name.clone();
        let name = res.resource_name.as_str();
        let listed: Result<Vec<Described>, ErrorMessage> = match res.resource_type {
            RESOURCE_TOPIC => match table.get(name) {
                None if crate::cluster::topics::validate_name(name).is_err() => {
                    Err(ErrorMessage::new(
                        KafkaError::InvalidTopicException,
                        format!("Invalid topic name '{name}'"),
                    ))
                }
                Some(meta) => Ok(describe_topic(
                    &meta.configs,
                    &cfg.topic_defaults,
                    &cfg.broker_configs,
                    &cfg.dynamic,
                )),
                None => Err(ErrorMessage::new(
                    KafkaError::UnknownTopicOrPartition,
                    format!("The topic '{name}' does not exist."),
                )),
            },
            // The cluster-wide default ("") lists only its dynamic values, as on Kafka.
            RESOURCE_BROKER => check_broker_name(ctx, name).map(|_| {
                if name.is_empty() {
                    describe_cluster_default(&cfg.broker_configs, &cfg.dynamic)
                } else {
                    describe_broker(&cfg.broker_configs, &cfg.dynamic)
                }
            }),
            RESOURCE_GROUP if name.is_empty() => Err(ErrorMessage::new(
                KafkaError::InvalidRequest,
                "Group name must not be empty".to_string(),
            )),
            RESOURCE_GROUP => Ok(describe_group(
                name,
                &cfg.dynamic,
                &cfg.groups,
                &cfg.broker_configs,
            )),
            RESOURCE_BROKER_LOGGER => check_broker_name(ctx, name).map(|_| Vec::new()),
            other => Err(ErrorMessage::new(
                KafkaError::InvalidRequest,
                format!("Unsupported resource type {other} for DescribeConfigs"),
            )),
        };
        match listed {
            Ok(all) => {
                // No keys, or an empty list, asks for every config (as on Kafka).
                let keys: Option<Vec<String>> = res
                    .configuration_keys
                    .filter(|k| !k.is_empty())
                    .map(|k| k.iter().map(|x| x.to_string()).collect());
                out.configs = all
                    .into_iter()
                    .filter(|d| keys.as_ref().is_none_or(|k| k.contains(&d.name)))
                    .map(|d| to_wire(d, req.include_synonyms, req.include_documentation))
                    .collect();
            }
            Err(e) => {
                out.error_code = e.error.code();
                out.error_message = Some(s(e.message));
            }
        }
        resp.results.push(out);
    }
    ResponseKind::DescribeConfigs(resp)
}

/// What to do with one resource of an alter request.
enum Plan {
    /// Answer with this at once.
    Done(ChangeResult),
    /// Send this change to core 0.
    Topic(TopicConfigChange),
    /// Send this broker or group change to core 0.
    Dynamic(DynamicChange),
}

fn plan(
    ctx: &RequestContext,
    resource_type: i8,
    name: &str,
    ops: Result<Vec<ConfigOp>, ErrorMessage>,
    replace: bool,
) -> Plan {
    let ops = match ops {
        Ok(o) => o,
        Err(e) => return Plan::Done(Err(e)),
    };
    match resource_type {
        RESOURCE_TOPIC => Plan::Topic(TopicConfigChange {
            topic: name.to_string(),
            ops,
            replace,
        }),
        RESOURCE_BROKER => {
            if let Err(e) = check_broker_name(ctx, name) {
                return Plan::Done(Err(e));
            }
            let level = if name.is_empty() {
                BrokerLevel::ClusterDefault
            } else {
                BrokerLevel::Broker
            };
            Plan::Dynamic(DynamicChange::Broker {
                level,
                ops,
                replace,
            })
        }
        RESOURCE_GROUP => Plan::Dynamic(DynamicChange::Group {
            group: name.to_string(),
            ops,
            replace,
        }),
        RESOURCE_BROKER_LOGGER => {
            if let Err(e) = check_broker_name(ctx, name) {
                return Plan::Done(Err(e));
            }
            if ops.is_empty() {
                return Plan::Done(Ok(()));
            }
            let names: Vec<&str> = ops.iter().map(|o| o.name()).collect();
            Plan::Done(Err(ErrorMessage::new(KafkaError::InvalidRequest, format!(
                    "Cannot update these loggers dynamically: [{}]; Runnel sets log levels with RUST_LOG at startup",
                    names.join(", ")
                ))))
        }
        other => Plan::Done(Err(ErrorMessage::new(
            KafkaError::InvalidRequest,
            format!("Unsupported resource type {other} for altering configs"),
        ))),
    }
}

/// Sends one batch of changes to core 0; every answer is an error if the call fails.
async fn call_core0<C>(ctx: &RequestContext, call: C, n: usize) -> Vec<ChangeResult>
where
    C: CoreCall<Reply = Vec<ChangeResult>>,
{
    if n == 0 {
        return Vec::new();
    }
    match ctx.core.mesh.call(0, call).await {
        Ok(v) if v.len() == n => v,
        _ => (0..n)
            .map(|_| {
                Err(ErrorMessage::new(
                    KafkaError::UnknownServerError,
                    "broker shutting down",
                ))
            })
            .collect(),
    }
}

/// Runs the plans: topic changes in one call to core 0 and broker and group changes in
/// another, answered in request order.
async fn execute(ctx: &RequestContext, plans: Vec<Plan>, validate_only: bool) -> Vec<ChangeResult> {
    let mut topics = Vec::new();
    let mut dynamic = Vec::new();
    for p in &plans {
        match p {
            Plan::Topic(c) => topics.push(c.clone()),
            Plan::Dynamic(c) => dynamic.push(c.clone()),
            Plan::Done(_) => {}
        }
    }
    let (nt, nd) = (topics.len(), dynamic.len());
    let mut topic_answers = call_core0(
        ctx,
        AlterTopicConfigsCall {
            changes: topics,
            validate_only,
        },
        nt,
    )
    .await
    .into_iter();
    let mut dynamic_answers = call_core0(
        ctx,
        AlterDynamicConfigsCall {
            changes: dynamic,
            validate_only,
        },
        nd,
    )
    .await
    .into_iter();
    let missing = || {
        Err(ErrorMessage::new(
            KafkaError::UnknownServerError,
            String::new(),
        ))
    };
    plans
        .into_iter()
        .map(|p| match p {
            Plan::Done(r) => r,
            Plan::Topic(_) => topic_answers.next().unwrap_or_else(missing),
            Plan::Dynamic(_) => dynamic_answers.next().unwrap_or_else(missing),
        })
        .collect()
}

fn null_value(name: &str) -> ErrorMessage {
    ErrorMessage::new(
        KafkaError::InvalidRequest,
        format!("Null value not supported for : {name}"),
    )
}

/// Handles AlterConfigs: the given configs replace all of the resource's overrides.
pub async fn alter(ctx: &RequestContext, req: AlterConfigsRequest) -> ResponseKind {
    let mut plans = Vec::new();
    for r in &req.resources {
        let ops: Result<Vec<ConfigOp>, _> = r
            .configs
            .iter()
            .map(|c| match &c.value {
                Some(v) => Ok(ConfigOp::Set(c.name.to_string(), v.to_string())),
                None => Err(null_value(&c.name)),
            })
            .collect();
        plans.push(plan(ctx, r.resource_type, &r.resource_name, ops, true));
    }
    let results = execute(ctx, plans, req.validate_only).await;
    let mut resp = AlterConfigsResponse::default();
    for (r, res) in req.resources.iter().zip(results) {
        let mut out =
            kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse::default(
            );
        out.resource_type = r.resource_type;
        out.resource_name = r.resource_name.clone();
        if let Err(e) = res {
            out.error_code = e.error.code();
            out.error_message = Some(s(e.message));
        }
        resp.responses.push(out);
    }
    ResponseKind::AlterConfigs(resp)
}

/// Handles IncrementalAlterConfigs: SET, DELETE, APPEND and SUBTRACT per config.
pub async fn incremental_alter(
    ctx: &RequestContext,
    req: IncrementalAlterConfigsRequest,
) -> ResponseKind {
    let mut plans = Vec::new();
    for r in &req.resources {
        let ops: Result<Vec<ConfigOp>, _> = r
            .configs
            .iter()
            .map(|c| {
                let name = c.name.to_string();
                let value = c.value.as_ref().map(|v| v.to_string());
                match (c.config_operation, value) {
                    (1, _) => Ok(ConfigOp::Delete(name)),
                    (0, Some(v)) => Ok(ConfigOp::Set(name, v)),
                    (2, Some(v)) => Ok(ConfigOp::Append(name, v)),
                    (3, Some(v)) => Ok(ConfigOp::Subtract(name, v)),
                    (0..=3, None) => Err(null_value(&name)),
                    (op, _) => Err(ErrorMessage::new(
                        KafkaError::InvalidRequest,
                        format!("Unknown config operation {op} for {name}"),
                    )),
                }
            })
            .collect();
        plans.push(plan(ctx, r.resource_type, &r.resource_name, ops, false));
    }
    let results = execute(ctx, plans, req.validate_only).await;
    let mut resp = IncrementalAlterConfigsResponse::default();
    for (r, res) in req.resources.iter().zip(results) {
        let mut out = kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse::default();
        out.resource_type = r.resource_type;
        out.resource_name = r.resource_name.clone();
        if let Err(e) = res {
            out.error_code = e.error.code();
            out.error_message = Some(s(e.message));
        }
        resp.responses.push(out);
    }
    ResponseKind::IncrementalAlterConfigs(resp)
}
