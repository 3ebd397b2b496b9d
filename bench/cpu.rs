//! Where the machine's CPU time went during a measured window: the server
//! under test (with its worker processes), this load generator, and
//! everything else. On two shared cores the split matters as much as the
//! throughput: it shows the server's own cost per call, whatever share of
//! the cores the scheduler gave it.

use std::time::Instant;

use serde::Serialize;

/// CPU counters at one moment, in clock ticks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    server: u64,
    client: u64,
    interrupts: u64,
    busy: u64,
    total: u64,
}

impl Snapshot {
    /// Reads the counters of the machine, the process tree of `server`,
    /// and the load generator: the process `client`, or this one.
    pub fn take(server: u32, client: Option<u32>) -> Snapshot {
        let Machine {
            busy,
            interrupts,
            total,
        } = machine_ticks().unwrap_or_default();
        Snapshot {
            server: crate::server::process_tree(server)
                .into_iter()
                .filter_map(process_ticks)
                .sum(),
            client: match client {
                Some(pid) => process_ticks(pid),
                None => std::fs::read_to_string("/proc/self/stat")
                    .ok()
                    .and_then(|stat| ticks_of_stat(&stat)),
            }
            .unwrap_or(0),
            interrupts,
            busy,
            total,
        }
    }
}

/// The CPU split of a window.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CpuSplit {
    /// The server's CPU time per call, µs.
    pub server_us_per_call: f64,
    /// The load generator's CPU time per call, µs.
    pub client_us_per_call: f64,
    /// Interrupt time (mostly the loopback network's softirqs), % of all
    /// cores.
    pub interrupts_percent: f64,
    /// Other processes, % of all cores.
    pub other_percent: f64,
    /// Idle, % of all cores.
    pub idle_percent: f64,
}

impl CpuSplit {
    /// The split between `before` and `after`, over `calls` calls.
    pub fn between(before: Snapshot, after: Snapshot, calls: u64) -> Option<CpuSplit> {
        let total = after.total.checked_sub(before.total).filter(|t| *t > 0)? as f64;
        let busy = after.busy.saturating_sub(before.busy) as f64;
        let interrupts = after.interrupts.saturating_sub(before.interrupts) as f64;
        let server = after.server.saturating_sub(before.server) as f64;
        let client = after.client.saturating_sub(before.client) as f64;
        let micros_per_tick = 1e6 / clock_ticks_per_second();
        let calls = calls.max(1) as f64;
        Some(CpuSplit {
            server_us_per_call: server * micros_per_tick / calls,
            client_us_per_call: client * micros_per_tick / calls,
            interrupts_percent: interrupts / total * 100.0,
            other_percent: ((busy - interrupts - server - client).max(0.0) / total * 100.0)
                .min(100.0),
            idle_percent: ((total - busy) / total * 100.0).max(0.0),
        })
    }
}

/// Takes a snapshot at `from` and one at `to` on a thread of its own;
/// `client` is the load generator's process, if not this one.
pub fn probe(
    server: u32,
    client: Option<u32>,
    from: Instant,
    to: Instant,
) -> std::thread::JoinHandle<(Snapshot, Snapshot)> {
    std::thread::spawn(move || {
        std::thread::sleep(from.saturating_duration_since(Instant::now()));
        let before = Snapshot::take(server, client);
        std::thread::sleep(to.saturating_duration_since(Instant::now()));
        (before, Snapshot::take(server, client))
    })
}

/// CPU seconds this process has used, all threads included.
pub fn own_cpu_seconds() -> f64 {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| ticks_of_stat(&stat))
        .unwrap_or(0);
    ticks as f64 / clock_ticks_per_second()
}

/// How much of the machine's CPU was idle over `window`, in %: a check
/// that nothing else is running before measuring.
pub fn idle_percent(window: std::time::Duration) -> Option<f64> {
    let before = machine_ticks()?;
    std::thread::sleep(window);
    let after = machine_ticks()?;
    let total = after.total.checked_sub(before.total).filter(|t| *t > 0)? as f64;
    let busy = after.busy.saturating_sub(before.busy) as f64;
    Some((total - busy) / total * 100.0)
}

/// Waits until one second passes with the CPU at least 90% idle, or until
/// `at_most` has passed.
pub fn wait_until_idle(at_most: std::time::Duration) {
    let give_up = Instant::now() + at_most;
    while Instant::now() < give_up {
        if idle_percent(std::time::Duration::from_secs(1)).is_none_or(|idle| idle >= 90.0) {
            return;
        }
    }
}

/// Tick counters of all cores together.
#[derive(Debug, Default, Clone, Copy)]
struct Machine {
    busy: u64,
    interrupts: u64,
    total: u64,
}

/// Busy, interrupt and total ticks of all cores, from `/proc/stat`.
fn machine_ticks() -> Option<Machine> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is
    // already inside user and nice).
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4).unwrap_or(&0);
    let interrupts = fields.get(5).unwrap_or(&0) + fields.get(6).unwrap_or(&0);
    Some(Machine {
        busy: total - idle,
        interrupts,
        total,
    })
}

/// User and system ticks of one process, all its threads included.
fn process_ticks(pid: u32) -> Option<u64> {
    ticks_of_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn ticks_of_stat(stat: &str) -> Option<u64> {
    // Fields after the parenthesised command name: state is the first, so
    // utime and stime (fields 14 and 15) are the 12th and 13th.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// The kernel's clock tick rate for CPU times (`USER_HZ`).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
