//! SCRAM credentials in the metadata image (Kafka's `ScramImage`): one salted credential per
//! user and mechanism, set by [`UserScramCredentialRecord`] and removed by
//! [`RemoveUserScramCredentialRecord`]. Passwords are never here: only the salt, the iteration
//! count and SCRAM's `StoredKey` / `ServerKey`. Every record is checked against Kafka's bounds
//! before it changes anything (see [`ScramCredentials::apply_upsert`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::image::RejectReason;
use crate::records::{RemoveUserScramCredentialRecord, UserScramCredentialRecord};

/// Kafka's number of SCRAM-SHA-256 in the SCRAM credential APIs and records.
pub const SCRAM_SHA_256: i8 = 1;
/// Kafka's number of SCRAM-SHA-512.
pub const SCRAM_SHA_512: i8 = 2;
/// Fewest PBKDF2 iterations Kafka accepts.
pub const MIN_ITERATIONS: i32 = 4096;
/// Most PBKDF2 iterations Kafka accepts.
pub const MAX_ITERATIONS: i32 = 16384;
/// Longest user name kept (bytes); Kafka has no limit, a bound keeps the image bounded.
pub const MAX_USER_NAME: usize = 1024;
/// Longest salt kept (bytes).
pub const MAX_SALT: usize = 1024;
/// Most credentials (user and mechanism pairs) the image holds.
pub const MAX_CREDENTIALS: usize = 100_000;

/// The key length (bytes) of a mechanism's hash, if the mechanism is one Kafka knows.
pub fn key_len(mechanism: i8) -> Option<usize> {
    match mechanism {
        SCRAM_SHA_256 => Some(32),
        SCRAM_SHA_512 => Some(64),
        _ => None,
    }
}

/// One stored credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredScramCredential {
    /// The salt.
    pub salt: Vec<u8>,
    /// SCRAM's `StoredKey`.
    pub stored_key: Vec<u8>,
    /// SCRAM's `ServerKey`.
    pub server_key: Vec<u8>,
    /// PBKDF2 iterations.
    pub iterations: i32,
}

/// Every user's SCRAM credentials, by user name and mechanism number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredentials {
    by_user: BTreeMap<String, BTreeMap<i8, StoredScramCredential>>,
    count: usize,
}

impl ScramCredentials {
    /// The credential of `user` for `mechanism`.
    pub fn get(&self, user: &str, mechanism: i8) -> Option<&StoredScramCredential> {
        self.by_user.get(user).and_then(|m| m.get(&mechanism))
    }

    /// The credentials of `user`, by mechanism number (absent: the user has none).
    pub fn user(&self, user: &str) -> Option<&BTreeMap<i8, StoredScramCredential>> {
        self.by_user.get(user)
    }

    /// Every user with at least one credential, in name order.
    pub fn users(&self) -> impl Iterator<Item = (&String, &BTreeMap<i8, StoredScramCredential>)> {
        self.by_user.iter()
    }

    /// How many credentials (user and mechanism pairs) there are.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there is no credential at all.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Creates or replaces a credential, after checking the record against Kafka's bounds.
    pub fn apply_upsert(&mut self, r: &UserScramCredentialRecord) -> Result<(), RejectReason> {
        let bad = |m: String| Err(RejectReason::Invalid(m));
        check_name(&r.name)?;
        let Some(len) = key_len(r.mechanism) else {
            return bad(format!("unknown SCRAM mechanism {}", r.mechanism));
        };
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&r.iterations) {
            return bad(format!("{} SCRAM iterations", r.iterations));
        }
        if r.salt.is_empty() || r.salt.len() > MAX_SALT {
            return bad(format!("a SCRAM salt of {} bytes", r.salt.len()));
        }
        if r.stored_key.len() != len || r.server_key.len() != len {
            return bad("SCRAM keys of the wrong length".into());
        }
        let exists = self.get(&r.name, r.mechanism).is_some();
        if !exists && self.count >= MAX_CREDENTIALS {
            return bad(format!("more than {MAX_CREDENTIALS} SCRAM credentials"));
        }
        self.by_user.entry(r.name.clone()).or_default().insert(
            r.mechanism,
            StoredScramCredential {
                salt: r.salt.clone(),
                stored_key: r.stored_key.clone(),
                server_key: r.server_key.clone(),
                iterations: r.iterations,
            },
        );
        if !exists {
            self.count += 1;
        }
        Ok(())
    }

    /// Removes a credential; one that does not exist is refused (as Kafka's replay does).
    pub fn apply_remove(
        &mut self,
        r: &RemoveUserScramCredentialRecord,
    ) -> Result<(), RejectReason> {
        let Some(mechs) = self.by_user.get_mut(&r.name) else {
            return Err(RejectReason::Invalid(format!(
                "no SCRAM credential for user {:?}",
                r.name
            )));
        };
        if mechs.remove(&r.mechanism).is_none() {
            return Err(RejectReason::Invalid(format!(
                "no SCRAM credential of mechanism {} for user {:?}",
                r.mechanism, r.name
            )));
        }
        if mechs.is_empty() {
            self.by_user.remove(&r.name);
        }
        self.count -= 1;
        Ok(())
    }
}

fn check_name(name: &str) -> Result<(), RejectReason> {
    if name.is_empty() || name.len() > MAX_USER_NAME {
        return Err(RejectReason::Invalid(format!(
            "a SCRAM user name of {} bytes",
            name.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsert(name: &str, mechanism: i8, iterations: i32) -> UserScramCredentialRecord {
        let len = key_len(mechanism).unwrap_or(32);
        UserScramCredentialRecord {
            name: name.into(),
            mechanism,
            salt: vec![1; 16],
            stored_key: vec![2; len],
            server_key: vec![3; len],
            iterations,
        }
    }

    #[test]
    fn upsert_replace_and_remove() {
        let mut c = ScramCredentials::default();
        c.apply_upsert(&upsert("alice", SCRAM_SHA_256, 4096))
            .unwrap();
        c.apply_upsert(&upsert("alice", SCRAM_SHA_512, 8192))
            .unwrap();
        c.apply_upsert(&upsert("alice", SCRAM_SHA_512, 9000))
            .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("alice", SCRAM_SHA_512).unwrap().iterations, 9000);
        let rm = |m| RemoveUserScramCredentialRecord {
            name: "alice".into(),
            mechanism: m,
        };
        c.apply_remove(&rm(SCRAM_SHA_256)).unwrap();
        assert!(c.apply_remove(&rm(SCRAM_SHA_256)).is_err());
        c.apply_remove(&rm(SCRAM_SHA_512)).unwrap();
        assert!(c.is_empty());
        assert!(c.user("alice").is_none());
    }

    #[test]
    fn out_of_bounds_records_are_refused() {
        let mut c = ScramCredentials::default();
        for r in [
            upsert("", SCRAM_SHA_256, 4096),
            upsert("bob", 3, 4096),
            upsert("bob", SCRAM_SHA_256, 4095),
            upsert("bob", SCRAM_SHA_256, 16385),
            UserScramCredentialRecord {
                stored_key: vec![0; 64],
                ..upsert("bob", SCRAM_SHA_256, 4096)
            },
            UserScramCredentialRecord {
                salt: vec![],
                ..upsert("bob", SCRAM_SHA_256, 4096)
            },
        ] {
            assert!(c.apply_upsert(&r).is_err(), "{r:?}");
        }
        assert!(c.is_empty());
    }
}
