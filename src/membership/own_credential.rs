//! The SCRAM credential this broker logs in to the other brokers with, written to the cluster
//! metadata when it is missing: Kafka has operators add it when they format the storage
//! (`kafka-storage format --add-scram`); Runnel has no format step, so a broker whose
//! inter-broker listener uses SASL (SCRAM or PLAIN, which is checked against the same stored
//! credential) creates its own user from `sasl.jaas.config` once the quorum answers, unless the
//! image already holds one. A stored credential the configured password does not match is left
//! alone and logged (logins to peers will fail until one of them is changed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use runnel_controller::records::{MetadataRecord, UserScramCredentialRecord};
use runnel_controller::{QuorumHandle, RecordBatch};

use crate::config::inter_broker::InterBrokerAuth;
use crate::security::credentials::{lookup, lookup_any};
use crate::security::scram::{Mechanism, ScramCredential, MIN_ITERATIONS};

/// Pause between tries while the quorum does not answer.
const RETRY: Duration = Duration::from_secs(1);
/// Tries before giving up (about ten minutes); the outcome is logged either way.
const MAX_TRIES: u32 = 600;

/// Makes sure the image holds the credential of `auth`'s SASL login (see the module comment);
/// returns when it does, when there is nothing to do, at `stop`, or after [`MAX_TRIES`]. The
/// image is trusted only once it holds this run's registration (`node_id`, `incarnation`), so
/// that an image older than the cluster's newest is never taken for one without the user.
pub async fn ensure(
    controller: Arc<QuorumHandle>,
    auth: InterBrokerAuth,
    node_id: i32,
    incarnation: uuid::Uuid,
    stop: Arc<AtomicBool>,
) {
    let Some((mechanism, user, password)) = auth.sasl else {
        return;
    };
    // PLAIN logins are checked against the user's SCRAM credential (SCRAM-SHA-512 made here).
    let scram = Mechanism::from_name(&mechanism);
    for _ in 0..MAX_TRIES {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let image = controller.image();
        if image
            .broker(node_id)
            .is_none_or(|b| b.incarnation_id != incarnation)
        {
            glommio::timer::sleep(RETRY).await;
            continue;
        }
        let stored = match scram {
            Some(m) => lookup(&image, &user, m),
            None => lookup_any(&image, &user),
        };
        if let Some(c) = stored {
            if !c.matches_password(password.as_bytes()) {
                tracing::error!(user = %user, mechanism = %mechanism,
                    "the cluster holds a SCRAM credential for this broker's inter-broker user \
                     that its configured password does not match: logins to other brokers fail \
                     until sasl.jaas.config or the credential (runnel user create) is changed");
            }
            return;
        }
        let m = scram.unwrap_or(Mechanism::Sha512);
        let credential = match ScramCredential::generate(m, password.as_bytes(), MIN_ITERATIONS) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot derive the inter-broker credential");
                return;
            }
        };
        let batch = RecordBatch::one(MetadataRecord::UserScramCredential(
            UserScramCredentialRecord {
                name: user.clone(),
                mechanism: m.kafka_type(),
                salt: credential.salt,
                stored_key: credential.stored_key,
                server_key: credential.server_key,
                iterations: MIN_ITERATIONS as i32,
            },
        ));
        match controller.propose(batch).await {
            Ok(_) => {
                tracing::info!(user = %user, mechanism = m.name(),
                    "created this broker's inter-broker SCRAM credential in the cluster metadata");
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "inter-broker credential not stored yet; retrying")
            }
        }
        glommio::timer::sleep(RETRY).await;
    }
    tracing::warn!(user = %user, "gave up storing this broker's inter-broker SCRAM credential");
}
