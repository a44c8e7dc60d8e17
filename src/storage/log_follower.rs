//! The follower's append: [`PartitionLog::append_as_follower`] writes the leader's batches as
//! they are, keeping the leader's offsets and leader epochs (a leader's append assigns both).
//!
//! The batches must continue the log exactly: each one's CRC matches, the first starts at the
//! log end offset and each next one where the one before ends, and their epochs never go back
//! (neither below the log's newest epoch nor below the batch before). Anything else refuses
//! the whole append ([`LogError::Follower`]) before any of it is taken: the follower then
//! truncates to what the leader says (OffsetForLeaderEpoch) and fetches again. The producer
//! state is applied as on the leader (sequences are not checked: the leader did that), so a
//! follower that becomes leader already knows every producer; a batch that starts a new epoch
//! adds it to the leader-epoch cache. The write, group commit and durability are the leader's
//! path: await [`PartitionLog::wait_durable`].

use std::rc::Rc;

use super::batch::{self, BatchInfo};
use super::log::{Appended, LogError, PartitionLog};
use crate::error::FollowerFault;

impl PartitionLog {
    /// Appends batches fetched from the leader, keeping their offsets and epochs (see the
    /// module comment). `batches` describe the batches in `payload`, as
    /// [`batch::validate_batches`] found them.
    pub fn append_as_follower(
        self: &Rc<Self>,
        batches: &[BatchInfo],
        payload: &[u8],
    ) -> Result<Appended, LogError> {
        let mut st = self.st.borrow_mut();
        st.refuses_appends()?;
        let first = st.next_offset;
        let mut expected = first;
        let mut newest = st.epochs.latest_epoch().unwrap_or(0);
        for info in batches {
            let data = &payload[info.pos..info.pos + info.len];
            if !batch::crc_ok(data) {
                return Err(LogError::Follower(FollowerFault::Crc {
                    base_offset: info.base_offset,
                }));
            }
            if info.base_offset != expected {
                return Err(LogError::Follower(FollowerFault::Offset {
                    expected,
                    got: info.base_offset,
                }));
            }
            let epoch = batch::leader_epoch(data);
            if epoch < newest || epoch < 0 {
                return Err(LogError::Follower(FollowerFault::Epoch {
                    newest,
                    got: epoch,
                }));
            }
            newest = epoch;
            expected = info.next_offset();
        }
        for info in batches {
            let base = info.base_offset;
            let data = bytes::Bytes::copy_from_slice(&payload[info.pos..info.pos + info.len]);
            if st.epochs.assign(batch::leader_epoch(&data), base) {
                st.epochs_dirty = true;
            }
            st.producers.apply(info, base);
            self.push_batch(&mut st, base, info, data);
        }
        // A follower that becomes leader goes on with at least the epochs it has written.
        st.leader_epoch = st.leader_epoch.max(newest);
        Ok(self.appended_from(st, first))
    }
}

#[cfg(test)]
mod tests;
