//! Figures measured inside this process, without the network: compiling
//! each component, one fresh instance and call through `Rotor::answer`,
//! memory per instance in flight, and the per-call cost under a few pool
//! sizes.

use std::path::Path;
use std::time::{Duration, Instant};

use rotor::proto::proxy as pb;
use rotor::{Config, Engine, Limits, Plugin, Rotor};
use serde::Serialize;

use crate::cpu::own_cpu_seconds;
use crate::load::percentile;
use crate::scenario::{Call, Scenario};
use crate::server::status_field;

/// The components the scenarios run.
pub const COMPONENTS: [&str; 4] = [
    "rpc-router",
    "connect-jwt",
    "publish-validator",
    "test-interceptor",
];

/// Everything measured in process.
#[derive(Debug, Serialize)]
pub struct Micro {
    /// Compile time of each component.
    pub compile: Vec<CompileTime>,
    /// One fresh instance and call, per scenario.
    pub per_call: Vec<PerCall>,
    /// Memory per instance in flight.
    pub memory: Option<InstanceMemory>,
    /// The noop per-call cost under other pool sizes.
    pub pooling: Vec<PoolingVariant>,
}

/// Compiling one component.
#[derive(Debug, Serialize)]
pub struct CompileTime {
    /// The component.
    pub component: String,
    /// Its size in KiB.
    pub size_kib: u64,
    /// The median of three compilations (read, compile, link), in ms.
    pub compile_ms: f64,
}

/// Sequential calls through `Rotor::answer`, each on a fresh instance.
#[derive(Debug, Serialize)]
pub struct PerCall {
    /// The scenario.
    pub scenario: &'static str,
    /// Calls timed.
    pub calls: usize,
    /// Mean time per call, µs.
    pub mean_us: f64,
    /// Median time per call, µs.
    pub p50_us: u32,
    /// 99th percentile, µs.
    pub p99_us: u32,
    /// With one caller per core at once: CPU time of this process per call,
    /// µs. Above the sequential figure when instances on different cores
    /// contend (for the address space, above all).
    pub parallel_cpu_us: f64,
}

/// Resident memory with many instances alive at once.
#[derive(Debug, Serialize)]
pub struct InstanceMemory {
    /// The component that ran.
    pub component: &'static str,
    /// Calls in flight at once.
    pub in_flight: usize,
    /// Resident memory before, KiB.
    pub rss_before_kib: u64,
    /// The highest resident memory seen while they ran, KiB.
    pub rss_peak_kib: u64,
    /// Resident memory once they finished, KiB.
    pub rss_after_kib: u64,
    /// (peak − before) / in flight, KiB.
    pub per_instance_kib: f64,
}

/// The noop per-call cost with other `[limits]`, which size the pool.
#[derive(Debug, Serialize)]
pub struct PoolingVariant {
    /// The `[limits]` tried.
    pub limits: String,
    /// Mean time per call, µs.
    pub mean_us: f64,
    /// Median time per call, µs.
    pub p50_us: u32,
}

/// Measures everything; `smoke` makes each figure quick and rough.
pub fn run(plugin_dir: &Path, smoke: bool) -> Result<Micro, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|error| error.to_string())?;
    let calls = if smoke { 500 } else { 20_000 };
    let compile = compile_times(plugin_dir, if smoke { 1 } else { 3 })?;
    let mut per_call = Vec::new();
    for scenario in Scenario::ALL {
        let rotor = runtime.block_on(rotor_for(
            &scenario.rotor_config(None, plugin_dir),
            plugin_dir,
        ))?;
        let (mean_us, p50_us, p99_us) =
            runtime.block_on(time_calls(&rotor, &scenario.call(), calls))?;
        let parallel_cpu_us = runtime.block_on(parallel_cost(&rotor, &scenario.call(), calls))?;
        per_call.push(PerCall {
            scenario: scenario.name(),
            calls,
            mean_us,
            p50_us,
            p99_us,
            parallel_cpu_us,
        });
    }
    let memory = runtime.block_on(instance_memory(plugin_dir, if smoke { 32 } else { 200 }))?;
    let mut pooling = Vec::new();
    for limits in [
        "memory = \"64MiB\"\nconcurrency = 256",
        "memory = \"16MiB\"\nconcurrency = 64",
        "memory = \"1GiB\"\nconcurrency = 1024",
    ] {
        let config = format!(
            "{}[limits]\n{limits}\n",
            Scenario::Noop.rotor_config(None, plugin_dir)
        );
        let rotor = runtime.block_on(rotor_for(&config, plugin_dir))?;
        let (mean_us, p50_us, _) =
            runtime.block_on(time_calls(&rotor, &Scenario::Noop.call(), calls))?;
        pooling.push(PoolingVariant {
            limits: limits.replace('\n', ", "),
            mean_us,
            p50_us,
        });
    }
    Ok(Micro {
        compile,
        per_call,
        memory: Some(memory),
        pooling,
    })
}

fn compile_times(plugin_dir: &Path, rounds: usize) -> Result<Vec<CompileTime>, String> {
    let engine = Engine::new(&Limits::default(), 1).map_err(|error| error.to_string())?;
    let mut figures = Vec::new();
    for name in COMPONENTS {
        let path = plugin_dir.join(format!("{name}.wasm"));
        let size = std::fs::metadata(&path)
            .map_err(|error| format!("{}: {error}", path.display()))?
            .len();
        let mut times: Vec<f64> = (0..rounds)
            .map(|_| {
                let started = Instant::now();
                Plugin::load(&engine, name, &path)
                    .map(|_| started.elapsed().as_secs_f64() * 1e3)
                    .map_err(|error| format!("{name}: {error}"))
            })
            .collect::<Result<_, _>>()?;
        times.sort_by(f64::total_cmp);
        figures.push(CompileTime {
            component: name.to_owned(),
            size_kib: size / 1024,
            compile_ms: times[times.len() / 2],
        });
    }
    Ok(figures)
}

async fn rotor_for(config: &str, plugin_dir: &Path) -> Result<Rotor, String> {
    let config = Config::parse(config, plugin_dir).map_err(|error| error.to_string())?;
    Rotor::new(&config).await.map_err(|error| error.to_string())
}

/// Times `calls` sequential calls after a tenth as many to warm up:
/// (mean, p50, p99) in µs.
async fn time_calls(rotor: &Rotor, call: &Call, calls: usize) -> Result<(f64, u32, u32), String> {
    for _ in 0..calls / 10 {
        answer(rotor, call).await?;
    }
    let mut times = Vec::with_capacity(calls);
    let started = Instant::now();
    for _ in 0..calls {
        let one = Instant::now();
        answer(rotor, call).await?;
        times.push(u32::try_from(one.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    let mean = started.elapsed().as_secs_f64() * 1e6 / calls as f64;
    times.sort_unstable();
    Ok((mean, percentile(&times, 0.50), percentile(&times, 0.99)))
}

/// Runs `calls` calls split over one task per core and returns this
/// process's CPU time per call, µs.
async fn parallel_cost(rotor: &Rotor, call: &Call, calls: usize) -> Result<f64, String> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let cpu_before = own_cpu_seconds();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let rotor = rotor.clone();
            let call = call.clone();
            tokio::spawn(async move {
                for _ in 0..calls / workers {
                    answer(&rotor, &call).await?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|error| error.to_string())??;
    }
    let done = (calls / workers * workers).max(1);
    Ok((own_cpu_seconds() - cpu_before) * 1e6 / done as f64)
}

/// One call in process; a refusal or an error reply is a failure here.
async fn answer(rotor: &Rotor, call: &Call) -> Result<(), String> {
    let accepted = match call {
        Call::Rpc(message) => rotor
            .answer(pb::RpcRequest::clone(message), Vec::new(), None)
            .await
            .map(|r| r.result.is_some_and(|result| result.data == message.data)),
        Call::Connect(message, _) => rotor
            .answer(pb::ConnectRequest::clone(message), Vec::new(), None)
            .await
            .map(|r| r.result.is_some()),
        Call::Publish(message) => rotor
            .answer(pb::PublishRequest::clone(message), Vec::new(), None)
            .await
            .map(|r| r.error.is_none() && r.disconnect.is_none()),
    };
    match accepted {
        Ok(true) => Ok(()),
        Ok(false) => Err("an in-process call was refused".into()),
        Err(status) => Err(format!("an in-process call failed: {status}")),
    }
}

/// Keeps `in_flight` instances alive at once, each spinning until its
/// deadline and yielding at every epoch tick (test-faulty's `loop`), and
/// watches this process's resident memory.
async fn instance_memory(plugin_dir: &Path, in_flight: usize) -> Result<InstanceMemory, String> {
    let config = format!(
        "[plugins]\ndir = {:?}\n[handlers]\nrpc = \"test-faulty.wasm\"\n[limits]\ntimeout = \"300ms\"\nconcurrency = {}\n",
        plugin_dir.display().to_string(),
        in_flight + 8
    );
    let rotor = rotor_for(&config, plugin_dir).await?;
    let spin = pb::RpcRequest {
        method: "loop".into(),
        ..Default::default()
    };
    // One call first, so the component's code is mapped and warm.
    let _ = rotor
        .answer(
            pb::RpcRequest {
                method: "echo".into(),
                ..Default::default()
            },
            Vec::new(),
            None,
        )
        .await;
    let before = rss_kib();
    let tasks: Vec<_> = (0..in_flight)
        .map(|_| {
            let rotor = rotor.clone();
            let spin = spin.clone();
            tokio::spawn(async move { rotor.answer(spin, Vec::new(), None).await })
        })
        .collect();
    let mut peak = before;
    while !tasks.iter().all(tokio::task::JoinHandle::is_finished) {
        peak = peak.max(rss_kib());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for task in tasks {
        // Each call ends at its deadline with error 100: that is the point.
        let _ = task.await;
    }
    let after = rss_kib();
    Ok(InstanceMemory {
        component: "test-faulty",
        in_flight,
        rss_before_kib: before,
        rss_peak_kib: peak,
        rss_after_kib: after,
        per_instance_kib: peak.saturating_sub(before) as f64 / in_flight as f64,
    })
}

fn rss_kib() -> u64 {
    status_field(Path::new("/proc/self/status"), "VmRSS").unwrap_or(0)
}
