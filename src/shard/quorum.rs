//! [`Quorum`]: core 0's way to change topics through the controller quorum (docs/cluster.md,
//! "Topics in the quorum"). A topic change becomes a record batch (`RecordBatch::create_topic`,
//! `RecordBatch::partitions`, `RemoveTopic`, `Config`) proposed with `Controller::propose`,
//! which forwards it to the active controller; replicas are placed on the live brokers with
//! the controller crate's placement. The controller's rejections become the Kafka errors a
//! real broker answers ([`error_of`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use runnel_controller::placement::{self, PlacementError};
use runnel_controller::records::{
    BrokerId, ConfigRecord, ConfigResource, MetadataRecord, RemoveTopicRecord,
};
use runnel_controller::{ControllerError, MetadataImage, QuorumHandle, RecordBatch, RejectReason};

use crate::cluster::topics::TopicMeta;
use crate::errors::{ErrorMessage, KafkaError};

/// How long a change waits for a live broker to place replicas on (a broker that has just
/// started registers and is unfenced within milliseconds on a one-node quorum).
pub const BROKER_WAIT: Duration = Duration::from_secs(10);

/// Topic changes through the controller quorum (see the module comment).
pub struct Quorum {
    controller: Arc<QuorumHandle>,
    me: BrokerId,
    incarnation: uuid::Uuid,
    /// Set once the local table follows the image (topics.json imported).
    ready: std::cell::Cell<bool>,
}

impl Quorum {
    /// Changes proposed through `controller` by broker `me`, whose registration of this run
    /// has `incarnation`.
    pub fn new(controller: Arc<QuorumHandle>, me: BrokerId, incarnation: uuid::Uuid) -> Quorum {
        Quorum {
            controller,
            me,
            incarnation,
            ready: std::cell::Cell::new(false),
        }
    }

    /// This broker's id.
    pub fn me(&self) -> BrokerId {
        self.me
    }

    /// A receiver of every new image.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Arc<MetadataImage>> {
        self.controller.subscribe()
    }

    /// Whether `image` has this run's registration, and therefore every change committed
    /// before it: only such an image may replace the local topic table (after a restart the
    /// controller's image is its snapshot's until it has applied the committed log again).
    pub fn caught_up(&self, image: &MetadataImage) -> bool {
        image
            .broker(self.me)
            .is_some_and(|b| b.incarnation_id == self.incarnation)
    }

    /// The newest image this node's controller applied.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.controller.image()
    }

    /// The unfenced brokers (id, rack), waiting up to [`BROKER_WAIT`] for one to appear.
    async fn live_brokers(&self) -> Result<Vec<(BrokerId, Option<String>)>, ErrorMessage> {
        let mut updates = self.controller.subscribe();
        let deadline = std::time::Instant::now() + BROKER_WAIT;
        loop {
            let live = updates.borrow_and_update().unfenced_brokers();
            if !live.is_empty() {
                return Ok(live);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(ErrorMessage::new(
                    KafkaError::RequestTimedOut,
                    "no live broker is registered with the controller quorum",
                ));
            }
            let changed = async {
                let _ = updates.changed().await;
            };
            futures_lite::future::or(changed, glommio::timer::sleep(left.min(BROKER_WAIT))).await;
        }
    }

    /// Places `count` partitions from `first` with `replication_factor` replicas each on the
    /// live brokers.
    pub async fn place(
        &self,
        first: i32,
        count: i32,
        replication_factor: usize,
    ) -> Result<Vec<Vec<BrokerId>>, ErrorMessage> {
        let brokers = self.live_brokers().await?;
        placement::place(
            &brokers,
            first.max(0) as u32,
            count.max(0) as u32,
            replication_factor,
        )
        .map_err(|e| placement_error(e, replication_factor))
    }

    /// Marks the local table as following the image ([`super::image_sync::follow`]).
    pub fn set_ready(&self) {
        self.ready.set(true);
    }

    /// Waits up to [`BROKER_WAIT`] until the local table follows the image: topic changes
    /// wait for it (REQUEST_TIMED_OUT after that), so that none is made on a stale image or
    /// before topics.json was imported.
    pub async fn wait_ready(&self) -> Result<(), ErrorMessage> {
        let deadline = std::time::Instant::now() + BROKER_WAIT;
        while !self.ready.get() {
            if std::time::Instant::now() >= deadline {
                return Err(ErrorMessage::new(
                    KafkaError::RequestTimedOut,
                    "this broker has not yet caught up with the controller quorum's metadata",
                ));
            }
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// Proposes `batch`, answering the controller's own error.
    pub async fn propose_raw(&self, batch: RecordBatch) -> Result<(), ControllerError> {
        self.controller.propose(batch).await.map(|_| ())
    }

    /// Proposes `batch`; `Ok` once this node's image has it.
    pub async fn propose(&self, batch: RecordBatch) -> Result<(), ErrorMessage> {
        self.controller
            .propose(batch)
            .await
            .map(|_| ())
            .map_err(error_of)
    }
}

/// Proposes the creation of `meta` (its id, partition count and configs) with
/// `replication_factor` replicas per partition placed on the live brokers.
pub async fn create_topic(
    quorum: &Quorum,
    meta: &TopicMeta,
    replication_factor: usize,
) -> Result<(), ErrorMessage> {
    let assignments = quorum
        .place(0, meta.partitions.len() as i32, replication_factor)
        .await?;
    let configs: Vec<(String, String)> = meta
        .configs
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    quorum
        .propose(RecordBatch::create_topic(
            &meta.name,
            meta.uuid(),
            &assignments,
            &configs,
        ))
        .await
}

/// The batch that deletes topic `id`.
pub fn remove_topic(id: uuid::Uuid) -> RecordBatch {
    RecordBatch::one(MetadataRecord::RemoveTopic(RemoveTopicRecord {
        topic_id: id,
    }))
}

/// The `Config` records that take topic `name`'s overrides from `before` to `after`.
pub fn config_changes(
    name: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<MetadataRecord> {
    let record = |k: &String, value: Option<String>| {
        MetadataRecord::Config(ConfigRecord {
            resource: ConfigResource::Topic(name.to_string()),
            name: k.clone(),
            value,
        })
    };
    let set = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| record(k, Some(v.clone())));
    let removed = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .map(|k| record(k, None));
    set.chain(removed).collect()
}

/// The Kafka error for a placement that cannot be made.
fn placement_error(e: PlacementError, rf: usize) -> ErrorMessage {
    match e {
        PlacementError::NoBrokers | PlacementError::ReplicationFactor { .. } => {
            let available = match e {
                PlacementError::ReplicationFactor { available, .. } => available,
                _ => 0,
            };
            ErrorMessage::new(
                KafkaError::InvalidReplicationFactor,
                format!(
                    "Unable to replicate the partition {rf} time(s): The target replication \
                     factor of {rf} cannot be reached because only {available} broker(s) are \
                     registered."
                ),
            )
        }
        PlacementError::MixedRacks => ErrorMessage::new(
            KafkaError::InvalidReplicaAssignment,
            "Not all brokers have rack information (broker.rack) for replica rack aware \
             assignment.",
        ),
    }
}

/// The Kafka error a real broker answers for a controller's refusal.
pub fn error_of(e: ControllerError) -> ErrorMessage {
    let (error, message) = match &e {
        ControllerError::Rejected(r) => (
            match r {
                RejectReason::UnknownTopic(_) | RejectReason::UnknownPartition(_) => {
                    KafkaError::UnknownTopicOrPartition
                }
                RejectReason::TopicExists(_) => KafkaError::TopicAlreadyExists,
                RejectReason::UnknownBroker(_) | RejectReason::InvalidReplicaAssignment(_) => {
                    KafkaError::InvalidReplicaAssignment
                }
                RejectReason::Invalid(_) => KafkaError::InvalidRequest,
                RejectReason::NotLeader(_) => KafkaError::NotLeaderOrFollower,
                RejectReason::FencedLeaderEpoch(_) => KafkaError::FencedLeaderEpoch,
                RejectReason::NoReassignmentInProgress(_) => KafkaError::NoReassignmentInProgress,
                RejectReason::InvalidReplicationFactor(_) => KafkaError::InvalidReplicationFactor,
                RejectReason::ElectionNotNeeded(_) => KafkaError::ElectionNotNeeded,
                // Answers to brokers' own AlterPartition records, never to a client request.
                RejectReason::StaleBrokerEpoch(_)
                | RejectReason::DuplicateBrokerId(_)
                | RejectReason::InvalidProducerIds(_)
                | RejectReason::InvalidUpdateVersion(_)
                | RejectReason::IneligibleReplica(_) => KafkaError::UnknownServerError,
            },
            r.to_string(),
        ),
        ControllerError::NotLeader(_) | ControllerError::Shutdown => {
            (KafkaError::NotController, e.to_string())
        }
        ControllerError::NoLeader | ControllerError::OutcomeUnknown(_) => {
            (KafkaError::RequestTimedOut, e.to_string())
        }
        ControllerError::TooLarge(_) => (KafkaError::InvalidRequest, e.to_string()),
        ControllerError::Storage(_) => (KafkaError::KafkaStorageError, e.to_string()),
        ControllerError::Config(_) | ControllerError::Raft(_) => {
            (KafkaError::UnknownServerError, e.to_string())
        }
    };
    ErrorMessage::new(error, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn config_changes_set_changed_and_remove_dropped_keys() {
        let before = map(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let after = map(&[("a", "1"), ("b", "9"), ("d", "4")]);
        let got = config_changes("t", &before, &after);
        let view: Vec<(String, Option<String>)> = got
            .into_iter()
            .map(|r| match r {
                MetadataRecord::Config(c) => {
                    assert_eq!(c.resource, ConfigResource::Topic("t".into()));
                    (c.name, c.value)
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            view,
            vec![
                ("b".into(), Some("9".into())),
                ("d".into(), Some("4".into())),
                ("c".into(), None)
            ]
        );
    }

    #[test]
    fn rejections_map_to_kafka_errors() {
        let code = |e| error_of(e).error;
        assert_eq!(
            code(ControllerError::Rejected(RejectReason::TopicExists(
                "t".into()
            ))),
            KafkaError::TopicAlreadyExists
        );
        assert_eq!(
            code(ControllerError::Rejected(RejectReason::UnknownTopic(
                "t".into()
            ))),
            KafkaError::UnknownTopicOrPartition
        );
        assert_eq!(code(ControllerError::NoLeader), KafkaError::RequestTimedOut);
        assert_eq!(
            code(ControllerError::NotLeader(Some(2))),
            KafkaError::NotController
        );
        let e = placement_error(
            PlacementError::ReplicationFactor {
                requested: 3,
                available: 2,
            },
            3,
        );
        assert_eq!(e.error, KafkaError::InvalidReplicationFactor);
        assert!(e.message.contains("only 2 broker(s)"), "{}", e.message);
    }
}
