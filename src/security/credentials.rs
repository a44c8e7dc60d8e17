//! SCRAM credentials as the cluster metadata keeps them (`MetadataImage::scram`): the lookup
//! the SASL mechanisms authenticate against, and Kafka's rules for AlterUserScramCredentials
//! and DescribeUserScramCredentials (Kafka's `ScramControlManager.alterCredentials` and
//! `ScramImage.describe`), as pure functions of an image.

use std::collections::{BTreeMap, HashMap, HashSet};

use runnel_controller::records::{
    MetadataRecord, RemoveUserScramCredentialRecord, UserScramCredentialRecord,
};
use runnel_controller::scram_image::{MAX_SALT, MAX_USER_NAME};
use runnel_controller::MetadataImage;

use super::scram::{Mechanism, ScramCredential, MAX_ITERATIONS, MIN_ITERATIONS};
use crate::errors::{ErrorMessage, KafkaError};

/// The stored credential of `user` for `mechanism`, if the image has one.
pub fn lookup(image: &MetadataImage, user: &str, mechanism: Mechanism) -> Option<ScramCredential> {
    let c = image.scram().get(user, mechanism.kafka_type())?;
    Some(ScramCredential {
        mechanism,
        salt: c.salt.clone(),
        iterations: u32::try_from(c.iterations).ok()?,
        stored_key: c.stored_key.clone(),
        server_key: c.server_key.clone(),
    })
}

/// Any stored credential of `user` (SCRAM-SHA-512 first): what a PLAIN login is checked
/// against.
pub fn lookup_any(image: &MetadataImage, user: &str) -> Option<ScramCredential> {
    lookup(image, user, Mechanism::Sha512).or_else(|| lookup(image, user, Mechanism::Sha256))
}

/// One deletion of an AlterUserScramCredentials request.
#[derive(Debug, Clone)]
pub struct Deletion {
    /// The user.
    pub name: String,
    /// Kafka's mechanism number.
    pub mechanism: i8,
}

/// One upsertion of an AlterUserScramCredentials request.
#[derive(Debug, Clone)]
pub struct Upsertion {
    /// The user.
    pub name: String,
    /// Kafka's mechanism number.
    pub mechanism: i8,
    /// PBKDF2 iterations.
    pub iterations: i32,
    /// The salt.
    pub salt: Vec<u8>,
    /// `Hi(password, salt, iterations)`.
    pub salted_password: Vec<u8>,
}

/// What an AlterUserScramCredentials request does: the records to commit (all or nothing)
/// and one result per user named, in the order users first appear in the request.
#[derive(Debug, Default)]
pub struct AlterPlan {
    /// The records, to be proposed as one batch.
    pub records: Vec<MetadataRecord>,
    /// Per user: success, or the error Kafka answers.
    pub results: Vec<(String, Result<(), ErrorMessage>)>,
}

fn unacceptable(m: &str) -> ErrorMessage {
    ErrorMessage::new(KafkaError::UnacceptableCredential, m)
}

fn check_user_and_mechanism(name: &str, mechanism: i8) -> Result<Mechanism, ErrorMessage> {
    if name.is_empty() {
        return Err(unacceptable("Username must not be empty"));
    }
    if name.len() > MAX_USER_NAME {
        return Err(unacceptable("Username is too long"));
    }
    Mechanism::from_kafka_type(mechanism).ok_or_else(|| {
        ErrorMessage::new(
            KafkaError::UnsupportedSaslMechanism,
            "Unknown SCRAM mechanism",
        )
    })
}

fn check_upsertion(u: &Upsertion) -> Result<UserScramCredentialRecord, ErrorMessage> {
    let mechanism = check_user_and_mechanism(&u.name, u.mechanism)?;
    if u.iterations < MIN_ITERATIONS as i32 {
        return Err(unacceptable("Too few iterations"));
    }
    if u.iterations > MAX_ITERATIONS as i32 {
        return Err(unacceptable("Too many iterations"));
    }
    if u.salt.is_empty() || u.salt.len() > MAX_SALT {
        return Err(unacceptable("The salt must hold 1 to 1024 bytes"));
    }
    if u.salted_password.is_empty() || u.salted_password.len() > MAX_SALT {
        return Err(unacceptable(
            "The salted password must hold 1 to 1024 bytes",
        ));
    }
    let c = ScramCredential::from_salted_password(
        mechanism,
        &u.salted_password,
        &u.salt,
        u.iterations as u32,
    );
    Ok(UserScramCredentialRecord {
        name: u.name.clone(),
        mechanism: u.mechanism,
        salt: c.salt,
        stored_key: c.stored_key,
        server_key: c.server_key,
        iterations: u.iterations,
    })
}

/// Kafka's AlterUserScramCredentials against `image`: a user named twice in the request
/// (deletions and upsertions together) is DUPLICATE_RESOURCE, a deletion of a credential
/// that does not exist RESOURCE_NOT_FOUND, an empty name or iterations outside 4096..16384
/// UNACCEPTABLE_CREDENTIAL, an unknown mechanism UNSUPPORTED_SASL_MECHANISM.
pub fn plan_alter(
    image: &MetadataImage,
    deletions: &[Deletion],
    upsertions: &[Upsertion],
) -> AlterPlan {
    let mut order: Vec<String> = Vec::new();
    let mut named: HashSet<String> = HashSet::new();
    let mut errors: HashMap<String, ErrorMessage> = HashMap::new();
    let mut dels: BTreeMap<String, RemoveUserScramCredentialRecord> = BTreeMap::new();
    let mut ups: BTreeMap<String, UserScramCredentialRecord> = BTreeMap::new();
    let duplicate = || {
        ErrorMessage::new(
            KafkaError::DuplicateResource,
            "A user credential cannot be altered twice in the same request",
        )
    };
    for d in deletions {
        if named.insert(d.name.clone()) {
            order.push(d.name.clone());
        }
        if errors.contains_key(&d.name) {
            continue;
        }
        if dels.remove(&d.name).is_some() {
            errors.insert(d.name.clone(), duplicate());
            continue;
        }
        let checked = check_user_and_mechanism(&d.name, d.mechanism).and_then(|_| {
            match image.scram().get(&d.name, d.mechanism) {
                Some(_) => Ok(()),
                None => Err(ErrorMessage::new(
                    KafkaError::ResourceNotFound,
                    "Attempt to delete a user credential that does not exist",
                )),
            }
        });
        match checked {
            Ok(()) => {
                dels.insert(
                    d.name.clone(),
                    RemoveUserScramCredentialRecord {
                        name: d.name.clone(),
                        mechanism: d.mechanism,
                    },
                );
            }
            Err(e) => {
                errors.insert(d.name.clone(), e);
            }
        }
    }
    for u in upsertions {
        if named.insert(u.name.clone()) {
            order.push(u.name.clone());
        }
        if errors.contains_key(&u.name) {
            continue;
        }
        if dels.remove(&u.name).is_some() || ups.remove(&u.name).is_some() {
            errors.insert(u.name.clone(), duplicate());
            continue;
        }
        match check_upsertion(u) {
            Ok(r) => {
                ups.insert(u.name.clone(), r);
            }
            Err(e) => {
                errors.insert(u.name.clone(), e);
            }
        }
    }
    let mut plan = AlterPlan::default();
    for name in order {
        if let Some(r) = dels.remove(&name) {
            plan.records
                .push(MetadataRecord::RemoveUserScramCredential(r));
            plan.results.push((name, Ok(())));
        } else if let Some(r) = ups.remove(&name) {
            plan.records.push(MetadataRecord::UserScramCredential(r));
            plan.results.push((name, Ok(())));
        } else if let Some(e) = errors.remove(&name) {
            plan.results.push((name, Err(e)));
        }
    }
    plan
}

/// One user's answer to DescribeUserScramCredentials: its (mechanism, iterations) pairs or
/// the error.
pub type Described = (String, Result<Vec<(i8, i32)>, ErrorMessage>);

/// Kafka's DescribeUserScramCredentials against `image`: no users (or an empty list) means
/// every user; a user named twice is DUPLICATE_RESOURCE, one without credentials
/// RESOURCE_NOT_FOUND.
pub fn describe(image: &MetadataImage, users: Option<&[String]>) -> Vec<Described> {
    let scram = image.scram();
    let listed = |name: &str| -> Result<Vec<(i8, i32)>, ErrorMessage> {
        match scram.user(name) {
            Some(m) if !m.is_empty() => Ok(m.iter().map(|(k, c)| (*k, c.iterations)).collect()),
            _ => Err(ErrorMessage::new(
                KafkaError::ResourceNotFound,
                format!("Attempt to describe a user credential that does not exist: {name}"),
            )),
        }
    };
    match users {
        None | Some([]) => scram
            .users()
            .map(|(name, _)| (name.clone(), listed(name)))
            .collect(),
        Some(names) => {
            let mut times: HashMap<&String, usize> = HashMap::new();
            let mut order: Vec<&String> = Vec::new();
            for n in names {
                let t = times.entry(n).or_insert(0);
                if *t == 0 {
                    order.push(n);
                }
                *t += 1;
            }
            order
                .into_iter()
                .map(|name| {
                    let r = if times[name] > 1 {
                        Err(ErrorMessage::new(
                            KafkaError::DuplicateResource,
                            format!(
                                "Cannot describe SCRAM credentials for the same user twice in a single request: {name}"
                            ),
                        ))
                    } else {
                        listed(name)
                    };
                    (name.clone(), r)
                })
                .collect()
        }
    }
}

#[cfg(test)]
#[path = "credentials_tests.rs"]
mod tests;
