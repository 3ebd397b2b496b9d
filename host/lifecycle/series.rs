//! The metric series a configuration will produce, made to exist at zero
//! when its routes go live (at start and after each reload): a dashboard
//! and an alert see every tenant, request type and plugin from the first
//! scrape, and `rate()` counts a series' first increment.

use crate::contract::kind::RequestKind;
use crate::routing::registry::Routes;
use crate::telemetry::Metrics;

/// Outcomes of a call of a kind that is not a refresh.
const OUTCOMES: [&str; 5] = ["accept", "reject", "disconnect", "fault", "busy"];
/// Outcomes of a refresh or sub-refresh call.
const REFRESH_OUTCOMES: [&str; 4] = ["extend", "expire", "fault", "busy"];

/// Makes the series of every tenant, routed request type and plugin of
/// `routes` exist in `metrics`. Series that exist keep their values.
pub fn zero(metrics: &Metrics, routes: &Routes) {
    metrics.zero_reloads();
    for tenant in routes.tenants() {
        let name = tenant.name();
        for kind in RequestKind::ALL {
            let handlers: Vec<_> = tenant.handler_targets(kind).collect();
            let chain = tenant.chain(kind);
            if handlers.is_empty() && chain.is_empty() {
                continue;
            }
            let outcomes: &[&str] = if kind.is_refresh() {
                &REFRESH_OUTCOMES
            } else {
                &OUTCOMES
            };
            metrics.zero_call(name, kind, outcomes);
            if kind.is_stream() {
                metrics.zero_streams(name);
            }
            for target in handlers {
                metrics.zero_plugin(&target.guest.plugin, &["handler"], target.warm.is_some());
            }
            for step in chain {
                let target = &step.target;
                metrics.zero_plugin(
                    &target.guest.plugin,
                    &["before", "after"],
                    target.warm.is_some(),
                );
            }
        }
        let grants = tenant.grants();
        if grants.kv {
            metrics.zero_host_calls(name, "kv", &crate::imports::kv::OPERATIONS);
        }
        if grants.centrifugo_api && tenant.has_api() {
            metrics.zero_host_calls(
                name,
                "centrifugo-api",
                &crate::backends::centrifugo_client::METHODS,
            );
        }
    }
}
