//! DescribeUserScramCredentials (API 50) and AlterUserScramCredentials (API 51), as Kafka 4.x
//! serves them. Descriptions are read from this core's copy of the metadata image (the
//! mechanisms and iteration counts of each user, never a key or salt); alterations go to core
//! 0, which checks them with Kafka's rules and commits them to the controller quorum as one
//! batch ([`crate::shard::scram_admin`]). The answer waits (boundedly) until this core's image
//! holds the change, so that a client describing right after altering sees its change.

use super::authz::Authz;
use crate::security::acl::Operation;
use std::time::{Duration, Instant};

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;

use crate::errors::{ErrorMessage, KafkaError};
use crate::kafka::dispatch::RequestContext;
use crate::security::credentials::{self, Deletion, Upsertion};
use crate::shard::scram_admin::AlterScramCall;

/// Longest wait for this core's image to hold a committed change.
const SEE_OWN_CHANGE: Duration = Duration::from_secs(5);
/// Pause between looks at this core's image while waiting.
const SEE_POLL: Duration = Duration::from_millis(5);

/// Handles DescribeUserScramCredentials.
pub fn describe(ctx: &RequestContext, req: DescribeUserScramCredentialsRequest) -> ResponseKind {
    // As on Kafka: DESCRIBE on the cluster, or the whole request is refused.
    if let Err(e) = Authz::of(ctx).cluster(Operation::Describe) {
        let mut r = DescribeUserScramCredentialsResponse::default();
        r.error_code = e.code();
        r.error_message = Some(StrBytes::from_static_str(
            "DESCRIBE on the cluster is needed to describe SCRAM credentials",
        ));
        return ResponseKind::DescribeUserScramCredentials(r);
    }
    let state = ctx.core.cluster.state();
    let names: Option<Vec<String>> = req
        .users
        .map(|u| u.into_iter().map(|n| n.name.to_string()).collect());
    let mut r = DescribeUserScramCredentialsResponse::default();
    r.results = credentials::describe(&state.image, names.as_deref())
        .into_iter()
        .map(|(user, outcome)| {
            let mut res = DescribeUserScramCredentialsResult::default();
            res.user = StrBytes::from_string(user);
            match outcome {
                Ok(infos) => {
                    res.credential_infos = infos
                        .into_iter()
                        .map(|(mechanism, iterations)| {
                            let mut i = CredentialInfo::default();
                            i.mechanism = mechanism;
                            i.iterations = iterations;
                            i
                        })
                        .collect();
                }
                Err(e) => {
                    res.error_code = e.error.code();
                    res.error_message = Some(StrBytes::from_string(e.message));
                }
            }
            res
        })
        .collect();
    ResponseKind::DescribeUserScramCredentials(r)
}

/// Handles AlterUserScramCredentials.
pub async fn alter(ctx: &RequestContext, req: AlterUserScramCredentialsRequest) -> ResponseKind {
    // As on Kafka: ALTER on the cluster, or every user of the request is refused.
    if let Err(e) = Authz::of(ctx).cluster(Operation::Alter) {
        let mut seen = std::collections::HashSet::new();
        let mut r = AlterUserScramCredentialsResponse::default();
        r.results = req
            .deletions
            .iter()
            .map(|d| d.name.to_string())
            .chain(req.upsertions.iter().map(|u| u.name.to_string()))
            .filter(|n| seen.insert(n.clone()))
            .map(|n| {
                let mut res = AlterUserScramCredentialsResult::default();
                res.user = StrBytes::from_string(n);
                res.error_code = e.code();
                res
            })
            .collect();
        return ResponseKind::AlterUserScramCredentials(r);
    }
    let call = AlterScramCall {
        deletions: req
            .deletions
            .into_iter()
            .map(|d| Deletion {
                name: d.name.to_string(),
                mechanism: d.mechanism,
            })
            .collect(),
        upsertions: req
            .upsertions
            .into_iter()
            .map(|u| Upsertion {
                name: u.name.to_string(),
                mechanism: u.mechanism,
                iterations: u.iterations,
                salt: u.salt.to_vec(),
                salted_password: u.salted_password.to_vec(),
            })
            .collect(),
    };
    let names: Vec<String> = call
        .deletions
        .iter()
        .map(|d| d.name.clone())
        .chain(call.upsertions.iter().map(|u| u.name.clone()))
        .collect();
    let results = match ctx.core.mesh.call(0, call).await {
        Ok((results, index)) => {
            if index > 0 {
                see_own_change(ctx, index).await;
            }
            results
        }
        Err(_) => {
            let mut seen = std::collections::HashSet::new();
            names
                .into_iter()
                .filter(|n| seen.insert(n.clone()))
                .map(|n| {
                    let e =
                        ErrorMessage::new(KafkaError::UnknownServerError, "broker shutting down");
                    (n, Err(e))
                })
                .collect()
        }
    };
    let mut r = AlterUserScramCredentialsResponse::default();
    r.results = results
        .into_iter()
        .map(|(user, outcome)| {
            let mut res = AlterUserScramCredentialsResult::default();
            res.user = StrBytes::from_string(user);
            if let Err(e) = outcome {
                res.error_code = e.error.code();
                res.error_message = Some(StrBytes::from_string(e.message));
            }
            res
        })
        .collect();
    ResponseKind::AlterUserScramCredentials(r)
}

/// Waits up to [`SEE_OWN_CHANGE`] until this core's cluster snapshot holds image `index`.
async fn see_own_change(ctx: &RequestContext, index: u64) {
    let deadline = Instant::now() + SEE_OWN_CHANGE;
    while ctx.core.cluster.state().image.applied_index() < index && Instant::now() < deadline {
        glommio::timer::sleep(SEE_POLL).await;
    }
}
