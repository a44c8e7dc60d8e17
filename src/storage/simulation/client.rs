//! The simulated clients of one partition: plain batches, idempotent producers and
//! transactional producers, sending in group commits and retrying what was not acknowledged,
//! as Kafka's producers do.
//!
//! An idempotent producer sends one batch at a time and, until it is acknowledged, resends
//! the same batch (same sequence) after every failure or restart. After a restart it may also
//! resend its last acknowledged batch, as a producer does when the acknowledgement was lost:
//! the log must answer it as a duplicate with the original offsets. A producer the log refuses
//! (its history deleted) bumps its epoch and starts again at sequence 0. A transactional
//! producer sends its batches inside a transaction and ends it with a commit or abort marker,
//! written as the transaction coordinator does, retried until it is acknowledged.

use std::rc::Rc;

use bytes::Bytes;
use kafka_protocol::records::{Compression, Record, TimestampType};

use super::model::Model;
use super::Report;
use crate::batch;
use crate::log::{Appended, LogError, PartitionLog};
use crate::producers::ProducerEntry;
use crate::rng::Rng;

/// Producer ids of the simulated producers start here.
const FIRST_PID: i64 = 1000;

/// What a batch holds.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Producer id, epoch, first sequence (`-1`, `-1`, `-1` for a plain batch).
    pub pid: i64,
    /// Producer epoch.
    pub epoch: i16,
    /// Sequence of the first record.
    pub seq: i32,
    /// Records in a transaction.
    pub txn: bool,
    /// One record in `tombstones` is a tombstone (null value).
    pub tombstones: u64,
}

impl Shape {
    /// A plain batch, from no producer.
    pub fn plain(tombstones: u64) -> Shape {
        Shape {
            pid: -1,
            epoch: -1,
            seq: -1,
            txn: false,
            tombstones,
        }
    }
}

/// A batch of 1 to 8 records with random keys (k0..k15) and values, timestamped at the virtual
/// clock, its base offset 0 (the log assigns it).
pub fn random_batch(rng: &mut Rng, shape: Shape) -> Bytes {
    let n = 1 + rng.below(8) as usize;
    let now = crate::clock::now_ms();
    let records: Vec<Record> = (0..n)
        .map(|i| {
            let size = rng.below(700) as usize;
            let fill = rng.next_u64() as u8;
            let tombstone = shape.tombstones > 0 && rng.one_in(shape.tombstones);
            Record {
                transactional: shape.txn,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: shape.pid,
                producer_epoch: shape.epoch,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: if shape.seq < 0 {
                    i as i32
                } else {
                    shape.seq + i as i32
                },
                timestamp: now + i as i64,
                key: Some(Bytes::from(format!("k{}", rng.below(16)))),
                value: (!tombstone).then(|| Bytes::from(vec![fill; size])),
                headers: Default::default(),
            }
        })
        .collect();
    crate::testing::encode(&records, Compression::None)
}

/// One simulated producer and what it knows.
#[derive(Debug)]
pub struct Producer {
    pid: i64,
    epoch: i16,
    next_seq: i32,
    transactional: bool,
    /// A batch sent and not acknowledged: the next send resends it.
    pending: Option<Bytes>,
    /// The last batch acknowledged, with its offsets.
    last_acked: Option<(Bytes, i64, i64)>,
    /// A transaction is open (a batch of it was sent).
    in_txn: bool,
    /// The transaction must end in an abort (the producer was fenced).
    must_abort: bool,
    /// After a truncation removed its last acknowledged batch: where the log's last batch of
    /// the producer lies (its history, which the log may forget once that falls below the
    /// log start, as when the last acknowledged batch does).
    log_last: Option<i64>,
}

impl Producer {
    /// The producer's next batch, its sequence following the last one built.
    fn next_batch(&mut self, rng: &mut Rng, tombstones: u64) -> Bytes {
        let d = random_batch(
            rng,
            Shape {
                pid: self.pid,
                epoch: self.epoch,
                seq: self.next_seq,
                txn: self.transactional,
                tombstones,
            },
        );
        self.next_seq += batch::peek_header(&d, 0).expect("built").records_count;
        d
    }
}

/// The clients of one partition.
#[derive(Debug)]
pub struct Clients {
    producers: Vec<Producer>,
    /// One record in this many is a tombstone (0: none).
    tombstones: u64,
}

/// What one send of a group commit was.
enum Sent {
    /// A plain batch (or several).
    Plain(Bytes),
    /// Producer `k`'s batch; `probe`: a resend of its last acknowledged batch.
    Producer { k: usize, data: Bytes, probe: bool },
}

impl Clients {
    /// `idempotent` + `transactional` producers (ids from [`FIRST_PID`]), plus plain batches.
    pub fn new(
        partition: usize,
        idempotent: usize,
        transactional: usize,
        tombstones: u64,
    ) -> Clients {
        let producers = (0..idempotent + transactional)
            .map(|k| Producer {
                pid: FIRST_PID + (partition * 10 + k) as i64,
                epoch: 0,
                next_seq: 0,
                transactional: k >= idempotent,
                pending: None,
                last_acked: None,
                in_txn: false,
                must_abort: false,
                log_last: None,
            })
            .collect();
        Clients {
            producers,
            tombstones,
        }
    }

    /// Whether any producer writes transactions.
    pub fn transactional(&self) -> bool {
        self.producers.iter().any(|p| p.transactional)
    }

    /// A send in flight when the process dies: appended, never waited for. A producer's batch
    /// stays pending, to be resent after the restart.
    pub fn send_in_flight(&mut self, log: &Rc<PartitionLog>, rng: &mut Rng) {
        let k = rng.below(self.producers.len() as u64 + 1) as usize;
        let data = match self.producers.get_mut(k) {
            None => random_batch(rng, Shape::plain(self.tombstones)),
            Some(p) => match &p.pending {
                Some(d) => d.clone(),
                None => {
                    let d = p.next_batch(rng, self.tombstones);
                    p.pending = Some(d.clone());
                    d
                }
            },
        };
        if let Some(p) = self.producers.get_mut(k) {
            if p.transactional {
                p.in_txn = true;
            }
        }
        let infos = batch::validate_batches(&data, usize::MAX).expect("valid");
        let _ = log.append(&infos, &data);
    }

    /// One group commit: one to three sends appended together, then waited for.
    pub async fn send(
        &mut self,
        log: &Rc<PartitionLog>,
        rng: &mut Rng,
        model: &mut Model,
        report: &mut Report,
    ) -> Result<(), String> {
        let mut sends = Vec::new();
        let mut used = vec![false; self.producers.len()];
        for _ in 0..1 + rng.below(3) {
            let k = rng.below(self.producers.len() as u64 + 1) as usize;
            if k == self.producers.len() || used[k] {
                sends.push(Sent::Plain(random_batch(
                    rng,
                    Shape::plain(self.tombstones),
                )));
                continue;
            }
            used[k] = true;
            let tomb = self.tombstones;
            let p = &mut self.producers[k];
            let probe = p.pending.is_none()
                && p.last_acked
                    .as_ref()
                    .is_some_and(|(_, base, _)| *base >= log.log_start_offset())
                && rng.one_in(6);
            let data = if probe {
                p.last_acked
                    .as_ref()
                    .map(|(d, _, _)| d.clone())
                    .expect("probed")
            } else if let Some(d) = &p.pending {
                d.clone()
            } else {
                let d = p.next_batch(rng, tomb);
                p.pending = Some(d.clone());
                d
            };
            if p.transactional && !probe {
                p.in_txn = true;
            }
            sends.push(Sent::Producer { k, data, probe });
        }
        // Append everything before waiting: one flush takes them all.
        let mut waits = Vec::new();
        for s in sends {
            let data = match &s {
                Sent::Plain(d) | Sent::Producer { data: d, .. } => d.clone(),
            };
            let infos = batch::validate_batches(&data, usize::MAX).expect("valid");
            let end = log.log_end_offset();
            let start = log.log_start_offset();
            match log.append(&infos, &data) {
                Ok(a) => waits.push((s, data, a, a.next_offset <= end)),
                Err(LogError::Producer(fault)) => {
                    if std::env::var_os("RUNNEL_SIM_TRACE").is_some() {
                        eprintln!(
                            "sim: refused {fault:?}; producers {:?}",
                            log.producer_entries()
                        );
                    }
                    report.failed_appends += 1;
                    self.refused(&s, start, fault)?;
                }
                Err(_) => report.failed_appends += 1,
            }
        }
        for (s, data, a, dup) in waits {
            if log.wait_durable(&a).await.is_err() {
                report.failed_appends += 1;
                if let Sent::Producer { probe: true, .. } = s {
                    // A probe that fails says nothing.
                }
                continue;
            }
            match s {
                Sent::Plain(_) => ack(model, &a, &data)?,
                Sent::Producer { k, probe, .. } => {
                    let p = &mut self.producers[k];
                    if probe {
                        let (_, base, next) = p.last_acked.clone().expect("probed");
                        if !dup || a.base_offset != base || a.next_offset != next {
                            return Err(format!(
                                "producer {} resent its acknowledged batch {base}..{next}: answered {}..{} as {}",
                                p.pid,
                                a.base_offset,
                                a.next_offset,
                                if dup { "a duplicate" } else { "new" }
                            ));
                        }
                        continue;
                    }
                    if dup {
                        check_duplicate(log, &a, &data).await?;
                    }
                    ack(model, &a, &data)?;
                    p.pending = None;
                    p.last_acked = Some((data, a.base_offset, a.next_offset));
                    p.log_last = None;
                }
            }
        }
        Ok(())
    }

    /// A producer's batch refused by the producer state: allowed only when the log has lost
    /// the producer's history (its last acknowledged batch lies below the log start). The
    /// producer then bumps its epoch and starts again at sequence 0.
    fn refused(
        &mut self,
        s: &Sent,
        log_start: i64,
        fault: crate::producers::ProducerFault,
    ) -> Result<(), String> {
        let Sent::Producer { k, probe, .. } = s else {
            return Err(format!(
                "a plain batch refused by the producer state: {fault:?}"
            ));
        };
        let p = &mut self.producers[*k];
        let known = p
            .last_acked
            .as_ref()
            .is_some_and(|(_, base, _)| *base >= log_start)
            || (p.last_acked.is_none()
                && !*probe
                && p.log_last.is_none_or(|base| base >= log_start));
        if known {
            return Err(format!(
                "producer {} epoch {}: {} refused ({fault:?}) while its history is in the log (last acknowledged {:?}, log start {log_start})",
                p.pid,
                p.epoch,
                if *probe { "a resent acknowledged batch" } else { "the next batch" },
                p.last_acked.as_ref().map(|(_, b, n)| (b, n))
            ));
        }
        p.epoch += 1;
        p.next_seq = 0;
        p.pending = None;
        p.last_acked = None;
        p.log_last = None;
        if p.in_txn {
            p.must_abort = true;
        }
        Ok(())
    }

    /// After a truncation that may have removed everything from `from` on. With `entries`
    /// (the truncation returned: the log's producer state after it), a producer whose epoch
    /// the log still knows goes on from the log's last sequence; any other starts a new epoch
    /// at sequence 0 (a transaction it had open must end in an abort), as a client does when
    /// the broker lost its history.
    pub fn truncated(&mut self, from: i64, entries: Option<&[(i64, ProducerEntry)]>) {
        for p in &mut self.producers {
            if std::env::var_os("RUNNEL_SIM_TRACE").is_some() {
                eprintln!(
                    "sim: truncated from {from}: producer {} epoch {} next_seq {} pending {} last_acked {:?}",
                    p.pid,
                    p.epoch,
                    p.next_seq,
                    p.pending.is_some(),
                    p.last_acked.as_ref().map(|(_, b, n)| (*b, *n))
                );
            }
            p.pending = None;
            if p.last_acked
                .as_ref()
                .is_some_and(|(_, _, next)| *next > from)
            {
                p.last_acked = None;
            }
            let entry = entries
                .and_then(|es| es.iter().find(|(pid, _)| *pid == p.pid))
                .map(|(_, e)| e)
                .filter(|e| e.epoch == p.epoch);
            match entry.and_then(|e| e.batches.back().map(|b| (b, e))) {
                Some((last, e)) => {
                    p.next_seq = last.last_seq.wrapping_add(1);
                    if p.last_acked.is_none() {
                        p.log_last = Some(last.base_offset);
                    }
                    p.in_txn = e.txn_first_offset.is_some();
                    p.must_abort = p.must_abort && p.in_txn;
                }
                None => {
                    p.epoch += 1;
                    p.next_seq = 0;
                    p.last_acked = None;
                    p.log_last = None;
                    if p.in_txn {
                        p.must_abort = true;
                    }
                }
            }
        }
    }

    /// Ends the open transaction of one transactional producer with a marker, as the
    /// coordinator does; a marker that fails is written again later.
    pub async fn end_transaction(
        &mut self,
        log: &Rc<PartitionLog>,
        rng: &mut Rng,
        model: &mut Model,
    ) -> Result<(), String> {
        let open: Vec<usize> = (0..self.producers.len())
            .filter(|&k| self.producers[k].in_txn && self.producers[k].pending.is_none())
            .collect();
        if open.is_empty() {
            return Ok(());
        }
        let k = open[rng.below(open.len() as u64) as usize];
        let p = &mut self.producers[k];
        let commit = !p.must_abort && rng.below(3) != 0;
        let Ok(a) = log.append_marker(p.pid, p.epoch, commit, 0) else {
            return Ok(());
        };
        if log.wait_durable(&a).await.is_err() {
            return Ok(());
        }
        let Ok(read) = log.read(a.base_offset, 1, false).await else {
            // A read that fails (an injected fault, a log gone offline since) shows nothing;
            // the transaction is ended all the same.
            p.in_txn = false;
            p.must_abort = false;
            return Ok(());
        };
        let batches = Model::split(a.base_offset, &read)?;
        let b = batches.first().ok_or("acknowledged marker not readable")?;
        let info = batch::peek_header(b, 0).expect("split checked");
        if info.base_offset != a.base_offset
            || !info.is_control()
            || info.producer_id != p.pid
            || batch::control_marker(b) != Some(commit)
        {
            return Err(format!("marker at {}: the log has {info:?}", a.base_offset));
        }
        model.ack(a.base_offset, b);
        p.in_txn = false;
        p.must_abort = false;
        Ok(())
    }
}

/// Records an acknowledged append of `data` (one or several batches) in the model.
fn ack(model: &mut Model, a: &Appended, data: &Bytes) -> Result<(), String> {
    if std::env::var_os("RUNNEL_SIM_TRACE").is_some() {
        eprintln!("sim: acknowledged {}..{}", a.base_offset, a.next_offset);
    }
    let infos = batch::validate_batches(data, usize::MAX).expect("valid");
    let mut base = a.base_offset;
    for info in &infos {
        model.ack(base, &data.slice(info.pos..info.pos + info.len));
        base += info.last_offset_delta as i64 + 1;
    }
    if base != a.next_offset {
        return Err(format!(
            "append acknowledged {}..{} but its batches cover {}..{base}",
            a.base_offset, a.next_offset, a.base_offset
        ));
    }
    Ok(())
}

/// A resent batch answered as a duplicate: the log must hold the same batch at the offsets
/// answered (when they are still in the log).
async fn check_duplicate(log: &Rc<PartitionLog>, a: &Appended, data: &Bytes) -> Result<(), String> {
    if a.base_offset < log.log_start_offset() {
        return Ok(());
    }
    // A read that fails (an injected fault, a log gone offline since) shows nothing.
    let Ok(read) = log.read(a.base_offset, 1, false).await else {
        return Ok(());
    };
    let batches = Model::split(a.base_offset, &read)?;
    let same = batches.first().is_some_and(|b| {
        batch::peek_header(b, 0)
            .is_some_and(|i| i.base_offset == a.base_offset && i.next_offset() == a.next_offset)
            && b[16..] == data[16..]
    });
    if !same {
        return Err(format!(
            "a resent batch was answered as a duplicate at {}..{}, where the log holds another batch",
            a.base_offset, a.next_offset
        ));
    }
    Ok(())
}
