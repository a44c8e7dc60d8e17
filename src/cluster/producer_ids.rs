//! Producer id allocation. Each core hands out ids from blocks it reserves for itself, so cores
//! never coordinate: block `n` of core `c` covers `[(n * MAX_CORES + c) * BLOCK, ... + BLOCK)`.
//! The next block number of each core is stored (and synced) in
//! `producer-ids/core-<c>` before any id of the block is given out, so ids are never reused
//! after a restart or a crash, even if the number of cores changes. The reservation runs on the
//! executor's blocking pool, one at a time per core.

use std::cell::Cell;
use std::path::{Path, PathBuf};

/// Ids per block.
const BLOCK: i64 = 1000;
/// Upper bound on cores, which fixes the interleaving of blocks.
const MAX_CORES: i64 = 1024;

/// One core's producer id allocator.
pub struct ProducerIds {
    path: PathBuf,
    core: i64,
    next: Cell<i64>,
    end: Cell<i64>,
    reserving: glommio::sync::Semaphore,
}

impl ProducerIds {
    /// The allocator of core `core`, storing its state under `data_dir`.
    pub fn new(data_dir: &Path, core: usize) -> ProducerIds {
        ProducerIds {
            path: data_dir.join("producer-ids").join(format!("core-{core}")),
            core: core as i64,
            next: Cell::new(0),
            end: Cell::new(0),
            reserving: glommio::sync::Semaphore::new(1),
        }
    }

    /// A producer id never handed out before.
    pub async fn allocate(&self) -> std::io::Result<i64> {
        if self.next.get() >= self.end.get() {
            let _turn = self
                .reserving
                .acquire_permit(1)
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            if self.next.get() >= self.end.get() {
                let path = self.path.clone();
                let block = crate::storage::fault::blocking(move || reserve_block(&path)).await?;
                let start = (block * MAX_CORES + self.core) * BLOCK;
                self.next.set(start);
                self.end.set(start + BLOCK);
            }
        }
        let id = self.next.get();
        self.next.set(id + 1);
        Ok(id)
    }
}

/// Reads the next free block number in `path` and durably moves the mark past it. Blocking.
fn reserve_block(path: &Path) -> std::io::Result<i64> {
    let block = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::storage::durable::replace_blocking(path, format!("{}\n", block + 1).as_bytes())?;
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_across_cores_and_restarts() {
        let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .make()
            .unwrap();
        ex.run(async {
            let dir = tempfile::tempdir().unwrap();
            let mut seen = std::collections::HashSet::new();
            for _restart in 0..3 {
                for core in 0..3 {
                    let a = ProducerIds::new(dir.path(), core);
                    for _ in 0..1500 {
                        assert!(seen.insert(a.allocate().await.unwrap()));
                    }
                }
            }
        });
    }
}
