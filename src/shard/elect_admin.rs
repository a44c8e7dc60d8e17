//! ElectLeaders on core 0 (docs/replication.md, step 7): each partition's election is decided
//! on the controller image this node has (`runnel_controller::elect::decide`: the preferred
//! replica when it is alive and in the ISR, or for UNCLEAN a live replica of a partition
//! without a leader), and the elections are proposed as `ElectLeaderRecord`s through the
//! quorum, which checks each again against the partition epoch it was decided on. A proposal
//! refused because the image moved meanwhile is decided again on the newer image (at most
//! [`ATTEMPTS`] times). Brokers follow the new leaders as they follow every leadership change:
//! from the image.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use runnel_controller::elect::{self, ElectionRefusal};
use runnel_controller::records::ElectLeaderRecord;
use runnel_controller::{ControllerError, MetadataRecord, RecordBatch, RejectReason};

use super::call::CoreCall;
use super::quorum::{error_of, Quorum};
use super::MetadataAdmin;
use crate::errors::{ErrorMessage, KafkaError};

/// Tries of one request whose elections were refused as stale.
pub const ATTEMPTS: usize = 3;
/// Elections proposed in one record batch.
const PER_BATCH: usize = 1000;

/// Elect leaders (sent to core 0): the partitions named, or every partition when `None`.
#[derive(Debug)]
pub struct ElectLeadersCall {
    /// (topic, partition) in request order; `None`: every partition of the cluster.
    pub partitions: Option<Vec<(String, i32)>>,
    /// UNCLEAN (true) or PREFERRED (false).
    pub unclean: bool,
}

/// One partition's outcome: `None` when elected.
pub type ElectionResult = (String, i32, Option<ErrorMessage>);

/// Why core 0 cannot elect: it has no controller quorum (a benchmark's cores).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoQuorum;

impl CoreCall for ElectLeadersCall {
    type Reply = Result<Vec<ElectionResult>, NoQuorum>;
    type Service = MetadataAdmin;
    async fn run(self, admin: &Rc<MetadataAdmin>) -> Self::Reply {
        let q = admin.quorum().ok_or(NoQuorum)?;
        Ok(elect_leaders(&q, self.partitions, self.unclean).await)
    }
}

/// The Kafka error for a partition that gets no election.
pub fn refusal_error(r: ElectionRefusal) -> ErrorMessage {
    match r {
        ElectionRefusal::UnknownTopicOrPartition => ErrorMessage::new(
            KafkaError::UnknownTopicOrPartition,
            "The topic or partition does not exist.",
        ),
        ElectionRefusal::NotNeeded => ErrorMessage::new(
            KafkaError::ElectionNotNeeded,
            "Leader election not needed for topic partition.",
        ),
        ElectionRefusal::PreferredLeaderNotAvailable => ErrorMessage::new(
            KafkaError::PreferredLeaderNotAvailable,
            "The preferred leader is not alive or not in the ISR.",
        ),
        ElectionRefusal::EligibleLeadersNotAvailable => ErrorMessage::new(
            KafkaError::EligibleLeadersNotAvailable,
            "No live replica can lead the partition.",
        ),
    }
}

/// Decides and proposes the elections (see the module comment).
async fn elect_leaders(
    q: &Quorum,
    partitions: Option<Vec<(String, i32)>>,
    unclean: bool,
) -> Vec<ElectionResult> {
    let all = partitions.is_none();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let image = q.image();
        let wanted: Vec<(String, i32)> = match &partitions {
            Some(p) => p.clone(),
            None => image
                .topics()
                .flat_map(|t| (0..t.partitions.len() as i32).map(|i| (t.name.clone(), i)))
                .collect(),
        };
        let mut decided: HashMap<(String, i32), Option<ErrorMessage>> = HashMap::new();
        let mut records: Vec<ElectLeaderRecord> = Vec::new();
        let mut results: Vec<ElectionResult> = Vec::new();
        for (topic, partition) in wanted {
            let key = (topic.clone(), partition);
            let outcome = match decided.get(&key) {
                Some(o) => o.clone(),
                None => {
                    let o = match elect::decide(&image, &topic, partition, unclean) {
                        Ok(r) => {
                            records.push(r);
                            None
                        }
                        Err(e) => Some(refusal_error(e)),
                    };
                    decided.insert(key, o.clone());
                    o
                }
            };
            // With every partition asked for, Kafka leaves out those that needed nothing.
            if all
                && outcome
                    .as_ref()
                    .is_some_and(|e| e.error == KafkaError::ElectionNotNeeded)
            {
                continue;
            }
            results.push((topic, partition, outcome));
        }
        match propose(q, records).await {
            Ok(()) => return results,
            Err(ControllerError::Rejected(
                RejectReason::InvalidUpdateVersion(_)
                | RejectReason::ElectionNotNeeded(_)
                | RejectReason::IneligibleReplica(_),
            )) if attempt < ATTEMPTS => {
                // The image moved under the decision: decide again on the next one.
                glommio::timer::sleep(Duration::from_millis(20 * attempt as u64)).await;
            }
            Err(e) => {
                let e = match e {
                    ControllerError::Rejected(RejectReason::IneligibleReplica(_)) => {
                        refusal_error(if unclean {
                            ElectionRefusal::EligibleLeadersNotAvailable
                        } else {
                            ElectionRefusal::PreferredLeaderNotAvailable
                        })
                    }
                    e => error_of(e),
                };
                for r in results.iter_mut().filter(|r| r.2.is_none()) {
                    r.2 = Some(e.clone());
                }
                return results;
            }
        }
    }
}

async fn propose(q: &Quorum, records: Vec<ElectLeaderRecord>) -> Result<(), ControllerError> {
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let batch = RecordBatch {
            records: records
                .by_ref()
                .take(PER_BATCH)
                .map(MetadataRecord::ElectLeader)
                .collect(),
        };
        q.propose_raw(batch).await?;
    }
    Ok(())
}
