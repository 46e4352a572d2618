//! `xoev-gateway`: the XÖV message gateway — service and command-line tool.
//!
//! Exit codes: 0 = ok, 1 = the input is invalid or was rejected,
//! 2 = usage or I/O error.

use xoev_gateway::cli;

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;

/// mimalloc for the whole process. Its `override` feature also replaces
/// `malloc`/`free` for the C libraries (libxml2, xmlsec1, OpenSSL), whose
/// many small allocations per message took about a fifth of the pipeline's
/// time in glibc's allocator (`xoev-bench stages`, docs/performance.md).
/// Built with `no_thp`: with transparent huge pages its heaps held about
/// 180 MiB resident instead of about 70.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    xoev_gateway::allocator::purge_freed_memory_promptly();
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("XOEV_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // colours only on a terminal: logs redirected to a file or a
        // journal stay plain text that grep and log shippers can read
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
