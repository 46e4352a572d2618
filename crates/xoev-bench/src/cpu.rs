//! Where the cores go during an end-to-end run: CPU time (user + system,
//! from `/proc`) of this process's threads by role, of the RabbitMQ broker
//! (the `beam.smp` process, when it runs on this machine) and of the whole
//! machine, as microseconds per delivered message.
//!
//! Threads are told apart by name: `xoev-pipeline-*` (the service's
//! pipeline threads), `tokio-rt-worker` (the service's async tasks:
//! consume, publish, access log, ack), `xoev-bench-client` (the feeder
//! and the sink, on a runtime of their own), `lapin-io-loop` (one per AMQP
//! connection; those that exist before the clients connect are the
//! gateway's, the ones that appear later the clients').

use std::collections::{HashMap, HashSet};

/// One reading of the CPU counters, in clock ticks.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Ticks per thread id, with the thread's name.
    threads: HashMap<u32, (String, u64)>,
    /// Ticks of the broker process, if found.
    broker: Option<u64>,
    /// Busy and total ticks of the machine (all cores).
    machine: (u64, u64),
}

/// The lapin I/O threads of the gateway: those alive before the clients
/// connect.
pub type GatewayIo = HashSet<u32>;

/// Reads the counters now.
pub fn sample() -> Sample {
    let mut threads = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for task in dir.flatten() {
            let Some(tid) = task.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if let Some(ticks) = stat_ticks(&task.path().join("stat")) {
                threads.insert(tid, (name.trim().to_owned(), ticks));
            }
        }
    }
    Sample {
        threads,
        broker: broker_pid().and_then(|pid| stat_ticks(format!("/proc/{pid}/stat").as_ref())),
        machine: machine_ticks().unwrap_or((0, 0)),
    }
}

/// The lapin I/O threads alive now.
pub fn lapin_threads() -> GatewayIo {
    sample()
        .threads
        .into_iter()
        .filter(|(_, (name, _))| name == LAPIN)
        .map(|(tid, _)| tid)
        .collect()
}

const LAPIN: &str = "lapin-io-loop";

/// utime + stime of a `/proc/…/stat` file.
fn stat_ticks(path: &std::path::Path) -> Option<u64> {
    let s = std::fs::read_to_string(path).ok()?;
    // The name (field 2) may hold spaces: count from the closing parenthesis.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime field 15.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The pid of the Erlang VM running RabbitMQ, if on this machine.
fn broker_pid() -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        let cmdline = std::fs::read_to_string(e.path().join("cmdline")).unwrap_or_default();
        (comm.trim() == "beam.smp" && cmdline.contains("rabbit")).then_some(pid)
    })
}

/// (busy, total) ticks of all cores from `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let line = s.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    // idle + iowait
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// CPU time per delivered message between two samples, by role.
#[derive(Debug, Clone)]
pub struct Use {
    /// (role, µs of CPU per message), in a fixed order.
    pub roles: Vec<(&'static str, f64)>,
    /// The broker's µs per message, if it was found.
    pub broker: Option<f64>,
    /// The machine's busy share of all its cores (0–1).
    pub machine_busy: f64,
    /// The machine's busy core-µs per message.
    pub machine: f64,
}

/// The role of the bench's own feeder and sink (not the gateway's work).
pub const CLIENTS: &str = "bench clients (feeder, sink, their AMQP I/O)";

/// The roles of this process's threads, in print order.
pub const ROLES: [&str; 5] = [
    "pipeline threads",
    "gateway async tasks",
    "gateway AMQP I/O",
    CLIENTS,
    "other threads",
];

/// Per-message CPU use between `a` and `b` for `messages` messages.
pub fn diff(a: &Sample, b: &Sample, gateway_io: &GatewayIo, messages: usize) -> Use {
    let per_msg = |t: u64| t as f64 / USER_HZ * 1e6 / messages.max(1) as f64;
    let mut by_role = [0u64; 5];
    for (tid, (name, end)) in &b.threads {
        let start = a.threads.get(tid).map_or(0, |(_, t)| *t);
        // `comm` is the thread name cut to 15 bytes: `xoev-bench-client`
        // reads `xoev-bench-clie`.
        let role = match name.as_str() {
            n if n.starts_with("xoev-pipeline") => 0,
            "tokio-rt-worker" => 1,
            LAPIN if gateway_io.contains(tid) => 2,
            LAPIN => 3,
            n if n.starts_with("xoev-bench-clie") => 3,
            _ => 4,
        };
        by_role[role] += end.saturating_sub(start);
    }
    let (busy, total) = (
        b.machine.0.saturating_sub(a.machine.0),
        b.machine.1.saturating_sub(a.machine.1),
    );
    Use {
        roles: ROLES
            .iter()
            .zip(by_role)
            .map(|(r, t)| (*r, per_msg(t)))
            .collect(),
        broker: a
            .broker
            .zip(b.broker)
            .map(|(x, y)| per_msg(y.saturating_sub(x))),
        machine_busy: if total == 0 {
            0.0
        } else {
            busy as f64 / total as f64
        },
        machine: per_msg(busy),
    }
}

/// Clock ticks per second of the `/proc` times (`USER_HZ`, the value of
/// `sysconf(_SC_CLK_TCK)`: 100 on Linux on every architecture it ships for).
const USER_HZ: f64 = 100.0;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_is_counted_under_its_role() {
        let before = sample();
        assert!(before.machine.1 > 0, "/proc/stat read");
        let (spun, done) = std::sync::mpsc::channel();
        let (finish, finished) = std::sync::mpsc::channel::<()>();
        // Spins until its own CPU time grew by 20 ticks (200 ms), however
        // busy the machine is, then waits for the second sample.
        let worker = std::thread::Builder::new()
            .name("xoev-pipeline-t".into())
            .spawn(move || {
                let own = || stat_ticks("/proc/thread-self/stat".as_ref()).unwrap_or(u64::MAX);
                let start = own();
                let mut x = 0u64;
                while own() < start + 20 {
                    for _ in 0..10_000 {
                        x = x.wrapping_mul(31).wrapping_add(7);
                    }
                }
                std::hint::black_box(x);
                spun.send(()).unwrap();
                let _ = finished.recv();
            })
            .unwrap();
        done.recv().unwrap();
        let after = sample();
        finish.send(()).unwrap();
        worker.join().unwrap();
        let used = diff(&before, &after, &GatewayIo::new(), 1);
        let pipeline = used.roles[0].1;
        // 200 ms of CPU as µs for one message, give or take the ticks
        // before the spin started and the last one.
        assert!((200_000.0..=260_000.0).contains(&pipeline), "{pipeline} µs");
        assert!(used.machine >= pipeline * 0.9, "{used:?}");
    }

    #[test]
    fn stat_fields_after_a_name_with_spaces() {
        let p = std::env::temp_dir().join(format!("xoev-bench-stat-{}", std::process::id()));
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
        std::fs::write(&p, "42 (a b) c) S 1 1 1 0 -1 0 0 0 0 0 17 5 0 0 20 0").unwrap();
        let ticks = stat_ticks(&p);
        let _ = std::fs::remove_file(&p);
        assert_eq!(ticks, Some(22));
    }
}
