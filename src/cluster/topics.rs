//! The topic table: every topic's id, partition placement and configs, persisted as JSON.
//!
//! Placement assigns each new partition to the core (executor slot) that owns the fewest
//! partitions, and is stored so that a partition stays on its core across restarts. When the
//! broker restarts with fewer cores, slot `s` maps to core `s % cores`. A partition another
//! broker hosts (in a cluster) has the slot [`ELSEWHERE`]: no core of this broker owns it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use crate::errors::{ErrorMessage, KafkaError};
use serde::{Deserialize, Serialize};

/// The slot of a partition that another broker hosts.
pub const ELSEWHERE: u32 = u32::MAX;

/// Longest topic name Kafka accepts.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// One topic.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopicMeta {
    /// Topic name.
    pub name: String,
    /// Topic id (UUID) as a string.
    pub id: String,
    /// Executor slot of each partition, indexed by partition number.
    pub partitions: Vec<u32>,
    /// Topic-level config overrides.
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

impl TopicMeta {
    /// The topic id as a UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        uuid::Uuid::parse_str(&self.id).unwrap_or_default()
    }
}

/// All topics of the cluster.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TopicTable {
    /// Topics by name.
    pub topics: BTreeMap<String, TopicMeta>,
}

/// Why a topic could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateError {
    /// TOPIC_ALREADY_EXISTS
    Exists,
    /// INVALID_PARTITIONS
    InvalidPartitions,
    /// Refused with this error and message (an invalid name, a partition limit, a partition
    /// that could not be opened).
    Refused(ErrorMessage),
}

/// Checks a topic name the way Kafka does: 1-249 characters of `[a-zA-Z0-9._-]`, not `.`/`..`;
/// INVALID_TOPIC_EXCEPTION otherwise.
pub fn validate_name(name: &str) -> Result<(), ErrorMessage> {
    let invalid = |m: String| Err(ErrorMessage::new(KafkaError::InvalidTopicException, m));
    if name.is_empty() {
        return invalid("topic name is empty".into());
    }
    if name == "." || name == ".." {
        return invalid(format!("topic name cannot be '{name}'"));
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return invalid(format!(
            "topic name is longer than {MAX_TOPIC_NAME_LEN} characters"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return invalid(format!(
            "topic name '{name}' has characters other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

impl TopicTable {
    /// Loads the table from `path`; a missing file is an empty table.
    pub fn load(path: &Path) -> Result<TopicTable> {
        match std::fs::read(path) {
            Ok(data) => {
                serde_json::from_slice(&data).with_context(|| format!("parsing {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TopicTable::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the table durably (temporary file, fsync, rename, directory fsync). Blocking.
    pub fn store(&self, path: &Path) -> std::io::Result<()> {
        write_durably(path, serde_json::to_vec_pretty(self)?)
    }

    /// [`TopicTable::store`] through the executor's disk, off the executor thread (from a task
    /// on an executor).
    pub async fn store_async(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self)?;
        crate::storage::durable::replace(path.to_path_buf(), bytes).await
    }

    /// Looks a topic up by name.
    pub fn get(&self, name: &str) -> Option<&TopicMeta> {
        self.topics.get(name)
    }

    /// Looks a topic up by id (Fetch v13+, Produce v13+: once per topic of a request). Ids
    /// are stored hyphenated, so the text is compared without parsing every stored id.
    pub fn by_id(&self, id: uuid::Uuid) -> Option<&TopicMeta> {
        if id.is_nil() {
            return None;
        }
        let mut buf = uuid::Uuid::encode_buffer();
        let text: &str = id.hyphenated().encode_lower(&mut buf);
        self.topics
            .values()
            .find(|t| t.id.eq_ignore_ascii_case(text))
    }

    /// Core index owning `topic`/`partition` among `cores` executors; `None` for an unknown
    /// partition and for one another broker hosts.
    pub fn owner(&self, topic: &str, partition: i32, cores: usize) -> Option<usize> {
        let t = self.topics.get(topic)?;
        let slot = *t.partitions.get(usize::try_from(partition).ok()?)?;
        (slot != ELSEWHERE).then_some(slot as usize % cores.max(1))
    }

    /// Whether `topic` has partition `partition`, hosted here or not.
    pub fn has_partition(&self, topic: &str, partition: i32) -> bool {
        self.topics
            .get(topic)
            .is_some_and(|t| partition >= 0 && (partition as usize) < t.partitions.len())
    }

    /// Adds a topic with `partitions` partitions placed on the least-loaded cores.
    pub fn create(
        &mut self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
        cores: usize,
    ) -> Result<TopicMeta, CreateError> {
        validate_name(name).map_err(CreateError::Refused)?;
        if self.topics.contains_key(name) {
            return Err(CreateError::Exists);
        }
        if !(1..=100_000).contains(&partitions) {
            return Err(CreateError::InvalidPartitions);
        }
        let placement = self.place(partitions as usize, cores);
        let meta = TopicMeta {
            name: name.to_string(),
            id: uuid::Uuid::new_v4().to_string(),
            partitions: placement,
            configs,
        };
        self.topics.insert(name.to_string(), meta.clone());
        Ok(meta)
    }

    /// Executor slots for `n` new partitions: each goes to the core owning the fewest
    /// partitions so far, ties to the lowest index.
    fn place(&self, n: usize, cores: usize) -> Vec<u32> {
        let mut load = self.core_loads(cores);
        let mut placement = Vec::with_capacity(n);
        for _ in 0..n {
            let mut core = 0;
            for (i, &l) in load.iter().enumerate() {
                if l < load[core] {
                    core = i;
                }
            }
            load[core] += 1;
            placement.push(core as u32);
        }
        placement
    }

    /// Grows topic `name` to `total` partitions (CreatePartitions), placing the new ones like
    /// [`TopicTable::create`] does. Errors are Kafka's code and message.
    pub fn add_partitions(
        &mut self,
        name: &str,
        total: i32,
        cores: usize,
    ) -> Result<TopicMeta, ErrorMessage> {
        let Some(current) = self.topics.get(name).map(|t| t.partitions.len() as i32) else {
            return Err(ErrorMessage::new(
                KafkaError::UnknownTopicOrPartition,
                format!("The topic '{name}' does not exist."),
            ));
        };
        if total == current {
            return Err(ErrorMessage::new(
                KafkaError::InvalidPartitions,
                format!("Topic already has {current} partitions."),
            ));
        }
        if total < current {
            return Err(ErrorMessage::new(KafkaError::InvalidPartitions, format!("Topic currently has {current} partitions, which is higher than the requested {total}.")));
        }
        if total > 100_000 {
            return Err(ErrorMessage::new(
                KafkaError::InvalidPartitions,
                format!("Number of partitions {total} is more than the broker allows (100000)."),
            ));
        }
        let added = self.place((total - current) as usize, cores);
        let Some(meta) = self.topics.get_mut(name) else {
            return Err(ErrorMessage::new(
                KafkaError::UnknownTopicOrPartition,
                String::new(),
            ));
        };
        meta.partitions.extend(added);
        Ok(meta.clone())
    }

    /// Partitions placed on each of `cores` cores.
    pub fn core_loads(&self, cores: usize) -> Vec<usize> {
        let cores = cores.max(1);
        let mut load = vec![0usize; cores];
        for t in self.topics.values() {
            for &s in t.partitions.iter().filter(|&&s| s != ELSEWHERE) {
                load[s as usize % cores] += 1;
            }
        }
        load
    }

    /// Checks that no core owns more than `limit` partitions
    /// (`runnel.topic.partitions.per.core`): INVALID_PARTITIONS otherwise.
    pub fn check_partitions_per_core(
        &self,
        cores: usize,
        limit: usize,
    ) -> Result<(), ErrorMessage> {
        let load = self.core_loads(cores);
        match load.iter().enumerate().max_by_key(|(_, &l)| l) {
            Some((core, &l)) if l > limit => Err(ErrorMessage::new(
                KafkaError::InvalidPartitions,
                format!(
                    "This would place {l} partitions on core {core}, more than \
                     runnel.topic.partitions.per.core allows ({limit} per core, {} on this \
                     broker's {} core(s)).",
                    limit * load.len(),
                    load.len()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Removes a topic, returning it.
    pub fn delete(&mut self, name: &str) -> Option<TopicMeta> {
        self.topics.remove(name)
    }
}

/// Writes `bytes` to `path` durably ([`crate::storage::durable`]). Blocking.
pub(crate) fn write_durably(path: &Path, bytes: Vec<u8>) -> std::io::Result<()> {
    crate::storage::durable::replace_blocking(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated_like_kafka() {
        assert!(validate_name("orders.v1_x-2").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("..").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name(&"a".repeat(250)).is_err());
    }

    #[test]
    fn placement_balances_cores_and_persists() {
        let mut t = TopicTable::default();
        t.create("a", 3, BTreeMap::new(), 2).unwrap();
        t.create("b", 3, BTreeMap::new(), 2).unwrap();
        let mut per_core = [0; 2];
        for m in t.topics.values() {
            for &s in &m.partitions {
                per_core[s as usize] += 1;
            }
        }
        assert_eq!(per_core, [3, 3]);
        assert_eq!(
            t.create("a", 1, BTreeMap::new(), 2),
            Err(CreateError::Exists)
        );
        // New partitions go to the least-loaded core; shrinking is refused.
        let grown = t.add_partitions("a", 4, 2).unwrap();
        assert_eq!(grown.partitions.len(), 4);
        assert_eq!(
            t.add_partitions("a", 2, 2).unwrap_err().error,
            KafkaError::InvalidPartitions
        );
        assert_eq!(
            t.add_partitions("a", 4, 2).unwrap_err().error,
            KafkaError::InvalidPartitions
        );
        assert_eq!(
            t.add_partitions("zz", 4, 2).unwrap_err().error,
            KafkaError::UnknownTopicOrPartition
        );
        assert_eq!(
            t.create("c", 0, BTreeMap::new(), 2),
            Err(CreateError::InvalidPartitions)
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("topics.json");
        t.store(&p).unwrap();
        assert_eq!(TopicTable::load(&p).unwrap(), t);
        assert_eq!(t.owner("a", 0, 2), Some(0));
        assert_eq!(t.owner("a", 5, 2), None);
    }

    #[test]
    fn topics_are_found_by_id() {
        let mut t = TopicTable::default();
        t.create("a", 1, BTreeMap::new(), 2).unwrap();
        let b = t.create("b", 1, BTreeMap::new(), 2).unwrap();
        assert_eq!(t.by_id(b.uuid()).map(|m| m.name.as_str()), Some("b"));
        assert!(t.by_id(uuid::Uuid::nil()).is_none());
        assert!(t.by_id(uuid::Uuid::new_v4()).is_none());
        // An id stored in upper case (written by hand) is still found.
        t.topics.get_mut("b").unwrap().id = b.id.to_uppercase();
        assert_eq!(t.by_id(b.uuid()).map(|m| m.name.as_str()), Some("b"));
    }

    #[test]
    fn partitions_per_core_limit() {
        let mut t = TopicTable::default();
        t.create("a", 4, BTreeMap::new(), 2).unwrap();
        assert_eq!(t.core_loads(2), vec![2, 2]);
        assert!(t.check_partitions_per_core(2, 2).is_ok());
        t.create("b", 1, BTreeMap::new(), 2).unwrap();
        let e = t.check_partitions_per_core(2, 2).unwrap_err();
        assert_eq!(e.error, KafkaError::InvalidPartitions);
        assert!(
            e.message
                .contains("runnel.topic.partitions.per.core allows (2 per core"),
            "{e}"
        );
    }
}
