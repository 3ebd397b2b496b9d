//! A second load generator: h2load, from nghttp2, a C client that costs far
//! less CPU per call than the tonic client in this process. On two shared
//! cores every µs the client spends is taken from the server, so the
//! saturation rows measured with both tell how much the client holds the
//! figures back.
//!
//! h2load posts the scenario's request, as one gRPC frame, on `connections`
//! × `streams` concurrent HTTP/2 streams, for a warm-up and then a measured
//! window. It reads HTTP only: the gRPC status comes in trailers it does not
//! look at. So before each run one tonic call checks that the server
//! answers this request rightly, and after it the response bytes must add up
//! to at least one such answer per request counted (an error status alone
//! carries no message); a run with failed requests or a status other than
//! 2xx is an error, never throughput.

mod output;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rotor::proto::proxy::centrifugo_proxy_server::SERVICE_NAME;

pub use output::Summary;

use crate::cpu::{self, CpuSplit};
use crate::scenario::{Call, TENANT_KEY};

/// Connections of an h2load run, by default: as many as the tonic client's.
pub const CONNECTIONS: usize = 8;
/// Concurrent streams per connection, by default.
pub const STREAMS: usize = 16;
/// How long h2load may run past its warm-up and window before it is
/// stopped and the run is an error.
const OVERRUN: Duration = Duration::from_secs(15);
/// The CPU is measured this much inside h2load's window at each end, at
/// most: the window starts once h2load has started and connected.
const PROBE_MARGIN: Duration = Duration::from_millis(100);

/// The h2load program and its version.
#[derive(Debug, Clone)]
pub struct H2load {
    program: PathBuf,
    /// What `h2load --version` says, e.g. `nghttp2/1.52.0`.
    pub version: String,
}

impl H2load {
    /// h2load as `ROTOR_BENCH_H2LOAD` names it, or `h2load` on the `PATH`;
    /// the error says why it cannot be used.
    pub fn find() -> Result<H2load, String> {
        let program =
            PathBuf::from(std::env::var_os("ROTOR_BENCH_H2LOAD").unwrap_or("h2load".into()));
        let output = Command::new(&program)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("{} not found ({error})", program.display()))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let version = text
            .split_whitespace()
            .find(|word| word.starts_with("nghttp2/"))
            .filter(|_| output.status.success())
            .ok_or_else(|| {
                format!(
                    "`{} --version` did not name an nghttp2 version ({}): {}",
                    program.display(),
                    output.status,
                    text.trim()
                )
            })?;
        Ok(H2load {
            program,
            version: version.to_owned(),
        })
    }
}

/// The shape of an h2load run.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// HTTP/2 connections (`-c`).
    pub connections: usize,
    /// Concurrent streams on each (`-m`).
    pub streams: usize,
    /// h2load's threads (`-t`).
    pub threads: usize,
    /// Time before measuring (`--warm-up-time`).
    pub warm_up: Duration,
    /// The measured window (`-D`).
    pub duration: Duration,
    /// Sent as each request's `grpc-timeout`, as the tonic client does.
    pub deadline: Duration,
}

/// What one h2load run is pointed at.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://127.0.0.1:port/<service>/<method>`.
    url: String,
    /// The file with the request's gRPC frame.
    body: PathBuf,
    /// The tenant metadata of the call, if any, as a header.
    tenant: Option<&'static str>,
}

impl Target {
    /// `call` to the server at `address` (`http://127.0.0.1:port`), its
    /// request written to `body` as one gRPC frame.
    pub fn new(address: &str, call: &Call, body: &Path) -> Result<Target, String> {
        let frame = output::grpc_frame(&call.request_bytes())?;
        std::fs::write(body, frame)
            .map_err(|error| format!("writing {}: {error}", body.display()))?;
        Ok(Target {
            url: format!(
                "{}/{SERVICE_NAME}/{}",
                address.trim_end_matches('/'),
                call.grpc_method()
            ),
            body: body.to_owned(),
            tenant: call.tenant,
        })
    }
}

/// What one h2load run measured.
#[derive(Debug, Clone)]
pub struct Run {
    /// h2load's summary.
    pub summary: Summary,
    /// Where the CPU time went, h2load's own as the client's.
    pub cpu: Option<CpuSplit>,
}

impl H2load {
    /// h2load's arguments for `target` in `shape`.
    fn args(&self, target: &Target, shape: Shape) -> Vec<String> {
        let mut args = vec![
            format!("--clients={}", shape.connections.max(1)),
            format!("--max-concurrent-streams={}", shape.streams.max(1)),
            format!(
                "--threads={}",
                shape.threads.clamp(1, shape.connections.max(1))
            ),
            format!(
                "--warm-up-time={}",
                output::duration_argument(shape.warm_up)
            ),
            format!("--duration={}", output::duration_argument(shape.duration)),
            format!("--data={}", target.body.display()),
            "--header=content-type: application/grpc".into(),
            "--header=te: trailers".into(),
            format!("--header=grpc-timeout: {}m", shape.deadline.as_millis()),
        ];
        if let Some(tenant) = target.tenant {
            args.push(format!("--header={TENANT_KEY}: {tenant}"));
        }
        args.push(target.url.clone());
        args
    }

    /// Runs h2load against `target` in `shape`; `server` is the process
    /// whose CPU time is the server's. An error is h2load failing to run or
    /// printing no summary; requests that failed are in the summary.
    pub fn run(&self, server: u32, target: &Target, shape: Shape) -> Result<Run, String> {
        let started = Instant::now();
        let mut child = Command::new(&self.program)
            .args(self.args(target, shape))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("starting {}: {error}", self.program.display()))?;
        let margin = PROBE_MARGIN.min(shape.duration / 10);
        let from = started + shape.warm_up + margin;
        let to = started + shape.warm_up + shape.duration - margin;
        let probe = cpu::probe(server, Some(child.id()), from, to);
        let give_up = started + shape.warm_up + shape.duration + OVERRUN;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "h2load did not finish within {OVERRUN:?} after its window"
                    ));
                }
                Err(error) => return Err(format!("waiting for h2load: {error}")),
            }
        };
        // The summary is a few hundred bytes: the pipes held it.
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(mut out) = child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        let summary = Summary::parse(&stdout)
            .map_err(|error| {
                format!(
                    "{error} (h2load exited with {status}): {}",
                    stderr.trim().lines().last().unwrap_or("no error message")
                )
            })
            .and_then(|summary| {
                if status.success() {
                    Ok(summary)
                } else {
                    Err(format!("h2load exited with {status}: {}", stderr.trim()))
                }
            })?;
        let window = to.saturating_duration_since(from);
        let cpu = probe.join().ok().and_then(|(before, after)| {
            let calls = (summary.requests_per_sec * window.as_secs_f64()).round() as u64;
            CpuSplit::between(before, after, calls)
        });
        Ok(Run { summary, cpu })
    }
}
