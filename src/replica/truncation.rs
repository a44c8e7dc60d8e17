//! Where a follower cuts its log when the leader reports a diverging epoch (KIP-101, KIP-279,
//! KIP-595): Kafka's `AbstractFetcherThread.getOffsetTruncationState`, as a pure function so
//! that its rules are tested on their own.

/// Where to truncate, and whether that settles the divergence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    /// The offset to truncate to (never above the follower's log end offset).
    pub offset: i64,
    /// False when the leader named an epoch the follower does not have: the follower cuts to
    /// the end of its own older epoch and asks again (its next fetch names its new last
    /// epoch).
    pub complete: bool,
}

/// The truncation for a leader answer `(epoch, end)` (the diverging epoch, or an
/// OffsetForLeaderEpoch answer), given the follower's own answer for that epoch
/// (`follower_end_for(epoch)`: its largest epoch at or below it and where that ends, `(-1, -1)`
/// when it has none), its log end offset and the offset its fetch was at.
pub fn decide(
    leader: (i32, i64),
    follower_end_for: impl Fn(i32) -> (i32, i64),
    log_end: i64,
    fetch_offset: i64,
) -> Truncation {
    let (epoch, end) = leader;
    if end < 0 {
        // The leader does not know the epoch: fall back to the fetch offset.
        return Truncation {
            offset: fetch_offset.min(log_end),
            complete: true,
        };
    }
    if epoch < 0 {
        // An answer without an epoch: the leader's offset.
        return Truncation {
            offset: end.min(log_end),
            complete: true,
        };
    }
    let (f_epoch, f_end) = follower_end_for(epoch);
    if f_epoch < 0 || f_end < 0 {
        // The follower tracks no epoch at or below the leader's: the leader's offset.
        return Truncation {
            offset: end.min(log_end),
            complete: true,
        };
    }
    if f_epoch != epoch {
        // The follower never had the leader's epoch: cut to the end of its largest older one
        // and ask again.
        return Truncation {
            offset: f_end.min(log_end),
            complete: false,
        };
    }
    Truncation {
        offset: f_end.min(end).min(log_end),
        complete: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A follower's answer for an epoch, from the storage crate's epoch cache holding
    /// `entries` (epoch, start offset) with log end `log_end`.
    fn follower(entries: &[(i32, i64)], log_end: i64) -> impl Fn(i32) -> (i32, i64) {
        let mut cache = crate::storage::epochs::EpochCache::default();
        for &(e, start) in entries {
            cache.assign(e, start);
        }
        move |requested| cache.end_offset_for(requested, log_end)
    }

    #[test]
    fn same_epoch_cuts_to_the_shorter_end() {
        // Follower has epoch 2 up to 120; the leader's epoch 2 ends at 100.
        let f = follower(&[(0, 0), (2, 50)], 120);
        assert_eq!(
            decide((2, 100), f, 120, 120),
            Truncation {
                offset: 100,
                complete: true
            }
        );
        // The leader's ends later: nothing to cut (the follower's end).
        let f = follower(&[(0, 0), (2, 50)], 120);
        assert_eq!(decide((2, 150), f, 120, 120).offset, 120);
    }

    #[test]
    fn an_epoch_the_follower_never_had_cuts_to_its_older_epoch_and_asks_again() {
        // The leader answers epoch 1 (its largest at or below the follower's 3); the follower
        // has epochs 0 and 3: its answer for 1 is epoch 0 ending at 60.
        let f = follower(&[(0, 0), (3, 60)], 90);
        assert_eq!(
            decide((1, 70), f, 90, 90),
            Truncation {
                offset: 60,
                complete: false
            }
        );
    }

    #[test]
    fn no_epochs_or_unknown_answers_use_the_leader_or_the_fetch_offset() {
        let none = follower(&[], 40);
        assert_eq!(
            decide((5, 30), none, 40, 40),
            Truncation {
                offset: 30,
                complete: true
            }
        );
        let f = follower(&[(0, 0)], 40);
        assert_eq!(decide((-1, -1), f, 40, 35).offset, 35);
        let f = follower(&[(0, 0)], 40);
        assert_eq!(decide((-1, 25), f, 40, 40).offset, 25);
        // Never above the follower's log end.
        let f = follower(&[(0, 0)], 40);
        assert_eq!(decide((-1, 99), f, 40, 40).offset, 40);
    }
}
