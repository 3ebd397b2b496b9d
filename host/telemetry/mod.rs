//! Telemetry. Here, Prometheus metrics: calls by request type and outcome,
//! latency per call, per plugin and step, instantiation time, bytes in and
//! out, guest faults by plugin and kind, calls in flight, reloads, CPU
//! throttling, served as text by the admin listener at `/metrics`; every
//! family has its series of the configured tenants and plugins from the
//! start, at zero (see `series`). In `trace`, the W3C trace context of a
//! call and the targets of its spans; in `otlp`, their export to an
//! OpenTelemetry collector.

mod labels;
pub mod otlp;
mod trace;

pub use self::labels::*;
pub use self::trace::{CALL_TARGET, STEP_TARGET, TraceParent, wanted};

use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::contract::kind::RequestKind;
use crate::contract::wit::types::{
    ConnectReply, MapPublishReply, MapRemoveReply, NotifyChannelStateReply, PublishReply,
    RefreshReply, Reply, RpcReply, SharedPollRefreshReply, SubRefreshReply, SubscribeReply,
};

/// Latency buckets in seconds: 50 µs to 1 s, Centrifugo's default deadline.
const LATENCY_BUCKETS: [f64; 14] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Message size buckets in bytes: 64 B to 1 MiB, the default `max_request`.
const BYTE_BUCKETS: [f64; 9] = [
    64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 524288.0, 1048576.0,
];

/// Every metric Rotor keeps.
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    latency: Family<KindLabels, Histogram>,
    faults: Family<FaultLabels, Counter>,
    reloads: Family<ReloadLabels, Counter>,
    in_flight: Gauge<i64, AtomicI64>,
    warm: Family<WarmLabels, Counter>,
    cpu_throttled: CpuThrottled,
    host_calls: Family<HostCallLabels, Counter>,
    host_call_latency: Family<HostCallKindLabels, Histogram>,
    /// Each tenant's call counters, resolved once (see [`TenantCalls`]).
    tenant_calls: Mutex<HashMap<String, Arc<TenantCalls>>>,
    instantiate: Family<PluginLabels, Histogram>,
    steps: Family<StepLabels, Histogram>,
    request_bytes: Family<KindLabels, Histogram>,
    reply_bytes: Family<KindLabels, Histogram>,
    streams_open: Family<TenantLabels, Gauge<i64, AtomicI64>>,
    stream_events: Family<StreamEventLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("rotor");
        let calls = Family::<CallLabels, Counter>::default();
        let latency = Family::<KindLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS)
        });
        let faults = Family::<FaultLabels, Counter>::default();
        let reloads = Family::<ReloadLabels, Counter>::default();
        let in_flight = Gauge::<i64, AtomicI64>::default();
        let warm = Family::<WarmLabels, Counter>::default();
        let cpu_throttled = CpuThrottled::default();
        let host_calls = Family::<HostCallLabels, Counter>::default();
        let host_call_latency =
            Family::<HostCallKindLabels, Histogram>::new_with_constructor(|| {
                Histogram::new(LATENCY_BUCKETS)
            });
        registry.register(
            "calls",
            "Proxy calls answered, by tenant, request type and outcome",
            calls.clone(),
        );
        registry.register(
            "call_duration_seconds",
            "Time to answer a proxy call",
            latency.clone(),
        );
        registry.register(
            "guest_faults",
            "Guest faults by plugin and kind",
            faults.clone(),
        );
        registry.register(
            "reloads",
            "Plugin and config reloads by result",
            reloads.clone(),
        );
        registry.register(
            "calls_in_flight",
            "Proxy calls being answered now",
            in_flight.clone(),
        );
        registry.register(
            "warm_instances",
            "Warm-instance events of plugins in reuse mode: hits, misses, retirements, discards",
            warm.clone(),
        );
        registry.register(
            "cpu_throttled_seconds",
            "Time guests were paused to keep their tenant within its CPU share, by tenant",
            cpu_throttled.clone(),
        );
        registry.register(
            "host_calls",
            "Calls guests made through the kv and centrifugo-api imports, by tenant, operation and outcome",
            host_calls.clone(),
        );
        registry.register(
            "host_call_duration_seconds",
            "Time the kv store or Centrifugo's API took to answer a guest's call",
            host_call_latency.clone(),
        );
        let latency_histogram = || Histogram::new(LATENCY_BUCKETS);
        let bytes_histogram = || Histogram::new(BYTE_BUCKETS);
        let instantiate =
            Family::<PluginLabels, Histogram>::new_with_constructor(latency_histogram);
        let steps = Family::<StepLabels, Histogram>::new_with_constructor(latency_histogram);
        let request_bytes = Family::<KindLabels, Histogram>::new_with_constructor(bytes_histogram);
        let reply_bytes = Family::<KindLabels, Histogram>::new_with_constructor(bytes_histogram);
        registry.register(
            "instantiate_duration_seconds",
            "Time to make a new instance of a plugin for a call (warm reuse skips it), by plugin",
            instantiate.clone(),
        );
        registry.register(
            "step_duration_seconds",
            "Time one step of a call took, instantiation included, by plugin and step \
             (handler, before, after)",
            steps.clone(),
        );
        registry.register(
            "request_bytes",
            "Encoded size of each proxy request, by tenant and request type",
            request_bytes.clone(),
        );
        registry.register(
            "reply_bytes",
            "Encoded size of each proxy reply, by tenant and request type",
            reply_bytes.clone(),
        );
        registry.register(
            "trace_spans_dropped",
            "Spans not exported to the OTLP collector: its queue was full, or the collector \
             did not take them",
            otlp::SPANS_DROPPED.clone(),
        );
        let streams_open = Family::<TenantLabels, Gauge<i64, AtomicI64>>::default();
        let stream_events = Family::<StreamEventLabels, Counter>::default();
        registry.register(
            "streams_open",
            "Subscription streams open now, by tenant",
            streams_open.clone(),
        );
        registry.register(
            "stream_events",
            "Subscription stream events by tenant: opened, refused, published, and how \
             streams ended (closed_by_guest, client_left, fault, idle, reload, shutdown)",
            stream_events.clone(),
        );
        Metrics {
            registry,
            streams_open,
            stream_events,
            calls,
            latency,
            faults,
            reloads,
            in_flight,
            warm,
            cpu_throttled,
            host_calls,
            host_call_latency,
            tenant_calls: Mutex::new(HashMap::new()),
            instantiate,
            steps,
            request_bytes,
            reply_bytes,
        }
    }

    /// Records the encoded sizes of a call's request and, if one went back,
    /// its reply. Looks its labels up: calls of a known tenant record their
    /// sizes through [`TenantCalls`] instead.
    pub fn bytes(&self, tenant: &str, kind: RequestKind, request: u64, reply: Option<u64>) {
        let labels = KindLabels {
            tenant: tenant.to_owned(),
            kind: kind.name().to_owned(),
        };
        // Sizes are far below 2^52 bytes, so the conversion is exact.
        self.request_bytes
            .get_or_create(&labels)
            .observe(bytes_f64(request));
        if let Some(reply) = reply {
            self.reply_bytes
                .get_or_create(&labels)
                .observe(bytes_f64(reply));
        }
    }

    /// Makes the series of a call of `tenant` of `kind` exist, at zero.
    pub(crate) fn zero_call(&self, tenant: &str, kind: RequestKind, outcomes: &[&str]) {
        let labels = KindLabels {
            tenant: tenant.to_owned(),
            kind: kind.name().to_owned(),
        };
        for outcome in outcomes {
            let _ = self.calls.get_or_create(&CallLabels {
                tenant: tenant.to_owned(),
                kind: labels.kind.clone(),
                outcome: (*outcome).to_owned(),
            });
        }
        let _ = self.latency.get_or_create(&labels);
        let _ = self.request_bytes.get_or_create(&labels);
        let _ = self.reply_bytes.get_or_create(&labels);
    }

    /// Makes the series of `plugin`'s `steps`, faults and instantiations
    /// exist, at zero; with its warm-instance events if it is `reused`.
    pub(crate) fn zero_plugin(&self, plugin: &str, steps: &[&'static str], reused: bool) {
        let labels = PluginLabels {
            plugin: plugin.to_owned(),
        };
        let _ = self.instantiate.get_or_create(&labels);
        for step in steps {
            let _ = self.steps.get_or_create(&StepLabels {
                plugin: plugin.to_owned(),
                step,
            });
        }
        for fault in crate::error::GuestFault::KINDS {
            let _ = self.faults.get_or_create(&FaultLabels {
                plugin: plugin.to_owned(),
                fault: fault.to_owned(),
            });
        }
        if reused {
            for event in ["hit", "miss"] {
                let _ = self.warm.get_or_create(&WarmLabels {
                    plugin: plugin.to_owned(),
                    event: event.to_owned(),
                });
            }
        }
    }

    /// Makes the series of `tenant`'s calls through `import` exist, at zero.
    pub(crate) fn zero_host_calls(
        &self,
        tenant: &str,
        import: &'static str,
        calls: &[&'static str],
    ) {
        for &call in calls {
            let _ = self.host_calls.get_or_create(&HostCallLabels {
                tenant: tenant.to_owned(),
                import,
                call,
                outcome: "ok",
            });
            let _ = self
                .host_call_latency
                .get_or_create(&HostCallKindLabels { import, call });
        }
    }

    /// Makes both reload results exist, at zero.
    pub(crate) fn zero_reloads(&self) {
        for result in ["applied", "rejected"] {
            let _ = self.reloads.get_or_create(&ReloadLabels {
                result: result.into(),
            });
        }
    }

    /// The call counters of `tenant`: the same handle for every caller, so
    /// a tenant's routes resolve it once and count calls without looking
    /// labels up.
    pub fn tenant_calls(&self, tenant: &str) -> Arc<TenantCalls> {
        let mut known = self
            .tenant_calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(calls) = known.get(tenant) {
            return calls.clone();
        }
        let calls = Arc::new(TenantCalls {
            tenant: tenant.to_owned(),
            calls: self.calls.clone(),
            latency: self.latency.clone(),
            request_bytes: self.request_bytes.clone(),
            reply_bytes: self.reply_bytes.clone(),
            counters: std::array::from_fn(|_| std::array::from_fn(|_| OnceLock::new())),
            histograms: std::array::from_fn(|_| OnceLock::new()),
            request_sizes: std::array::from_fn(|_| OnceLock::new()),
            reply_sizes: std::array::from_fn(|_| OnceLock::new()),
        });
        known.insert(tenant.to_owned(), calls.clone());
        calls
    }

    /// The step and instantiation histograms of `plugin` (see
    /// [`PluginMetrics`]): what each route to it resolves once.
    pub fn plugin_metrics(&self, plugin: &str) -> PluginMetrics {
        PluginMetrics {
            plugin: plugin.to_owned(),
            steps: self.steps.clone(),
            instantiate: self.instantiate.clone(),
            step_histograms: std::array::from_fn(|_| OnceLock::new()),
            instantiated: OnceLock::new(),
        }
    }

    /// The warm-instance counters of `plugin` (see [`WarmCounters`]).
    pub fn warm_counters(&self, plugin: &str) -> WarmCounters {
        let counter = |event: &str| {
            self.warm
                .get_or_create(&WarmLabels {
                    plugin: plugin.to_owned(),
                    event: event.to_owned(),
                })
                .clone()
        };
        WarmCounters {
            hit: counter("hit"),
            miss: counter("miss"),
            waited: counter("waited"),
        }
    }

    /// Starts timing a call of `tenant`'s guest through `import`.
    pub fn host_call(
        self: &Arc<Metrics>,
        tenant: &str,
        import: &'static str,
        call: &'static str,
    ) -> HostCall {
        HostCall {
            metrics: self.clone(),
            tenant: tenant.to_owned(),
            import,
            call,
            started: Instant::now(),
        }
    }

    /// The throttling counters, which the tenants' CPU meters add to.
    pub fn cpu_throttled(&self) -> CpuThrottled {
        self.cpu_throttled.clone()
    }

    /// Counts a warm-instance event of `plugin`.
    pub fn warm(&self, plugin: &str, event: &str) {
        self.warm
            .get_or_create(&WarmLabels {
                plugin: plugin.to_owned(),
                event: event.to_owned(),
            })
            .inc();
    }

    /// Counts a finished call. Looks its labels up: calls of a known tenant
    /// count through [`TenantCalls`] instead.
    pub fn call(&self, tenant: &str, kind: RequestKind, outcome: &str, seconds: f64) {
        self.calls
            .get_or_create(&CallLabels {
                tenant: tenant.to_owned(),
                kind: kind.name().to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&KindLabels {
                tenant: tenant.to_owned(),
                kind: kind.name().to_owned(),
            })
            .observe(seconds);
    }

    /// Counts a guest fault.
    pub fn fault(&self, plugin: &str, fault: &str) {
        self.faults
            .get_or_create(&FaultLabels {
                plugin: plugin.to_owned(),
                fault: fault.to_owned(),
            })
            .inc();
    }

    /// Counts a reload.
    pub fn reload(&self, applied: bool) {
        let result = if applied { "applied" } else { "rejected" };
        self.reloads
            .get_or_create(&ReloadLabels {
                result: result.into(),
            })
            .inc();
    }

    /// Counts one open stream of `tenant` until the guard drops.
    pub fn stream_open(&self, tenant: &str) -> OpenStream {
        let gauge = self
            .streams_open
            .get_or_create(&TenantLabels {
                tenant: tenant.to_owned(),
            })
            .clone();
        gauge.inc();
        OpenStream(gauge)
    }

    /// Counts a stream event of `tenant` (see [`STREAM_EVENTS`]), `count` times.
    pub fn stream_event(&self, tenant: &str, event: &'static str, count: u64) {
        self.stream_events
            .get_or_create(&StreamEventLabels {
                tenant: tenant.to_owned(),
                event,
            })
            .inc_by(count);
    }

    /// Makes the stream series of `tenant` exist, at zero.
    pub(crate) fn zero_streams(&self, tenant: &str) {
        let _ = self.streams_open.get_or_create(&TenantLabels {
            tenant: tenant.to_owned(),
        });
        for event in STREAM_EVENTS {
            let _ = self.stream_events.get_or_create(&StreamEventLabels {
                tenant: tenant.to_owned(),
                event,
            });
        }
    }

    /// Tracks a call in flight until the guard drops.
    pub fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// The metrics in Prometheus' text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// The outcomes a call is counted under (`outcome` of `rotor_calls`).
pub const OUTCOMES: [&str; 11] = [
    "accept",
    "reject",
    "disconnect",
    "extend",
    "expire",
    "fault",
    "busy",
    "no_route",
    "no_tenant",
    "too_large",
    "bad_request",
];

/// A size in bytes as a histogram sample: sizes are far below 2^52 bytes,
/// so the conversion is exact.
#[allow(clippy::cast_precision_loss, reason = "sizes are far below 2^52")]
fn bytes_f64(bytes: u64) -> f64 {
    bytes as f64
}

/// One tenant's call counters, latency and size histograms. Each is taken
/// from its labelled family the first time a call needs it and kept, so
/// that counting a call neither builds labels nor hashes them. Only the
/// combinations that occur appear in `/metrics`, as with the families.
pub struct TenantCalls {
    tenant: String,
    calls: Family<CallLabels, Counter>,
    latency: Family<KindLabels, Histogram>,
    request_bytes: Family<KindLabels, Histogram>,
    reply_bytes: Family<KindLabels, Histogram>,
    counters: [[OnceLock<Counter>; OUTCOMES.len()]; RequestKind::ALL.len()],
    histograms: [OnceLock<Histogram>; RequestKind::ALL.len()],
    request_sizes: [OnceLock<Histogram>; RequestKind::ALL.len()],
    reply_sizes: [OnceLock<Histogram>; RequestKind::ALL.len()],
}

impl std::fmt::Debug for TenantCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantCalls")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl TenantCalls {
    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Counts a finished call of this tenant. An `outcome` outside
    /// [`OUTCOMES`] is counted through the family, by its labels.
    pub fn count(&self, kind: RequestKind, outcome: &str, seconds: f64) {
        let k = kind_index(kind);
        let labels = || CallLabels {
            tenant: self.tenant.clone(),
            kind: kind.name().to_owned(),
            outcome: outcome.to_owned(),
        };
        match OUTCOMES.iter().position(|known| *known == outcome) {
            Some(o) => self.counters[k][o]
                .get_or_init(|| self.calls.get_or_create(&labels()).clone())
                .inc(),
            None => self.calls.get_or_create(&labels()).inc(),
        };
        self.histograms[k]
            .get_or_init(|| self.by_kind(&self.latency, kind))
            .observe(seconds);
    }

    /// Records the encoded sizes of a call's request and, if one went
    /// back, its reply.
    pub fn bytes(&self, kind: RequestKind, request: u64, reply: Option<u64>) {
        let k = kind_index(kind);
        self.request_sizes[k]
            .get_or_init(|| self.by_kind(&self.request_bytes, kind))
            .observe(bytes_f64(request));
        if let Some(reply) = reply {
            self.reply_sizes[k]
                .get_or_init(|| self.by_kind(&self.reply_bytes, kind))
                .observe(bytes_f64(reply));
        }
    }

    /// The histogram of this tenant's calls of `kind` in `family`.
    fn by_kind(&self, family: &Family<KindLabels, Histogram>, kind: RequestKind) -> Histogram {
        family
            .get_or_create(&KindLabels {
                tenant: self.tenant.clone(),
                kind: kind.name().to_owned(),
            })
            .clone()
    }
}

/// The steps of a call a plugin's time is recorded under (`step` of
/// `rotor_step_duration_seconds`).
pub const STEPS: [&str; 3] = ["handler", "before", "after"];

/// One plugin's step and instantiation histograms, as a route to it
/// records them. Like [`TenantCalls`], each is taken from its family the
/// first time it is needed and kept: timing a step builds no label and
/// hashes nothing, and only the series that occur (or that were made at
/// zero) appear in `/metrics`.
pub struct PluginMetrics {
    plugin: String,
    steps: Family<StepLabels, Histogram>,
    instantiate: Family<PluginLabels, Histogram>,
    step_histograms: [OnceLock<Histogram>; STEPS.len()],
    instantiated: OnceLock<Histogram>,
}

impl std::fmt::Debug for PluginMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginMetrics")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl PluginMetrics {
    /// Records how long a `step` of the plugin took. A `step` outside
    /// [`STEPS`] is recorded through the family, by its labels.
    pub fn step(&self, step: &'static str, seconds: f64) {
        let labels = || StepLabels {
            plugin: self.plugin.clone(),
            step,
        };
        match STEPS.iter().position(|known| *known == step) {
            Some(s) => self.step_histograms[s]
                .get_or_init(|| self.steps.get_or_create(&labels()).clone())
                .observe(seconds),
            None => self.steps.get_or_create(&labels()).observe(seconds),
        }
    }

    /// Records how long making a new instance of the plugin took.
    pub fn instantiated(&self, seconds: f64) {
        self.instantiated
            .get_or_init(|| {
                self.instantiate
                    .get_or_create(&PluginLabels {
                        plugin: self.plugin.clone(),
                    })
                    .clone()
            })
            .observe(seconds);
    }
}

fn kind_index(kind: RequestKind) -> usize {
    RequestKind::ALL
        .iter()
        .position(|known| *known == kind)
        .unwrap_or(0)
}

/// The warm-instance counters of one plugin that move on every call,
/// resolved once per pool: hits, misses, and calls that waited for an
/// instance. Rarer events (retirements, discards) go through
/// [`Metrics::warm`].
#[derive(Debug, Clone)]
pub struct WarmCounters {
    /// A call found an idle instance.
    pub hit: Counter,
    /// A call found none and built one.
    pub miss: Counter,
    /// A call waited for an instance to come back or to be built.
    pub waited: Counter,
}

/// A host import call being timed: see [`Metrics::host_call`].
#[derive(Debug)]
pub struct HostCall {
    metrics: Arc<Metrics>,
    tenant: String,
    import: &'static str,
    call: &'static str,
    started: Instant,
}

impl HostCall {
    /// Counts the call with its `outcome` and records how long it took.
    pub fn finish(self, outcome: &'static str) {
        let HostCall {
            metrics,
            tenant,
            import,
            call,
            started,
        } = self;
        metrics
            .host_call_latency
            .get_or_create(&HostCallKindLabels { import, call })
            .observe(started.elapsed().as_secs_f64());
        metrics
            .host_calls
            .get_or_create(&HostCallLabels {
                tenant,
                import,
                call,
                outcome,
            })
            .inc();
    }
}

/// The events of `rotor_stream_events_total`.
pub const STREAM_EVENTS: [&str; 9] = [
    "opened",
    "refused",
    "published",
    "closed_by_guest",
    "client_left",
    "fault",
    "idle",
    "reload",
    "shutdown",
];

/// Decrements a tenant's open-stream gauge when dropped.
#[derive(Debug)]
pub struct OpenStream(Gauge<i64, AtomicI64>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Decrements the in-flight gauge when dropped.
pub struct InFlight<'a>(&'a Gauge<i64, AtomicI64>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The outcome label of a reply.
pub fn outcome(reply: &Reply) -> &'static str {
    match reply {
        Reply::Connect(ConnectReply::Accept(_))
        | Reply::Subscribe(SubscribeReply::Accept(_))
        | Reply::Publish(PublishReply::Accept(_))
        | Reply::Rpc(RpcReply::Accept(_))
        | Reply::MapPublish(MapPublishReply::Accept(_))
        | Reply::MapRemove(MapRemoveReply::Accept(_))
        | Reply::SharedPollRefresh(SharedPollRefreshReply::Accept(_))
        | Reply::NotifyChannelState(NotifyChannelStateReply::Accept) => "accept",
        Reply::NotifyCacheEmpty(reply) if reply.populated => "accept",
        Reply::NotifyCacheEmpty(_) => "reject",
        Reply::Connect(ConnectReply::Reject(_))
        | Reply::Subscribe(SubscribeReply::Reject(_))
        | Reply::Publish(PublishReply::Reject(_))
        | Reply::Rpc(RpcReply::Reject(_))
        | Reply::MapPublish(MapPublishReply::Reject(_))
        | Reply::MapRemove(MapRemoveReply::Reject(_))
        | Reply::SharedPollRefresh(SharedPollRefreshReply::Reject(_))
        | Reply::NotifyChannelState(NotifyChannelStateReply::Reject(_)) => "reject",
        Reply::Connect(ConnectReply::Disconnect(_))
        | Reply::Subscribe(SubscribeReply::Disconnect(_))
        | Reply::Publish(PublishReply::Disconnect(_))
        | Reply::Rpc(RpcReply::Disconnect(_))
        | Reply::MapPublish(MapPublishReply::Disconnect(_))
        | Reply::MapRemove(MapRemoveReply::Disconnect(_)) => "disconnect",
        Reply::Refresh(RefreshReply::Extend(_)) | Reply::SubRefresh(SubRefreshReply::Extend(_)) => {
            "extend"
        }
        Reply::Refresh(RefreshReply::Expire) | Reply::SubRefresh(SubRefreshReply::Expire) => {
            "expire"
        }
    }
}

#[cfg(test)]
mod tests;
