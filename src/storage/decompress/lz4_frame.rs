//! lz4 frames decoded straight into the caller's buffer with one LZ4F decompression context
//! per thread, reset between batches. Creating a context per batch (as `lz4::Decoder` does)
//! allocates its block buffers anew for every batch.
//!
//! The frame's xxHash32 checksums (content and block) are not computed: they took three
//! quarters of the decoding time, and the batch's CRC32C, checked before any batch is
//! decompressed, already covers every compressed byte. The output is one contiguous buffer,
//! so earlier output always sits right before the next write (LZ4F's `stableDst`), which spares
//! LZ4F its internal copies for linked blocks.

use std::cell::RefCell;
use std::ptr;

use lz4::liblz4::{
    LZ4FDecompressOptions, LZ4FDecompressionContext, LZ4F_createDecompressionContext,
    LZ4F_decompress, LZ4F_freeDecompressionContext, LZ4F_isError, LZ4F_resetDecompressionContext,
    LZ4F_VERSION,
};

use super::{grow, DecompressError};

/// An owned LZ4F decompression context.
struct Context(LZ4FDecompressionContext);

impl Context {
    fn new() -> Result<Context, DecompressError> {
        let mut c = LZ4FDecompressionContext(ptr::null_mut());
        // SAFETY: the call initializes `c` or returns an error code.
        let code = unsafe { LZ4F_createDecompressionContext(&mut c, LZ4F_VERSION) };
        // SAFETY: LZ4F_isError only inspects the code.
        if unsafe { LZ4F_isError(code) } != 0 || c.0.is_null() {
            return Err(DecompressError::Malformed);
        }
        Ok(Context(c))
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the context was created by LZ4F_createDecompressionContext and is freed once.
        unsafe {
            LZ4F_freeDecompressionContext(LZ4FDecompressionContext(self.0 .0));
        }
    }
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Decodes the lz4 frame at the start of `input` into `out` (cleared by the caller), failing
/// once more than `max` bytes came out. Bytes after the frame's end are ignored, as Kafka's
/// reader does.
pub fn decompress(input: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), DecompressError> {
    CONTEXT.with(|cell| {
        let mut slot = cell.borrow_mut();
        let ctx = match slot.take() {
            Some(c) => c,
            None => Context::new()?,
        };
        let r = run(&ctx, input, max, out);
        // SAFETY: `ctx` is a live context; a reset makes it ready for a new frame whether
        // or not the last one finished (or failed).
        unsafe { LZ4F_resetDecompressionContext(LZ4FDecompressionContext(ctx.0 .0)) };
        *slot = Some(ctx);
        r
    })
}

/// `stableDst` on; the first reserved word is lz4 1.10's `skipChecksums` (lz4-sys names only
/// `stable_dst`).
const OPTIONS: LZ4FDecompressOptions = LZ4FDecompressOptions {
    stable_dst: 1,
    reserved: [1, 0, 0],
};

fn run(ctx: &Context, input: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), DecompressError> {
    let mut src = input;
    loop {
        let room = grow(out, input.len(), max)?;
        let offered = room.min(max + 1 - out.len());
        let mut dst_size = offered;
        let mut src_size = src.len();
        // SAFETY: `dst` points at `offered` bytes of `out`'s spare capacity, which LZ4F only
        // writes; `src` is `src_size` readable bytes. On return the sizes say how many bytes
        // were written and read.
        let code = unsafe {
            let dst = out.as_mut_ptr().add(out.len());
            LZ4F_decompress(
                LZ4FDecompressionContext(ctx.0 .0),
                dst,
                &mut dst_size,
                src.as_ptr(),
                &mut src_size,
                &OPTIONS,
            )
        };
        // SAFETY: LZ4F_isError only inspects the code.
        if unsafe { LZ4F_isError(code) } != 0 || dst_size > offered || src_size > src.len() {
            return Err(DecompressError::Malformed);
        }
        // SAFETY: LZ4F wrote `dst_size` bytes right after the initialized part.
        unsafe { out.set_len(out.len() + dst_size) };
        src = &src[src_size..];
        if out.len() > max {
            return Err(DecompressError::TooLarge);
        }
        if code == 0 {
            return Ok(()); // the frame is complete
        }
        if (src.is_empty() && dst_size < offered) || (dst_size == 0 && src_size == 0) {
            // More input expected and none left with nothing more to flush (truncated), or
            // no progress at all.
            return Err(DecompressError::Malformed);
        }
    }
}
