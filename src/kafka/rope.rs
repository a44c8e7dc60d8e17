//! Zero-copy response encoding.
//!
//! kafka-protocol's encoder takes one `Bytes` for each partition's records and writes it with
//! `put_slice`. To send cached batches without concatenating them, the fetch path hands the
//! encoder a *placeholder* of the right length (a slice of a never-written, read-only anonymous
//! mapping) and registers the real chunks with [`RopeBuf`]. When the encoder writes a
//! placeholder, `RopeBuf` emits the registered `Bytes` chunks instead of copying anything. The
//! result is a list of chunks written to the socket in order.

use std::collections::VecDeque;
use std::sync::OnceLock;

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::buf::ByteBufMut;

/// Largest records field that can be substituted without copying.
pub const PLACEHOLDER_MAX: usize = 256 << 20;

fn region() -> &'static [u8] {
    static REGION: OnceLock<&'static [u8]> = OnceLock::new();
    REGION.get_or_init(|| {
        // SAFETY: a fresh private anonymous read-only mapping, never unmapped, so a 'static
        // shared slice over it is sound. MAP_NORESERVE: it is never written, so costs no memory.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                PLACEHOLDER_MAX,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return &[];
            }
            std::slice::from_raw_parts(p as *const u8, PLACEHOLDER_MAX)
        }
    })
}

/// Records to put in a response: the chunks, and the `Bytes` to give the encoder.
///
/// A single chunk is given as itself (the encoder's `put_slice` then copies nothing either, as
/// `RopeBuf` recognises large slices it has been told about); several chunks get a placeholder.
pub fn records_field(chunks: Vec<Bytes>, subs: &mut Substitutions) -> Bytes {
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    if total == 0 {
        return Bytes::new();
    }
    let r = region();
    if chunks.len() == 1 {
        let b = chunks.into_iter().next().expect("one chunk");
        subs.queue
            .push_back((b.as_ptr() as usize, b.len(), vec![b.clone()]));
        return b;
    }
    if total <= r.len() {
        let ph = Bytes::from_static(&r[..total]);
        subs.queue.push_back((ph.as_ptr() as usize, total, chunks));
        return ph;
    }
    // Too large for the placeholder region: concatenate (copies).
    let mut out = BytesMut::with_capacity(total);
    for c in chunks {
        out.extend_from_slice(&c);
    }
    out.freeze()
}

/// Chunks registered for substitution, in encoding order.
#[derive(Default)]
pub struct Substitutions {
    queue: VecDeque<(usize, usize, Vec<Bytes>)>,
}

/// A `BufMut` that collects small writes in a buffer and large registered slices as chunks.
pub struct RopeBuf {
    done: Vec<Bytes>,
    done_len: usize,
    cur: BytesMut,
    subs: Substitutions,
}

impl RopeBuf {
    /// A rope that will substitute `subs` as they are written.
    pub fn new(subs: Substitutions) -> Self {
        RopeBuf {
            done: Vec::new(),
            done_len: 0,
            cur: BytesMut::with_capacity(4096),
            subs,
        }
    }

    /// Total bytes written so far.
    pub fn len(&self) -> usize {
        self.done_len + self.cur.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chunks, in order.
    pub fn into_chunks(mut self) -> Vec<Bytes> {
        if !self.cur.is_empty() {
            self.done.push(self.cur.split().freeze());
        }
        self.done
    }
}

// SAFETY: every method delegates to the inner `BytesMut`, which upholds `BufMut`'s contract;
// `put_slice` only appends whole `Bytes` chunks to the list of finished chunks.
unsafe impl BufMut for RopeBuf {
    fn remaining_mut(&self) -> usize {
        self.cur.remaining_mut()
    }
    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: forwarded from the caller, who initialised `cnt` bytes of `chunk_mut`.
        unsafe { self.cur.advance_mut(cnt) }
    }
    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.cur.chunk_mut()
    }
    fn put_slice(&mut self, src: &[u8]) {
        if let Some((ptr, len, _)) = self.subs.queue.front() {
            if *ptr == src.as_ptr() as usize && *len == src.len() {
                let (_, _, chunks) = self.subs.queue.pop_front().expect("front exists");
                if !self.cur.is_empty() {
                    let b = self.cur.split().freeze();
                    self.done_len += b.len();
                    self.done.push(b);
                }
                for c in chunks {
                    self.done_len += c.len();
                    self.done.push(c);
                }
                return;
            }
        }
        self.cur.extend_from_slice(src);
    }
}

impl ByteBufMut for RopeBuf {
    fn offset(&self) -> usize {
        self.len()
    }
    fn seek(&mut self, offset: usize) {
        // Only used by record-batch encoding, never by message encoding; supported within the
        // current buffer for completeness.
        let rel = offset.saturating_sub(self.done_len);
        if rel > self.cur.len() {
            self.cur.resize(rel, 0);
        } else {
            self.cur.truncate(rel);
        }
    }
    fn range(&mut self, r: std::ops::Range<usize>) -> &mut [u8] {
        let s = r.start.saturating_sub(self.done_len).min(self.cur.len());
        let e = r.end.saturating_sub(self.done_len).min(self.cur.len());
        &mut self.cur[s..e]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_placeholders_without_copying() {
        let a = Bytes::from(vec![1u8; 100]);
        let b = Bytes::from(vec![2u8; 50]);
        let mut subs = Substitutions::default();
        let field = records_field(vec![a.clone(), b.clone()], &mut subs);
        assert_eq!(field.len(), 150);
        let mut rope = RopeBuf::new(subs);
        rope.put_i32(7);
        rope.put_slice(&field);
        rope.put_u8(9);
        assert_eq!(rope.len(), 155);
        let chunks = rope.into_chunks();
        assert_eq!(chunks.len(), 4);
        assert_eq!(chunks[1].as_ptr(), a.as_ptr());
        assert_eq!(chunks[2].as_ptr(), b.as_ptr());
        let flat: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        assert_eq!(&flat[..4], &7i32.to_be_bytes());
        assert_eq!(flat[4], 1);
        assert_eq!(flat[104], 2);
        assert_eq!(flat[154], 9);
    }
}
