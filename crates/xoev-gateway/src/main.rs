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
    if !cli.command.is_service() {
        restore_default_sigpipe();
    }
    if let Err(e) = init_logging(cli.command.is_service()) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let json = cli.global.format == cli::Format::Json;
    match cli::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("error: {err:#}");
            // a script that asked for JSON gets an answer on stdout too
            if json {
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "kind": "error", "error": format!("{err:#}")})
                );
            }
            ExitCode::from(2)
        }
    }
}

/// A command-line tool whose output is piped into `head` ends quietly when
/// the reader goes away, as Unix tools do, instead of panicking in
/// `println!` on the broken pipe (Rust ignores SIGPIPE by default). The
/// service keeps ignoring it: there a closed socket is an error to handle.
fn restore_default_sigpipe() {
    // SAFETY: called once at start, before any thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Logs to stderr, filtered by `XOEV_LOG` (default `warn`), as plain text
/// or, with `XOEV_LOG_FORMAT=json`, as one JSON object per line for log
/// shippers (the fields of the event and of its spans — message id, sender,
/// case — as JSON fields). The tools that look queues up (`queues`, `dlq`)
/// report a missing queue themselves; by default lapin's own error line for
/// the channel the broker closed on it (404) is left out there.
fn init_logging(service: bool) -> Result<(), String> {
    let default = if service {
        "warn"
    } else {
        "warn,lapin::channel=off"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("XOEV_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let format = std::env::var("XOEV_LOG_FORMAT").unwrap_or_default();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format.as_str() {
        "" | "text" => builder
            // colours only on a terminal: logs redirected to a file or a
            // journal stay plain text that grep and log shippers can read
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
        "json" => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
        other => {
            return Err(format!(
                "XOEV_LOG_FORMAT is {other:?}; it must be \"text\" or \"json\""
            ));
        }
    }
    Ok(())
}
