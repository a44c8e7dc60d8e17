//! Feeds request frames (without the 4-byte size prefix) to the broker's request parsing:
//! API/version checks, the request validator, and kafka-protocol's decoder, exactly as
//! `dispatch::parse` runs them for every frame. Any allocation above `LIMIT` aborts, so a wire
//! count that sizes an allocation beyond what the frame could hold is reported as a crash even
//! where the system would have granted it.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};

use libfuzzer_sys::fuzz_target;

/// Largest single allocation allowed while parsing a fuzzer input (inputs are a few KB).
const LIMIT: usize = 64 << 20;

struct Bounded;

// SAFETY: forwards to the system allocator; only refuses (by aborting) oversized requests.
unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LIMIT {
            eprintln!("allocation of {} bytes while parsing a request", layout.size());
            std::process::abort();
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LIMIT {
            eprintln!("allocation of {} bytes while parsing a request", layout.size());
            std::process::abort();
        }
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > LIMIT {
            eprintln!("reallocation to {new_size} bytes while parsing a request");
            std::process::abort();
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Bounded = Bounded;

fuzz_target!(|data: &[u8]| {
    // The framing layer never hands shorter frames to dispatch.
    if data.len() < runnel::kafka::frame::MIN_REQUEST {
        return;
    }
    // The validator unguarded first (dispatch::parse runs it under panic_exit::catching,
    // which would hide a panic from the fuzzer), then the whole path as the broker runs it.
    let _ = runnel::kafka::validate::check_request(data);
    let _ = runnel::kafka::dispatch::parse(bytes::Bytes::copy_from_slice(data));
});
