//! Telemetry. Here, Prometheus metrics: calls by request type and outcome,
//! latency, guest faults by plugin and kind, calls in flight, reloads, CPU
//! throttling, served as text by the admin listener at `/metrics`; in
//! `trace`, the W3C trace context of a call.

mod trace;

pub use self::trace::TraceParent;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::contract::kind::RequestKind;
use crate::contract::wit::types::{
    ConnectReply, PublishReply, RefreshReply, Reply, RpcReply, SubRefreshReply, SubscribeReply,
};

/// Latency buckets in seconds: 50 µs to 1 s, Centrifugo's default deadline.
const LATENCY_BUCKETS: [f64; 14] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Labels of a finished call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The tenant; empty when the call mapped to none.
    pub tenant: String,
    /// The request type.
    pub kind: String,
    /// `accept`, `reject`, `disconnect`, `extend`, `expire`, `fault`,
    /// `busy`, `no_route` or `bad_request`.
    pub outcome: String,
}

/// Labels of a request type.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// The tenant; empty when the call mapped to none.
    pub tenant: String,
    /// The request type.
    pub kind: String,
}

/// Labels of a tenant.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    /// The tenant.
    pub tenant: String,
}

/// Labels of a host import call that left the sandbox.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HostCallLabels {
    /// The tenant of the guest that made it.
    pub tenant: String,
    /// `kv` or `centrifugo-api`.
    pub import: &'static str,
    /// The operation: `get`, `increment`, `publish`, `presence`, …
    pub call: &'static str,
    /// `ok`, or the error the guest got: `unavailable`, `invalid`,
    /// `centrifugo`, `timeout`.
    pub outcome: &'static str,
}

/// Labels of a kind of host import call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HostCallKindLabels {
    /// `kv` or `centrifugo-api`.
    pub import: &'static str,
    /// The operation.
    pub call: &'static str,
}

/// Seconds each tenant's guests were paused to keep it within its CPU rate.
pub type CpuThrottled = Family<TenantLabels, Counter<f64, AtomicU64>>;

/// Labels of a guest fault.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FaultLabels {
    /// The plugin that failed.
    pub plugin: String,
    /// `trap`, `deadline`, `out_of_memory`, `invalid_reply`, `instantiate`.
    pub fault: String,
}

/// Labels of a warm-instance event.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WarmLabels {
    /// The plugin (`tenant/name` outside the default tenant).
    pub plugin: String,
    /// `hit`, `miss`, `retired_max_calls`, `retired_max_age`, `retired_full`
    /// or `discarded_<fault>`.
    pub event: String,
}

/// Labels of a reload.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `applied` or `rejected`.
    pub result: String,
}

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
        Metrics {
            registry,
            calls,
            latency,
            faults,
            reloads,
            in_flight,
            warm,
            cpu_throttled,
            host_calls,
            host_call_latency,
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

    /// Counts a finished call.
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
        | Reply::Rpc(RpcReply::Accept(_)) => "accept",
        Reply::Connect(ConnectReply::Reject(_))
        | Reply::Subscribe(SubscribeReply::Reject(_))
        | Reply::Publish(PublishReply::Reject(_))
        | Reply::Rpc(RpcReply::Reject(_)) => "reject",
        Reply::Connect(ConnectReply::Disconnect(_))
        | Reply::Subscribe(SubscribeReply::Disconnect(_))
        | Reply::Publish(PublishReply::Disconnect(_))
        | Reply::Rpc(RpcReply::Disconnect(_)) => "disconnect",
        Reply::Refresh(RefreshReply::Extend(_)) | Reply::SubRefresh(SubRefreshReply::Extend(_)) => {
            "extend"
        }
        Reply::Refresh(RefreshReply::Expire) | Reply::SubRefresh(SubRefreshReply::Expire) => {
            "expire"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_parents_are_parsed_strictly() {
        let headers = |value: &str| vec![("traceparent".to_owned(), value.to_owned())];
        let parsed = TraceParent::from_headers(&headers(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .expect("valid");
        assert_eq!(parsed.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parsed.parent_id, "00f067aa0ba902b7");
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
        ] {
            assert_eq!(TraceParent::from_headers(&headers(bad)), None, "{bad}");
        }
        assert_eq!(TraceParent::from_headers(&[]), None);
    }

    #[test]
    fn encodes_counters_and_histograms() {
        let metrics = Metrics::new();
        metrics.call("default", RequestKind::Rpc, "accept", 0.0002);
        metrics.fault("p.wasm", "trap");
        metrics.reload(false);
        {
            let _call = metrics.in_flight();
            assert!(metrics.encode().contains("rotor_calls_in_flight 1"));
        }
        let text = metrics.encode();
        assert!(
            text.contains(r#"rotor_calls_total{tenant="default",kind="rpc",outcome="accept"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"rotor_guest_faults_total{plugin="p.wasm",fault="trap"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"rotor_reloads_total{result="rejected"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("rotor_call_duration_seconds_bucket"),
            "{text}"
        );
        assert!(text.contains("rotor_calls_in_flight 0"), "{text}");
    }
}
