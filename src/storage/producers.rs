//! Per-partition producer state: what idempotent and transactional producers have written, so
//! that retried batches are recognised, sequence gaps refused, zombie epochs fenced, and the last
//! stable offset and the aborted-transaction list can be answered.
//!
//! The state is a pure function of the log: applying every batch header (and every transaction
//! marker) in offset order rebuilds it. Snapshots ([`ProducerStates::encode`]) only save the
//! replay of the log prefix they cover.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::batch::BatchInfo;

/// How many recent batches are remembered per producer (Kafka's limit of in-flight requests for
/// an idempotent producer).
pub const MAX_REMEMBERED: usize = 5;

/// A batch remembered for duplicate detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    /// Sequence of the first record.
    pub first_seq: i32,
    /// Sequence of the last record.
    pub last_seq: i32,
    /// Offset assigned to the first record.
    pub base_offset: i64,
    /// Offset following the batch.
    pub next_offset: i64,
}

/// What one producer has written to the partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    /// Current epoch.
    pub epoch: i16,
    /// The newest batches of the current epoch, oldest first.
    pub batches: VecDeque<BatchMeta>,
    /// First offset of the producer's open transaction on this partition.
    pub txn_first_offset: Option<i64>,
    /// Coordinator epoch of the last marker written for this producer.
    pub coordinator_epoch: i32,
    /// Broker time (ms) of the producer's last write.
    pub last_write_ms: i64,
}

impl ProducerEntry {
    fn new(epoch: i16) -> ProducerEntry {
        ProducerEntry {
            epoch,
            batches: VecDeque::new(),
            txn_first_offset: None,
            coordinator_epoch: -1,
            last_write_ms: 0,
        }
    }

    fn last_seq(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_seq)
    }
}

/// An aborted transaction, as listed in read_committed fetch responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// Producer that aborted.
    pub producer_id: i64,
    /// First offset of the transaction on this partition.
    pub first_offset: i64,
    /// Offset of the abort marker.
    pub last_offset: i64,
}

/// The verdict on an incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Append it.
    Append,
    /// Already in the log: answer with its original offsets, write nothing.
    Duplicate(BatchMeta),
    /// Refuse it.
    Reject(ProducerFault),
}

/// Why the producer state refuses a batch (Kafka's sequence and epoch rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProducerFault {
    /// A sequence above 0 from a producer this partition has no record of.
    UnknownProducerId,
    /// An epoch older than the producer's current one.
    InvalidProducerEpoch,
    /// A sequence that does not follow the producer's last one.
    OutOfOrderSequence,
}

/// Producer state of one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions by first offset (producer id as value).
    ongoing: BTreeMap<i64, i64>,
    /// Transactions whose marker is appended but may not be on disk yet, by first offset (the
    /// marker's offset as value): they hold the last stable offset back until the high
    /// watermark passes their marker, as Kafka's unreplicated transactions do. Not in
    /// snapshots: a snapshot only covers markers below the end of the log it is recovered with.
    completing: BTreeMap<i64, i64>,
    aborted: Vec<AbortedTxn>,
}

fn in_sequence(last: i32, next: i32) -> bool {
    next == last.wrapping_add(1) || (last == i32::MAX && next == 0)
}

impl ProducerStates {
    /// Checks a batch from a producer (`info.has_producer()`) against the state.
    pub fn check(&self, info: &BatchInfo) -> Verdict {
        check_entry(self.producers.get(&info.producer_id), info)
    }

    /// The entry of producer `pid`, if known.
    pub fn entry(&self, pid: i64) -> Option<&ProducerEntry> {
        self.producers.get(&pid)
    }

    /// Records a batch appended at `base_offset` (also used when replaying the log). The
    /// producer's last write time is the batch's max timestamp, so a replay rebuilds it exactly.
    pub fn apply(&mut self, info: &BatchInfo, base_offset: i64) {
        if !info.has_producer() {
            return;
        }
        if info.is_control() {
            return;
        }
        let e = self
            .producers
            .entry(info.producer_id)
            .or_insert_with(|| ProducerEntry::new(info.producer_epoch));
        if info.producer_epoch != e.epoch {
            e.epoch = info.producer_epoch;
            e.batches.clear();
        }
        let next_offset = base_offset + info.last_offset_delta as i64 + 1;
        if e.batches
            .back()
            .is_some_and(|b| b.next_offset > base_offset)
        {
            return; // replayed twice: already applied
        }
        if info.base_sequence >= 0 {
            e.batches.push_back(BatchMeta {
                first_seq: info.base_sequence,
                last_seq: info.last_sequence(),
                base_offset,
                next_offset,
            });
            while e.batches.len() > MAX_REMEMBERED {
                e.batches.pop_front();
            }
        }
        e.last_write_ms = info.max_timestamp;
        if info.is_transactional() && e.txn_first_offset.is_none() {
            e.txn_first_offset = Some(base_offset);
            self.ongoing.insert(base_offset, info.producer_id);
        }
    }

    /// Records a transaction marker for `pid` written at `offset`.
    pub fn apply_marker(
        &mut self,
        pid: i64,
        epoch: i16,
        commit: bool,
        offset: i64,
        coordinator_epoch: i32,
    ) {
        let e = self
            .producers
            .entry(pid)
            .or_insert_with(|| ProducerEntry::new(epoch));
        if epoch > e.epoch {
            e.epoch = epoch;
            e.batches.clear();
        }
        e.coordinator_epoch = coordinator_epoch;
        if let Some(first) = e.txn_first_offset.take() {
            self.ongoing.remove(&first);
            self.completing.insert(first, offset);
            if !commit {
                self.aborted.push(AbortedTxn {
                    producer_id: pid,
                    first_offset: first,
                    last_offset: offset,
                });
            }
        }
    }

    /// First offset of the oldest transaction that is open, or whose marker is not yet below
    /// `high_watermark`, if any.
    pub fn first_unstable_offset(&self, high_watermark: i64) -> Option<i64> {
        let open = self.ongoing.keys().next().copied();
        let completing = self
            .completing
            .iter()
            .find(|(_, &marker)| marker >= high_watermark)
            .map(|(&first, _)| first);
        match (open, completing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Forgets the transactions whose marker is now below `high_watermark` (durable).
    pub fn markers_durable(&mut self, high_watermark: i64) {
        self.completing
            .retain(|_, marker| *marker >= high_watermark);
    }

    /// Aborted transactions that overlap `[from, to)` and whose marker lies below
    /// `marker_below`, as (producer id, first offset).
    pub fn aborted_between(&self, from: i64, to: i64, marker_below: i64) -> Vec<(i64, i64)> {
        self.aborted
            .iter()
            .filter(|a| {
                a.last_offset >= from && a.first_offset < to && a.last_offset < marker_below
            })
            .map(|a| (a.producer_id, a.first_offset))
            .collect()
    }

    /// Forgets the producers whose every batch known lies below `log_start` (a snapshot older
    /// than the log start, replayed from there: those batches are gone, and with them what
    /// the snapshot says of the producer and of its open transaction, as Kafka evicts such
    /// producers). Producers known only by their epoch are kept.
    pub fn forget_below(&mut self, log_start: i64) {
        let gone: Vec<i64> = self
            .producers
            .iter()
            .filter(|(_, e)| e.batches.back().is_some_and(|b| b.next_offset <= log_start))
            .map(|(pid, _)| *pid)
            .collect();
        for pid in &gone {
            self.producers.remove(pid);
        }
        // Their transactions go too: whether a marker ended one lies in the records gone.
        self.ongoing.retain(|_, pid| !gone.contains(pid));
    }

    /// Forgets aborted transactions that end before `log_start` (their records are gone).
    pub fn trim_aborted(&mut self, log_start: i64) {
        self.aborted.retain(|a| a.last_offset >= log_start);
    }

    /// The aborted transactions still in the log, oldest first.
    pub fn aborted(&self) -> &[AbortedTxn] {
        &self.aborted
    }

    /// Producers with an entry, for DescribeProducers.
    pub fn producers(&self) -> impl Iterator<Item = (&i64, &ProducerEntry)> {
        self.producers.iter()
    }

    /// Serialises the state (snapshot body).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&(self.producers.len() as u32).to_be_bytes());
        for (pid, e) in &self.producers {
            b.extend_from_slice(&pid.to_be_bytes());
            b.extend_from_slice(&e.epoch.to_be_bytes());
            b.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            b.extend_from_slice(&e.last_write_ms.to_be_bytes());
            b.extend_from_slice(&e.txn_first_offset.unwrap_or(-1).to_be_bytes());
            b.push(e.batches.len() as u8);
            for m in &e.batches {
                b.extend_from_slice(&m.first_seq.to_be_bytes());
                b.extend_from_slice(&m.last_seq.to_be_bytes());
                b.extend_from_slice(&m.base_offset.to_be_bytes());
                b.extend_from_slice(&m.next_offset.to_be_bytes());
            }
        }
        b.extend_from_slice(&(self.aborted.len() as u32).to_be_bytes());
        for a in &self.aborted {
            b.extend_from_slice(&a.producer_id.to_be_bytes());
            b.extend_from_slice(&a.first_offset.to_be_bytes());
            b.extend_from_slice(&a.last_offset.to_be_bytes());
        }
        b
    }

    /// Parses what [`ProducerStates::encode`] wrote; `None` if it is malformed.
    pub fn decode(b: &[u8]) -> Option<ProducerStates> {
        let mut r = Reader { b, p: 0 };
        let mut st = ProducerStates::default();
        for _ in 0..r.u32()? {
            let pid = r.i64()?;
            let mut e = ProducerEntry::new(r.i16()?);
            e.coordinator_epoch = r.i32()?;
            e.last_write_ms = r.i64()?;
            let first = r.i64()?;
            if first >= 0 {
                e.txn_first_offset = Some(first);
                st.ongoing.insert(first, pid);
            }
            for _ in 0..r.u8()? {
                e.batches.push_back(BatchMeta {
                    first_seq: r.i32()?,
                    last_seq: r.i32()?,
                    base_offset: r.i64()?,
                    next_offset: r.i64()?,
                });
            }
            st.producers.insert(pid, e);
        }
        for _ in 0..r.u32()? {
            st.aborted.push(AbortedTxn {
                producer_id: r.i64()?,
                first_offset: r.i64()?,
                last_offset: r.i64()?,
            });
        }
        (r.p == b.len()).then_some(st)
    }
}

/// Kafka's sequence rules for one batch against the producer's entry.
fn check_entry(entry: Option<&ProducerEntry>, info: &BatchInfo) -> Verdict {
    let Some(e) = entry else {
        // Unknown producer: a new one starts at sequence 0. Anything else means the broker has
        // no record of the producer's earlier writes.
        return if info.base_sequence <= 0 {
            Verdict::Append
        } else {
            Verdict::Reject(ProducerFault::UnknownProducerId)
        };
    };
    if info.producer_epoch < e.epoch {
        return Verdict::Reject(ProducerFault::InvalidProducerEpoch);
    }
    if info.producer_epoch > e.epoch {
        return if info.base_sequence <= 0 {
            Verdict::Append
        } else {
            Verdict::Reject(ProducerFault::OutOfOrderSequence)
        };
    }
    if info.base_sequence < 0 {
        return Verdict::Append;
    }
    let last_seq = info.last_sequence();
    if let Some(m) = e
        .batches
        .iter()
        .find(|m| m.first_seq == info.base_sequence && m.last_seq == last_seq)
    {
        return Verdict::Duplicate(*m);
    }
    match e.last_seq() {
        None if info.base_sequence == 0 => Verdict::Append,
        Some(last) if in_sequence(last, info.base_sequence) => Verdict::Append,
        _ => Verdict::Reject(ProducerFault::OutOfOrderSequence),
    }
}

struct Reader<'a> {
    b: &'a [u8],
    p: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let s = self.b.get(self.p..self.p + N)?;
        self.p += N;
        s.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take::<1>()?[0])
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(pid: i64, epoch: i16, seq: i32, n: i32, txn: bool) -> BatchInfo {
        BatchInfo {
            pos: 0,
            len: 100,
            base_offset: 0,
            last_offset_delta: n - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            attributes: if txn { 0x10 } else { 0 },
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: n,
        }
    }

    #[test]
    fn sequences_duplicates_and_epochs() {
        let mut st = ProducerStates::default();
        let b0 = batch(7, 0, 0, 3, false);
        assert_eq!(st.check(&b0), Verdict::Append);
        st.apply(&b0, 100);
        // The same batch again is a duplicate answered with its first offsets.
        match st.check(&b0) {
            Verdict::Duplicate(m) => assert_eq!((m.base_offset, m.next_offset), (100, 103)),
            v => panic!("{v:?}"),
        }
        // A gap.
        assert_eq!(
            st.check(&batch(7, 0, 4, 1, false)),
            Verdict::Reject(ProducerFault::OutOfOrderSequence)
        );
        let b1 = batch(7, 0, 3, 2, false);
        assert_eq!(st.check(&b1), Verdict::Append);
        st.apply(&b1, 103);
        // A stale epoch, a new epoch not starting at 0.
        let mut st2 = st.clone();
        st2.apply(&batch(7, 1, 0, 1, false), 105);
        assert_eq!(
            st2.check(&batch(7, 0, 5, 1, false)),
            Verdict::Reject(ProducerFault::InvalidProducerEpoch)
        );
        assert_eq!(
            st.check(&batch(7, 1, 5, 1, false)),
            Verdict::Reject(ProducerFault::OutOfOrderSequence)
        );
        // Unknown producer not starting at 0.
        assert_eq!(
            st.check(&batch(8, 0, 9, 1, false)),
            Verdict::Reject(ProducerFault::UnknownProducerId)
        );
    }

    #[test]
    fn only_five_batches_are_remembered() {
        let mut st = ProducerStates::default();
        for i in 0..7 {
            st.apply(&batch(1, 0, i, 1, false), i as i64);
        }
        assert!(matches!(
            st.check(&batch(1, 0, 2, 1, false)),
            Verdict::Duplicate(_)
        ));
        assert_eq!(
            st.check(&batch(1, 0, 1, 1, false)),
            Verdict::Reject(ProducerFault::OutOfOrderSequence)
        );
    }

    #[test]
    fn producers_wholly_below_the_log_start_are_forgotten() {
        let mut st = ProducerStates::default();
        // batch(pid, epoch, seq, records, txn) at base offset: 1 ends at 13, 2 at 21.
        st.apply(&batch(1, 0, 0, 3, false), 10);
        st.apply(&batch(2, 0, 0, 1, false), 20);
        st.forget_below(13);
        assert!(st.entry(1).is_none());
        assert!(st.entry(2).is_some());
        // Forgotten: a later sequence is refused, not taken as following the old one.
        assert_eq!(
            st.check(&batch(1, 0, 3, 1, false)),
            Verdict::Reject(ProducerFault::UnknownProducerId)
        );
        st.forget_below(20);
        assert!(
            st.entry(2).is_some(),
            "a batch ending past the log start keeps it"
        );
    }

    #[test]
    fn transactions_set_lso_and_aborted_list() {
        let mut st = ProducerStates::default();
        st.apply(&batch(1, 0, 0, 2, true), 10);
        st.apply(&batch(2, 0, 0, 1, true), 12);
        st.apply(&batch(1, 0, 2, 1, true), 13);
        assert_eq!(st.first_unstable_offset(100), Some(10));
        st.apply_marker(1, 0, false, 14, 0);
        assert_eq!(st.first_unstable_offset(100), Some(12));
        st.apply_marker(2, 0, true, 15, 0);
        assert_eq!(st.first_unstable_offset(100), None);
        // Until the high watermark passes a marker, its transaction holds the LSO back.
        assert_eq!(st.first_unstable_offset(15), Some(12));
        assert_eq!(st.first_unstable_offset(14), Some(10));
        st.markers_durable(16);
        assert_eq!(st.first_unstable_offset(0), None);
        assert_eq!(st.aborted_between(0, 100, 100), vec![(1, 10)]);
        assert_eq!(st.aborted_between(0, 100, 14), Vec::<(i64, i64)>::new());
        assert_eq!(st.aborted_between(15, 100, 100), Vec::<(i64, i64)>::new());
        let round = ProducerStates::decode(&st.encode()).unwrap();
        assert_eq!(round, st);
        let mut open = ProducerStates::default();
        open.apply(&batch(3, 2, 0, 1, true), 5);
        assert_eq!(ProducerStates::decode(&open.encode()).unwrap(), open);
        assert!(ProducerStates::decode(&open.encode()[1..]).is_none());
    }
}
