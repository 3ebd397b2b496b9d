//! The noisy neighbour: two tenants in one Rotor, picked by metadata. The
//! good tenant's `noop` calls are measured at saturation alone, then again
//! while a second load generator floods the other tenant with calls that
//! spin until their deadline (`test-faulty` method `loop`) and calls that
//! trap. The ratio of the two throughputs is what the noisy tenant costs
//! the good one.
//!
//! The flood runs twice, against two Rotors. In the first, the noisy tenant
//! has only a short CPU deadline and a small concurrency limit, so what
//! holds it back is the default CPU share (at most an equal share of the
//! cores while the good tenant has calls in flight). In the second it has
//! the limits an operator gives a tenant it does not trust: the same and a
//! `cpu` limit of [`NOISY_CPU`] cores. The good tenant has the defaults in
//! both. The ratio of the second run is the headline figure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rotor::proto::proxy as pb;
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::cpu::CpuSplit;
use crate::load::{self, Load, Measured};
use crate::scenario::{Call, Scenario, TENANT_KEY};
use crate::server::{Launcher, Server};

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
/// The noisy tenant's `cpu` limit in the second run, in cores.
pub const NOISY_CPU: f64 = 0.25;

/// The noisy-neighbour measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Noisy {
    /// The noisy tenant's `[limits]` in the headline run.
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
    /// The same flood with the noisy tenant held back by the default CPU
    /// share alone, without a `cpu` limit.
    pub default_share: Flooded,
    /// The servers' peak resident memory, KiB.
    pub peak_rss_kib: Option<u64>,
}

/// The good tenant beside one flood.
#[derive(Debug, Clone, Serialize)]
pub struct Flooded {
    /// The noisy tenant's `[limits]`.
    pub noisy_limits: String,
    /// The good tenant's figures.
    pub good: Side,
    /// What the flood's calls got back, per kind.
    pub flood: Vec<FloodFigures>,
    /// The good tenant's throughput / its throughput alone.
    pub ratio: f64,
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
fn config(listen: &str, plugin_dir: &std::path::Path, limits: &str) -> String {
    format!(
        "{listen}[plugins]\ndir = {dir:?}\n\
         [tenancy]\nby = \"metadata\"\nkey = {TENANT_KEY:?}\n\
         [tenants.{GOOD}]\ndir = \".\"\nhandlers = {{ rpc = \"rpc-router.wasm\" }}\n\
         [tenants.{NOISY}]\ndir = \".\"\nhandlers = {{ rpc = \"test-faulty.wasm\" }}\n\
         limits = {{ {limits} }}\n",
        dir = plugin_dir.display().to_string(),
    )
}

fn noisy_limits(concurrency: u32, cpu: Option<f64>) -> String {
    let cpu = cpu.map_or(String::new(), |cores| format!(", cpu = {cores}"));
    format!("timeout = \"{NOISY_TIMEOUT_MS}ms\", concurrency = {concurrency}{cpu}")
}

/// Measures the good tenant alone and beside the flood, once with the
/// default CPU share and once with a `cpu` limit on the noisy tenant.
/// `runtime` drives the good tenant's load, `flood_runtime` the flood.
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
    let flood = Flood {
        launcher,
        runtime,
        flood_runtime,
        load,
        call: &call,
        callers: flood_callers,
        retries,
    };
    let default_limits = noisy_limits(concurrency, None);
    let server = flood.start(&default_limits)?;
    let (alone, alone_attempts) = crate::measure_row(retries, || {
        runtime.block_on(load::closed_loop(
            &server.address,
            server.pid(),
            &call,
            load,
        ))
    });
    crate::progress(&format!(
        "  {GOOD} alone: {:.0}/s, p99 {} µs",
        alone.rate(),
        alone.percentile(0.99)
    ));
    let alone_rate = alone.rate();
    let default_share = flood.beside(&server, default_limits, alone_rate);
    let mut peak_rss_kib = server.peak_rss_kib();
    flood.stop(server);
    let limits = noisy_limits(concurrency, Some(NOISY_CPU));
    let server = flood.start(&limits)?;
    let limited = flood.beside(&server, limits, alone_rate);
    peak_rss_kib = peak_rss_kib.max(server.peak_rss_kib());
    flood.stop(server);
    Ok(Noisy {
        noisy_limits: limited.noisy_limits,
        flood_callers_each: flood_callers,
        noisy_concurrency: concurrency,
        alone: Side::new(&alone, alone_attempts),
        flooded: limited.good,
        flood: limited.flood,
        ratio: limited.ratio,
        default_share,
        peak_rss_kib,
    })
}

/// What one flood needs: the Rotor to start, the good tenant's load and
/// the flood's.
struct Flood<'a> {
    launcher: &'a Launcher,
    runtime: &'a Runtime,
    flood_runtime: &'a Runtime,
    load: &'a Load,
    call: &'a Call,
    callers: usize,
    retries: usize,
}

impl Flood<'_> {
    /// Starts a Rotor with both tenants, the noisy one with `limits`.
    fn start(&self, limits: &str) -> Result<Server, String> {
        let plugin_dir = self.launcher.plugin_dir.clone();
        self.runtime.block_on(self.launcher.start_rotor_with(
            "noisy-neighbour",
            |listen| config(listen, &plugin_dir, limits),
            self.call,
        ))
    }

    fn stop(&self, server: Server) {
        server.stop();
        // Let the last spinning guests run out before anything else measures.
        std::thread::sleep(Duration::from_millis(NOISY_TIMEOUT_MS * 2));
    }

    /// The good tenant's load on `server` while the flood runs.
    fn beside(&self, server: &Server, noisy_limits: String, alone_rate: f64) -> Flooded {
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
        let (measured, attempts) = crate::measure_row(self.retries, || {
            let stop = Arc::new(AtomicBool::new(false));
            let started = Instant::now();
            let flooding = self.flood_runtime.spawn(load::flood(
                server.address.clone(),
                requests.clone(),
                NOISY,
                self.callers,
                self.load.deadline,
                stop.clone(),
            ));
            let measured = self.runtime.block_on(load::closed_loop(
                &server.address,
                server.pid(),
                self.call,
                self.load,
            ));
            stop.store(true, Ordering::Relaxed);
            let totals = self
                .flood_runtime
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
        let ratio = if alone_rate > 0.0 {
            measured.rate() / alone_rate
        } else {
            0.0
        };
        crate::progress(&format!(
            "  {GOOD} beside the flood ({noisy_limits}): {:.0}/s ({ratio:.2} of alone), p99 {} µs; flood: {}",
            measured.rate(),
            measured.percentile(0.99),
            flood
                .iter()
                .map(|f| format!(
                    "{} {:.0}/s answered, {:.0}/s refused",
                    f.method, f.answered_per_sec, f.refused_per_sec
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Flooded {
            noisy_limits,
            good: Side::new(&measured, attempts),
            flood,
            ratio,
        }
    }
}
