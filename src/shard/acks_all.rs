//! The owning core's side of acks (docs/replication.md step 5, Kafka's
//! `Partition.appendRecordsToLeader` min ISR check and `DelayedProduce`): acks=1 waits until
//! the leader's disk has the batches, acks=all until the high watermark passes them (every
//! ISR member has them; on a partition with one replica the high watermark is the durable
//! offset), both bounded by the request's `timeout_ms` (REQUEST_TIMED_OUT).
//!
//! `min.insync.replicas` with acks=all: an ISR smaller than it refuses the produce before
//! anything is appended (NOT_ENOUGH_REPLICAS); one that shrank below it while the produce
//! waited answers NOT_ENOUGH_REPLICAS_AFTER_APPEND once the high watermark passes the batches.
//! As Kafka's `effectiveMinIsr`, a replicated partition's minimum is capped by its replica
//! count; a partition with one replica keeps the single-node rule (a minimum above 1 refuses
//! every acks=all produce).
//!
//! The waits are woken by the log (its durable offset and high watermark moves, made by the
//! leader's progress table as followers fetch) and by each new cluster snapshot (a lost
//! leadership answers NOT_LEADER_OR_FOLLOWER); nothing polls.
//!
//! Transaction markers wait as acks=all without the minimum ([`wait_replicated`]), as Kafka
//! writes them (`requiredAcks = -1`, `AppendOrigin.Coordinator`).

use std::time::{Duration, Instant};

use super::PartitionStore;
use crate::errors::KafkaError;
use crate::storage::{Appended, PartitionLog};

/// Checks the ISR of `topic`/`partition` against its `min.insync.replicas` for an acks=all
/// produce: before the append (`after_append` false: NOT_ENOUGH_REPLICAS) or once the high
/// watermark passed it (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
pub fn check_isr(
    store: &PartitionStore,
    topic: &str,
    partition: i32,
    after_append: bool,
) -> Result<(), KafkaError> {
    let min = store
        .view()
        .produce_policy(topic)
        .min_insync_replicas
        .max(1);
    let (isr, needed) = match store.progress.isr_size(topic, partition) {
        Some(s) => (s.isr as i64, min.min(s.replicas as i64)),
        None => (1, min),
    };
    if isr >= needed {
        return Ok(());
    }
    Err(if after_append {
        KafkaError::NotEnoughReplicasAfterAppend
    } else {
        KafkaError::NotEnoughReplicas
    })
}

/// acks=1: waits until `appended` is durable on this broker's disk, or `deadline`.
pub async fn wait_durable(
    log: &PartitionLog,
    appended: &Appended,
    deadline: Instant,
) -> Result<(), KafkaError> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let durable = async { Some(log.wait_durable(appended).await) };
    let timer = async {
        glommio::timer::sleep(left).await;
        None
    };
    match futures_lite::future::or(durable, timer).await {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(KafkaError::from(e)),
        None => Err(KafkaError::RequestTimedOut),
    }
}

/// acks=all: waits until `appended` is durable here and the high watermark of
/// `topic`/`partition` passed it, then checks the ISR against `min.insync.replicas`.
pub async fn wait(
    store: &PartitionStore,
    topic: &str,
    partition: i32,
    log: &PartitionLog,
    appended: &Appended,
    deadline: Instant,
) -> Result<(), KafkaError> {
    wait_replicated(store, topic, partition, log, appended, deadline).await?;
    check_isr(store, topic, partition, true)
}

/// acks=all without the `min.insync.replicas` check (Kafka's appends of
/// `AppendOrigin.Coordinator`, such as transaction markers): waits until `appended` is durable
/// here and the high watermark of `topic`/`partition` passed it. REQUEST_TIMED_OUT at
/// `deadline`, NOT_LEADER_OR_FOLLOWER when the leadership changed meanwhile.
pub async fn wait_replicated(
    store: &PartitionStore,
    topic: &str,
    partition: i32,
    log: &PartitionLog,
    appended: &Appended,
    deadline: Instant,
) -> Result<(), KafkaError> {
    let led = store.progress.isr_size(topic, partition);
    wait_durable(log, appended, deadline).await?;
    loop {
        let now_led = store.progress.isr_size(topic, partition);
        if let Some(before) = led {
            // A new leadership may have cut the log back: these batches are not known to
            // have reached the ISR.
            if now_led.map(|s| s.leader_epoch) != Some(before.leader_epoch) {
                return Err(KafkaError::NotLeaderOrFollower);
            }
        }
        if log.high_watermark() >= appended.next_offset {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(KafkaError::RequestTimedOut);
        }
        let hw = async {
            Some(
                log.wait_for_high_watermark(appended.next_offset, deadline)
                    .await,
            )
        };
        let synced = async {
            store.progress.synced.wait().await;
            None
        };
        if let Some(Err(e)) = futures_lite::future::or(hw, synced).await {
            return Err(KafkaError::from(e));
        }
    }
}
