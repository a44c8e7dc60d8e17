//! Decompression of a record batch's records with a hard bound on the output: a batch that
//! would expand past [`limit`] is refused before more than the bound is held, so a small
//! "compression bomb" cannot make the broker allocate without end. Each codec streams into a
//! buffer that grows only as data comes out.
//!
//! Codecs are Kafka's: gzip (concatenated members allowed), snappy in xerial-java framing (or
//! a raw snappy block, as Kafka's reader also accepts), lz4 frames and zstd frames. lz4 and
//! zstd decode straight into the output buffer with a context kept per thread
//! ([`lz4_frame`], [`zstd_frame`]).

use std::io::Read;

mod lz4_frame;
mod zstd_frame;

/// Smallest bound on a batch's decompressed records.
pub const MIN_DECOMPRESSED_LIMIT: usize = 64 << 20;
/// Largest bound on a batch's decompressed records.
pub const MAX_DECOMPRESSED_LIMIT: usize = 1 << 30;
/// Bound on the expansion ratio above [`MIN_DECOMPRESSED_LIMIT`].
pub const MAX_RATIO: usize = 64;

/// The most bytes the records of a compressed batch of `batch_len` bytes may decompress to:
/// 64 × the batch, at least 64 MiB and at most 1 GiB.
pub fn limit(batch_len: usize) -> usize {
    batch_len
        .saturating_mul(MAX_RATIO)
        .clamp(MIN_DECOMPRESSED_LIMIT, MAX_DECOMPRESSED_LIMIT)
}

/// Why records could not be decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecompressError {
    /// Codec id 5..=7.
    UnknownCodec,
    /// The codec's decoder failed (garbage, truncated input).
    Malformed,
    /// The output would exceed the bound.
    TooLarge,
}

/// The xerial snappy-java stream header Kafka writes before its blocks.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_LEN: usize = 16;

/// Decompresses `input` (the records part of a batch, codec `codec` 1..=4) into `out`
/// (cleared first), producing at most `max` bytes.
pub fn decompress_into(
    codec: i16,
    input: &[u8],
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecompressError> {
    out.clear();
    match codec {
        1 => read_bounded(flate2::read::MultiGzDecoder::new(input), max, out),
        2 => snappy(input, max, out),
        3 => lz4_frame::decompress(input, max, out),
        4 => zstd_frame::decompress(input, max, out),
        _ => Err(DecompressError::UnknownCodec),
    }
}

/// Makes room in `out` for more output and returns the spare capacity: what is spare already,
/// else twice the current length (at least 64 KiB and 4 x the input), never more in all than
/// `max` + 1 bytes (one past the bound, to tell a too large output).
fn grow(out: &mut Vec<u8>, input_len: usize, max: usize) -> Result<usize, DecompressError> {
    let spare = out.capacity() - out.len();
    if spare > 0 {
        return Ok(spare);
    }
    let target = out
        .len()
        .saturating_mul(2)
        .max(input_len.saturating_mul(4))
        .max(64 << 10)
        .min(max.saturating_add(1));
    if target <= out.len() {
        return Err(DecompressError::TooLarge);
    }
    out.try_reserve_exact(target - out.len())
        .map_err(|_| DecompressError::TooLarge)?;
    Ok(out.capacity() - out.len())
}

/// Reads `r` to its end into `out`, failing once more than `max` bytes came out.
fn read_bounded(r: impl Read, max: usize, out: &mut Vec<u8>) -> Result<(), DecompressError> {
    let mut limited = r.take(max as u64 + 1);
    limited
        .read_to_end(out)
        .map_err(|_| DecompressError::Malformed)?;
    if out.len() > max {
        return Err(DecompressError::TooLarge);
    }
    Ok(())
}

/// The most a snappy block can expand: its densest element, a copy with a 2-byte offset, is 3
/// bytes long and produces at most 64 (21.3 x).
const SNAPPY_MAX_RATIO: usize = 22;

/// Appends the raw snappy block `block` to `out`, checking its announced length first: past the
/// bound it is too large; past what `block` could hold it is a lie, refused before the output
/// buffer is sized from it (a 20-byte block announcing 48 MiB would otherwise cost a zeroed
/// 48 MiB buffer, found by fuzzing `batch_validate`).
fn snappy_block(block: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), DecompressError> {
    let n = snap::raw::decompress_len(block).map_err(|_| DecompressError::Malformed)?;
    if n > max.saturating_sub(out.len()) {
        return Err(DecompressError::TooLarge);
    }
    if n > block.len().saturating_mul(SNAPPY_MAX_RATIO) {
        return Err(DecompressError::Malformed);
    }
    let start = out.len();
    out.resize(start + n, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|_| DecompressError::Malformed)?;
    out.truncate(start + written);
    Ok(())
}

fn snappy(input: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), DecompressError> {
    if !input.starts_with(XERIAL_MAGIC) {
        if input.is_empty() {
            return Err(DecompressError::Malformed);
        }
        return snappy_block(input, max, out);
    }
    let mut p = XERIAL_HEADER_LEN.min(input.len());
    if p < XERIAL_HEADER_LEN {
        return Err(DecompressError::Malformed);
    }
    while p < input.len() {
        let len_bytes = input.get(p..p + 4).ok_or(DecompressError::Malformed)?;
        let len = u32::from_be_bytes(len_bytes.try_into().expect("4 bytes")) as usize;
        p += 4;
        let block = input
            .get(p..p.saturating_add(len))
            .ok_or(DecompressError::Malformed)?;
        snappy_block(block, max, out)?;
        p += len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn each_codec_round_trips_within_the_bound() {
        let data = vec![7u8; 100_000];
        let lz4 = {
            let mut e = lz4::EncoderBuilder::new().build(Vec::new()).unwrap();
            e.write_all(&data).unwrap();
            e.finish().0
        };
        let zstd = zstd::stream::encode_all(&data[..], 1).unwrap();
        let snappy = {
            let block = snap::raw::Encoder::new().compress_vec(&data).unwrap();
            let mut v = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
            v.extend((block.len() as u32).to_be_bytes());
            v.extend(block);
            v
        };
        let mut out = Vec::new();
        for (codec, input) in [(1, gzip(&data)), (2, snappy), (3, lz4), (4, zstd)] {
            decompress_into(codec, &input, 1 << 20, &mut out).unwrap();
            assert_eq!(out, data, "codec {codec}");
            assert_eq!(
                decompress_into(codec, &input, 99_999, &mut out),
                Err(DecompressError::TooLarge),
                "codec {codec}"
            );
            assert!(out.len() <= 100_000);
        }
    }

    #[test]
    fn garbage_and_unknown_codecs_are_refused() {
        let mut out = Vec::new();
        for codec in 1..=4 {
            assert!(decompress_into(codec, b"\x01\x02garbage!", 1 << 20, &mut out).is_err());
            assert!(decompress_into(codec, b"", 1 << 20, &mut out).is_err() || out.is_empty());
        }
        assert_eq!(
            decompress_into(5, b"x", 10, &mut out),
            Err(DecompressError::UnknownCodec)
        );
        // A raw snappy block announcing 4 GiB is refused before anything is allocated.
        let bomb = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(
            decompress_into(2, &bomb, 1 << 20, &mut out),
            Err(DecompressError::TooLarge)
        );
    }

    #[test]
    fn truncated_frames_fail_and_the_kept_contexts_still_work_after() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let lz4 = {
            let mut e = lz4::EncoderBuilder::new().build(Vec::new()).unwrap();
            e.write_all(&data).unwrap();
            e.finish().0
        };
        let zstd = zstd::stream::encode_all(&data[..], 3).unwrap();
        let mut out = Vec::new();
        for (codec, input) in [(3, &lz4), (4, &zstd)] {
            for cut in [1, 7, input.len() / 2, input.len() - 1] {
                assert_eq!(
                    decompress_into(codec, &input[..cut], 1 << 20, &mut out),
                    Err(DecompressError::Malformed),
                    "codec {codec} cut at {cut}"
                );
            }
            // The same thread's context decodes a whole frame right after the failures.
            decompress_into(codec, input, 1 << 20, &mut out).unwrap();
            assert_eq!(out, data, "codec {codec}");
        }
        // zstd: concatenated frames are one stream, as zstd's own reader treats them.
        let mut two = zstd.clone();
        two.extend_from_slice(&zstd);
        decompress_into(4, &two, 1 << 20, &mut out).unwrap();
        assert_eq!(out.len(), 2 * data.len());
        assert_eq!(&out[data.len()..], &data[..]);
    }

    #[test]
    fn a_snappy_block_announcing_more_than_it_can_hold_is_refused_before_allocating() {
        // 0x82 0xd2 0x95 0x17: a varint of 48 million, followed by a few bytes.
        let liar = [0x82, 0xd2, 0x95, 0x17, 0x99, 0xff, 0xff, 0xff, 0xff, b'S'];
        let mut out = Vec::new();
        assert_eq!(
            decompress_into(2, &liar, 64 << 20, &mut out),
            Err(DecompressError::Malformed)
        );
        assert_eq!(out.capacity(), 0, "nothing was allocated");
        // The densest real block (all copies) stays within the ratio and decodes.
        let data = vec![b'a'; 1 << 20];
        let block = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert!(data.len() <= block.len() * SNAPPY_MAX_RATIO);
        decompress_into(2, &block, 64 << 20, &mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn the_bound_follows_the_batch_size() {
        assert_eq!(limit(100), MIN_DECOMPRESSED_LIMIT);
        assert_eq!(limit(2 << 20), 128 << 20);
        assert_eq!(limit(usize::MAX), MAX_DECOMPRESSED_LIMIT);
    }
}
