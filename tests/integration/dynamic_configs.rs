//! Dynamic broker configs on the cluster-wide default (the BROKER resource with an empty name),
//! which neither confluent-kafka nor kafka-python can address (both refuse an empty broker
//! name): the change is sent over the wire, and rdkafka's AdminClient then describes this
//! broker's configs with `DYNAMIC_DEFAULT_BROKER_CONFIG` as their source. The per-broker layer
//! and group configs are tested through real clients in tests/python/test_dynamic_configs.py.

use crate::common;

use std::time::Duration;

use common::Broker;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions, ConfigSource, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use runnel_cli::common::ConnArgs;
use runnel_cli::wire::WireClient;

const BROKER: i8 = 4;
const GROUP: i8 = 32;
const SET: i8 = 0;
const DELETE: i8 = 1;

fn wire(b: &Broker) -> WireClient {
    WireClient::connect(&ConnArgs {
        brokers: b.bootstrap(),
        client_properties: vec![],
        timeout: 10,
        command_config: None,
    })
    .expect("connect")
}

/// IncrementalAlterConfigs of one resource; returns (error code, message).
fn alter(
    c: &mut WireClient,
    rtype: i8,
    name: &str,
    op: i8,
    key: &str,
    value: Option<&str>,
) -> (i16, String) {
    let mut cfg = AlterableConfig::default();
    cfg.name = StrBytes::from_string(key.to_string());
    cfg.config_operation = op;
    cfg.value = value.map(|v| StrBytes::from_string(v.to_string()));
    let mut r = AlterConfigsResource::default();
    r.resource_type = rtype;
    r.resource_name = StrBytes::from_string(name.to_string());
    r.configs = vec![cfg];
    let resp = c
        .send(&IncrementalAlterConfigsRequest::default().with_resources(vec![r]))
        .unwrap();
    let r = &resp.responses[0];
    (
        r.error_code,
        r.error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
    )
}

/// DescribeConfigs of one resource: (name, value, source) of each config, or the error code.
fn describe(c: &mut WireClient, rtype: i8, name: &str) -> Result<Vec<(String, String, i8)>, i16> {
    let mut r = describe_configs_request::DescribeConfigsResource::default();
    r.resource_type = rtype;
    r.resource_name = StrBytes::from_string(name.to_string());
    let resp = c
        .send(
            &DescribeConfigsRequest::default()
                .with_resources(vec![r])
                .with_include_synonyms(true),
        )
        .unwrap();
    let res = &resp.results[0];
    if res.error_code != 0 {
        return Err(res.error_code);
    }
    Ok(res
        .configs
        .iter()
        .map(|e| {
            let v = e.value.as_ref().map(|v| v.to_string()).unwrap_or_default();
            (e.name.to_string(), v, e.config_source)
        })
        .collect())
}

/// This broker's value and source of `key` as rdkafka describes them (the source in its
/// Debug form: rdkafka's enum has no Clone).
fn rdkafka_source(b: &Broker, key: &str) -> (String, String) {
    let a: AdminClient<DefaultClientContext> = b.client_config().create().unwrap();
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(15)));
    let r =
        futures_lite::future::block_on(a.describe_configs([&ResourceSpecifier::Broker(0)], &opts))
            .unwrap();
    let res = r[0].as_ref().expect("describe broker 0");
    let e = res.get(key).expect(key);
    (
        e.value.clone().unwrap_or_default(),
        format!("{:?}", e.source),
    )
}

#[test]
fn the_cluster_default_layer_sits_between_this_broker_and_the_static_config() {
    let mut b = Broker::start_with(&["--cores", "2"]);
    let mut c = wire(&b);
    assert_eq!(describe(&mut c, BROKER, ""), Ok(vec![]));

    let (code, msg) = alter(&mut c, BROKER, "", SET, "log.retention.ms", Some("7200000"));
    assert_eq!(code, 0, "{msg}");
    assert_eq!(
        describe(&mut c, BROKER, ""),
        Ok(vec![("log.retention.ms".into(), "7200000".into(), 3)])
    );
    assert_eq!(
        rdkafka_source(&b, "log.retention.ms"),
        (
            "7200000".into(),
            format!("{:?}", ConfigSource::DynamicDefaultBroker)
        )
    );

    // This broker's own value is more specific.
    assert_eq!(
        alter(
            &mut c,
            BROKER,
            "0",
            SET,
            "log.retention.ms",
            Some("3600000")
        )
        .0,
        0
    );
    assert_eq!(
        rdkafka_source(&b, "log.retention.ms"),
        (
            "3600000".into(),
            format!("{:?}", ConfigSource::DynamicBroker)
        )
    );
    assert_eq!(
        alter(&mut c, BROKER, "0", DELETE, "log.retention.ms", None).0,
        0
    );
    assert_eq!(
        rdkafka_source(&b, "log.retention.ms"),
        (
            "7200000".into(),
            format!("{:?}", ConfigSource::DynamicDefaultBroker)
        )
    );

    // Read-only configs are refused at the default level too, and another broker's id is
    // refused, both with INVALID_REQUEST as on Kafka.
    let (code, msg) = alter(&mut c, BROKER, "", SET, "log.dirs", Some("/x"));
    assert_eq!(code, 42, "{msg}");
    assert!(
        msg.contains("Cannot update these configs dynamically"),
        "{msg}"
    );
    assert_eq!(
        alter(&mut c, BROKER, "7", SET, "log.retention.ms", Some("1")).0,
        42
    );
    assert_eq!(describe(&mut c, BROKER, "7"), Err(42));
    assert_eq!(describe(&mut c, GROUP, ""), Err(42));

    // The default layer survives a kill -9: an acknowledged alter is on disk.
    drop(c);
    b.kill9();
    b.restart();
    assert_eq!(
        rdkafka_source(&b, "log.retention.ms"),
        (
            "7200000".into(),
            format!("{:?}", ConfigSource::DynamicDefaultBroker)
        )
    );
    let mut c = wire(&b);
    assert_eq!(
        alter(&mut c, BROKER, "", DELETE, "log.retention.ms", None).0,
        0
    );
    assert_eq!(describe(&mut c, BROKER, ""), Ok(vec![]));
    assert_eq!(
        rdkafka_source(&b, "log.retention.ms"),
        ("604800000".into(), format!("{:?}", ConfigSource::Default))
    );
}
