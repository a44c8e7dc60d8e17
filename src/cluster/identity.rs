//! The broker's persistent identity: `meta.properties` in the data directory, as Kafka keeps it.

use std::path::Path;

use anyhow::{Context, Result};

/// Reads the cluster id from `meta.properties`, creating the file with a new id if absent.
pub fn load_or_create_cluster_id(data_dir: &Path, node_id: i32) -> Result<String> {
    let path = data_dir.join("meta.properties");
    if let Ok(text) = std::fs::read_to_string(&path) {
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("cluster.id=") {
                return Ok(v.trim().to_string());
            }
        }
    }
    let id = new_cluster_id();
    let body = format!("# Runnel broker identity\nversion=1\ncluster.id={id}\nnode.id={node_id}\n");
    crate::storage::durable::replace_blocking(&path, body.as_bytes())
        .context("writing meta.properties")?;
    Ok(id)
}

/// A Kafka-style cluster id: 16 random bytes, URL-safe base64 without padding (22 chars).
fn new_cluster_id() -> String {
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
