//! The table of topic-level configs Runnel knows: name, type, the broker key it defaults from,
//! the built-in default and the documentation shown by DescribeConfigs.

/// Value type of a config, as DescribeConfigs reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// true / false
    Boolean,
    /// 32-bit integer
    Int,
    /// 64-bit integer
    Long,
    /// floating point
    Double,
    /// free text or one of a set of words
    String,
    /// comma-separated list
    List,
}

/// Constraint on a value beyond its type.
#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// Any value of the type.
    Any,
    /// An integer at least this.
    AtLeast(i64),
    /// A number in `[lo, hi]`.
    Between(f64, f64),
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// A list whose items are all among these words.
    ListOf(&'static [&'static str]),
}

/// One topic-level config.
#[derive(Debug, Clone, Copy)]
pub struct ConfigDef {
    /// Topic-level name, e.g. `retention.ms`.
    pub name: &'static str,
    /// Value type.
    pub kind: ConfigType,
    /// Broker-level key whose value is the default (a synonym in DescribeConfigs).
    pub broker_key: &'static str,
    /// Built-in default, used when the broker configuration does not set `broker_key`.
    pub default: &'static str,
    /// Constraint.
    pub check: Check,
    /// Whether Runnel acts on the value (others are accepted and stored for compatibility).
    pub honoured: bool,
    /// Documentation.
    pub doc: &'static str,
}

const POLICIES: &[&str] = &["delete", "compact"];
const CODECS: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
const TS_TYPES: &[&str] = &["CreateTime", "LogAppendTime"];

macro_rules! def {
    ($name:expr, $kind:ident, $broker:expr, $default:expr, $check:expr, $honoured:expr, $doc:expr) => {
        ConfigDef {
            name: $name,
            kind: ConfigType::$kind,
            broker_key: $broker,
            default: $default,
            check: $check,
            honoured: $honoured,
            doc: $doc,
        }
    };
}

/// Every topic-level config, in name order.
pub const TOPIC_CONFIGS: &[ConfigDef] = &[
    def!("cleanup.policy", List, "log.cleanup.policy", "delete", Check::ListOf(POLICIES), true,
        "How old segments are retired: \"delete\" removes segments past retention.ms / retention.bytes; \"compact\" keeps the latest record of every key; both may be given."),
    def!("compression.type", String, "compression.type", "producer", Check::OneOf(CODECS), true,
        "Codec of the stored batches; \"producer\" keeps what the producer sent, any other codec re-encodes batches sent with a different one."),
    def!("delete.retention.ms", Long, "log.cleaner.delete.retention.ms", "86400000", Check::AtLeast(0), true,
        "How long a tombstone (a record with a null value) is kept in a compacted topic after its segment was first cleaned."),
    def!("file.delete.delay.ms", Long, "log.segment.delete.delay.ms", "60000", Check::AtLeast(0), false,
        "Delay before a deleted segment's files are removed; Runnel removes them at once."),
    def!("flush.messages", Long, "log.flush.interval.messages", "1", Check::AtLeast(1), true,
        "fdatasync after this many messages; 1 syncs every group commit before acknowledging."),
    def!("flush.ms", Long, "log.flush.interval.ms", "9223372036854775807", Check::AtLeast(0), false,
        "fdatasync at least this often; Runnel syncs per flush.messages and at roll and shutdown."),
    def!("index.interval.bytes", Int, "log.index.interval.bytes", "4096", Check::AtLeast(0), true,
        "Bytes of log between two offset index entries."),
    def!("max.compaction.lag.ms", Long, "log.cleaner.max.compaction.lag.ms", "9223372036854775807", Check::AtLeast(1), true,
        "Longest time a record may stay uncompacted; a segment older than this is compacted whatever the dirty ratio."),
    def!("max.message.bytes", Int, "message.max.bytes", "1048588", Check::AtLeast(0), true,
        "Largest record batch accepted for the topic."),
    def!("message.timestamp.after.max.ms", Long, "log.message.timestamp.after.max.ms", "3600000", Check::AtLeast(0), true,
        "How far in the future a CreateTime timestamp may be (INVALID_TIMESTAMP beyond). Every record is checked; the refused ones are named in the response (KIP-467)."),
    def!("message.timestamp.before.max.ms", Long, "log.message.timestamp.before.max.ms", "9223372036854775807", Check::AtLeast(0), true,
        "How far in the past a CreateTime timestamp may be (INVALID_TIMESTAMP beyond). Every record is checked; the refused ones are named in the response (KIP-467)."),
    def!("message.timestamp.type", String, "log.message.timestamp.type", "CreateTime", Check::OneOf(TS_TYPES), true,
        "Whether record timestamps are the producer's (CreateTime) or the broker's append time (LogAppendTime)."),
    def!("min.cleanable.dirty.ratio", Double, "log.cleaner.min.cleanable.ratio", "0.5", Check::Between(0.0, 1.0), true,
        "Compaction starts when the uncompacted share of the log's closed segments reaches this ratio."),
    def!("min.compaction.lag.ms", Long, "log.cleaner.min.compaction.lag.ms", "0", Check::AtLeast(0), true,
        "Records younger than this are not compacted."),
    def!("min.insync.replicas", Int, "min.insync.replicas", "1", Check::AtLeast(1), true,
        "Replicas that must acknowledge an acks=all write. A single node has one: above 1, acks=all produces fail with NOT_ENOUGH_REPLICAS."),
    def!("preallocate", Boolean, "log.preallocate", "true", Check::Any, true,
        "Reserve disk space for segments ahead of writes (fallocate)."),
    def!("retention.bytes", Long, "log.retention.bytes", "-1", Check::Any, true,
        "Largest size of the partition's log before its oldest segments are deleted; -1 is no limit."),
    def!("retention.ms", Long, "log.retention.ms", "604800000", Check::AtLeast(-1), true,
        "How long a segment is kept after its newest record's timestamp; -1 is forever."),
    def!("segment.bytes", Int, "log.segment.bytes", "1073741824", Check::AtLeast(14), true,
        "Size at which the active segment is closed and a new one started."),
    def!("segment.index.bytes", Int, "log.index.size.max.bytes", "10485760", Check::AtLeast(4), false,
        "Largest offset index file; Runnel's sparse index has no fixed size."),
    def!("segment.jitter.ms", Long, "log.roll.jitter.ms", "0", Check::AtLeast(0), false,
        "Random jitter subtracted from segment.ms."),
    def!("segment.ms", Long, "log.roll.ms", "604800000", Check::AtLeast(1), true,
        "Age of the active segment's first record after which the segment is rolled."),
    def!("unclean.leader.election.enable", Boolean, "unclean.leader.election.enable", "false", Check::Any, false,
        "Whether a live replica outside the ISR may lead a partition whose ISR has no live member (the records it lacks are lost). The topic config and the static broker key are read by the controller; a dynamic broker default is stored only."),
];
