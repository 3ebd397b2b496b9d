//! Rotor's benchmark: the cost of its sandbox against a native handler, and
//! its speed against a Python grpcio backend, measured in one run on the
//! same machine under the same load. `docs/benchmarks.md` has the results
//! and what they mean.
//!
//! ```sh
//! cargo bench --bench pipeline                 # full run, about 12 minutes on 2 cores
//! cargo bench --bench pipeline -- --smoke      # everything for 1 s; fails on any error
//! cargo bench --bench pipeline -- --scenario noop --system rotor --system native
//! cargo bench --bench pipeline -- --scenario noop --system languages --system python
//! cargo bench --bench pipeline -- --noisy      # only the noisy neighbour
//! cargo bench --bench pipeline -- --imports    # only the cost of host imports
//! cargo bench --bench pipeline -- --h2load --scenario noop --scenario connect-hs256
//! cargo test --bench pipeline                  # the smoke check, on the test build
//! ```
//!
//! It builds the plugins (the JS, Python, Go and C ones too, when node and
//! npm, python3, go, and clang and wasm-ld are there), prepares a Python interpreter with the pinned grpcio
//! (`python.rs`), measures in-process figures (`micro.rs`; skip them with
//! `--no-micro`; they include `noop` through a bare wasmtime embedding,
//! `bare.rs`, the baseline of Rotor's host path), then for each scenario starts each system as a child
//! process on a loopback port, one at a time (`server.rs`), and loads it
//! with this process's tonic client (`load.rs`): a closed loop for the
//! saturation throughput, then an open loop at half of Rotor's. The systems
//! are Rotor with Rust plugins, fresh and reused instances; the RPC router
//! in JS, Python, Go and C, both modes (`noop` only); the native handler and the
//! Python backend. With `--h2load`, every saturation row is measured a
//! second time with h2load (nghttp2's client, `h2load/`), which takes far
//! less CPU per call than the tonic client, on the same server process after
//! the tonic rows (the `h2load` key of the JSON); a smoke run does that for
//! `noop` on Rotor (fresh) and native. h2load counts HTTP/2 responses, not
//! gRPC statuses: one tonic call checks the answer first, and too few
//! response bytes, a failed request or a status other than 2xx make the
//! row an error. Last, two tenants share one Rotor while one is flooded
//! with misbehaving calls (`noisy.rs`). Apart from those, in process, it
//! times `kv` and `centrifugo-api` calls from a guest against the same
//! operations called directly (`imports.rs`). It prints Markdown tables and
//! writes `bench/results/latest.json` (`smoke.json` for a smoke run; a run
//! of `--imports` or `--noisy` without scenarios replaces only their keys
//! of `latest.json`).
//!
//! Settings (environment), with their defaults:
//! - `ROTOR_BENCH_SECONDS`: measured seconds per row, 5 (1 with `--smoke`);
//! - `ROTOR_BENCH_WARMUP_MS`: warm-up per row, 1000 (300 with `--smoke`);
//! - `ROTOR_BENCH_CALLERS`: closed-loop callers, 64;
//! - `ROTOR_BENCH_CONNECTIONS`: HTTP/2 connections, 8;
//! - `ROTOR_BENCH_CLIENT_THREADS`: client threads of saturation runs, 1;
//! - `ROTOR_BENCH_OPEN_LOOP_THREADS`: client threads of fixed-rate runs, cores;
//! - `ROTOR_BENCH_PYTHON_WORKERS`: Python worker processes, 2 × cores;
//! - `ROTOR_BENCH_PYTHON_SERVER`: `sync` (grpcio's thread pool) or `aio`;
//! - `ROTOR_BENCH_PYTHON`: the Python interpreter to use;
//! - `ROTOR_BENCH_FLOOD_CALLERS`: noisy-neighbour flood callers per kind, 8;
//! - `ROTOR_BENCH_NOISY_CONCURRENCY`: the noisy tenant's concurrency limit, 4;
//! - `ROTOR_BENCH_RETRIES`: attempts per row at most (when disturbed), 3;
//! - `ROTOR_BENCH_H2LOAD`: the h2load program, `h2load` on the `PATH`;
//! - `ROTOR_BENCH_H2LOAD_CONNECTIONS`: h2load's connections, 8;
//! - `ROTOR_BENCH_H2LOAD_STREAMS`: h2load's concurrent streams per
//!   connection, 16;
//! - `ROTOR_BENCH_H2LOAD_THREADS`: h2load's threads, 1;
//! - `ROTOR_REQUIRE_GUESTS`: fail, rather than skip the JS, Python, Go and
//!   C rows, when their toolchains are missing (CI sets it);
//! - `ROTOR_REQUIRE_H2LOAD`: fail, rather than skip the h2load rows, when
//!   h2load is missing (CI sets it).

mod bare;
mod cpu;
mod h2load;
mod imports;
mod load;
mod micro;
mod native;
mod noisy;
mod python;
mod report;
mod scenario;
mod server;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::value::RawValue;

use h2load::H2load;
use report::{H2loadRow, H2loadRows, LoadKind, Report, Row, Setup};
use scenario::{Call, Scenario};
use server::{Guest, Launcher, Server, System};

/// Centrifugo's default proxy timeout, sent as every call's gRPC deadline.
const DEADLINE: Duration = Duration::from_secs(1);
/// Other processes may use this much of the CPU during a row (in % of all
/// cores) before the row is measured again: their work slows the system
/// under test and would count against it.
const BUSY_PERCENT: f64 = 10.0;
/// How often a row is measured again at most.
const ROW_RETRIES: usize = 2;
/// How long to wait for the machine to calm down before measuring again.
const CALM_WAIT: Duration = Duration::from_secs(60);

/// What a run does.
struct Options {
    smoke: bool,
    seconds: f64,
    warm_up: Duration,
    callers: usize,
    connections: usize,
    client_threads: usize,
    open_loop_threads: usize,
    python_workers: usize,
    python_server: String,
    scenarios: Vec<Scenario>,
    systems: Vec<System>,
    micro: bool,
    noisy: bool,
    imports: bool,
    flood_callers: usize,
    noisy_concurrency: u32,
    retries: usize,
    h2load: bool,
    h2load_connections: usize,
    h2load_streams: usize,
    h2load_threads: usize,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let cores = cores();
        // `cargo bench` passes `--bench`; `cargo test` (`--all-targets`,
        // `--bench pipeline`) passes nothing, and then a full run of several
        // minutes would be a surprise: without `--bench`, run the smoke check.
        let mut smoke = !args.iter().any(|arg| arg == "--bench");
        let mut micro = true;
        let mut noisy = false;
        let mut imports = false;
        let mut h2load = false;
        let mut scenarios = Vec::new();
        let mut systems = Vec::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--bench" => {}
                "--smoke" => smoke = true,
                "--no-micro" => micro = false,
                "--noisy" => noisy = true,
                "--imports" => imports = true,
                "--h2load" => h2load = true,
                "--scenario" => {
                    let name = args.next().ok_or("--scenario needs a name")?;
                    scenarios.push(Scenario::from_name(name).ok_or_else(|| {
                        format!(
                            "unknown scenario {name:?}; known: {}",
                            Scenario::ALL.map(Scenario::name).join(", ")
                        )
                    })?);
                }
                "--system" => {
                    let name = args.next().ok_or("--system needs a name")?;
                    let selected = System::selected_by(name);
                    if selected.is_empty() {
                        return Err(format!(
                            "unknown system {name:?}; known: rotor, languages, {}",
                            System::ALL.map(System::name).join(", ")
                        ));
                    }
                    systems.extend(selected);
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        // Without a choice, everything runs; `--noisy` alone runs only the
        // noisy neighbour (and the in-process figures), `--imports` alone
        // only the imports.
        if scenarios.is_empty() && !noisy && !imports {
            scenarios = Scenario::ALL.to_vec();
            noisy = true;
            imports = true;
        } else if scenarios.is_empty() && !noisy {
            micro = false;
        }
        if systems.is_empty() {
            systems = System::ALL.to_vec();
        }
        // Rotor sets the fixed rate, so it always runs first.
        systems.sort_by_key(|s| System::ALL.iter().position(|a| a == s));
        systems.dedup();
        Ok(Options {
            smoke,
            seconds: env_number("ROTOR_BENCH_SECONDS", if smoke { 1.0 } else { 5.0 }),
            warm_up: Duration::from_millis(env_number(
                "ROTOR_BENCH_WARMUP_MS",
                if smoke { 300.0 } else { 1000.0 },
            ) as u64),
            callers: env_number("ROTOR_BENCH_CALLERS", 64.0) as usize,
            connections: env_number("ROTOR_BENCH_CONNECTIONS", 8.0) as usize,
            client_threads: env_number("ROTOR_BENCH_CLIENT_THREADS", 1.0) as usize,
            open_loop_threads: env_number("ROTOR_BENCH_OPEN_LOOP_THREADS", cores as f64) as usize,
            python_workers: env_number("ROTOR_BENCH_PYTHON_WORKERS", 2.0 * cores as f64) as usize,
            python_server: python_server()?,
            scenarios,
            systems,
            micro,
            noisy,
            imports,
            flood_callers: env_number("ROTOR_BENCH_FLOOD_CALLERS", noisy::FLOOD_CALLERS as f64)
                as usize,
            noisy_concurrency: env_number(
                "ROTOR_BENCH_NOISY_CONCURRENCY",
                f64::from(noisy::NOISY_CONCURRENCY),
            ) as u32,
            // A smoke run checks answers, not figures, but a row that other
            // processes disturbed can miss deadlines it would meet alone: it
            // gets one second try once the machine is idle.
            retries: if smoke {
                1
            } else {
                (env_number("ROTOR_BENCH_RETRIES", ROW_RETRIES as f64 + 1.0) as usize)
                    .saturating_sub(1)
            },
            h2load,
            h2load_connections: env_number(
                "ROTOR_BENCH_H2LOAD_CONNECTIONS",
                h2load::CONNECTIONS as f64,
            ) as usize,
            h2load_streams: env_number("ROTOR_BENCH_H2LOAD_STREAMS", h2load::STREAMS as f64)
                as usize,
            h2load_threads: env_number("ROTOR_BENCH_H2LOAD_THREADS", 1.0) as usize,
        })
    }

    /// The report sections a run without scenarios (`--imports`,
    /// `--noisy`, or both) measures: only those keys of `latest.json` are
    /// replaced. Empty when scenarios run: then the report is written whole.
    fn partial_sections(&self) -> Vec<&'static str> {
        if !self.scenarios.is_empty() {
            return Vec::new();
        }
        [("imports", self.imports), ("noisy", self.noisy)]
            .into_iter()
            .filter_map(|(key, ran)| ran.then_some(key))
            .collect()
    }

    /// Whether `system`'s saturation in `scenario` is measured with h2load
    /// too: with `--h2load`, all of them; in a smoke run, `noop` on Rotor
    /// and native, so that path is checked as well.
    fn measures_with_h2load(&self, scenario: Scenario, system: System) -> bool {
        self.h2load
            || (self.smoke
                && scenario == Scenario::Noop
                && matches!(system, System::ROTOR | System::Native))
    }

    /// The shape of an h2load run.
    fn h2load_shape(&self) -> h2load::Shape {
        h2load::Shape {
            connections: self.h2load_connections.max(1),
            streams: self.h2load_streams.max(1),
            threads: self.h2load_threads.max(1),
            warm_up: self.warm_up,
            duration: Duration::from_secs_f64(self.seconds),
            deadline: DEADLINE,
        }
    }
}

/// The Python backend's server: `sync` (grpcio's thread pool, the default:
/// the faster of the two here) or `aio` (grpc.aio), from
/// `ROTOR_BENCH_PYTHON_SERVER`.
fn python_server() -> Result<String, String> {
    match std::env::var("ROTOR_BENCH_PYTHON_SERVER") {
        Err(_) => Ok("sync".into()),
        Ok(kind) if kind == "aio" || kind == "sync" => Ok(kind),
        Ok(other) => Err(format!(
            "ROTOR_BENCH_PYTHON_SERVER={other:?}: use aio or sync"
        )),
    }
}

fn env_number(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .filter(|value: &f64| *value > 0.0)
        .unwrap_or(default)
}

/// A measurement over a window whose CPU split was recorded.
pub(crate) trait Windowed {
    /// Where the CPU time went in the window, if it was read.
    fn cpu(&self) -> Option<cpu::CpuSplit>;
}

impl Windowed for load::Measured {
    fn cpu(&self) -> Option<cpu::CpuSplit> {
        self.cpu
    }
}

impl Windowed for Result<h2load::Run, String> {
    fn cpu(&self) -> Option<cpu::CpuSplit> {
        self.as_ref().ok()?.cpu
    }
}

/// Measures with `measure`, and again (up to `retries` times, after waiting
/// for the machine to go idle) while other processes used more than
/// [`BUSY_PERCENT`] of the CPU during the measurement. Keeps the attempt
/// they disturbed least; returns it with the number of attempts.
pub(crate) fn measure_row<M: Windowed>(
    retries: usize,
    mut measure: impl FnMut() -> M,
) -> (M, usize) {
    let disturbed = |m: &M| m.cpu().map_or(0.0, |c| c.other_percent);
    let mut best = measure();
    let mut attempts = 1;
    while attempts <= retries && disturbed(&best) > BUSY_PERCENT {
        progress(&format!(
            "  other processes took {:.0}% of the CPU: measuring again once the machine is idle",
            disturbed(&best)
        ));
        cpu::wait_until_idle(CALM_WAIT);
        let again = measure();
        attempts += 1;
        if disturbed(&again) < disturbed(&best) {
            best = again;
        }
    }
    (best, attempts)
}

fn client_runtime(threads: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|error| format!("the load generator's runtime: {error}"))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve-native") {
        let (Some(address), Some(scenario)) = (
            args.get(1),
            args.get(2).and_then(|name| Scenario::from_name(name)),
        ) else {
            eprintln!("usage: --serve-native <address> <scenario>");
            return ExitCode::from(2);
        };
        return native::serve(address, scenario);
    }
    let options = match Options::parse(&args) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(report) => {
            let failures = report.failures();
            if failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!("\nsystems answered with errors:");
                for failure in &failures {
                    eprintln!("  {failure}");
                }
                // A full run still reports; a smoke run is a check.
                if options.smoke {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> Result<Report, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plugin_dir = root.join("plugins/dist");
    build_plugins(root, &plugin_dir)?;
    let mut notices = Vec::new();
    // With no scenario (`--noisy` alone), only the in-process figures need
    // a Rotor system, and that is Rotor as deployed by default.
    let wanted = if options.scenarios.is_empty() {
        &[][..]
    } else {
        &options.systems[..]
    };
    let systems = with_guests_built(root, wanted, &mut notices)?;
    let h2load = if options.scenarios.iter().any(|&scenario| {
        systems.iter().any(|&system| {
            system.serves(scenario) && options.measures_with_h2load(scenario, system)
        })
    }) {
        find_h2load(&mut notices)?
    } else {
        None
    };
    let python = if systems.contains(&System::Python) {
        Some(python::prepare(root, &root.join("target"))?)
    } else {
        None
    };
    let work_dir = std::env::temp_dir().join(format!("rotor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work_dir)
        .map_err(|error| format!("{}: {error}", work_dir.display()))?;
    let launcher = Launcher {
        root: root.to_owned(),
        plugin_dir: plugin_dir.clone(),
        work_dir: work_dir.clone(),
        rotor: PathBuf::from(env!("CARGO_BIN_EXE_rotor")),
        this: std::env::current_exe().map_err(|error| error.to_string())?,
        python: python.clone(),
        python_workers: options.python_workers,
        python_server: options.python_server.clone(),
    };

    // Everything else on the machine competes with what is measured.
    let idle_before_percent = cpu::idle_percent(Duration::from_secs(1));
    if let Some(idle) = idle_before_percent.filter(|idle| *idle < 95.0) {
        progress(&format!(
            "warning: only {idle:.0}% of the CPU is idle before the run; other work will skew the figures"
        ));
    }
    let micro = if options.micro {
        progress("in-process figures");
        // Rotor as deployed by default always: the targets need it.
        let mut rotors: Vec<System> = systems
            .iter()
            .copied()
            .filter(|s| s.guest().is_some())
            .collect();
        if !rotors.contains(&System::ROTOR) {
            rotors.insert(0, System::ROTOR);
        }
        Some(micro::run(&plugin_dir, &rotors, options.smoke)?)
    } else {
        None
    };
    let imports = if options.imports {
        progress("host imports from a guest, in process");
        Some(imports::run(&plugin_dir, &work_dir, options.smoke)?)
    } else {
        None
    };

    // One client thread drives a saturation run with the least CPU, which
    // leaves the most to the server. A fixed-rate run gets one per core, so
    // a client thread that is descheduled does not hold up every call.
    let runtime = client_runtime(options.client_threads)?;
    let open_loop_runtime = client_runtime(options.open_loop_threads)?;
    let load = load::Load {
        connections: options.connections.max(1),
        callers: options.callers.max(1),
        warm_up: options.warm_up,
        duration: Duration::from_secs_f64(options.seconds),
        deadline: DEADLINE,
    };
    let mut results = Vec::new();
    let mut h2load_rows = Vec::new();
    for &scenario in &options.scenarios {
        let call = scenario.call();
        let mut half_rate = None;
        for system in systems.iter().copied().filter(|s| s.serves(scenario)) {
            progress(&format!("{} / {}", scenario.name(), system.name()));
            let server = runtime.block_on(launcher.start(system, scenario, &call))?;
            let mut rows = Vec::new();
            let pid = server.pid();
            let retries = options.retries;
            let (saturation, attempts) = measure_row(retries, || {
                runtime.block_on(load::closed_loop(&server.address, pid, &call, &load))
            });
            let row = Row::new(scenario, system, LoadKind::Saturation, None, &saturation);
            rows.push(row.attempts(attempts));
            // Python, and plugins in other languages than Rust, may not
            // take half of Rotor's throughput: measure them at half of their
            // own first, before that overload leaves a backlog.
            let large_guest = system.guest().is_some_and(|g| g != Guest::Rust);
            if system == System::Python || large_guest {
                let own = saturation.rate() / 2.0;
                let (fixed, attempts) = measure_row(retries, || {
                    load::open_loop(&open_loop_runtime, &server.address, pid, &call, own, &load)
                });
                let row = Row::new(scenario, system, LoadKind::HalfOwn, Some(own), &fixed);
                rows.push(row.attempts(attempts));
            }
            // Half of Rotor's saturation throughput is the fixed rate for
            // every system (of the first system's, if Rotor is left out).
            // Plugins in other languages, which may not reach it, are left out.
            if !large_guest {
                let rate = *half_rate.get_or_insert(saturation.rate() / 2.0);
                let (fixed, attempts) = measure_row(retries, || {
                    load::open_loop(&open_loop_runtime, &server.address, pid, &call, rate, &load)
                });
                let row = Row::new(scenario, system, LoadKind::HalfRotor, Some(rate), &fixed);
                rows.push(row.attempts(attempts));
            }
            let peak = server.peak_rss_kib();
            for row in &mut rows {
                row.peak_rss_kib = peak;
                progress(&row.summary());
            }
            results.extend(rows);
            // Last, so the tonic rows are measured as without it.
            if let Some(h2load) = h2load
                .as_ref()
                .filter(|_| options.measures_with_h2load(scenario, system))
            {
                let mut row = measure_with_h2load(
                    h2load,
                    &runtime,
                    &server,
                    (scenario, &call),
                    options.h2load_shape(),
                    &work_dir,
                    retries,
                )?;
                row.peak_rss_kib = server.peak_rss_kib();
                progress(&row.summary());
                h2load_rows.push(row);
            }
            server.stop();
        }
    }
    let noisy = if options.noisy {
        progress("noisy neighbour / rotor-fresh, two tenants");
        let flood_runtime = client_runtime(1)?;
        Some(noisy::run(
            &launcher,
            &runtime,
            &flood_runtime,
            &load,
            options.flood_callers.max(1),
            options.noisy_concurrency.max(1),
            options.retries,
        )?)
    } else {
        None
    };
    drop(runtime);
    drop(open_loop_runtime);
    let _ = std::fs::remove_dir_all(&work_dir);

    let mut report = Report {
        generated_unix: scenario::unix_now(),
        setup: setup(options, python.as_ref(), idle_before_percent, notices),
        results,
        targets: Vec::new(),
        micro,
        noisy,
        imports,
        h2load: h2load.map(|h2load| H2loadRows {
            version: h2load.version,
            connections: options.h2load_connections.max(1),
            streams: options.h2load_streams.max(1),
            threads: options.h2load_threads.max(1),
            rows: h2load_rows,
        }),
    };
    report.check_targets();
    println!("{}", report.markdown());
    let name = if options.smoke {
        "smoke.json"
    } else {
        "latest.json"
    };
    let path = root.join("bench/results").join(name);
    let sections = options.partial_sections();
    let json = if !sections.is_empty() && !options.smoke {
        with_sections_replaced(&path, &report, &sections)?
    } else {
        serde_json::to_string_pretty(&report).map_err(|error| error.to_string())?
    };
    std::fs::create_dir_all(root.join("bench/results"))
        .and_then(|()| std::fs::write(&path, json + "\n"))
        .map_err(|error| format!("writing {}: {error}", path.display()))?;
    progress(&format!(
        "wrote {}",
        path.strip_prefix(root).unwrap_or(&path).display()
    ));
    Ok(report)
}

/// The report at `path` with its `sections` keys replaced by `report`'s (or
/// added at the end), every other key kept as it is, in its order; `report`
/// whole if there is no report at `path` to keep.
fn with_sections_replaced(
    path: &Path,
    report: &Report,
    sections: &[&str],
) -> Result<String, String> {
    let kept = std::fs::read_to_string(path).ok();
    let Some(Ok(KeptReport(mut keys))) = kept.as_deref().map(serde_json::from_str) else {
        return serde_json::to_string_pretty(report).map_err(|error| error.to_string());
    };
    let fresh = serde_json::to_value(report).map_err(|error| error.to_string())?;
    for &section in sections {
        // Indented as a value one level down, as the kept ones are: JSON
        // strings hold no raw line breaks, so every one starts a line.
        let value = serde_json::to_string_pretty(&fresh[section])
            .and_then(|json| RawValue::from_string(json.replace('\n', "\n  ")))
            .map_err(|error| error.to_string())?;
        match keys.iter_mut().find(|(key, _)| key == section) {
            Some((_, kept)) => *kept = value,
            None => keys.push((section.into(), value)),
        }
    }
    serde_json::to_string_pretty(&KeptReport(keys)).map_err(|error| error.to_string())
}

/// A report read back as its keys, in order, each with its value's text as
/// it was written.
struct KeptReport(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for KeptReport {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = KeptReport;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<KeptReport, A::Error> {
                let mut keys = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    keys.push(entry);
                }
                Ok(KeptReport(keys))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

impl serde::Serialize for KeptReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// h2load, or `None` with a notice in `notices` if it is missing; an error
/// instead when `ROTOR_REQUIRE_H2LOAD` is set.
fn find_h2load(notices: &mut Vec<String>) -> Result<Option<H2load>, String> {
    match H2load::find() {
        Ok(h2load) => Ok(Some(h2load)),
        Err(problem) if std::env::var_os("ROTOR_REQUIRE_H2LOAD").is_some() => {
            Err(format!("{problem} (ROTOR_REQUIRE_H2LOAD is set)"))
        }
        Err(problem) => {
            let notice = format!(
                "skipping the h2load rows: {problem}; install it with nghttp2's client (Debian: nghttp2-client)"
            );
            progress(&notice);
            notices.push(notice);
            Ok(None)
        }
    }
}

/// The saturation of `server` in `scenario` measured with h2load sending
/// `call`'s request. One tonic call checks the answer first: h2load reads
/// no gRPC status. A check that fails makes the row an error without a run.
fn measure_with_h2load(
    h2load: &H2load,
    runtime: &tokio::runtime::Runtime,
    server: &Server,
    (scenario, call): (Scenario, &Call),
    shape: h2load::Shape,
    work_dir: &Path,
    retries: usize,
) -> Result<H2loadRow, String> {
    let system = server.system;
    let checked = runtime.block_on(async {
        let mut clients = load::connect(&server.address, 1)
            .await
            .map_err(|error| format!("connecting: {error}"))?;
        call.answer_size(&mut clients[0], DEADLINE)
            .await
            .map_err(|outcome| format!("{outcome:?}"))
    });
    let answer_bytes = match checked {
        Ok(size) => size,
        Err(problem) => {
            return Ok(H2loadRow::unchecked(
                scenario,
                system,
                format!("the tonic call that checks the answer before h2load runs: {problem}"),
            ));
        }
    };
    let body = work_dir.join(format!("{}-{}.grpc", scenario.name(), system.name()));
    let target = h2load::Target::new(&server.address, call, &body)?;
    let (run, attempts) = measure_row(retries, || h2load.run(server.pid(), &target, shape));
    let run =
        run.map_err(|error| format!("{} / {} / h2load: {error}", scenario.name(), system.name()))?;
    Ok(H2loadRow::new(
        scenario,
        system,
        &run,
        answer_bytes,
        attempts,
    ))
}

/// Builds every plugin into `plugin_dir` and checks the ones the
/// benchmark needs are there.
fn build_plugins(root: &Path, plugin_dir: &Path) -> Result<(), String> {
    progress("building the plugins");
    let status = std::process::Command::new("bash")
        .arg(root.join("scripts/build-plugins"))
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|error| format!("running scripts/build-plugins: {error}"))?;
    if !status.success() {
        return Err(format!("scripts/build-plugins failed: {status}"));
    }
    for name in micro::COMPONENTS.iter().chain(&["test-faulty"]) {
        let path = plugin_dir.join(format!("{name}.wasm"));
        if !path.is_file() {
            return Err(format!("{} was not built", path.display()));
        }
    }
    Ok(())
}

/// `systems` without the JS, Python, Go and C plugins whose toolchain is missing
/// or whose build failed (with a notice for each, in `notices`), once the
/// others are built by `scripts/build-guest-examples`. With
/// `ROTOR_REQUIRE_GUESTS` set, a missing toolchain or a failed build is an
/// error instead.
fn with_guests_built(
    root: &Path,
    systems: &[System],
    notices: &mut Vec<String>,
) -> Result<Vec<System>, String> {
    let required = std::env::var_os("ROTOR_REQUIRE_GUESTS").is_some();
    let mut usable = Vec::new();
    for guest in [Guest::Js, Guest::Python, Guest::Go, Guest::C] {
        let Some(language) = guest.build_language() else {
            continue;
        };
        if !systems.iter().any(|s| s.guest() == Some(guest)) {
            continue;
        }
        // Each tool, with an argument it answers without failing.
        let tools: &[(&str, &str)] = match guest {
            Guest::Js => &[("node", "--version"), ("npm", "--version")],
            Guest::Go => &[("go", "version")],
            Guest::C => &[("clang", "--version"), ("wasm-ld", "--version")],
            _ => &[("python3", "--version")],
        };
        let missing: Vec<&str> = tools
            .iter()
            .filter(|(tool, arg)| !runs(tool, arg))
            .map(|(tool, _)| *tool)
            .collect();
        let problem = if missing.is_empty() {
            progress(&format!("building the {language} plugins"));
            let built = std::process::Command::new("bash")
                .arg(root.join("scripts/build-guest-examples"))
                .arg(language)
                .stdout(std::process::Stdio::null())
                .status();
            match built {
                Ok(status) if status.success() => None,
                Ok(status) => Some(format!(
                    "scripts/build-guest-examples {language} failed: {status}"
                )),
                Err(error) => Some(format!("running scripts/build-guest-examples: {error}")),
            }
        } else {
            Some(format!("{} not found", missing.join(" and ")))
        };
        match problem {
            None => usable.push(guest),
            Some(problem) if required => {
                return Err(format!("{problem} (ROTOR_REQUIRE_GUESTS is set)"));
            }
            Some(problem) => {
                let notice = format!("skipping the {language} plugin rows: {problem}");
                progress(&notice);
                notices.push(notice);
            }
        }
    }
    Ok(systems
        .iter()
        .copied()
        .filter(|s| {
            s.guest()
                .is_none_or(|g| g == Guest::Rust || usable.contains(&g))
        })
        .collect())
}

/// Whether `program arg` runs and exits 0.
fn runs(program: &str, arg: &str) -> bool {
    std::process::Command::new(program)
        .arg(arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn setup(
    options: &Options,
    python: Option<&python::PythonEnv>,
    idle_before_percent: Option<f64>,
    skipped: Vec<String>,
) -> Setup {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|text| text.trim().to_owned())
        .unwrap_or_default();
    Setup {
        cores: cores(),
        cpu,
        kernel,
        python: python.map(|p| p.version.clone()),
        grpcio: python.map(|p| p.grpcio.clone()),
        smoke: options.smoke,
        seconds: options.seconds,
        warm_up_seconds: options.warm_up.as_secs_f64(),
        callers: options.callers,
        connections: options.connections,
        client_threads: options.client_threads,
        open_loop_threads: options.open_loop_threads,
        python_workers: options.python_workers,
        python_server: options.python_server.clone(),
        deadline_ms: u64::try_from(DEADLINE.as_millis()).unwrap_or(u64::MAX),
        idle_before_percent,
        skipped,
    }
}

pub(crate) fn progress(message: &str) {
    eprintln!("[bench] {message}");
}
