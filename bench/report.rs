//! The results of one run: the rows measured, the targets checked against
//! them, the Markdown tables printed and the JSON written.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cpu::CpuSplit;
use crate::h2load::Summary;
use crate::imports::Imports;
use crate::load::{Measured, percentile};
use crate::micro::Micro;
use crate::noisy::{FloodFigures, Noisy};
use crate::scenario::{CHAIN_LENGTH, Scenario};
use crate::server::{Guest, Isolation, System};

/// Rotor's throughput as a fraction of the native handler's, at least.
const NATIVE_RATIO: f64 = 0.85;
/// Rotor's throughput as a multiple of Python's, at least.
const PYTHON_RATIO: f64 = 5.0;
/// p99 at half of Rotor's saturation throughput, single handler, at most.
const P99_AT_HALF_LOAD_US: u32 = 1000;
/// p50 added by each interceptor step, at most.
const INTERCEPTOR_STEP_US: f64 = 50.0;
/// Server CPU per call that a fresh instance of a Rust plugin may add to
/// the native handler's, at most, µs.
const FRESH_ADDED_CPU_US: f64 = 8.0;
/// `Rotor::answer` minus a bare wasmtime call of the same component, p50 in
/// process, at most, µs: the host path around the guest.
const HOST_PATH_US: f64 = 3.0;
/// Throughput of a plugin in any language with reused instances, as a
/// multiple of Python grpcio's, at least.
const REUSE_PYTHON_RATIO: f64 = 2.0;
/// The good tenant's throughput beside a flooded neighbour, as a fraction
/// of its throughput alone, at least.
const NOISY_RATIO: f64 = 0.70;
/// The systems of the language comparison, in the order of its table.
const LANGUAGES: [System; 10] = [
    System::Rotor(Guest::Rust, Isolation::Fresh),
    System::Rotor(Guest::Rust, Isolation::Reuse),
    System::Rotor(Guest::Js, Isolation::Fresh),
    System::Rotor(Guest::Js, Isolation::Reuse),
    System::Rotor(Guest::Python, Isolation::Fresh),
    System::Rotor(Guest::Python, Isolation::Reuse),
    System::Rotor(Guest::Go, Isolation::Fresh),
    System::Rotor(Guest::Go, Isolation::Reuse),
    System::Rotor(Guest::C, Isolation::Fresh),
    System::Rotor(Guest::C, Isolation::Reuse),
];

/// How a row was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadKind {
    /// Closed loop: as fast as the system answers.
    Saturation,
    /// Open loop at half of Rotor's saturation throughput.
    HalfRotor,
    /// Open loop at half of the system's own saturation throughput.
    HalfOwn,
}

impl LoadKind {
    fn label(self) -> &'static str {
        match self {
            LoadKind::Saturation => "saturation",
            LoadKind::HalfRotor => "fixed rate, 50% of Rotor",
            LoadKind::HalfOwn => "fixed rate, 50% of own",
        }
    }
}

/// One measured row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The scenario.
    pub scenario: &'static str,
    /// The system.
    pub system: &'static str,
    /// How it was loaded.
    pub load: LoadKind,
    /// The rate offered (open loop only), calls/s.
    pub offered_rps: Option<f64>,
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
    /// Of the errors, busy refusals (`111`): the tenant at its concurrency limit.
    pub busy: u64,
    /// Calls unanswered within the deadline.
    pub timeouts: u64,
    /// The server's peak resident memory over the scenario, KiB.
    pub peak_rss_kib: Option<u64>,
    /// Open loop: the dispatcher's p99 lateness, µs (the harness's own share
    /// of the latency).
    pub dispatch_lag_p99_us: Option<u32>,
    /// Where the CPU time went in the window.
    pub cpu: Option<CpuSplit>,
    /// How often the row was measured: more than once when other processes
    /// disturbed an attempt (the least disturbed one is kept).
    pub attempts: usize,
}

impl Row {
    /// A row from a measurement.
    pub fn new(
        scenario: Scenario,
        system: System,
        load: LoadKind,
        offered: Option<f64>,
        measured: &Measured,
    ) -> Row {
        Row {
            scenario: scenario.name(),
            system: system.name(),
            load,
            offered_rps: offered.map(f64::round),
            requests_per_sec: measured.rate().round(),
            p50_us: measured.percentile(0.50),
            p99_us: measured.percentile(0.99),
            p999_us: measured.percentile(0.999),
            errors: measured.errors,
            busy: measured.busy,
            timeouts: measured.timeouts,
            peak_rss_kib: None,
            dispatch_lag_p99_us: (load != LoadKind::Saturation)
                .then(|| percentile(&measured.dispatch_lag_us, 0.99)),
            cpu: measured.cpu,
            attempts: 1,
        }
    }
}

impl Row {
    /// The same row, measured in `attempts` attempts.
    pub fn attempts(self, attempts: usize) -> Row {
        Row { attempts, ..self }
    }

    /// One line for the progress log.
    pub fn summary(&self) -> String {
        let lag = self
            .dispatch_lag_p99_us
            .map_or(String::new(), |lag| format!(", dispatch lag p99 {lag} µs"));
        let cpu = self.cpu.map_or(String::new(), |c| {
            format!(
                "; CPU per call: server {:.1} µs, client {:.1} µs; interrupts {:.0}%, others {:.0}%, idle {:.0}%",
                c.server_us_per_call,
                c.client_us_per_call,
                c.interrupts_percent,
                c.other_percent,
                c.idle_percent
            )
        });
        format!(
            "  {}: {:.0}/s, p50 {} µs, p99 {} µs, {} errors ({} busy), {} timeouts{lag}{cpu}",
            self.load.label(),
            self.requests_per_sec,
            self.p50_us,
            self.p99_us,
            self.errors,
            self.busy,
            self.timeouts,
        )
    }
}

/// The saturation rows measured again with h2load, on the same server
/// processes, right after the tonic client's rows.
#[derive(Debug, Clone, Serialize)]
pub struct H2loadRows {
    /// h2load's version, e.g. `nghttp2/1.52.0`.
    pub version: String,
    /// HTTP/2 connections.
    pub connections: usize,
    /// Concurrent streams per connection.
    pub streams: usize,
    /// h2load's threads.
    pub threads: usize,
    /// One row per scenario and system.
    pub rows: Vec<H2loadRow>,
}

/// One saturation row measured with h2load. Its counts are HTTP/2
/// outcomes: h2load does not read the gRPC status.
#[derive(Debug, Clone, Serialize)]
pub struct H2loadRow {
    /// The scenario.
    pub scenario: &'static str,
    /// The system.
    pub system: &'static str,
    /// What h2load reported; `None` when the call that checks the answer
    /// failed, so h2load did not run. Its throughput is valid only when
    /// `problem` is `None`.
    #[serde(flatten)]
    pub run: Option<Summary>,
    /// The size of the right answer's message, from the tonic call that
    /// checked it before the run.
    pub answer_bytes: Option<usize>,
    /// The server's peak resident memory after the run, KiB.
    pub peak_rss_kib: Option<u64>,
    /// Where the CPU time went in the window; the client is h2load.
    pub cpu: Option<CpuSplit>,
    /// How often the row was measured.
    pub attempts: usize,
    /// Why the row is an error rather than a throughput figure, if it is.
    pub problem: Option<String>,
}

impl H2loadRow {
    /// A row for `system` in `scenario` that the check call failed, so
    /// h2load did not run.
    pub fn unchecked(scenario: Scenario, system: System, problem: String) -> H2loadRow {
        H2loadRow {
            scenario: scenario.name(),
            system: system.name(),
            run: None,
            answer_bytes: None,
            peak_rss_kib: None,
            cpu: None,
            attempts: 0,
            problem: Some(problem),
        }
    }

    /// A row from an h2load run, whose right answer has `answer_bytes`.
    pub fn new(
        scenario: Scenario,
        system: System,
        run: &crate::h2load::Run,
        answer_bytes: usize,
        attempts: usize,
    ) -> H2loadRow {
        H2loadRow {
            scenario: scenario.name(),
            system: system.name(),
            run: Some(run.summary.clone()),
            answer_bytes: Some(answer_bytes),
            peak_rss_kib: None,
            cpu: run.cpu,
            attempts,
            problem: run.summary.problem(answer_bytes),
        }
    }

    /// One line for the progress log.
    pub fn summary(&self) -> String {
        let cpu = self.cpu.map_or(String::new(), |c| {
            format!(
                "; CPU per call: server {:.1} µs, h2load {:.1} µs; others {:.0}%, idle {:.0}%",
                c.server_us_per_call, c.client_us_per_call, c.other_percent, c.idle_percent
            )
        });
        match (&self.problem, &self.run) {
            (None, Some(run)) => format!(
                "  h2load: {:.0}/s, mean {} µs{cpu}",
                run.requests_per_sec,
                self.mean_us()
            ),
            (problem, _) => format!(
                "  h2load: ERROR: {}",
                problem.as_deref().unwrap_or("h2load did not run")
            ),
        }
    }

    /// The mean request time, µs, as the tables print it.
    fn mean_us(&self) -> String {
        self.run
            .as_ref()
            .and_then(|run| run.request_time)
            .map_or("—".into(), |time| format!("{:.0}", time.mean_us))
    }

    /// The throughput, when it is a valid figure.
    fn rate(&self) -> Option<f64> {
        let run = self.run.as_ref().filter(|_| self.problem.is_none())?;
        (run.requests_per_sec > 0.0).then_some(run.requests_per_sec)
    }
}

/// A target and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What is promised.
    pub target: String,
    /// What was measured.
    pub measured: String,
    /// Whether it holds; `None` when a needed row is missing.
    pub met: Option<bool>,
}

/// The machine and the settings of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Setup {
    /// Cores seen by this process.
    pub cores: usize,
    /// The CPU model.
    pub cpu: String,
    /// The kernel release.
    pub kernel: String,
    /// The Python interpreter's version, if Python ran.
    pub python: Option<String>,
    /// The grpcio version, if Python ran.
    pub grpcio: Option<String>,
    /// Whether this was a smoke run (numbers mean nothing then).
    pub smoke: bool,
    /// Seconds measured per row.
    pub seconds: f64,
    /// Seconds of warm-up per row.
    pub warm_up_seconds: f64,
    /// Closed-loop callers.
    pub callers: usize,
    /// HTTP/2 connections.
    pub connections: usize,
    /// Worker threads of the load generator in saturation runs.
    pub client_threads: usize,
    /// Worker threads of the load generator in fixed-rate runs.
    pub open_loop_threads: usize,
    /// Worker processes of the Python backend.
    pub python_workers: usize,
    /// The Python backend's server: `aio` or `sync`.
    pub python_server: String,
    /// The gRPC deadline of each call, ms.
    pub deadline_ms: u64,
    /// Idle CPU over one second before the run, %: below ~95 something
    /// else was running and the figures are unreliable.
    pub idle_before_percent: Option<f64>,
    /// Rows left out, and why (a missing JS, Python, Go or C toolchain).
    pub skipped: Vec<String>,
}

/// Everything a run produced.
#[derive(Debug, Serialize)]
pub struct Report {
    /// When, in Unix seconds.
    pub generated_unix: i64,
    /// The machine and settings.
    pub setup: Setup,
    /// The measured rows.
    pub results: Vec<Row>,
    /// The targets.
    pub targets: Vec<Target>,
    /// The in-process figures.
    pub micro: Option<Micro>,
    /// The noisy-neighbour measurement.
    pub noisy: Option<Noisy>,
    /// The cost of host imports called from a guest.
    pub imports: Option<Imports>,
    /// The saturation rows measured again with h2load (`--h2load`).
    pub h2load: Option<H2loadRows>,
}

impl Report {
    fn row(&self, scenario: Scenario, system: System, load: LoadKind) -> Option<&Row> {
        self.results
            .iter()
            .find(|r| r.scenario == scenario.name() && r.system == system.name() && r.load == load)
    }

    fn throughput_ratio(&self, scenario: Scenario, rotor: System, other: System) -> Option<f64> {
        let rotor = self.row(scenario, rotor, LoadKind::Saturation)?;
        let other = self.row(scenario, other, LoadKind::Saturation)?;
        (other.requests_per_sec > 0.0).then(|| rotor.requests_per_sec / other.requests_per_sec)
    }

    /// The server CPU per call that `rotor` adds to the native handler's
    /// at saturation, µs.
    fn added_cpu_us(&self, scenario: Scenario, rotor: System) -> Option<f64> {
        let cpu = |system| {
            self.row(scenario, system, LoadKind::Saturation)?
                .cpu
                .map(|c| c.server_us_per_call)
        };
        Some(cpu(rotor)? - cpu(System::Native)?)
    }

    /// The in-process figure of `system` in `scenario`.
    fn micro_call(&self, scenario: Scenario, system: System) -> Option<&crate::micro::PerCall> {
        self.micro
            .as_ref()?
            .per_call
            .iter()
            .find(|p| p.scenario == scenario.name() && p.system == system.name())
    }

    /// Checks the targets against the rows.
    pub fn check_targets(&mut self) {
        let mut targets = Vec::new();
        let rotor = System::ROTOR;
        let reuse = System::Rotor(Guest::Rust, Isolation::Reuse);
        let ratio_target = |targets: &mut Vec<Target>,
                            label: String,
                            ratio: Option<f64>,
                            at_least: f64,
                            times: bool| {
            targets.push(Target {
                target: label,
                measured: ratio.map_or("—".into(), |r| {
                    if times {
                        format!("{r:.1}×")
                    } else {
                        format!("{r:.2}")
                    }
                }),
                met: ratio.map(|r| r >= at_least),
            });
        };
        for scenario in [Scenario::Noop, Scenario::ConnectHs256] {
            ratio_target(
                &mut targets,
                format!(
                    "{}: Rotor (fresh) / native throughput ≥ {NATIVE_RATIO}",
                    scenario.name()
                ),
                self.throughput_ratio(scenario, rotor, System::Native),
                NATIVE_RATIO,
                false,
            );
        }
        for scenario in [Scenario::Noop, Scenario::ConnectHs256] {
            ratio_target(
                &mut targets,
                format!(
                    "{}: Rotor (reuse) / native throughput ≥ {NATIVE_RATIO}",
                    scenario.name()
                ),
                self.throughput_ratio(scenario, reuse, System::Native),
                NATIVE_RATIO,
                false,
            );
        }
        for scenario in Scenario::ALL.into_iter().filter(|s| s.single_handler()) {
            let added = self.added_cpu_us(scenario, rotor);
            targets.push(Target {
                target: format!(
                    "{}: Rotor (fresh) adds ≤ {FRESH_ADDED_CPU_US} µs server CPU per call to native",
                    scenario.name()
                ),
                measured: added.map_or("—".into(), |a| format!("{a:.1} µs")),
                met: added.map(|a| a <= FRESH_ADDED_CPU_US),
            });
        }
        for scenario in Scenario::ALL {
            ratio_target(
                &mut targets,
                format!(
                    "{}: Rotor (fresh) / Python throughput ≥ {PYTHON_RATIO}",
                    scenario.name()
                ),
                self.throughput_ratio(scenario, rotor, System::Python),
                PYTHON_RATIO,
                true,
            );
        }
        for system in LANGUAGES
            .into_iter()
            .filter(|s| matches!(s, System::Rotor(_, Isolation::Reuse)))
        {
            ratio_target(
                &mut targets,
                format!(
                    "noop: {} / Python throughput ≥ {REUSE_PYTHON_RATIO}",
                    system.label()
                ),
                self.throughput_ratio(Scenario::Noop, system, System::Python),
                REUSE_PYTHON_RATIO,
                true,
            );
        }
        for scenario in Scenario::ALL.into_iter().filter(|s| s.single_handler()) {
            let p99 = self
                .row(scenario, rotor, LoadKind::HalfRotor)
                .map(|r| r.p99_us);
            targets.push(Target {
                target: format!(
                    "{}: Rotor (fresh) p99 at 50% load ≤ {P99_AT_HALF_LOAD_US} µs",
                    scenario.name()
                ),
                measured: p99.map_or("—".into(), |p| format!("{p} µs")),
                met: p99.map(|p| p <= P99_AT_HALF_LOAD_US),
            });
        }
        let step = self
            .row(Scenario::NoopInterceptors, rotor, LoadKind::HalfRotor)
            .zip(self.row(Scenario::Noop, rotor, LoadKind::HalfRotor))
            .map(|(chain, alone)| {
                (f64::from(chain.p50_us) - f64::from(alone.p50_us)) / CHAIN_LENGTH as f64
            });
        targets.push(Target {
            target: format!(
                "each interceptor step adds ≤ {INTERCEPTOR_STEP_US} µs p50 (Rotor fresh, 50% load)"
            ),
            measured: step.map_or("—".into(), |s| format!("{s:.0} µs")),
            met: step.map(|s| s <= INTERCEPTOR_STEP_US),
        });
        for system in [rotor, reuse] {
            let row = self.micro.as_ref().and_then(|m| {
                m.host_path
                    .iter()
                    .find(|h| h.scenario == Scenario::Noop.name() && h.system == system.name())
            });
            targets.push(Target {
                target: format!(
                    "noop: `Rotor::answer` − bare wasmtime call ≤ {HOST_PATH_US} µs p50 ({}, in process)",
                    system.label()
                ),
                measured: row.map_or("—".into(), |h| format!("{:.1} µs", h.host_path_p50_us)),
                met: row.map(|h| h.host_path_p50_us <= HOST_PATH_US),
            });
        }
        let in_process = self
            .micro_call(Scenario::NoopInterceptors, rotor)
            .zip(self.micro_call(Scenario::Noop, rotor))
            .map(|(chain, alone)| {
                (f64::from(chain.p50_us) - f64::from(alone.p50_us)) / CHAIN_LENGTH as f64
            });
        targets.push(Target {
            target: format!(
                "each interceptor step adds ≤ {INTERCEPTOR_STEP_US} µs p50 (in process, sequential)"
            ),
            measured: in_process.map_or("—".into(), |s| format!("{s:.0} µs")),
            met: in_process.map(|s| s <= INTERCEPTOR_STEP_US),
        });
        ratio_target(
            &mut targets,
            format!(
                "noisy neighbour: good tenant's throughput beside the flood of a tenant with a `cpu` limit / alone ≥ {NOISY_RATIO}"
            ),
            self.noisy.as_ref().map(|n| n.ratio),
            NOISY_RATIO,
            false,
        );
        self.targets = targets;
    }

    /// Any wrong answer anywhere, or a timeout where the load never exceeds
    /// what the system can take (saturation runs, and fixed rates at half of
    /// the system's own saturation or of Rotor's for Rotor and native).
    pub fn failures(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| {
                let overload_possible = r.load == LoadKind::HalfRotor && r.system == "python";
                r.errors > 0 || (r.timeouts > 0 && !overload_possible)
            })
            .map(|r| {
                format!(
                    "{} / {} / {}: {} errors ({} of them busy refusals, 111), {} timeouts",
                    r.scenario,
                    r.system,
                    r.load.label(),
                    r.errors,
                    r.busy,
                    r.timeouts
                )
            })
            .chain(self.h2load.iter().flat_map(|h| &h.rows).filter_map(|r| {
                let problem = r.problem.as_ref()?;
                Some(format!("{} / {} / h2load: {problem}", r.scenario, r.system))
            }))
            .chain(self.noisy.iter().flat_map(|n| {
                [
                    ("alone", &n.alone),
                    ("beside the flood", &n.flooded),
                    ("beside the flood, default CPU share", &n.default_share.good),
                ]
                .into_iter()
                .filter(|(_, side)| side.errors > 0 || side.timeouts > 0)
                .map(|(when, side)| {
                    format!(
                        "noisy neighbour / good tenant {when}: {} errors, {} timeouts",
                        side.errors, side.timeouts
                    )
                })
            }))
            .collect()
    }

    /// The Markdown tables.
    pub fn markdown(&self) -> String {
        let s = &self.setup;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Machine: {} cores ({}), Linux {}; client and server share them.{}",
            s.cores,
            s.cpu,
            s.kernel,
            s.idle_before_percent.map_or(String::new(), |idle| format!(
                " Idle before the run: {idle:.0}%{}",
                if idle < 95.0 {
                    " (something else was running: treat the figures with care)."
                } else {
                    "."
                }
            ))
        );
        let _ = writeln!(
            out,
            "Load: {} callers over {} HTTP/2 connections, {} client thread(s) at saturation, {} at a fixed rate, {:.1} s warm-up + {:.1} s per row, {} ms gRPC deadline; Python: {} `{}` worker processes{}.{}\n",
            s.callers,
            s.connections,
            s.client_threads,
            s.open_loop_threads,
            s.warm_up_seconds,
            s.seconds,
            s.deadline_ms,
            s.python_workers,
            s.python_server,
            match (&s.python, &s.grpcio) {
                (Some(python), Some(grpcio)) => format!(", CPython {python}, grpcio {grpcio}"),
                _ => String::new(),
            },
            if s.smoke {
                " SMOKE RUN: the numbers mean nothing."
            } else {
                ""
            },
        );
        for notice in &s.skipped {
            let _ = writeln!(out, "Note: {notice}.\n");
        }
        out.push_str(
            "| scenario | system | load | req/s | p50 µs | p99 µs | p99.9 µs | errors | timeouts | peak RSS MiB |\n",
        );
        out.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for r in &self.results {
            let load = match (r.load, r.offered_rps) {
                (LoadKind::Saturation, _) => format!("saturation, {} callers", s.callers),
                (kind, Some(offered)) => format!("{} = {offered:.0}/s", kind.label()),
                (kind, None) => kind.label().to_owned(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {load} | {:.0} | {} | {} | {} | {} | {} | {} |",
                r.scenario,
                label(r.system),
                r.requests_per_sec,
                r.p50_us,
                r.p99_us,
                r.p999_us,
                r.errors,
                r.timeouts,
                r.peak_rss_kib
                    .map_or("—".into(), |kib| format!("{:.1}", kib as f64 / 1024.0)),
            );
        }

        out.push_str(&self.comparison_markdown());
        out.push_str(
            "\nCPU time in the measured window: per call for the server (all its threads and processes) and the load generator; interrupts (mostly loopback networking), other processes and idle in % of all cores:\n\n| scenario | system | load | server µs/call | client µs/call | interrupts % | others % | idle % | tries |\n|---|---|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.results {
            if let Some(c) = r.cpu {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {} |",
                    r.scenario,
                    label(r.system),
                    r.load.label(),
                    c.server_us_per_call,
                    c.client_us_per_call,
                    c.interrupts_percent,
                    c.other_percent,
                    c.idle_percent,
                    r.attempts
                );
            }
        }

        if let Some(h2load) = &self.h2load {
            out.push_str(&self.h2load_markdown(h2load));
        }
        out.push_str(&self.languages_markdown());
        if let Some(noisy) = &self.noisy {
            out.push_str(&noisy_markdown(noisy));
        }

        out.push_str("\n| target | measured | met |\n|---|---:|---|\n");
        for t in &self.targets {
            let met = match t.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "not measured",
            };
            let _ = writeln!(out, "| {} | {} | {met} |", t.target, t.measured);
        }

        if let Some(micro) = &self.micro {
            out.push_str(&micro_markdown(micro));
        }
        if let Some(imports) = &self.imports {
            out.push_str(&imports_markdown(imports));
        }
        out
    }
}

impl Report {
    /// Each Rotor system against the baselines, per scenario: throughput
    /// ratios and the server CPU per call it adds to the native handler's.
    fn comparison_markdown(&self) -> String {
        let mut out = String::from(
            "\nAt saturation, each Rotor system against the baselines: throughput ratios, and the server CPU per call (all its threads) against the native handler's:\n\n| scenario | system | / native | / Python | server µs/call | native µs/call | added µs/call |\n|---|---|---:|---:|---:|---:|---:|\n",
        );
        for scenario in Scenario::ALL {
            for system in LANGUAGES {
                let Some(row) = self.row(scenario, system, LoadKind::Saturation) else {
                    continue;
                };
                let native = self.throughput_ratio(scenario, system, System::Native);
                let python = self.throughput_ratio(scenario, system, System::Python);
                let native_cpu = self
                    .row(scenario, System::Native, LoadKind::Saturation)
                    .and_then(|r| r.cpu)
                    .map(|c| c.server_us_per_call);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    scenario.name(),
                    system.label(),
                    native.map_or("—".into(), |r| format!("{r:.2}")),
                    python.map_or("—".into(), |r| format!("{r:.1}×")),
                    row.cpu
                        .map_or("—".into(), |c| format!("{:.1}", c.server_us_per_call)),
                    native_cpu.map_or("—".into(), |c| format!("{c:.1}")),
                    self.added_cpu_us(scenario, system)
                        .map_or("—".into(), |a| format!("{a:.1}")),
                );
            }
        }
        out
    }

    /// The saturation rows of both load generators side by side, each
    /// system's throughput as a fraction of native's measured with the same
    /// generator, and the CPU per call of server and client under each.
    fn h2load_markdown(&self, h2load: &H2loadRows) -> String {
        let mut out = format!(
            "\nAt saturation, the tonic client ({} callers over {} connections) against h2load ({}, {} connections × {} streams, {} thread(s)) on the same server process. h2load counts HTTP/2 responses only, not gRPC statuses: one tonic call checked the answer before each h2load run, and the response bytes must hold at least one such answer per request. Ratios to native are taken with the same generator in this run:\n\n| scenario | system | tonic req/s | h2load req/s | / native, tonic | / native, h2load | server µs/call, tonic | server µs/call, h2load | client µs/call, tonic | client µs/call, h2load | h2load mean µs | h2load errors |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
            self.setup.callers,
            self.setup.connections,
            h2load.version,
            h2load.connections,
            h2load.streams,
            h2load.threads,
        );
        let h2load_row = |scenario: &str, system: &str| {
            h2load
                .rows
                .iter()
                .find(|r| r.scenario == scenario && r.system == system)
        };
        let cpu = |c: Option<CpuSplit>, client: bool| {
            c.map_or("—".into(), |c| {
                format!(
                    "{:.1}",
                    if client {
                        c.client_us_per_call
                    } else {
                        c.server_us_per_call
                    }
                )
            })
        };
        for row in &h2load.rows {
            let system = System::from_name(row.system);
            let scenario = Scenario::from_name(row.scenario);
            let tonic = scenario
                .zip(system)
                .and_then(|(scenario, system)| self.row(scenario, system, LoadKind::Saturation));
            let tonic_native = scenario.zip(system).and_then(|(scenario, system)| {
                self.throughput_ratio(scenario, system, System::Native)
            });
            let h2load_native = row
                .rate()
                .zip(h2load_row(row.scenario, System::Native.name()).and_then(H2loadRow::rate))
                .map(|(own, native)| own / native);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.scenario,
                label(row.system),
                tonic.map_or("—".into(), |r| format!("{:.0}", r.requests_per_sec)),
                row.rate().map_or("—".into(), |r| format!("{r:.0}")),
                tonic_native.map_or("—".into(), |r| format!("{r:.2}")),
                h2load_native.map_or("—".into(), |r| format!("{r:.2}")),
                cpu(tonic.and_then(|r| r.cpu), false),
                cpu(row.cpu, false),
                cpu(tonic.and_then(|r| r.cpu), true),
                cpu(row.cpu, true),
                row.mean_us(),
                row.problem.as_deref().unwrap_or("0"),
            );
        }
        out
    }

    /// The RPC router in each language and mode on `noop`: the cost per
    /// call over the network and in process, and the saturation
    /// throughput against the baselines.
    fn languages_markdown(&self) -> String {
        let scenario = Scenario::Noop;
        let mut out = String::from(
            "\nLanguages: the RPC router (`echo`) in Rust, JS, Python, Go and C, fresh and reused instances, on `noop`; native and Python grpcio from the same run:\n\n| system | component KiB | compile ms | req/s | / native | / Python | server µs/call | p99 µs at 50% of own | `Rotor::answer` p50 µs | CPU µs/call in process, one caller per core |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let mut any = false;
        for system in LANGUAGES
            .into_iter()
            .chain([System::Native, System::Python])
        {
            let Some(row) = self.row(scenario, system, LoadKind::Saturation) else {
                continue;
            };
            any = true;
            let compiled = system.guest().and_then(|guest| {
                let name = guest.rpc_router().trim_end_matches(".wasm");
                self.micro
                    .as_ref()?
                    .compile
                    .iter()
                    .find(|c| c.component == name)
            });
            let size = compiled.map(|c| c.size_kib);
            let compile_ms = compiled.and_then(|c| c.compile_ms);
            // Rust and native run at half of Rotor's rate, the rest at half
            // of their own.
            let fixed = self
                .row(scenario, system, LoadKind::HalfOwn)
                .or_else(|| self.row(scenario, system, LoadKind::HalfRotor));
            let micro = self.micro_call(scenario, system);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
                system.label(),
                size.map_or("—".into(), |k| k.to_string()),
                compile_ms.map_or("—".into(), |ms| format!("{ms:.0}")),
                row.requests_per_sec,
                self.throughput_ratio(scenario, system, System::Native)
                    .map_or("—".into(), |r| format!("{r:.2}")),
                self.throughput_ratio(scenario, system, System::Python)
                    .map_or("—".into(), |r| format!("{r:.1}×")),
                row.cpu
                    .map_or("—".into(), |c| format!("{:.1}", c.server_us_per_call)),
                fixed.map_or("—".into(), |r| r.p99_us.to_string()),
                micro.map_or("—".into(), |m| m.p50_us.to_string()),
                micro.map_or("—".into(), |m| format!("{:.1}", m.parallel_cpu_us)),
            );
        }
        if any { out } else { String::new() }
    }
}

fn noisy_markdown(noisy: &Noisy) -> String {
    let mut out = format!(
        "\nNoisy neighbour: two tenants by metadata in one Rotor (fresh instances). The good tenant's `noop` at saturation, alone and while a second load generator floods the other tenant with {} callers each of `test-faulty` `loop` and `trap`; the noisy tenant has `{}` in one run (the default CPU share holds it back) and `{}` in another:\n\n| good tenant | req/s | p50 µs | p99 µs | p99.9 µs | errors | timeouts | server µs per good call | others % | idle % |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        noisy.flood_callers_each, noisy.default_share.noisy_limits, noisy.noisy_limits
    );
    let default_row = format!(
        "beside the flood, default CPU share ({:.2})",
        noisy.default_share.ratio
    );
    let limited_row = format!("beside the flood, `cpu` limit ({:.2})", noisy.ratio);
    for (when, side) in [
        ("alone", &noisy.alone),
        (default_row.as_str(), &noisy.default_share.good),
        (limited_row.as_str(), &noisy.flooded),
    ] {
        let _ = writeln!(
            out,
            "| {when} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            side.requests_per_sec,
            side.p50_us,
            side.p99_us,
            side.p999_us,
            side.errors,
            side.timeouts,
            side.cpu
                .map_or("—".into(), |c| format!("{:.1}", c.server_us_per_call)),
            side.cpu
                .map_or("—".into(), |c| format!("{:.0}", c.other_percent)),
            side.cpu
                .map_or("—".into(), |c| format!("{:.0}", c.idle_percent)),
        );
    }
    let flood = |figures: &[FloodFigures]| {
        figures
            .iter()
            .map(|f| {
                format!(
                    "`{}`: {:.0} error replies/s, {:.0} refusals/s ({:.0}/s failed)",
                    f.method, f.answered_per_sec, f.refused_per_sec, f.failed_per_sec
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "\nThroughput beside the flood / alone: {:.2} with the `cpu` limit, {:.2} with the default share; p99 {} → {} µs (limit), {} µs (default share). The flood got {} with the limit, {} with the default share.",
        noisy.ratio,
        noisy.default_share.ratio,
        noisy.alone.p99_us,
        noisy.flooded.p99_us,
        noisy.default_share.good.p99_us,
        flood(&noisy.flood),
        flood(&noisy.default_share.flood),
    );
    out
}

fn label(system: &str) -> &'static str {
    System::from_name(system).map_or("?", System::label)
}

fn micro_markdown(micro: &Micro) -> String {
    let mut out = String::new();
    out.push_str(
        "\nIn process, no network:\n\n| component | size KiB | compile ms |\n|---|---:|---:|\n",
    );
    for c in &micro.compile {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            c.component,
            c.size_kib,
            c.compile_ms.map_or("—".into(), |ms| format!("{ms:.0}"))
        );
    }
    out.push_str(
        "\n| `Rotor::answer` | system | calls | mean µs | p50 µs | p99 µs | CPU µs/call, one caller per core |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    for p in &micro.per_call {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {} | {} | {:.1} |",
            p.scenario,
            label(p.system),
            p.calls,
            p.mean_us,
            p.p50_us,
            p.p99_us,
            p.parallel_cpu_us
        );
    }
    if !micro.host_path.is_empty() {
        let _ = writeln!(
            out,
            "\nHost path: `Rotor::answer` against a bare wasmtime call of the same component and request (`bench/bare.rs`), timed in alternating blocks of {} calls; only the call is timed (Rotor's request is cloned before, both replies checked after); {}:\n\n| noop in process | calls each | Rotor mean µs | Rotor p50 µs | bare mean µs | bare p50 µs | host path µs, p50 | host path µs, mean |\n|---|---:|---:|---:|---:|---:|---:|---:|",
            crate::micro::BLOCK,
            micro
                .rust_backtrace
                .as_ref()
                .map_or("`RUST_BACKTRACE` unset".into(), |value| format!(
                    "`RUST_BACKTRACE={value}`"
                )),
        );
        for h in &micro.host_path {
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                label(h.system),
                h.calls,
                h.rotor_mean_us,
                h.rotor_p50_us,
                h.bare_mean_us,
                h.bare_p50_us,
                h.host_path_p50_us,
                h.host_path_mean_us
            );
        }
    }
    let find = |scenario: Scenario| {
        micro
            .per_call
            .iter()
            .find(|p| p.scenario == scenario.name() && p.system == System::ROTOR.name())
    };
    let noop = find(Scenario::Noop);
    let chain = find(Scenario::NoopInterceptors);
    if let (Some(noop), Some(chain)) = (noop, chain) {
        let _ = writeln!(
            out,
            "\nEach interceptor step in process, fresh instances: {:.1} µs ((chain − noop) / {CHAIN_LENGTH}, means).",
            (chain.mean_us - noop.mean_us) / CHAIN_LENGTH as f64
        );
    }
    if let Some(m) = &micro.memory {
        let _ = writeln!(
            out,
            "\nMemory: {} instances of {} alive at once raised this process's RSS from {:.1} to {:.1} MiB: {:.0} KiB per instance in flight ({:.1} MiB after they finished).",
            m.in_flight,
            m.component,
            m.rss_before_kib as f64 / 1024.0,
            m.rss_peak_kib as f64 / 1024.0,
            m.per_instance_kib,
            m.rss_after_kib as f64 / 1024.0
        );
    }
    if !micro.pooling.is_empty() {
        out.push_str("\n| noop in process, `[limits]` | mean µs | p50 µs |\n|---|---:|---:|\n");
        for p in &micro.pooling {
            let _ = writeln!(out, "| {} | {:.1} | {} |", p.limits, p.mean_us, p.p50_us);
        }
    }
    if !micro.keep_resident.is_empty() {
        out.push_str(
            "\n| noop in process, large guest | `[pool] keep_resident` | calls | mean µs | p50 µs | p99 µs | / reused (means) | RSS after, MiB |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for k in &micro.keep_resident {
            // The same language reused, measured in the same run.
            let reused = System::from_name(k.system)
                .and_then(|system| system.guest())
                .and_then(|guest| {
                    micro.keep_resident.iter().find(|r| {
                        System::from_name(r.system)
                            == Some(System::Rotor(guest, crate::server::Isolation::Reuse))
                    })
                });
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {} | {} | {} | {:.1} |",
                label(k.system),
                k.keep_resident,
                k.calls,
                k.mean_us,
                k.p50_us,
                k.p99_us,
                reused.map_or("—".into(), |r| format!("{:.1} ×", k.mean_us / r.mean_us)),
                k.rss_after_kib as f64 / 1024.0
            );
        }
    }
    out
}

fn imports_markdown(imports: &Imports) -> String {
    let mut out = format!(
        "\nHost imports from a guest, in process (`Rotor::answer`, `{}`): one call = (p50 of an RPC making N calls − p50 of the same RPC making none) / N, against the same operation called directly from Rust in this process, {:.1} s per row{}:\n\n| import | backend | instances | N | RPC p50 µs, N calls | RPC p50 µs, none | guest µs/call | direct call | direct µs/call | guest / direct | guest − direct µs |\n|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|\n",
        crate::imports::COMPONENT,
        imports.seconds_per_row,
        if imports.smoke {
            " (SMOKE RUN: the numbers mean nothing)"
        } else {
            ""
        },
    );
    for r in &imports.rows {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {:.1} | {:.1} | {:.2} | {} | {:.2} | {:.1}× | {:.2} |",
            r.import,
            r.backend,
            r.isolation,
            r.calls_per_rpc,
            r.rpc_p50_us,
            r.base_p50_us,
            r.guest_us,
            r.direct,
            r.direct_us,
            r.ratio,
            r.guest_us - r.direct_us
        );
    }
    for notice in &imports.skipped {
        let _ = writeln!(out, "\nNote: {notice}.");
    }
    out
}
