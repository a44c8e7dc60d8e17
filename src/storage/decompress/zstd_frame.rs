//! zstd frames decoded straight into the caller's buffer with one decompression context per
//! thread, reset between batches. A context per batch (as `zstd::stream::read::Decoder`
//! makes) allocates and initializes its window buffers for every batch, which cost more than
//! the decoding itself.

use std::cell::RefCell;

use zstd::zstd_safe::{DCtx, InBuffer, OutBuffer, ResetDirective};

use super::{grow, DecompressError};

/// A context that grew past this (a frame with a window of many MiB) is dropped after use
/// rather than kept for the thread's lifetime.
const KEEP_CONTEXT_BYTES: usize = 16 << 20;

thread_local! {
    static CONTEXT: RefCell<Option<DCtx<'static>>> = const { RefCell::new(None) };
}

/// Decodes the zstd frames of `input` (one or more, concatenated) into `out` (cleared by the
/// caller), failing once more than `max` bytes came out.
pub fn decompress(input: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), DecompressError> {
    CONTEXT.with(|cell| {
        let mut slot = cell.borrow_mut();
        let mut ctx = match slot.take() {
            Some(c) => c,
            None => DCtx::try_create().ok_or(DecompressError::Malformed)?,
        };
        let r = run(&mut ctx, input, max, out);
        if ctx.reset(ResetDirective::SessionOnly).is_ok() && ctx.sizeof() <= KEEP_CONTEXT_BYTES {
            *slot = Some(ctx);
        }
        r
    })
}

fn run(
    ctx: &mut DCtx<'static>,
    input: &[u8],
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecompressError> {
    if input.is_empty() {
        return Err(DecompressError::Malformed);
    }
    let mut src = InBuffer::around(input);
    loop {
        let room = grow(out, input.len(), max)?;
        let before = (out.len(), src.pos());
        // The output buffer's length follows what zstd wrote (zstd-safe's `WriteBuf` for Vec).
        let at = out.len();
        let hint = ctx
            .decompress_stream(&mut OutBuffer::around_pos(out, at), &mut src)
            .map_err(|_| DecompressError::Malformed)?;
        if out.len() > max {
            return Err(DecompressError::TooLarge);
        }
        let written = out.len() - before.0;
        let read = src.pos() - before.1;
        let input_left = src.pos() < input.len();
        if hint == 0 && !input_left {
            return Ok(()); // the last frame is complete
        }
        if (!input_left && written < room) || (written == 0 && read == 0) {
            // More input expected and none left with nothing more to flush (truncated), or
            // no progress at all.
            return Err(DecompressError::Malformed);
        }
    }
}
