//! The label sets of Rotor's metric families.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::sync::atomic::AtomicU64;

/// Labels of a plugin.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    /// The plugin (`tenant/name` outside the default tenant).
    pub plugin: String,
}

/// Labels of one step of a call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    /// The plugin that ran it.
    pub plugin: String,
    /// `handler`, or an interceptor's `before` or `after`.
    pub step: &'static str,
}

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

/// Labels of a subscription stream event.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamEventLabels {
    /// The tenant of the stream.
    pub tenant: String,
    /// One of `telemetry::STREAM_EVENTS`.
    pub event: &'static str,
}
