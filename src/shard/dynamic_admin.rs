//! Dynamic broker and group config changes on core 0 (the metadata owner): each batch of
//! changes is checked against the current dynamic configs under the [`MetadataAdmin`]'s lock, persisted, and
//! the resulting configuration broadcast to every core, which installs it and re-resolves the
//! configs of its open logs (the broker defaults of topic configs may have changed).

use std::rc::Rc;
use std::sync::Arc;

use super::call::CoreCall;
use super::messages::ChangeResult;
use super::{partitions, MetadataAdmin, PartitionStore};
use crate::cluster::dynamic_config::alter::{alter_broker, alter_group, DynamicChange};
use crate::config::Config;
use crate::errors::{ErrorMessage, KafkaError};

/// Applies `changes` in order (core 0 only). A failed change leaves the others standing, as
/// Kafka answers each resource on its own.
pub async fn alter(
    admin: &MetadataAdmin,
    changes: Vec<DynamicChange>,
    validate_only: bool,
) -> Vec<ChangeResult> {
    let _guard = admin.exclusive().await;
    let config = admin.view().config();
    let statics = &config.broker_configs;
    let is_static = |k: &str| statics.get(k).is_some();
    let static_value = |k: &str| statics.get(k).map(|e| e.value.clone());
    let mut dynamic = (*config.dynamic).clone();
    let mut results = Vec::with_capacity(changes.len());
    for c in &changes {
        let next = match c {
            DynamicChange::Broker {
                level,
                ops,
                replace,
            } => alter_broker(&dynamic, *level, ops, *replace, &is_static, &static_value),
            DynamicChange::Group {
                group,
                ops,
                replace,
            } => alter_group(&dynamic, group, ops, *replace, &config.groups),
        };
        match next {
            Ok(n) => {
                dynamic = n;
                results.push(Ok(()));
            }
            Err(e) => results.push(Err(e)),
        }
    }
    if validate_only || dynamic == *config.dynamic {
        return results;
    }
    if let Err(e) = dynamic.store(&config.data_dir).await {
        tracing::error!(error = %e, "cannot persist dynamic configs");
        for r in results.iter_mut().filter(|r| r.is_ok()) {
            *r = Err(ErrorMessage::new(
                KafkaError::KafkaStorageError,
                format!("cannot persist dynamic configs: {e}"),
            ));
        }
        return results;
    }
    tracing::info!(
        broker = ?dynamic.broker,
        cluster_default = ?dynamic.cluster_default,
        groups = dynamic.groups.len(),
        "dynamic configs changed"
    );
    let next = Arc::new(config.with_dynamic(Arc::new(dynamic)));
    admin
        .mesh()
        .broadcast(|| ApplyConfigCall(next.clone()))
        .await;
    results
}

/// Installs `config` on this core and re-resolves the configs of its open logs and the
/// produce policies of every topic.
pub async fn install(store: &PartitionStore, config: Arc<Config>) {
    store.view().set_config(config);
    let failures = partitions::apply(store, store.view().topic_table()).await;
    for f in failures {
        tracing::error!(topic = %f.topic, partition = f.partition, error = %f.error,
            "partition could not be opened while applying dynamic configs");
    }
}

/// Changes dynamic broker or group configs (sent to core 0); answered per change, in request
/// order.
#[derive(Debug)]
pub struct AlterDynamicConfigsCall {
    /// One change per resource, in request order.
    pub changes: Vec<DynamicChange>,
    /// Check only, change nothing.
    pub validate_only: bool,
}

impl CoreCall for AlterDynamicConfigsCall {
    type Reply = Vec<ChangeResult>;
    type Service = MetadataAdmin;
    async fn run(self, admin: &Rc<MetadataAdmin>) -> Vec<ChangeResult> {
        alter(admin, self.changes, self.validate_only).await
    }
}

/// Installs a new broker configuration on the receiving core (broadcast by core 0 after a
/// dynamic config change).
#[derive(Debug)]
pub struct ApplyConfigCall(pub Arc<Config>);

impl CoreCall for ApplyConfigCall {
    type Reply = ();
    type Service = PartitionStore;
    async fn run(self, store: &Rc<PartitionStore>) {
        install(store, self.0).await;
    }
}
