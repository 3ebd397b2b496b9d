//! What `/admin/tenants` shows of a tenant: its limits and routes.

use super::*;

/// A tenant as operators see it (`/admin/tenants`, `rotor check --config`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantSummary {
    /// Its name.
    pub name: String,
    /// The host imports it is granted.
    pub grants: String,
    /// Its limits.
    pub limits: LimitsSummary,
    /// Its calls being answered now.
    pub in_flight: usize,
    /// Its handlers by request type.
    pub handlers: BTreeMap<String, HandlerSummary>,
    /// Its interceptor chains by request type, outermost first.
    pub chains: BTreeMap<String, Vec<RouteSummary>>,
}

/// A tenant's limits, in plain units.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LimitsSummary {
    /// Bytes of linear memory per instance.
    pub memory: u64,
    /// CPU deadline per step, in milliseconds.
    pub timeout_ms: u64,
    /// Calls at once.
    pub concurrency: u32,
    /// Fuel per step, if metered.
    pub fuel: Option<u64>,
    /// Cores the tenant's guests may use, if limited (otherwise a fair
    /// share).
    pub cpu_cores: Option<f64>,
    /// Largest request, in bytes.
    pub max_request: u64,
    /// Largest reply, in bytes.
    pub max_reply: u64,
    /// What its `kv` entries may cost in all, in bytes.
    pub kv_bytes: u64,
    /// `kv` operations per guest call.
    pub kv_ops: u32,
    /// Server API calls per guest call.
    pub api_calls: u32,
}

/// The handlers of one request type.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HandlerSummary {
    /// The default handler.
    pub default: Option<RouteSummary>,
    /// Handlers by namespace or method.
    pub refined: BTreeMap<String, RouteSummary>,
}

/// One plugin on a route.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RouteSummary {
    /// The plugin's key.
    pub plugin: String,
    /// The live version's SHA-256.
    pub sha256: String,
    /// `fresh` or `reuse`.
    pub mode: &'static str,
    /// For interceptors: whether the call goes on when it fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_open: Option<bool>,
}
