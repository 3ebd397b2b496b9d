//! The results of one run: the rows measured, the targets checked against
//! them, the Markdown tables printed and the JSON written.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cpu::CpuSplit;
use crate::load::{Measured, percentile};
use crate::micro::Micro;
use crate::scenario::{CHAIN_LENGTH, Scenario};
use crate::server::System;

/// Rotor's throughput as a fraction of the native handler's, at least.
const NATIVE_RATIO: f64 = 0.85;
/// Rotor's throughput as a multiple of Python's, at least.
const PYTHON_RATIO: f64 = 5.0;
/// p99 at half of Rotor's saturation throughput, single handler, at most.
const P99_AT_HALF_LOAD_US: u32 = 1000;
/// p50 added by each interceptor step, at most.
const INTERCEPTOR_STEP_US: f64 = 50.0;

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
            "  {}: {:.0}/s, p50 {} µs, p99 {} µs, {} errors, {} timeouts{lag}{cpu}",
            self.load.label(),
            self.requests_per_sec,
            self.p50_us,
            self.p99_us,
            self.errors,
            self.timeouts,
        )
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
}

impl Report {
    fn row(&self, scenario: Scenario, system: System, load: LoadKind) -> Option<&Row> {
        self.results
            .iter()
            .find(|r| r.scenario == scenario.name() && r.system == system.name() && r.load == load)
    }

    fn throughput_ratio(&self, scenario: Scenario, other: System) -> Option<f64> {
        let rotor = self.row(scenario, System::Rotor, LoadKind::Saturation)?;
        let other = self.row(scenario, other, LoadKind::Saturation)?;
        (other.requests_per_sec > 0.0).then(|| rotor.requests_per_sec / other.requests_per_sec)
    }

    /// Checks the targets against the rows.
    pub fn check_targets(&mut self) {
        let mut targets = Vec::new();
        for scenario in [Scenario::Noop, Scenario::ConnectHs256] {
            let ratio = self.throughput_ratio(scenario, System::Native);
            targets.push(Target {
                target: format!(
                    "{}: Rotor / native throughput ≥ {NATIVE_RATIO}",
                    scenario.name()
                ),
                measured: ratio.map_or("—".into(), |r| format!("{r:.2}")),
                met: ratio.map(|r| r >= NATIVE_RATIO),
            });
        }
        for scenario in Scenario::ALL {
            let ratio = self.throughput_ratio(scenario, System::Python);
            targets.push(Target {
                target: format!(
                    "{}: Rotor / Python throughput ≥ {PYTHON_RATIO}",
                    scenario.name()
                ),
                measured: ratio.map_or("—".into(), |r| format!("{r:.1}×")),
                met: ratio.map(|r| r >= PYTHON_RATIO),
            });
        }
        for scenario in Scenario::ALL.into_iter().filter(|s| s.single_handler()) {
            let p99 = self
                .row(scenario, System::Rotor, LoadKind::HalfRotor)
                .map(|r| r.p99_us);
            targets.push(Target {
                target: format!(
                    "{}: Rotor p99 at 50% load ≤ {P99_AT_HALF_LOAD_US} µs",
                    scenario.name()
                ),
                measured: p99.map_or("—".into(), |p| format!("{p} µs")),
                met: p99.map(|p| p <= P99_AT_HALF_LOAD_US),
            });
        }
        let step = self
            .row(
                Scenario::NoopInterceptors,
                System::Rotor,
                LoadKind::HalfRotor,
            )
            .zip(self.row(Scenario::Noop, System::Rotor, LoadKind::HalfRotor))
            .map(|(chain, alone)| {
                (f64::from(chain.p50_us) - f64::from(alone.p50_us)) / CHAIN_LENGTH as f64
            });
        targets.push(Target {
            target: format!(
                "each interceptor step adds ≤ {INTERCEPTOR_STEP_US} µs p50 (Rotor, 50% load)"
            ),
            measured: step.map_or("—".into(), |s| format!("{s:.0} µs")),
            met: step.map(|s| s <= INTERCEPTOR_STEP_US),
        });
        let in_process = self.micro.as_ref().and_then(|micro| {
            let p50 = |scenario: Scenario| {
                micro
                    .per_call
                    .iter()
                    .find(|p| p.scenario == scenario.name())
                    .map(|p| f64::from(p.p50_us))
            };
            Some((p50(Scenario::NoopInterceptors)? - p50(Scenario::Noop)?) / CHAIN_LENGTH as f64)
        });
        targets.push(Target {
            target: format!(
                "each interceptor step adds ≤ {INTERCEPTOR_STEP_US} µs p50 (in process, sequential)"
            ),
            measured: in_process.map_or("—".into(), |s| format!("{s:.0} µs")),
            met: in_process.map(|s| s <= INTERCEPTOR_STEP_US),
        });
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
                    "{} / {} / {}: {} errors, {} timeouts",
                    r.scenario,
                    r.system,
                    r.load.label(),
                    r.errors,
                    r.timeouts
                )
            })
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

        out.push_str("\n| scenario | Rotor / native | Rotor / Python |\n|---|---:|---:|\n");
        for scenario in Scenario::ALL {
            let native = self.throughput_ratio(scenario, System::Native);
            let python = self.throughput_ratio(scenario, System::Python);
            if native.is_none() && python.is_none() {
                continue;
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                scenario.name(),
                native.map_or("—".into(), |r| format!("{r:.2}")),
                python.map_or("—".into(), |r| format!("{r:.1}×")),
            );
        }

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
        out
    }
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
            "| {} | {} | {:.0} |",
            c.component, c.size_kib, c.compile_ms
        );
    }
    out.push_str(
        "\n| `Rotor::answer`, fresh instance per call | mean µs | p50 µs | p99 µs | CPU µs/call, one caller per core |\n|---|---:|---:|---:|---:|\n",
    );
    for p in &micro.per_call {
        let _ = writeln!(
            out,
            "| {} ({} calls) | {:.1} | {} | {} | {:.1} |",
            p.scenario, p.calls, p.mean_us, p.p50_us, p.p99_us, p.parallel_cpu_us
        );
    }
    let noop = micro
        .per_call
        .iter()
        .find(|p| p.scenario == Scenario::Noop.name());
    let chain = micro
        .per_call
        .iter()
        .find(|p| p.scenario == Scenario::NoopInterceptors.name());
    if let (Some(noop), Some(chain)) = (noop, chain) {
        let _ = writeln!(
            out,
            "\nEach interceptor step in process: {:.1} µs ((chain − noop) / {CHAIN_LENGTH}, means).",
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
    out
}
