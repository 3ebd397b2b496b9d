//! The load generator, a gRPC client on tonic like Centrifugo's own: many
//! callers share a few HTTP/2 connections, and every call carries a gRPC
//! deadline.
//!
//! - [`closed_loop`] finds a system's saturation throughput: each caller
//!   sends its next call as soon as the last one is answered.
//! - [`open_loop`] sends at a fixed rate, whatever the answers do, and
//!   measures each call from the moment it was due rather than from when it
//!   was sent, so a stalled server cannot hide its backlog by slowing the
//!   client down (no coordinated omission).
//!
//! Both warm up first and measure only inside a fixed window.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient;
use tokio::runtime::Runtime;
use tonic::transport::{Channel, Endpoint};

use crate::cpu::{self, CpuSplit};
use crate::scenario::{Call, Flood, Outcome};

/// The shape of one measurement.
#[derive(Debug, Clone)]
pub struct Load {
    /// HTTP/2 connections the callers share.
    pub connections: usize,
    /// Concurrent callers of the closed loop.
    pub callers: usize,
    /// How long to run before measuring.
    pub warm_up: Duration,
    /// How long to measure.
    pub duration: Duration,
    /// The gRPC deadline of every call: Centrifugo's default proxy timeout.
    pub deadline: Duration,
}

/// What one measurement saw.
#[derive(Debug, Default)]
pub struct Measured {
    /// Calls answered correctly inside the window.
    pub ok: u64,
    /// Calls answered wrongly or with a non-OK status.
    pub errors: u64,
    /// Of the errors, busy refusals (`111`).
    pub busy: u64,
    /// Calls not answered within their deadline.
    pub timeouts: u64,
    /// The length of the window.
    pub window: Duration,
    /// Latencies of the correct answers in µs, sorted.
    pub latencies_us: Vec<u32>,
    /// For the open loop: how late the dispatcher sent calls, in µs, sorted.
    pub dispatch_lag_us: Vec<u32>,
    /// Where the CPU time went in the window.
    pub cpu: Option<CpuSplit>,
}

impl Measured {
    /// Correct answers per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }

    /// The latency below which a fraction `p` of the answers fall, in µs.
    pub fn percentile(&self, p: f64) -> u32 {
        percentile(&self.latencies_us, p)
    }

    fn add(&mut self, outcome: Outcome, latency: Duration) {
        match outcome {
            Outcome::Ok => {
                self.ok += 1;
                self.latencies_us.push(micros(latency));
            }
            Outcome::Error => self.errors += 1,
            Outcome::Busy => {
                self.errors += 1;
                self.busy += 1;
            }
            Outcome::Timeout => self.timeouts += 1,
        }
    }

    fn merge(&mut self, other: Measured) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.busy += other.busy;
        self.timeouts += other.timeouts;
        self.latencies_us.extend(other.latencies_us);
        self.dispatch_lag_us.extend(other.dispatch_lag_us);
    }

    fn finish(mut self, window: Duration, probe: ProbeHandle) -> Measured {
        self.window = window;
        if let Ok((before, after)) = probe.join() {
            self.cpu = CpuSplit::between(before, after, self.ok + self.errors + self.timeouts);
        }
        self.latencies_us.sort_unstable();
        self.dispatch_lag_us.sort_unstable();
        self
    }
}

/// The value below which a fraction `p` of the sorted `values` fall.
pub fn percentile(values: &[u32], p: f64) -> u32 {
    if values.is_empty() {
        return 0;
    }
    let index = ((values.len() - 1) as f64 * p).round() as usize;
    values[index.min(values.len() - 1)]
}

fn micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}

/// Opens `count` HTTP/2 connections to `address`.
pub async fn connect(
    address: &str,
    count: usize,
) -> Result<Vec<CentrifugoProxyClient<Channel>>, tonic::transport::Error> {
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        let channel = Endpoint::from_shared(address.to_owned())?
            .tcp_nodelay(true)
            .connect()
            .await?;
        clients.push(CentrifugoProxyClient::new(channel));
    }
    Ok(clients)
}

type ProbeHandle = std::thread::JoinHandle<(cpu::Snapshot, cpu::Snapshot)>;

/// `load.callers` callers, each sending the next call when the last is
/// answered, for the warm-up and then the measured window. `server` is the
/// process whose CPU time is attributed to the server.
pub async fn closed_loop(address: &str, server: u32, call: &Call, load: &Load) -> Measured {
    let clients = connect(address, load.connections)
        .await
        .expect("connecting to the server under test");
    let start = Instant::now();
    let measure_from = start + load.warm_up;
    let end = measure_from + load.duration;
    let probe = cpu::probe(server, None, measure_from, end);
    let mut callers = Vec::with_capacity(load.callers);
    for caller in 0..load.callers {
        let mut client = clients[caller % clients.len()].clone();
        let call = call.clone();
        let deadline = load.deadline;
        callers.push(tokio::spawn(async move {
            let mut seen = Measured::default();
            while Instant::now() < end {
                let sent = Instant::now();
                let outcome = call.send(&mut client, deadline).await;
                let answered = Instant::now();
                if answered >= measure_from && answered < end {
                    seen.add(outcome, answered - sent);
                }
            }
            seen
        }));
    }
    let mut measured = Measured::default();
    for caller in callers {
        measured.merge(caller.await.expect("a caller task"));
    }
    measured.finish(load.duration, probe)
}

/// Calls at a fixed `rate` per second for the warm-up and the window, each
/// call timed from when it was due. The calling thread dispatches; the
/// calls run on `runtime`.
pub fn open_loop(
    runtime: &Runtime,
    address: &str,
    server: u32,
    call: &Call,
    rate: f64,
    load: &Load,
) -> Measured {
    let clients = runtime
        .block_on(connect(address, load.connections))
        .expect("connecting to the server under test");
    let seen = Arc::new(Mutex::new(Measured::default()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let period_ns = (1e9 / rate.max(1.0)) as u64;
    let total = ((load.warm_up + load.duration).as_nanos() / u128::from(period_ns.max(1))) as u64;
    let start = Instant::now() + Duration::from_millis(5);
    let measure_from = start + load.warm_up;
    let end = measure_from + load.duration;
    let probe = cpu::probe(server, None, measure_from, end);
    let mut lags = Vec::new();
    for index in 0..total {
        let due = start + Duration::from_nanos(index * period_ns);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let measured = due >= measure_from && due < end;
        if measured {
            lags.push(micros(Instant::now().saturating_duration_since(due)));
        }
        let mut client = clients[index as usize % clients.len()].clone();
        let call = call.clone();
        let seen = seen.clone();
        let in_flight = in_flight.clone();
        let deadline = load.deadline;
        in_flight.fetch_add(1, Ordering::Relaxed);
        runtime.spawn(async move {
            let outcome = call.send(&mut client, deadline).await;
            if measured {
                let latency = Instant::now().saturating_duration_since(due);
                seen.lock().expect("the record lock").add(outcome, latency);
            }
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
    // Calls still out finish within their deadline; wait no longer than that.
    let give_up = Instant::now() + load.deadline + Duration::from_secs(1);
    while in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut measured = std::mem::take(&mut *seen.lock().expect("the record lock"));
    measured.dispatch_lag_us = lags;
    measured.finish(load.duration, probe)
}

/// What a flood of misbehaving calls got back.
#[derive(Debug, Default, Clone, Copy)]
pub struct Flooded {
    /// Calls answered (error replies included: they are meant to fail).
    pub answered: u64,
    /// Calls refused at the tenant's concurrency limit.
    pub refused: u64,
    /// Calls that got a non-OK gRPC status or no answer.
    pub failed: u64,
}

/// Floods the server at `address` with `requests`, each sent over and
/// over by `callers_each` callers of its own as `tenant`'s calls, until
/// `stop` is set. Returns what each request's callers got back, in the
/// order of `requests`.
pub async fn flood(
    address: String,
    requests: Vec<Arc<rotor::proto::proxy::RpcRequest>>,
    tenant: &'static str,
    callers_each: usize,
    deadline: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<Flooded> {
    let clients = connect(&address, requests.len().max(1))
        .await
        .expect("connecting to the server under test");
    let mut callers = Vec::new();
    for (index, message) in requests.iter().enumerate() {
        for _ in 0..callers_each {
            let mut client = clients[index % clients.len()].clone();
            let message = message.clone();
            let stop = stop.clone();
            callers.push((
                index,
                tokio::spawn(async move {
                    let mut seen = Flooded::default();
                    while !stop.load(Ordering::Relaxed) {
                        match crate::scenario::send_unchecked(
                            &mut client,
                            &message,
                            tenant,
                            deadline,
                        )
                        .await
                        {
                            Flood::Answered => seen.answered += 1,
                            Flood::Refused => seen.refused += 1,
                            Flood::Failed => seen.failed += 1,
                        }
                    }
                    seen
                }),
            ));
        }
    }
    let mut totals = vec![Flooded::default(); requests.len()];
    for (index, caller) in callers {
        let seen = caller.await.expect("a flood caller");
        totals[index].answered += seen.answered;
        totals[index].refused += seen.refused;
        totals[index].failed += seen.failed;
    }
    totals
}
