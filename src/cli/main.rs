//! The `runnel-cli` binary: runs one client command (`topic`, `produce`, `consume`, `group`)
//! and exits with its code. The broker binary `runnel` execs it for `runnel topic ...` and the
//! like, passing its own program name, so usage lines read `runnel topic ...` there.

use clap::Parser;
use runnel_cli::{default_sigpipe, normalize_args, run, Cli};

fn main() {
    let cli = Cli::parse_from(normalize_args(std::env::args_os().collect()));
    default_sigpipe();
    std::process::exit(run(cli.command))
}
