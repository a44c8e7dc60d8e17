//! Creating the coordinators' internal topics (`__consumer_offsets`, `__transaction_state`)
//! on first use, as Kafka does: with `offsets.topic.replication.factor` /
//! `transaction.state.log.replication.factor` replicas (and, for `__transaction_state`,
//! `min.insync.replicas` from `transaction.state.log.min.isr`).
//!
//! Deviation from Kafka: Kafka refuses to create an internal topic while fewer brokers are
//! alive than its replication factor (the coordinator stays unavailable); Runnel caps the
//! factor at the number of unfenced brokers at creation time (and the minimum ISR at the
//! factor), so a single node with no setup keeps working. The factor is fixed once the topic
//! exists: a cluster should have all its brokers up before the first group or transactional
//! client arrives.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::call::CoreCall;
use super::messages::NewTopic;
use super::partitions::create_topics;
use super::MetadataAdmin;
use crate::cluster::topics::{CreateError, TopicMeta};

/// Creates an internal topic (sent to core 0).
#[derive(Debug)]
pub struct CreateInternalTopicCall {
    /// Topic name.
    pub name: String,
    /// Number of partitions.
    pub partitions: i32,
    /// Config overrides (`cleanup.policy=compact`).
    pub configs: BTreeMap<String, String>,
    /// Replicas wanted per partition (capped by the unfenced brokers).
    pub replication_factor: usize,
    /// `min.insync.replicas` to set on the topic, capped by the factor (`None`: the broker
    /// default applies, as for `__consumer_offsets` on Kafka).
    pub min_insync_replicas: Option<i64>,
}

/// The replication factor and minimum ISR an internal topic gets with `live` unfenced
/// brokers: the wanted factor capped by `live` (at least 1), the minimum by the factor.
pub fn capped(wanted_rf: usize, wanted_min_isr: Option<i64>, live: usize) -> (usize, Option<i64>) {
    let rf = wanted_rf.clamp(1, live.max(1));
    (rf, wanted_min_isr.map(|m| m.clamp(1, rf as i64)))
}

impl CoreCall for CreateInternalTopicCall {
    type Reply = Vec<Result<TopicMeta, CreateError>>;
    type Service = MetadataAdmin;
    async fn run(self, admin: &Rc<MetadataAdmin>) -> Self::Reply {
        let live = admin
            .quorum()
            .map_or(1, |q| q.image().unfenced_brokers().len());
        let (rf, min_isr) = capped(self.replication_factor, self.min_insync_replicas, live);
        if rf < self.replication_factor {
            tracing::warn!(
                topic = %self.name,
                wanted = self.replication_factor,
                replication_factor = rf,
                "fewer live brokers than the internal topic's replication factor: capped"
            );
        }
        let mut configs = self.configs;
        if let Some(m) = min_isr {
            configs.insert("min.insync.replicas".to_string(), m.to_string());
        }
        let topic = NewTopic {
            name: self.name,
            partitions: self.partitions,
            configs,
            replication_factor: rf,
        };
        create_topics(admin, vec![topic], false).await
    }
}

#[cfg(test)]
mod tests {
    use super::capped;

    #[test]
    fn the_factor_is_capped_by_the_live_brokers_and_the_minimum_by_the_factor() {
        assert_eq!(capped(3, Some(2), 1), (1, Some(1)));
        assert_eq!(capped(3, Some(2), 2), (2, Some(2)));
        assert_eq!(capped(3, Some(2), 5), (3, Some(2)));
        assert_eq!(capped(3, None, 0), (1, None));
        assert_eq!(capped(1, Some(3), 3), (1, Some(1)));
        assert_eq!(capped(0, Some(0), 3), (1, Some(1)));
    }
}
