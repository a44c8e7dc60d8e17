//! How a refused partition of a Produce is reported (KIP-467): the error code, and from
//! Produce v8 on the records to blame (`record_errors`: index in the batch and message) and a
//! summary (`error_message`), as Kafka's `LogValidator` reports them, so that a client fails
//! exactly the bad records (librdkafka, when several are named, fails each with
//! `INVALID_RECORD` and the others of the batch with `_INVALID_DIFFERENT_RECORD`; with one
//! named, it gives the whole batch the partition's code).
//!
//! The storage layer says which records break which rule
//! ([`crate::storage::record_rules::Findings`]); this module turns that into Kafka's codes
//! and texts. Refusals of the whole batch (malformed records, lying headers, size) carry only
//! their code, as on Kafka. At most [`crate::storage::record_rules::MAX_FINDINGS`] records are
//! named per partition; the summary still counts them all.

use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::errors::KafkaError;
use crate::storage::record_rules::{Finding, Findings, RecordRules, TimestampRule};

/// First Produce version whose response carries `record_errors` and `error_message`.
pub const RECORD_ERRORS_VERSION: i16 = 8;

/// Why one partition of a Produce is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The partition's error.
    pub error: KafkaError,
    /// Kafka's summary (`error_message`), for record errors only.
    pub message: Option<String>,
    /// The records to blame: (index in the batch, message), in record order.
    pub record_errors: Vec<(u32, String)>,
}

impl From<KafkaError> for Refusal {
    fn from(error: KafkaError) -> Refusal {
        Refusal {
            error,
            message: None,
            record_errors: Vec::new(),
        }
    }
}

/// Kafka's text for one refused record of partition `topic`-`partition`.
fn record_message(topic: &str, partition: i32, rules: &RecordRules, finding: &Finding) -> String {
    match *finding {
        Finding::MissingKey => format!(
            "Compacted topic cannot accept message without key in topic partition \
             {topic}-{partition}."
        ),
        Finding::TimestampOutOfRange { timestamp, offset } => {
            let (low, high) = match rules.timestamps {
                // Java long arithmetic: wraps where Kafka's would.
                TimestampRule::CreateTime {
                    now,
                    before_max_ms,
                    after_max_ms,
                } => (
                    now.wrapping_sub(before_max_ms),
                    now.wrapping_add(after_max_ms),
                ),
                TimestampRule::LogAppendTime => (i64::MIN, i64::MAX),
            };
            format!(
                "Timestamp {timestamp} of message with offset {offset} is out of range. \
                 The timestamp should be within [{low}, {high}]"
            )
        }
        Finding::ProducerLogAppendTime {
            offset,
            timestamp,
            key_len,
            value_len,
        } => format!(
            "Invalid timestamp type in message DefaultRecord(offset={offset}, \
             timestamp={timestamp}, key={key_len} bytes, value={value_len} bytes). Producer \
             should not set timestamp type to LogAppendTime."
        ),
    }
}

impl Refusal {
    /// The refusal of partition `topic`-`partition` whose records broke `rules` as `found`
    /// says (not empty). Any timestamp finding makes it `INVALID_TIMESTAMP`, otherwise
    /// `INVALID_RECORD`, with Kafka's summaries.
    pub fn from_findings(
        topic: &str,
        partition: i32,
        rules: &RecordRules,
        found: &Findings,
    ) -> Refusal {
        let record_errors: Vec<(u32, String)> = found
            .kept
            .iter()
            .map(|f| (f.index, record_message(topic, partition, rules, &f.finding)))
            .collect();
        let timestamp = found
            .kept
            .iter()
            .any(|f| !matches!(f.finding, Finding::MissingKey));
        let (error, message) = if timestamp {
            (
                KafkaError::InvalidTimestamp,
                "One or more records have been rejected due to invalid timestamp".to_string(),
            )
        } else {
            let first: Vec<String> = record_errors
                .iter()
                .take(3)
                .map(|(i, m)| format!("RecordError(batchIndex={i}, message='{m}')"))
                .collect();
            (
                KafkaError::InvalidRecord,
                format!(
                    "One or more records have been rejected due to {} record errors in total, \
                     and only showing the first three errors at most: [{}]",
                    found.total,
                    first.join(", ")
                ),
            )
        };
        Refusal {
            error,
            message: Some(message),
            record_errors,
        }
    }

    /// Writes the record errors and the summary into `pr` for Produce `version` (v8 and up;
    /// older versions only get the code, already set).
    pub fn fill(self, pr: &mut PartitionProduceResponse, version: i16) {
        if version < RECORD_ERRORS_VERSION {
            return;
        }
        pr.error_message = self.message.map(StrBytes::from_string);
        pr.record_errors = self
            .record_errors
            .into_iter()
            .map(|(i, m)| {
                let mut e = BatchIndexAndErrorMessage::default();
                e.batch_index = i as i32;
                e.batch_index_error_message = Some(StrBytes::from_string(m));
                e
            })
            .collect();
    }
}

/// The refusals of one Produce request that carry details, by the partition's place in the
/// request (pushed in request order).
#[derive(Debug, Default)]
pub struct Refusals(Vec<(usize, Refusal)>);

impl Refusals {
    /// Keeps the details of `r` for the partition at `slot`; returns its error.
    pub fn keep(&mut self, slot: usize, r: Refusal) -> KafkaError {
        let error = r.error;
        if r.message.is_some() || !r.record_errors.is_empty() {
            self.0.push((slot, r));
        }
        error
    }

    /// Fills the details of the partition at `slot` (if any) into `pr`. Slots must be asked
    /// in increasing order.
    pub fn fill(&mut self, slot: usize, pr: &mut PartitionProduceResponse, version: i16) {
        while let Some(i) = self.0.iter().position(|(s, _)| *s <= slot) {
            let (s, r) = self.0.remove(i);
            if s == slot {
                r.fill(pr, version);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::record_rules::RecordFinding;

    fn rules() -> RecordRules {
        RecordRules {
            require_key: true,
            timestamps: TimestampRule::CreateTime {
                now: 1000,
                before_max_ms: 100,
                after_max_ms: 50,
            },
        }
    }

    fn found(list: &[(u32, Finding)], total: usize) -> Findings {
        Findings {
            kept: list
                .iter()
                .map(|&(index, finding)| RecordFinding { index, finding })
                .collect(),
            total,
        }
    }

    #[test]
    fn missing_keys_give_invalid_record_with_kafkas_texts() {
        let f = found(&[(1, Finding::MissingKey), (3, Finding::MissingKey)], 2);
        let r = Refusal::from_findings("t", 0, &rules(), &f);
        assert_eq!(r.error, KafkaError::InvalidRecord);
        let m = "Compacted topic cannot accept message without key in topic partition t-0.";
        assert_eq!(r.record_errors, [(1, m.to_string()), (3, m.to_string())]);
        assert_eq!(
            r.message.unwrap(),
            format!(
                "One or more records have been rejected due to 2 record errors in total, and \
                 only showing the first three errors at most: [RecordError(batchIndex=1, \
                 message='{m}'), RecordError(batchIndex=3, message='{m}')]"
            )
        );
    }

    #[test]
    fn any_timestamp_finding_gives_invalid_timestamp() {
        let ts = Finding::TimestampOutOfRange {
            timestamp: 5,
            offset: 2,
        };
        let f = found(&[(0, Finding::MissingKey), (2, ts)], 2);
        let r = Refusal::from_findings("t", 4, &rules(), &f);
        assert_eq!(r.error, KafkaError::InvalidTimestamp);
        assert_eq!(
            r.record_errors[1].1,
            "Timestamp 5 of message with offset 2 is out of range. The timestamp should be \
             within [900, 1050]"
        );
        assert_eq!(
            r.message.as_deref(),
            Some("One or more records have been rejected due to invalid timestamp")
        );
    }

    #[test]
    fn details_only_from_v8() {
        let f = found(&[(1, Finding::MissingKey)], 1);
        let r = Refusal::from_findings("t", 0, &rules(), &f);
        let mut old = PartitionProduceResponse::default();
        r.clone().fill(&mut old, 7);
        assert!(old.record_errors.is_empty() && old.error_message.is_none());
        let mut new = PartitionProduceResponse::default();
        r.fill(&mut new, 8);
        assert_eq!(new.record_errors[0].batch_index, 1);
        assert!(new.error_message.is_some());
    }

    #[test]
    fn refusals_fill_their_own_slot() {
        let mut all = Refusals::default();
        let f = found(&[(1, Finding::MissingKey)], 1);
        assert_eq!(
            all.keep(0, Refusal::from(KafkaError::InvalidRecord)),
            KafkaError::InvalidRecord
        );
        all.keep(2, Refusal::from_findings("t", 0, &rules(), &f));
        let mut prs: Vec<PartitionProduceResponse> = vec![Default::default(); 4];
        for (slot, pr) in prs.iter_mut().enumerate() {
            all.fill(slot, pr, 9);
        }
        let named: Vec<usize> = prs.iter().map(|p| p.record_errors.len()).collect();
        assert_eq!(named, [0, 0, 1, 0]);
    }
}
