//! The noisy neighbour: two tenants in one Rotor, picked by metadata. The
//! good tenant's `noop` calls are measured at saturation alone, then again
//! while a second load generator floods the other tenant with calls that
//! spin until their deadline (`test-faulty` method `loop`) and calls that
//! trap. The ratio of the two throughputs is what the noisy tenant costs
//! the good one.
//!
//! The noisy tenant has the limits an operator gives a tenant it does not
//! trust: a short CPU deadline and a small concurrency limit. The good
//! tenant has the defaults.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rotor::proto::proxy as pb;
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::cpu::CpuSplit;
use crate::load::{self, Load, Measured};
use crate::scenario::{Scenario, TENANT_KEY};
use crate::server::Launcher;

/// The tenant whose calls are measured.
pub const GOOD: &str = "good";
/// The tenant whose calls misbehave.
pub const NOISY: &str = "noisy";
/// The noisy tenant's CPU deadline per call: a spinning guest is stopped
/// after this long.
pub const NOISY_TIMEOUT_MS: u64 = 20;
/// The noisy tenant's concurrency limit by default: calls beyond it are
/// refused at once (`111`), so at most this many of its guests spin at a
/// time.
pub const NOISY_CONCURRENCY: u32 = 4;
/// Flood callers per kind of call (spinning and trapping), by default.
pub const FLOOD_CALLERS: usize = 8;

/// The noisy-neighbour measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Noisy {
    /// The noisy tenant's `[limits]`.
    pub noisy_limits: String,
    /// Flood callers per kind of call.
    pub flood_callers_each: usize,
    /// The noisy tenant's concurrency limit.
    pub noisy_concurrency: u32,
    /// The good tenant alone.
    pub alone: Side,
    /// The good tenant while the other one is flooded.
    pub flooded: Side,
    /// What the flood's calls got back, per kind.
    pub flood: Vec<FloodFigures>,
    /// Flooded throughput / alone throughput.
    pub ratio: f64,
    /// The server's peak resident memory over both, KiB.
    pub peak_rss_kib: Option<u64>,
}

/// The good tenant's figures in one window.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// Correct answers per second.
    pub requests_per_sec: f64,
    /// Median latency, µs.
    pub p50_us: u32,
    /// 99th percentile, µs.
    pub p99_us: u32,
    /// 99.9th percentile, µs.
    pub p999_us: u32,
    /// Wrong answers and non-OK statuses.
    pub errors: u64,
    /// Calls unanswered within the deadline.
    pub timeouts: u64,
    /// Where the CPU time went (per good call).
    pub cpu: Option<CpuSplit>,
    /// How often it was measured.
    pub attempts: usize,
}

impl Side {
    fn new(measured: &Measured, attempts: usize) -> Side {
        Side {
            requests_per_sec: measured.rate().round(),
            p50_us: measured.percentile(0.50),
            p99_us: measured.percentile(0.99),
            p999_us: measured.percentile(0.999),
            errors: measured.errors,
            timeouts: measured.timeouts,
            cpu: measured.cpu,
            attempts,
        }
    }
}

/// One kind of flood call.
#[derive(Debug, Clone, Serialize)]
pub struct FloodFigures {
    /// The `test-faulty` method.
    pub method: &'static str,
    /// Answers per second (error replies; refusals not included).
    pub answered_per_sec: f64,
    /// Calls refused at once per second (the tenant at its concurrency
    /// limit).
    pub refused_per_sec: f64,
    /// Non-OK statuses and calls without an answer, per second.
    pub failed_per_sec: f64,
}

/// The configuration: both tenants' plugins in the one plugin directory.
fn config(listen: &str, plugin_dir: &std::path::Path, concurrency: u32) -> String {
    format!(
        "{listen}[plugins]\ndir = {dir:?}\n\
         [tenancy]\nby = \"metadata\"\nkey = {TENANT_KEY:?}\n\
         [tenants.{GOOD}]\ndir = \".\"\nhandlers = {{ rpc = \"rpc-router.wasm\" }}\n\
         [tenants.{NOISY}]\ndir = \".\"\nhandlers = {{ rpc = \"test-faulty.wasm\" }}\n\
         limits = {{ {limits} }}\n",
        dir = plugin_dir.display().to_string(),
        limits = noisy_limits(concurrency),
    )
}

fn noisy_limits(concurrency: u32) -> String {
    format!("timeout = \"{NOISY_TIMEOUT_MS}ms\", concurrency = {concurrency}")
}

/// Measures the good tenant alone and beside the flood. `runtime` drives
/// the good tenant's load, `flood_runtime` the flood.
pub fn run(
    launcher: &Launcher,
    runtime: &Runtime,
    flood_runtime: &Runtime,
    load: &Load,
    flood_callers: usize,
    concurrency: u32,
    retries: usize,
) -> Result<Noisy, String> {
    let call = Scenario::Noop.call().for_tenant(GOOD);
    let plugin_dir = launcher.plugin_dir.clone();
    let server = runtime.block_on(launcher.start_rotor_with(
        "noisy-neighbour",
        |listen| config(listen, &plugin_dir, concurrency),
        &call,
    ))?;
    let pid = server.pid();
    let (alone, alone_attempts) = crate::measure_row(retries, || {
        runtime.block_on(load::closed_loop(&server.address, pid, &call, load))
    });
    crate::progress(&format!(
        "  {GOOD} alone: {:.0}/s, p99 {} µs",
        alone.rate(),
        alone.percentile(0.99)
    ));
    let methods = ["loop", "trap"];
    let requests: Vec<Arc<pb::RpcRequest>> = methods
        .iter()
        .map(|method| {
            Arc::new(pb::RpcRequest {
                method: (*method).into(),
                user: crate::scenario::USER.into(),
                ..Default::default()
            })
        })
        .collect();
    let mut flood = Vec::new();
    let (flooded, flooded_attempts) = crate::measure_row(retries, || {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let flooding = flood_runtime.spawn(load::flood(
            server.address.clone(),
            requests.clone(),
            NOISY,
            flood_callers,
            load.deadline,
            stop.clone(),
        ));
        let measured = runtime.block_on(load::closed_loop(&server.address, pid, &call, load));
        stop.store(true, Ordering::Relaxed);
        let totals = flood_runtime
            .block_on(flooding)
            .expect("the flood generator");
        let seconds = started.elapsed().as_secs_f64().max(f64::EPSILON);
        flood = methods
            .iter()
            .zip(totals)
            .map(|(method, seen)| FloodFigures {
                method,
                answered_per_sec: (seen.answered as f64 / seconds).round(),
                refused_per_sec: (seen.refused as f64 / seconds).round(),
                failed_per_sec: (seen.failed as f64 / seconds).round(),
            })
            .collect();
        measured
    });
    crate::progress(&format!(
        "  {GOOD} beside the flood: {:.0}/s, p99 {} µs; flood: {}",
        flooded.rate(),
        flooded.percentile(0.99),
        flood
            .iter()
            .map(|f| format!(
                "{} {:.0}/s answered, {:.0}/s refused",
                f.method, f.answered_per_sec, f.refused_per_sec
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let peak_rss_kib = server.peak_rss_kib();
    server.stop();
    // Let the last spinning guests run out before anything else measures.
    std::thread::sleep(Duration::from_millis(NOISY_TIMEOUT_MS * 2));
    let ratio = if alone.rate() > 0.0 {
        flooded.rate() / alone.rate()
    } else {
        0.0
    };
    Ok(Noisy {
        noisy_limits: noisy_limits(concurrency),
        flood_callers_each: flood_callers,
        noisy_concurrency: concurrency,
        alone: Side::new(&alone, alone_attempts),
        flooded: Side::new(&flooded, flooded_attempts),
        flood,
        ratio,
        peak_rss_kib,
    })
}
