//! A panic anywhere in the broker ends the process, with the panic and its backtrace logged.
//!
//! An executor thread that panics would otherwise die alone: its partitions and connections are
//! gone while the process, its port and its health endpoint live on. Ending the process lets a
//! supervisor (systemd's `Restart=`) start it again, and recovery replays the logs. The one place
//! that expects panics, decoding a client's request with a third-party decoder, runs its code
//! through [`catching`], which turns a panic into an error for that request only.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    /// Depth of [`catching`] calls on this thread.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

/// Installs the process-wide hook: outside [`catching`], log the panic and abort.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        if CATCHING.with(Cell::get) > 0 {
            tracing::warn!(thread = name, panic = %info, "panic caught; only this request fails");
            return;
        }
        let backtrace = std::backtrace::Backtrace::force_capture();
        tracing::error!(
            thread = name,
            panic = %info,
            "a broker thread panicked; the process exits so that it can be restarted\n{backtrace}"
        );
        eprintln!("runnel: thread '{name}' panicked: {info}; exiting");
        std::process::abort();
    }));
}

/// Runs `f`, turning a panic inside it into `None` (logged by the hook, process kept).
pub fn catching<R>(f: impl FnOnce() -> R) -> Option<R> {
    struct Depth;
    impl Drop for Depth {
        fn drop(&mut self) {
            CATCHING.with(|c| c.set(c.get().saturating_sub(1)));
        }
    }
    CATCHING.with(|c| c.set(c.get() + 1));
    let _depth = Depth;
    catch_unwind(AssertUnwindSafe(f)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catching_turns_a_panic_into_none_and_restores_the_depth() {
        assert_eq!(catching(|| 5), Some(5));
        let r: Option<()> = catching(|| panic!("boom"));
        assert!(r.is_none());
        assert_eq!(CATCHING.with(Cell::get), 0);
    }
}
