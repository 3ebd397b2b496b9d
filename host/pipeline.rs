//! One call from request to reply: admission under the concurrency limit,
//! routing on a registry snapshot, a fresh sandboxed instance, and the
//! classification of anything a guest does wrong.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use wasmtime::{Store, Trap};

use crate::config::Limits;
use crate::engine::Engine;
use crate::error::{CallError, GuestFault};
use crate::plugin::Plugin;
use crate::registry::{PluginRegistry, kind_of};
use crate::sandbox::{self, CallState};
use crate::wit::types::{Reply, Request};

/// Runs calls against the live plugins.
pub struct Pipeline {
    engine: Arc<Engine>,
    registry: Arc<PluginRegistry>,
    limits: Limits,
    permits: Semaphore,
}

impl Pipeline {
    /// A pipeline over `registry` with `limits`.
    pub fn new(engine: Arc<Engine>, registry: Arc<PluginRegistry>, limits: Limits) -> Pipeline {
        let permits = Semaphore::new(usize::try_from(limits.concurrency).unwrap_or(usize::MAX));
        Pipeline {
            engine,
            registry,
            limits,
            permits,
        }
    }

    /// The registry of live plugins.
    pub fn registry(&self) -> &Arc<PluginRegistry> {
        &self.registry
    }

    /// Answers `request`. `deadline` is when the caller stops waiting
    /// (Centrifugo's proxy timeout); the guest's CPU budget is the smaller of
    /// that and the configured timeout.
    ///
    /// `respond` turns the guest's reply into the caller's response; a reply
    /// it refuses counts as a fault of the plugin.
    pub async fn call<R>(
        &self,
        request: Request,
        deadline: Option<Instant>,
        respond: impl FnOnce(Reply) -> Result<R, GuestFault>,
    ) -> Result<R, CallError> {
        // Over the limit a call fails at once with a temporary error rather
        // than queueing: Centrifugo's client retries, memory stays bounded.
        let _permit = self.permits.try_acquire().map_err(|_| CallError::Busy)?;
        let routes = self.registry.snapshot();
        let plugin = routes.route(&request)?;
        let budget = Instant::now() + self.limits.timeout;
        let deadline = deadline.map_or(budget, |deadline| deadline.min(budget));
        let kind = kind_of(&request);
        let result = self
            .run_handler(plugin, request, deadline)
            .await
            .and_then(|reply| {
                respond(reply).map_err(|fault| CallError::Guest {
                    plugin: plugin.name().to_owned(),
                    fault,
                })
            });
        if let Err(CallError::Guest { plugin, fault }) = &result {
            tracing::warn!(%plugin, %kind, fault = fault.kind(), "plugin failed: {fault}");
        }
        result
    }

    async fn run_handler(&self, plugin: &Plugin, request: Request, deadline: Instant) -> Result<Reply, CallError> {
        let mut store = sandbox::new_store(&self.engine, plugin.guest().clone(), self.limits.memory, deadline);
        plugin
            .handle(&mut store, request)
            .await
            .map_err(|error| CallError::Guest {
                plugin: plugin.name().to_owned(),
                fault: classify(error, &store),
            })
    }
}

/// Names what went wrong in a failed guest call.
fn classify(error: wasmtime::Error, store: &Store<CallState>) -> GuestFault {
    if store.data().hit_memory_limit() {
        return GuestFault::OutOfMemory;
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => GuestFault::Deadline,
        Some(trap) => {
            let stderr = store.data().stderr();
            if stderr.is_empty() {
                GuestFault::Trap(trap.to_string())
            } else {
                GuestFault::Trap(format!("{trap}; guest stderr: {stderr}"))
            }
        }
        None => GuestFault::Instantiate(format!("{error:#}")),
    }
}
