//! Canary calls: before a reloaded plugin goes live, it answers a sample
//! request of each kind it handles, as configured under `[canary]`, in a
//! sandbox of its own. A trap, a deadline or an invalid reply keeps the old
//! version serving.
//!
//! Canaries run as tenant `canary`, without Centrifugo's API, and with a
//! `kv` store of their own that lives for one canary run: they cause no
//! side effects, a canary never sees what another tenant's canary (or an
//! earlier run) wrote, and nothing they write is left behind.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

use crate::backends::kv::KvStore;
use crate::config::{CANARY_INSTANCES, Config, MAX_TIMEOUT};
use crate::contract::convert::{check_reply, request_from_json};
use crate::pipeline::classify;
use crate::policy::CANARY_TENANT;
use crate::routing::registry::Routes;
use crate::runtime::engine::Engine;
use crate::runtime::store::{self, Guest, Services};

/// Runs the configured canaries of `plugin` against its version in `routes`.
pub async fn run(
    engine: &Engine,
    services: &Services,
    config: &Config,
    routes: &Routes,
    plugin: &str,
) -> Result<(), String> {
    // Empty, this run's only, and dropped when the run ends.
    let kv = Arc::new(KvStore::memory());
    for (&kind, json) in &config.canary {
        let Some((limits, target)) = routes
            .tenants()
            .flat_map(|tenant| {
                tenant
                    .handler_targets(kind)
                    .map(move |target| (tenant.limits(), target))
            })
            .find(|(_, target)| target.plugin.name() == plugin)
        else {
            continue;
        };
        let (request, context) =
            request_from_json(kind, json).map_err(|error| format!("canary {kind}: {error}"))?;
        let guest = Arc::new(Guest {
            plugin: plugin.to_owned(),
            tenant: CANARY_TENANT.to_owned(),
            settings: target.guest.settings.clone(),
            services: Services {
                kv: kv.clone(),
                api: None,
                cpu: services.cpu.clone(),
                metrics: services.metrics.clone(),
            },
            cpu: target.guest.cpu.clone(),
            // Canaries run one at a time, outside every tenant's share:
            // the pool holds a slot for them.
            instances: Arc::new(Semaphore::new(CANARY_INSTANCES as usize)),
            log_rate: target.guest.log_rate.clone(),
        });
        let deadline = Instant::now() + limits.timeout.min(MAX_TIMEOUT);
        let mut store = store::new_store(
            engine.wasmtime(),
            engine.meters_fuel(),
            guest,
            limits,
            deadline,
        )
        .map_err(|fault| format!("canary {kind} call failed: {fault}"))?;
        let reply = match target.plugin.handle(&mut store, request).await {
            Ok(reply) => reply,
            Err(error) => {
                return Err(format!(
                    "canary {kind} call failed: {}",
                    classify(error, &store)
                ));
            }
        };
        check_reply(kind, reply, &context)
            .map_err(|fault| format!("canary {kind} call failed: {fault}"))?;
        tracing::info!(%plugin, %kind, "canary call passed");
    }
    Ok(())
}
