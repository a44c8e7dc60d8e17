//! Message payloads and keys.
//!
//! Every value starts with a 16-byte header: the send timestamp as little-endian `u64`
//! nanoseconds since the Unix epoch, then the run id as little-endian `u64`. Consumers compute
//! end-to-end latency as `now - timestamp` and ignore values whose run id is not theirs (left over
//! from an earlier run on a reused topic). In fixed-rate mode the timestamp is the *intended*
//! send time, so end-to-end latency also includes any time the producer fell behind schedule.
//! The rest of the value is random bytes (or the payload file's content).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::workload::{KeyDistribution, MessageSize};

/// Length of the timestamp + run id header at the start of every value.
pub const HEADER_LEN: usize = 16;

/// A small, fast, non-cryptographic random generator (xorshift64*).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Creates a generator; a zero seed is replaced by a fixed non-zero one.
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// Next pseudo-random 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// Maps between `Instant`s and Unix-epoch nanoseconds, fixed once per run so that every thread
/// converts the same way (monotonic within the process, comparable across processes).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
    origin_unix_ns: u64,
}

impl Clock {
    /// Anchors the clock to now.
    pub fn new() -> Clock {
        let origin = Instant::now();
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Clock {
            origin,
            origin_unix_ns: unix.as_nanos() as u64,
        }
    }

    /// Unix-epoch nanoseconds of `t`.
    pub fn unix_ns(&self, t: Instant) -> u64 {
        self.origin_unix_ns + t.saturating_duration_since(self.origin).as_nanos() as u64
    }

    /// Unix-epoch nanoseconds now.
    pub fn now_ns(&self) -> u64 {
        self.unix_ns(Instant::now())
    }
}

/// Writes the header into the first [`HEADER_LEN`] bytes of `buf`.
pub fn write_header(buf: &mut [u8], send_unix_ns: u64, run_id: u64) {
    buf[..8].copy_from_slice(&send_unix_ns.to_le_bytes());
    buf[8..16].copy_from_slice(&run_id.to_le_bytes());
}

/// Reads `(send_unix_ns, run_id)` from a value, or `None` if it is too short.
pub fn read_header(value: &[u8]) -> Option<(u64, u64)> {
    if value.len() < HEADER_LEN {
        return None;
    }
    let ts = u64::from_le_bytes(value[..8].try_into().ok()?);
    let run = u64::from_le_bytes(value[8..16].try_into().ok()?);
    Some((ts, run))
}

/// Produces the values one producer sends: a reusable buffer whose header is rewritten for each
/// message.
pub struct PayloadSource {
    buf: Vec<u8>,
    size: Option<MessageSize>,
    rng: Rng,
}

impl PayloadSource {
    /// Random content sized by `size`, or the given file content (used whole) when `file` is set.
    pub fn new(size: &MessageSize, file: Option<Vec<u8>>, seed: u64) -> PayloadSource {
        let mut rng = Rng::new(seed);
        match file {
            Some(mut content) => {
                if content.len() < HEADER_LEN {
                    content.resize(HEADER_LEN, 0);
                }
                PayloadSource {
                    buf: content,
                    size: None,
                    rng,
                }
            }
            None => {
                let mut buf = vec![0u8; size.max_len()];
                for chunk in buf.chunks_mut(8) {
                    let r = rng.next_u64().to_le_bytes();
                    chunk.copy_from_slice(&r[..chunk.len()]);
                }
                PayloadSource {
                    buf,
                    size: Some(size.clone()),
                    rng,
                }
            }
        }
    }

    /// The next value, stamped with `send_unix_ns` and `run_id`.
    pub fn next(&mut self, send_unix_ns: u64, run_id: u64) -> &[u8] {
        let len = match &self.size {
            None => self.buf.len(),
            Some(MessageSize::Fixed(n)) => *n,
            Some(MessageSize::Uniform { min, max }) => {
                self.rng.range(*min as u64, *max as u64) as usize
            }
        };
        write_header(&mut self.buf, send_unix_ns, run_id);
        &self.buf[..len]
    }
}

/// Chooses message keys according to a [`KeyDistribution`].
pub struct KeySource {
    dist: KeyDistribution,
    keys: Vec<Vec<u8>>,
    next: usize,
    rng: Rng,
}

impl KeySource {
    /// `count` distinct keys (`key-0` ...), starting round-robin at `start`.
    pub fn new(dist: KeyDistribution, count: usize, start: usize, seed: u64) -> KeySource {
        let keys = match dist {
            KeyDistribution::None => Vec::new(),
            _ => (0..count)
                .map(|i| format!("key-{i}").into_bytes())
                .collect(),
        };
        KeySource {
            dist,
            next: if keys.is_empty() {
                0
            } else {
                start % keys.len()
            },
            keys,
            rng: Rng::new(seed),
        }
    }

    /// The next key, or `None` for keyless messages.
    pub fn next_key(&mut self) -> Option<&[u8]> {
        match self.dist {
            KeyDistribution::None => None,
            KeyDistribution::RoundRobin => {
                let i = self.next;
                self.next = (self.next + 1) % self.keys.len();
                Some(&self.keys[i])
            }
            KeyDistribution::Random => {
                let i = self.rng.range(0, self.keys.len() as u64 - 1) as usize;
                Some(&self.keys[i])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let mut src = PayloadSource::new(&MessageSize::Fixed(100), None, 7);
        let v = src.next(123_456_789, 42).to_vec();
        assert_eq!(v.len(), 100);
        assert_eq!(read_header(&v), Some((123_456_789, 42)));
        assert_eq!(read_header(&v[..10]), None);
    }

    #[test]
    fn uniform_sizes_stay_in_range() {
        let mut src = PayloadSource::new(&MessageSize::Uniform { min: 20, max: 30 }, None, 1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..1000 {
            let n = src.next(1, 1).len();
            assert!((20..=30).contains(&n));
            seen.insert(n);
        }
        assert_eq!(seen.len(), 11, "every size in range should show up");
    }

    #[test]
    fn payload_file_is_used_whole() {
        let mut src = PayloadSource::new(
            &MessageSize::Fixed(999),
            Some(b"0123456789abcdefXYZ".to_vec()),
            1,
        );
        let v = src.next(5, 6);
        assert_eq!(v.len(), 19);
        assert_eq!(&v[16..], b"XYZ");
    }

    #[test]
    fn keys_follow_the_distribution() {
        let mut none = KeySource::new(KeyDistribution::None, 4, 0, 1);
        assert!(none.next_key().is_none());
        let mut rr = KeySource::new(KeyDistribution::RoundRobin, 3, 1, 1);
        let got: Vec<Vec<u8>> = (0..4).map(|_| rr.next_key().unwrap().to_vec()).collect();
        assert_eq!(
            got,
            vec![
                b"key-1".to_vec(),
                b"key-2".to_vec(),
                b"key-0".to_vec(),
                b"key-1".to_vec()
            ]
        );
        let mut rnd = KeySource::new(KeyDistribution::Random, 5, 0, 3);
        for _ in 0..100 {
            let k = rnd.next_key().unwrap();
            assert!(k.starts_with(b"key-"));
        }
    }

    #[test]
    fn clock_is_monotonic_and_anchored() {
        let c = Clock::new();
        let a = c.now_ns();
        let b = c.now_ns();
        assert!(b >= a);
        assert!(c.unix_ns(c.origin) <= a);
        let later = c.origin + Duration::from_millis(5);
        assert_eq!(c.unix_ns(later) - c.unix_ns(c.origin), 5_000_000);
    }
}
