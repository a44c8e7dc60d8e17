//! The broker's persistent identity: `meta.properties` in the data directory, as Kafka keeps it.
//! The cluster id in it is the cluster's (the metadata image's, docs/cluster.md "One cluster
//! id"): a fresh broker writes it once the image has one; a directory of another cluster id is
//! refused.

use std::path::Path;

use anyhow::{Context, Result};

/// The cluster id of `meta.properties`, when the file exists and has one.
pub fn read_cluster_id(data_dir: &Path) -> Result<Option<String>> {
    let path = data_dir.join("meta.properties");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("cluster.id="))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty()))
}

/// Writes `meta.properties` with `cluster_id` and `node_id`, durably. Blocking.
pub fn write_cluster_id(data_dir: &Path, cluster_id: &str, node_id: i32) -> Result<()> {
    let path = data_dir.join("meta.properties");
    let body = format!(
        "# Runnel broker identity\nversion=1\ncluster.id={cluster_id}\nnode.id={node_id}\n"
    );
    crate::storage::durable::replace_blocking(&path, body.as_bytes())
        .context("writing meta.properties")
}

/// A Kafka-style cluster id: 16 random bytes, URL-safe base64 without padding (22 chars).
pub fn new_cluster_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut bits: u128 = u128::from_be_bytes(bytes);
    let mut out = Vec::with_capacity(22);
    for _ in 0..22 {
        out.push(ALPHABET[(bits & 63) as usize]);
        bits >>= 6;
    }
    String::from_utf8(out).expect("ascii")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_ids_read_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_cluster_id(dir.path()).unwrap(), None);
        let id = new_cluster_id();
        assert_eq!(id.len(), 22);
        write_cluster_id(dir.path(), &id, 3).unwrap();
        assert_eq!(read_cluster_id(dir.path()).unwrap(), Some(id));
    }
}
