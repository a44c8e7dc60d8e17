//! One cluster id for the whole cluster, kept in the metadata image (a `ClusterId` record),
//! reconciled with this broker's `meta.properties` by core 0 once its image is caught up and
//! before the topic table follows the image (docs/cluster.md, "One cluster id"):
//!
//! - the image has no id: this broker proposes its own (its `meta.properties` id, so an
//!   upgraded single node keeps it, or the new one it made at startup); the first proposal
//!   committed wins, a later one with another id is refused and this broker adopts the winner;
//! - the image has an id and `meta.properties` has none (a fresh broker): it is written there;
//! - `meta.properties` has another id: the directory belongs to another cluster. The broker
//!   stops (Kafka's `InconsistentClusterIdException`) before its table follows the image, so
//!   nothing of the directory is opened, deleted or imported by this cluster.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use runnel_controller::records::{ClusterIdRecord, MetadataRecord};
use runnel_controller::{ControllerError, RecordBatch};

use super::quorum::Quorum;
use super::TopicView;
use crate::cluster::identity;

/// Pause between tries while the quorum cannot take the proposal.
const RETRY: Duration = Duration::from_millis(500);

/// Makes `meta.properties` and the image agree on one cluster id (see the module comment),
/// retrying until done or `stop`. `Err` is why the broker must stop.
pub async fn reconcile(quorum: &Quorum, view: &TopicView, stop: &AtomicBool) -> Result<(), String> {
    let config = view.config();
    let dir = config.data_dir.clone();
    while !stop.load(Ordering::Relaxed) {
        let d = dir.clone();
        let stored = crate::storage::fault::blocking(move || identity::read_cluster_id(&d))
            .await
            .map_err(|e| format!("cannot read meta.properties: {e:#}"))?;
        let image = quorum.image();
        let Some(id) = image.cluster_id() else {
            let mine = stored.unwrap_or_else(|| view.cluster_id().to_string());
            let record = MetadataRecord::ClusterId(ClusterIdRecord {
                cluster_id: mine.clone(),
            });
            match quorum.propose_raw(RecordBatch::one(record)).await {
                Ok(()) => tracing::info!(cluster_id = %mine, "cluster id set in the metadata log"),
                // Another broker set it first: the image is read again.
                Err(ControllerError::Rejected(r)) => {
                    tracing::info!(reason = %r, "cluster id not proposed");
                    glommio::timer::sleep(RETRY).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "proposing the cluster id; retrying");
                    glommio::timer::sleep(RETRY).await;
                }
            }
            continue;
        };
        return match stored {
            Some(s) if s == id => Ok(()),
            Some(s) => Err(format!(
                "the cluster id {id} of the controller quorum does not match the cluster id {s} \
                 stored in {}: this data directory belongs to another cluster (refusing to \
                 start, as Kafka's InconsistentClusterIdException)",
                dir.join("meta.properties").display()
            )),
            None => {
                let (d, cid, node) = (dir.clone(), id.to_string(), config.node_id);
                crate::storage::fault::blocking(move || identity::write_cluster_id(&d, &cid, node))
                    .await
                    .map_err(|e| format!("{e:#}"))?;
                tracing::info!(cluster_id = %id, "adopted the cluster's id in meta.properties");
                Ok(())
            }
        };
    }
    Ok(())
}
