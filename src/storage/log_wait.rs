//! Waiting on a partition log: for appended batches to become durable (acknowledgements) and
//! for the visible offset to move past an offset (long-polling fetches, acks=all).

use super::log::{Appended, LogError, PartitionLog};

impl PartitionLog {
    /// Waits until the batches of `appended` are durable, or fails if a storage error
    /// discarded them.
    pub async fn wait_durable(&self, appended: &Appended) -> Result<(), LogError> {
        loop {
            {
                let st = self.st.borrow();
                if st.generation != appended.generation {
                    // A later batch's failure ended the generation; this one may have been
                    // written and synced before it (then it stays, and is acknowledged).
                    let durable = st
                        .cuts
                        .iter()
                        .find(|(g, _)| *g == appended.generation)
                        .is_some_and(|&(_, hwm)| appended.next_offset <= hwm);
                    return if durable {
                        Ok(())
                    } else {
                        Err(LogError::Discarded)
                    };
                }
                if st.durable_offset >= appended.next_offset {
                    return Ok(());
                }
                if let Some(e) = st.offline {
                    return Err(LogError::Offline(e));
                }
                if let Some(e) = st.error {
                    return Err(LogError::Io(e));
                }
            }
            self.advanced.wait().await;
        }
    }

    /// Waits until the visible offset (the last stable offset with `committed`) moves past
    /// `offset`, the log fails, or `deadline` passes.
    pub async fn wait_for_data(&self, offset: i64, committed: bool, deadline: std::time::Instant) {
        loop {
            {
                let st = self.st.borrow();
                let limit = if committed {
                    st.last_stable_offset()
                } else {
                    st.visible()
                };
                if limit > offset || st.error.is_some() || st.offline.is_some() || st.closed {
                    return;
                }
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return;
            }
            let wait = self.advanced.wait();
            let timer = glommio::timer::sleep(deadline - now);
            futures_lite::future::or(wait, timer).await;
        }
    }

    /// Waits until the durable offset moves past `offset` (a follower's fetch offset: the
    /// leader has something new for it), the log fails or closes, or `deadline` passes.
    pub async fn wait_for_end(&self, offset: i64, deadline: std::time::Instant) {
        loop {
            {
                let st = self.st.borrow();
                if st.durable_offset > offset
                    || st.error.is_some()
                    || st.offline.is_some()
                    || st.closed
                {
                    return;
                }
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return;
            }
            let wait = self.advanced.wait();
            let timer = glommio::timer::sleep(deadline - now);
            futures_lite::future::or(wait, timer).await;
        }
    }

    /// Waits until the visible offset (the high watermark) reaches `offset` (an acks=all
    /// produce whose batches end there): `Ok(true)` once it has, `Ok(false)` when `deadline`
    /// passes first, the log's error when it fails, `Discarded` when it closes.
    pub async fn wait_for_high_watermark(
        &self,
        offset: i64,
        deadline: std::time::Instant,
    ) -> Result<bool, LogError> {
        loop {
            {
                let st = self.st.borrow();
                if st.visible() >= offset {
                    return Ok(true);
                }
                if let Some(e) = st.offline {
                    return Err(LogError::Offline(e));
                }
                if let Some(e) = st.error {
                    return Err(LogError::Io(e));
                }
                if st.closed {
                    return Err(LogError::Discarded);
                }
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            let wait = self.advanced.wait();
            let timer = glommio::timer::sleep(deadline - now);
            futures_lite::future::or(wait, timer).await;
        }
    }
}
