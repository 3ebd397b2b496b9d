//! Figures measured inside this process, without the network: compiling
//! each component, one call through `Rotor::answer` per scenario and Rotor
//! system (fresh or reused instances, Rust, JS or Python plugins), memory
//! per instance in flight, and the per-call cost under a few pool sizes.
//! Beside the Rust `noop` rows, the same calls through a bare wasmtime
//! embedding (`bare.rs`): `Rotor::answer` minus that is Rotor's host path.

use std::path::Path;
use std::time::{Duration, Instant};

use rotor::proto::proxy as pb;
use rotor::{Config, Engine, Limits, Plugin, Rotor};
use serde::Serialize;

use crate::bare::{BareRpc, Mode};
use crate::cpu::own_cpu_seconds;
use crate::load::percentile;
use crate::scenario::{Call, Message, Scenario};
use crate::server::{Guest, Isolation, System, status_field};

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
    /// `noop` through `Rotor::answer` against a bare wasmtime call of the
    /// same component, fresh and reused (Rust plugin).
    pub host_path: Vec<HostPath>,
    /// `RUST_BACKTRACE` in this run (`None`: unset): with backtraces on, an
    /// error built on the success path would cost a stack capture.
    pub rust_backtrace: Option<String>,
    /// Memory per instance in flight.
    pub memory: Option<InstanceMemory>,
    /// The noop per-call cost under other pool sizes.
    pub pooling: Vec<PoolingVariant>,
    /// Large guests (JS, Python) fresh under other `[pool] keep_resident`
    /// sizes, against the same guest reused, measured one after another.
    pub keep_resident: Vec<KeepResident>,
}

/// One large guest's noop cost, fresh with a `[pool] keep_resident` size,
/// or reused.
#[derive(Debug, Serialize)]
pub struct KeepResident {
    /// The Rotor system: plugin language and isolation mode.
    pub system: &'static str,
    /// The `[pool] keep_resident` it ran with.
    pub keep_resident: &'static str,
    /// Calls timed.
    pub calls: usize,
    /// Mean time per call, µs.
    pub mean_us: f64,
    /// Median time per call, µs.
    pub p50_us: u32,
    /// 99th percentile, µs.
    pub p99_us: u32,
    /// This process's resident memory after the calls, KiB.
    pub rss_after_kib: u64,
}

/// The `[pool] keep_resident` sizes the large guests are measured with:
/// Rotor's default before it was a setting, and larger ones.
pub const KEEP_RESIDENT: [&str; 4] = ["1MiB", "8MiB", "16MiB", "64MiB"];

/// Compiling one component.
#[derive(Debug, Serialize)]
pub struct CompileTime {
    /// The component.
    pub component: String,
    /// Its size in KiB.
    pub size_kib: u64,
    /// The median of three compilations (read, compile, link), in ms; one
    /// for the components in other languages than Rust, none in a smoke run
    /// for them.
    pub compile_ms: Option<f64>,
}

/// Sequential calls through `Rotor::answer`.
#[derive(Debug, Serialize)]
pub struct PerCall {
    /// The scenario.
    pub scenario: &'static str,
    /// The Rotor system: plugin language and isolation mode.
    pub system: &'static str,
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

/// `Rotor::answer` against a bare wasmtime call of the same component and
/// request (`bare.rs`), timed in alternating blocks in one run. Times are
/// of the call alone: Rotor's request is cloned before the clock starts,
/// and both replies are checked after it stops.
#[derive(Debug, Serialize)]
pub struct HostPath {
    /// The scenario.
    pub scenario: &'static str,
    /// The Rotor system: its isolation mode is the bare call's.
    pub system: &'static str,
    /// Calls timed of each.
    pub calls: usize,
    /// `Rotor::answer`: mean time per call, µs.
    pub rotor_mean_us: f64,
    /// `Rotor::answer`: median, µs.
    pub rotor_p50_us: f64,
    /// The bare wasmtime call: mean time per call, µs.
    pub bare_mean_us: f64,
    /// The bare wasmtime call: median, µs.
    pub bare_p50_us: f64,
    /// Rotor's p50 minus the bare call's, µs: the host path.
    pub host_path_p50_us: f64,
    /// Rotor's mean minus the bare call's, µs.
    pub host_path_mean_us: f64,
}

/// Calls of each side in one block of [`against_bare`]: short enough that
/// both sides see the same machine, long enough that switching between
/// them (caches, branch predictors) stays a small part of each block.
pub const BLOCK: usize = 100;

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

/// How long the calls of one per-call figure may take at most: a fresh
/// JS or Python instance costs about a millisecond, a Rust one microseconds.
const PER_CALL_BUDGET: Duration = Duration::from_secs(3);

/// Measures everything for the Rotor `systems` (the Rust plugins fresh,
/// at least); `smoke` makes each figure quick and rough.
pub fn run(plugin_dir: &Path, systems: &[System], smoke: bool) -> Result<Micro, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|error| error.to_string())?;
    let calls = if smoke { 500 } else { 20_000 };
    let budget = if smoke {
        Duration::from_millis(300)
    } else {
        PER_CALL_BUDGET
    };
    let guests: Vec<Guest> = systems.iter().filter_map(|s| s.guest()).collect();
    let compile = compile_times(plugin_dir, &guests, smoke)?;
    let mut per_call = Vec::new();
    let mut host_path = Vec::new();
    for &system in systems {
        let System::Rotor(guest, isolation) = system else {
            continue;
        };
        for scenario in Scenario::ALL.into_iter().filter(|s| system.serves(*s)) {
            let config = scenario.rotor_config(None, plugin_dir, guest, isolation);
            let rotor = runtime.block_on(rotor_for(&config, plugin_dir))?;
            let call = scenario.call();
            let (done, mean_us, p50_us, p99_us) =
                runtime.block_on(time_calls(&rotor, &call, calls, budget))?;
            let parallel_cpu_us = runtime.block_on(parallel_cost(&rotor, &call, calls, budget))?;
            per_call.push(PerCall {
                scenario: scenario.name(),
                system: system.name(),
                calls: done,
                mean_us,
                p50_us,
                p99_us,
                parallel_cpu_us,
            });
            if scenario == Scenario::Noop && guest == Guest::Rust {
                let measured = runtime.block_on(host_path_of(
                    &rotor, &config, plugin_dir, system, &call, calls, budget,
                ))?;
                host_path.push(measured);
            }
        }
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
            Scenario::Noop.rotor_config(None, plugin_dir, Guest::Rust, Isolation::Fresh)
        );
        let rotor = runtime.block_on(rotor_for(&config, plugin_dir))?;
        let (_, mean_us, p50_us, _) =
            runtime.block_on(time_calls(&rotor, &Scenario::Noop.call(), calls, budget))?;
        pooling.push(PoolingVariant {
            limits: limits.replace('\n', ", "),
            mean_us,
            p50_us,
        });
    }
    let mut keep_resident = Vec::new();
    for &system in systems {
        let System::Rotor(guest @ (Guest::Js | Guest::Python), isolation) = system else {
            continue;
        };
        let sizes: &[&'static str] = match isolation {
            Isolation::Fresh => &KEEP_RESIDENT,
            Isolation::Reuse => &["(default)"],
        };
        for &size in sizes {
            let mut config = Scenario::Noop.rotor_config(None, plugin_dir, guest, isolation);
            if isolation == Isolation::Fresh {
                config.push_str(&format!("[pool]\nkeep_resident = {size:?}\n"));
            }
            let rotor = runtime.block_on(rotor_for(&config, plugin_dir))?;
            let (done, mean_us, p50_us, p99_us) =
                runtime.block_on(time_calls(&rotor, &Scenario::Noop.call(), calls, budget))?;
            keep_resident.push(KeepResident {
                system: system.name(),
                keep_resident: size,
                calls: done,
                mean_us,
                p50_us,
                p99_us,
                rss_after_kib: rss_kib(),
            });
        }
    }
    Ok(Micro {
        compile,
        per_call,
        host_path,
        rust_backtrace: std::env::var("RUST_BACKTRACE").ok(),
        memory: Some(memory),
        pooling,
        keep_resident,
    })
}

/// Compile times of the Rust components the scenarios run (three rounds,
/// one in a smoke run) and of the RPC routers of `guests` in other
/// languages (one round, and none in a smoke run: each takes seconds).
fn compile_times(
    plugin_dir: &Path,
    guests: &[Guest],
    smoke: bool,
) -> Result<Vec<CompileTime>, String> {
    let engine = Engine::new(&Limits::default(), 1).map_err(|error| error.to_string())?;
    let mut names: Vec<(String, usize)> = COMPONENTS
        .iter()
        .map(|name| ((*name).to_owned(), if smoke { 1 } else { 3 }))
        .collect();
    for guest in [Guest::Js, Guest::Python, Guest::Go, Guest::C] {
        if guests.contains(&guest) {
            let name = guest.rpc_router().trim_end_matches(".wasm").to_owned();
            names.push((name, usize::from(!smoke)));
        }
    }
    let mut figures = Vec::new();
    for (name, rounds) in names {
        let path = plugin_dir.join(format!("{name}.wasm"));
        let size = std::fs::metadata(&path)
            .map_err(|error| format!("{}: {error}", path.display()))?
            .len();
        let mut times: Vec<f64> = (0..rounds)
            .map(|_| {
                let started = Instant::now();
                Plugin::load(&engine, &name, &path)
                    .map(|_| started.elapsed().as_secs_f64() * 1e3)
                    .map_err(|error| format!("{name}: {error}"))
            })
            .collect::<Result<_, _>>()?;
        times.sort_by(f64::total_cmp);
        figures.push(CompileTime {
            component: name,
            size_kib: size / 1024,
            compile_ms: times.get(times.len() / 2).copied(),
        });
    }
    Ok(figures)
}

async fn rotor_for(config: &str, plugin_dir: &Path) -> Result<Rotor, String> {
    let config = Config::parse(config, plugin_dir).map_err(|error| error.to_string())?;
    Rotor::new(&config).await.map_err(|error| error.to_string())
}

/// Times up to `calls` sequential calls, or as many as fit in `budget`,
/// after a tenth as many (or a tenth of the budget) to warm up:
/// (calls timed, mean, p50, p99) in µs.
async fn time_calls(
    rotor: &Rotor,
    call: &Call,
    calls: usize,
    budget: Duration,
) -> Result<(usize, f64, u32, u32), String> {
    let warm_until = Instant::now() + budget / 10;
    for _ in 0..calls / 10 {
        answer(rotor, call).await?;
        if Instant::now() >= warm_until {
            break;
        }
    }
    let mut times = Vec::with_capacity(calls);
    let started = Instant::now();
    while times.len() < calls && (times.is_empty() || started.elapsed() < budget) {
        let one = Instant::now();
        answer(rotor, call).await?;
        times.push(u32::try_from(one.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    let mean = started.elapsed().as_secs_f64() * 1e6 / times.len() as f64;
    times.sort_unstable();
    Ok((
        times.len(),
        mean,
        percentile(&times, 0.50),
        percentile(&times, 0.99),
    ))
}

/// `noop` through `rotor`, a Rotor of `system` (the Rust RPC router) built
/// from `config`, against a bare wasmtime call of the same component and
/// request, in the same isolation mode and with the same pool.
async fn host_path_of(
    rotor: &Rotor,
    config: &str,
    plugin_dir: &Path,
    system: System,
    call: &Call,
    calls: usize,
    budget: Duration,
) -> Result<HostPath, String> {
    let (System::Rotor(guest, isolation), Message::Rpc(request)) = (system, &call.message) else {
        return Err("the host path is measured on Rotor's RPC calls".into());
    };
    let mode = match isolation {
        Isolation::Fresh => Mode::Fresh,
        Isolation::Reuse => Mode::Reuse,
    };
    let parsed = Config::parse(config, plugin_dir).map_err(|error| error.to_string())?;
    let path = plugin_dir.join(guest.rpc_router());
    let mut bare = BareRpc::new(&parsed, &path, request, mode).await?;
    let (rotor_times, bare_times) =
        against_bare(rotor, call, request, &mut bare, calls, budget).await?;
    let (rotor_p50, bare_p50) = (median_us(&rotor_times), median_us(&bare_times));
    let (rotor_mean, bare_mean) = (mean_us(&rotor_times), mean_us(&bare_times));
    Ok(HostPath {
        scenario: Scenario::Noop.name(),
        system: system.name(),
        calls: rotor_times.len(),
        rotor_mean_us: rotor_mean,
        rotor_p50_us: rotor_p50,
        bare_mean_us: bare_mean,
        bare_p50_us: bare_p50,
        host_path_p50_us: rotor_p50 - bare_p50,
        host_path_mean_us: rotor_mean - bare_mean,
    })
}

/// Times `Rotor::answer` of `request` against `bare`'s call of the same
/// request, alternating blocks of [`BLOCK`] calls of each, up to `calls` of
/// each or as many as fit in `budget`, after a tenth as many of each to
/// warm up: (Rotor's times, the bare call's times), in ns, as many of
/// each. Only the call is timed: Rotor's request is cloned before, as the
/// transport hands it a decoded message of its own, and each reply is
/// checked after.
async fn against_bare(
    rotor: &Rotor,
    call: &Call,
    request: &pb::RpcRequest,
    bare: &mut BareRpc,
    calls: usize,
    budget: Duration,
) -> Result<(Vec<u64>, Vec<u64>), String> {
    let warm_until = Instant::now() + budget / 10;
    for _ in 0..calls / 10 {
        answer(rotor, call).await?;
        bare.call().await?;
        if Instant::now() >= warm_until {
            break;
        }
    }
    let mut rotor_times = Vec::with_capacity(calls);
    let mut bare_times = Vec::with_capacity(calls);
    let started = Instant::now();
    while rotor_times.len() < calls && (rotor_times.is_empty() || started.elapsed() < budget) {
        let block = BLOCK.min(calls - rotor_times.len());
        for _ in 0..block {
            let message = request.clone();
            let one = Instant::now();
            let response = rotor.answer(message, Vec::new(), None).await;
            rotor_times.push(nanos(one.elapsed()));
            match response {
                Ok(r) if r.result.as_ref().is_some_and(|r| r.data == request.data) => {}
                Ok(r) => return Err(format!("an in-process call was refused: {r:?}")),
                Err(status) => return Err(format!("an in-process call failed: {status}")),
            }
        }
        for _ in 0..block {
            let one = Instant::now();
            let reply = bare.reply().await?;
            bare_times.push(nanos(one.elapsed()));
            bare.check(&reply)?;
        }
    }
    Ok((rotor_times, bare_times))
}

fn nanos(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

/// The median of `times` in ns, in µs (the element `percentile` takes).
fn median_us(times: &[u64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let index = (sorted.len().saturating_sub(1) as f64 * 0.5).round() as usize;
    sorted.get(index).map_or(0.0, |ns| *ns as f64 / 1e3)
}

/// The mean of `times` in ns, in µs.
fn mean_us(times: &[u64]) -> f64 {
    times.iter().sum::<u64>() as f64 / times.len().max(1) as f64 / 1e3
}

/// Runs up to `calls` calls, or as many as fit in `budget`, split over one
/// task per core, and returns this process's CPU time per call, µs.
async fn parallel_cost(
    rotor: &Rotor,
    call: &Call,
    calls: usize,
    budget: Duration,
) -> Result<f64, String> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let cpu_before = own_cpu_seconds();
    let give_up = Instant::now() + budget;
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let rotor = rotor.clone();
            let call = call.clone();
            tokio::spawn(async move {
                let mut done = 0;
                while done < calls / workers && (done == 0 || Instant::now() < give_up) {
                    answer(&rotor, &call).await?;
                    done += 1;
                }
                Ok::<usize, String>(done)
            })
        })
        .collect();
    let mut done = 0;
    for task in tasks {
        done += task.await.map_err(|error| error.to_string())??;
    }
    Ok((own_cpu_seconds() - cpu_before) * 1e6 / done.max(1) as f64)
}

/// One call in process; a refusal or an error reply is a failure here.
async fn answer(rotor: &Rotor, call: &Call) -> Result<(), String> {
    // What came back instead of the echo, for the message.
    let mut refusal = String::new();
    let accepted = match &call.message {
        Message::Rpc(message) => rotor
            .answer(pb::RpcRequest::clone(message), Vec::new(), None)
            .await
            .map(|r| {
                let echoed = r
                    .result
                    .as_ref()
                    .is_some_and(|result| result.data == message.data);
                if !echoed {
                    refusal = format!(": error {:?}, disconnect {:?}", r.error, r.disconnect);
                }
                echoed
            }),
        Message::Connect(message, _) => rotor
            .answer(pb::ConnectRequest::clone(message), Vec::new(), None)
            .await
            .map(|r| r.result.is_some()),
        Message::Publish(message) => rotor
            .answer(pb::PublishRequest::clone(message), Vec::new(), None)
            .await
            .map(|r| r.error.is_none() && r.disconnect.is_none()),
    };
    match accepted {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("an in-process call was refused{refusal}")),
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
