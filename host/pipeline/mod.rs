//! One call from request to reply: admission under the concurrency limit,
//! the interceptor chain and the handler on one registry snapshot, a fresh
//! sandboxed instance per step, and the classification of anything a guest
//! does wrong.
//!
//! Chain semantics (first configured = outermost):
//! - each interceptor's `before` sees the call and may pass it on, rewrite
//!   it, answer it, reject it or disconnect; anything but pass/rewrite stops
//!   the chain: later interceptors and the handler do not run;
//! - the `after` hooks of the interceptors that passed the call on run with
//!   the reply, innermost first, and may replace it;
//! - a publish accepted without data publishes the data the chain last
//!   decided on: an interceptor's rewrite of the request, or the data of
//!   the reply an after hook replaced; the client's only if neither;
//! - an interceptor that fails (trap, deadline, wrong reply type) fails the
//!   call like a failing handler, unless it is `fail_open`: then it is
//!   skipped (its `after` does not run) and the call goes on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tracing::Instrument as _;
use wasmtime::{Store, Trap};

use crate::config::{Limits, MAX_TIMEOUT};
use crate::contract::convert;
use crate::contract::kind::RequestKind;
use crate::contract::wit::interceptor::{CallContext, Decision};
use crate::contract::wit::types::{RefreshReply, Reply, Request, SubRefreshReply};
use crate::error::{CallError, GuestFault, RefreshFailure};
use crate::routing::registry::{PluginRegistry, Step, Target, TenantRoutes, kind_of};
use crate::runtime::engine::Engine;
use crate::runtime::guest_log::escape_control;
use crate::runtime::plugin::{InterceptorInstance, Live};
use crate::runtime::store::{self, CallState};
use crate::runtime::warm::{Acquired, Retired, Warm, WarmState};
use crate::telemetry::otlp;
use crate::telemetry::{Metrics, PluginMetrics, STEP_TARGET, TenantCalls, wanted};

mod replies;

use self::replies::{Refusal, refusal, reply_decided, reply_kind, request_decided, settle};

/// Runs calls against the live plugins.
pub struct Pipeline {
    engine: Arc<Engine>,
    registry: Arc<PluginRegistry>,
    next_call_id: AtomicU64,
    metrics: Arc<Metrics>,
}

/// What the transport knows of a call besides its request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    /// The request's encoded size in bytes.
    pub size: u64,
    /// The tenant of the listener it arrived on, if that listener has one.
    pub listener: Option<&'a str>,
    /// When the caller stops waiting (Centrifugo's proxy timeout).
    pub deadline: Option<Instant>,
}

impl Pipeline {
    /// A pipeline over `registry`.
    pub fn new(
        engine: Arc<Engine>,
        registry: Arc<PluginRegistry>,
        metrics: Arc<Metrics>,
    ) -> Pipeline {
        Pipeline {
            engine,
            registry,
            next_call_id: AtomicU64::new(1),
            metrics,
        }
    }

    /// The engine guests run in.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The metrics calls are counted in.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The registry of live plugins.
    pub fn registry(&self) -> &Arc<PluginRegistry> {
        &self.registry
    }

    /// Answers `request` as its tenant's routes say. Each step's CPU budget
    /// is the smaller of what is left until `origin.deadline` and the
    /// tenant's timeout.
    ///
    /// `respond` turns the final reply into the caller's response, within
    /// the tenant's limits; a reply it refuses counts as a fault of the
    /// plugin that produced it. Before it, a reply is checked against the
    /// tenant's `max_reply` (the bytes the guest sent, before anything is
    /// built from them) and the channels it may grant. A refresh that fails
    /// (busy, or a plugin fault) of a tenant whose `on_refresh_failure` is
    /// `expire` is answered with `respond` once more, with an expiry.
    /// Returns where the call's tenant counts its calls (`None` if it
    /// mapped to no tenant) beside the result.
    pub async fn call<R>(
        &self,
        request: Request,
        origin: Origin<'_>,
        respond: impl FnMut(Reply, &Limits) -> Result<R, GuestFault>,
    ) -> (Option<Arc<TenantCalls>>, Result<R, CallError>) {
        let routes = self.registry.snapshot();
        let tenant = match routes.tenant_of(&request, origin.listener) {
            Ok(tenant) => tenant,
            Err(error) => return (None, Err(error)),
        };
        let result = self.call_tenant(tenant, request, origin, respond).await;
        (Some(tenant.calls().clone()), result)
    }

    async fn call_tenant<R>(
        &self,
        tenant: &TenantRoutes,
        request: Request,
        origin: Origin<'_>,
        mut respond: impl FnMut(Reply, &Limits) -> Result<R, GuestFault>,
    ) -> Result<R, CallError> {
        tracing::Span::current().record("tenant", tenant.name());
        let limits = tenant.limits();
        if origin.size > limits.max_request {
            return Err(CallError::TooLarge {
                size: origin.size,
                limit: limits.max_request,
            });
        }
        let kind = kind_of(&request);
        let result = match tenant.admit() {
            Ok(permit) => {
                let call = Call {
                    pipeline: self,
                    kind,
                    limits,
                    deadline: origin.deadline,
                    tenant: tenant.name(),
                    context: OnceLock::new(),
                };
                let result = call
                    .run(tenant.chain(kind), tenant, request, |reply| {
                        // Measured before anything is built from the reply.
                        let bytes = convert::reply_bytes(&reply);
                        if bytes > limits.max_reply {
                            return Err(GuestFault::InvalidReply(format!(
                                "the reply carries {bytes} bytes, over the tenant's limit of {} bytes",
                                limits.max_reply
                            )));
                        }
                        tenant.grant_scope().check_reply(&reply)?;
                        respond(reply, limits)
                    })
                    .await;
                drop(permit);
                result
            }
            Err(busy) => Err(busy),
        };
        if let Err(CallError::Guest { plugin, fault }) = &result {
            // A fault's text may carry what the guest sent or wrote.
            let text = fault.to_string();
            let text = escape_control(&text);
            tracing::warn!(tenant = tenant.name(), %plugin, %kind, fault = fault.kind(), "plugin failed: {text}");
            self.metrics.fault(plugin, fault.kind());
        }
        match (result, expired(kind)) {
            (Err(CallError::Busy | CallError::Guest { .. }), Some(expired))
                if tenant.on_refresh_failure() == RefreshFailure::Expire =>
            {
                tracing::debug!(
                    tenant = tenant.name(),
                    %kind,
                    "the refresh failed: it expires, as the tenant's on_refresh_failure says"
                );
                respond(expired, limits).map_err(|fault| CallError::Guest {
                    plugin: "(expiry)".into(),
                    fault,
                })
            }
            (result, _) => result,
        }
    }
}

/// The reply that ends a connection or subscription, for refresh kinds.
pub(crate) fn expired(kind: RequestKind) -> Option<Reply> {
    match kind {
        RequestKind::Refresh => Some(Reply::Refresh(RefreshReply::Expire)),
        RequestKind::SubRefresh => Some(Reply::SubRefresh(SubRefreshReply::Expire)),
        _ => None,
    }
}

/// One call in progress.
struct Call<'a> {
    pipeline: &'a Pipeline,
    kind: RequestKind,
    limits: &'a Limits,
    deadline: Option<Instant>,
    tenant: &'a str,
    /// What interceptors see of the call, made when the first one runs: a
    /// call without interceptors needs no copy of its tenant's name, nor
    /// an id.
    context: OnceLock<CallContext>,
}

impl Call<'_> {
    /// What the call's interceptors see of it.
    fn context(&self) -> &CallContext {
        self.context.get_or_init(|| CallContext {
            tenant: self.tenant.to_owned(),
            call_id: self.pipeline.next_call_id.fetch_add(1, Ordering::Relaxed),
        })
    }

    fn step_deadline(&self) -> Instant {
        // Validated configs keep `timeout` within `MAX_TIMEOUT`; limits built
        // in code are held to it here, so the sum is always an instant.
        let budget = Instant::now() + self.limits.timeout.min(MAX_TIMEOUT);
        self.deadline
            .map_or(budget, |deadline| deadline.min(budget))
    }
}

/// Where a reply came from, so a refused reply is blamed on its plugin.
struct Answer<'r> {
    reply: Reply,
    from: &'r str,
}

impl Call<'_> {
    async fn run<'r, R>(
        &self,
        chain: &'r [Step],
        routes: &'r TenantRoutes,
        mut request: Request,
        respond: impl FnOnce(Reply) -> Result<R, GuestFault>,
    ) -> Result<R, CallError> {
        let mut entered: Vec<(Entered, &Step)> = Vec::with_capacity(chain.len());
        let mut answer = None;
        // Whether an interceptor handed on a rewritten request: then a
        // publish accepted "as it is" publishes the rewritten data.
        let mut rewritten = false;
        for step in chain {
            let span = step_span("before", &step.target);
            let before = self.before(step, &request).instrument(span.clone()).await;
            let (this, decision) = match before {
                Ok(before) => before,
                Err(fault) => {
                    failed(&span, &fault);
                    self.fail(step, fault)?;
                    continue;
                }
            };
            let refused = match decision {
                Decision::Pass => {
                    entered.push((this, step));
                    continue;
                }
                Decision::Rewrite(rewritten) if kind_of(&rewritten) != self.kind => {
                    let fault = GuestFault::InvalidReply(format!(
                        "rewrote a {} request into a {} request",
                        self.kind,
                        kind_of(&rewritten)
                    ));
                    failed(&span, &fault);
                    self.discard(&step.target, &fault);
                    self.fail(step, fault)?;
                    continue;
                }
                Decision::Rewrite(new_request) => {
                    request = new_request;
                    rewritten = true;
                    entered.push((this, step));
                    continue;
                }
                Decision::Answer(reply) if reply_kind(&reply) != self.kind => {
                    let fault = GuestFault::InvalidReply(format!(
                        "answered a {} request with a {} reply",
                        self.kind,
                        reply_kind(&reply)
                    ));
                    failed(&span, &fault);
                    self.discard(&step.target, &fault);
                    self.fail(step, fault)?;
                    continue;
                }
                Decision::Answer(reply) => reply,
                Decision::Reject(error) => refusal(self.kind, Refusal::Error(error)),
                Decision::Disconnect(disconnect) => {
                    refusal(self.kind, Refusal::Disconnect(disconnect))
                }
            };
            // The interceptor answered: its call ends here, cleanly.
            self.keep(&step.target, this.instance.into_live(), this.warm);
            let mut refused = refused;
            settle(
                &mut refused,
                rewritten
                    .then(|| request_decided(&request))
                    .flatten()
                    .as_ref(),
            );
            answer = Some(Answer {
                reply: refused,
                from: &step.target.guest.plugin,
            });
            break;
        }

        let mut answer = match answer {
            Some(answer) => answer,
            None => {
                let target = routes.route(&request)?;
                let decided = rewritten.then(|| request_decided(&request)).flatten();
                let call = tracing::Span::current();
                call.record("plugin", target.guest.plugin.as_str());
                call.record("version", &target.plugin.sha256()[..12]);
                let span = step_span("handler", target);
                let handled = self.handle(target, request).instrument(span.clone()).await;
                if let Err(CallError::Guest { fault, .. }) = &handled {
                    failed(&span, fault);
                }
                let mut reply = handled?;
                settle(&mut reply, decided.as_ref());
                Answer {
                    reply,
                    from: &target.guest.plugin,
                }
            }
        };
        // What an after hook's publish reply "as it is" keeps (only needed,
        // and so only copied, when there are after hooks to run).
        let mut decided = if entered.is_empty() {
            None
        } else {
            reply_decided(&answer.reply)
        };
        if reply_kind(&answer.reply) != self.kind {
            return Err(CallError::Guest {
                plugin: answer.from.to_owned(),
                fault: GuestFault::InvalidReply(format!(
                    "answered a {} request with a {} reply",
                    self.kind,
                    reply_kind(&answer.reply)
                )),
            });
        }

        for (mut this, step) in entered.into_iter().rev() {
            let span = step_span("after", &step.target);
            span.record("instance", this.instance_origin);
            let timer = self.timer("after", &step.target);
            let after = self
                .after(&mut this.instance, &answer.reply)
                .instrument(span.clone())
                .await;
            drop(timer);
            let fault = match after {
                Ok(None) => None,
                Ok(Some(mut reply)) if reply_kind(&reply) == self.kind => {
                    settle(&mut reply, decided.as_ref());
                    decided = reply_decided(&reply);
                    answer = Answer {
                        reply,
                        from: &step.target.guest.plugin,
                    };
                    None
                }
                Ok(Some(reply)) => Some(GuestFault::InvalidReply(format!(
                    "replaced a {} reply with a {} reply",
                    self.kind,
                    reply_kind(&reply)
                ))),
                Err(error) => Some(classify(error, this.instance.store())),
            };
            match fault {
                None => self.keep(&step.target, this.instance.into_live(), this.warm),
                Some(fault) => {
                    failed(&span, &fault);
                    self.discard(&step.target, &fault);
                    self.fail(step, fault)?;
                }
            }
        }

        let Answer { reply, from } = answer;
        respond(reply).map_err(|fault| CallError::Guest {
            plugin: from.to_owned(),
            fault,
        })
    }

    /// A failed interceptor step: fails the call, or is logged and skipped
    /// when the step is `fail_open`.
    fn fail(&self, step: &Step, fault: GuestFault) -> Result<(), CallError> {
        let plugin = step.target.guest.plugin.clone();
        if step.fail_open {
            self.pipeline.metrics.fault(&plugin, fault.kind());
            let text = fault.to_string();
            let text = escape_control(&text);
            tracing::warn!(%plugin, kind = %self.kind, fault = fault.kind(), "interceptor failed, skipped (fail_open): {text}");
            return Ok(());
        }
        Err(CallError::Guest { plugin, fault })
    }

    fn store(&self, target: &Target) -> Result<Store<CallState>, GuestFault> {
        store::new_store(
            self.pipeline.engine.wasmtime(),
            self.pipeline.engine.meters_fuel(),
            target.guest.clone(),
            self.limits,
            self.step_deadline(),
        )
    }

    /// Starts timing `step` of `target`: see [`StepTimer`].
    fn timer<'t>(&self, step: &'static str, target: &'t Target) -> StepTimer<'t> {
        StepTimer {
            metrics: &target.metrics,
            step,
            started: Instant::now(),
        }
    }

    async fn before(
        &self,
        step: &Step,
        request: &Request,
    ) -> Result<(Entered, Decision), GuestFault> {
        let _timer = self.timer("before", &step.target);
        let (live, warm, origin) = self.live(&step.target).await?;
        let mut instance = match step.target.plugin.interceptor_of(live) {
            Ok(instance) => instance,
            Err(error) => return Err(GuestFault::Instantiate(format!("{error:#}"))),
        };
        match instance.before(self.context(), request).await {
            Ok(decision) => Ok((
                Entered {
                    instance,
                    warm,
                    instance_origin: origin,
                },
                decision,
            )),
            Err(error) => {
                let fault = classify(error, instance.store());
                self.discard(&step.target, &fault);
                Err(fault)
            }
        }
    }

    /// An instance of `target` ready for a call: a warm one if its pool has
    /// one, else a new one (a fresh instance, or the next warm one). A pool
    /// that is already building as many instances as it may at once makes
    /// the call wait for one (see [`crate::runtime::warm`]); one whose deadline
    /// passes meanwhile fails as out of time. Says which, `warm` or `fresh`,
    /// and records it on the step's span.
    async fn live(
        &self,
        target: &Target,
    ) -> Result<(Live, Option<WarmState>, &'static str), GuestFault> {
        let mut building = None;
        if let Some(pool) = &target.warm {
            let deadline = self.step_deadline();
            let turn = pool.acquire(deadline).await;
            for _ in 0..turn.aged {
                self.pipeline
                    .metrics
                    .warm(&target.guest.plugin, "retired_max_age");
            }
            if turn.waited {
                pool.counters().waited.inc();
            }
            match turn.acquired {
                Some(Acquired::Warm(warm)) => {
                    pool.counters().hit.inc();
                    let (mut live, state) = warm.into_parts();
                    live.store.data_mut().begin_call(target.guest.clone());
                    store::refill(&mut live.store, self.limits, deadline);
                    tracing::Span::current().record("instance", "warm");
                    return Ok((live, Some(state), "warm"));
                }
                Some(Acquired::Build(permit)) => {
                    pool.counters().miss.inc();
                    building = Some(permit);
                }
                None => return Err(GuestFault::Deadline),
            }
        }
        let mut store = self.store(target)?;
        let started = Instant::now();
        let instance = match target.plugin.instantiate(&mut store).await {
            Ok(instance) => instance,
            Err(error) => return Err(classify(error, &store)),
        };
        drop(building);
        target.metrics.instantiated(started.elapsed().as_secs_f64());
        let state = target.warm.as_ref().map(|pool| pool.new_state());
        tracing::Span::current().record("instance", "fresh");
        Ok((Live::new(store, instance), state, "fresh"))
    }

    /// Returns an instance that ended its call cleanly to its pool, if its
    /// target reuses instances.
    fn keep(&self, target: &Target, mut live: Live, state: Option<WarmState>) {
        let (Some(pool), Some(state)) = (&target.warm, state) else {
            return;
        };
        // Handles a guest leaves open would otherwise pile up across calls.
        let retired = if live.store.data_mut().resources() > store::MAX_RESOURCES_KEPT {
            Some(Retired::Resources)
        } else {
            pool.put(Warm::from_parts(live, state))
        };
        if let Some(retired) = retired {
            self.pipeline
                .metrics
                .warm(&target.guest.plugin, retired.metric());
        }
    }

    /// Counts a warm instance dropped after a fault: it is never used again.
    fn discard(&self, target: &Target, fault: &GuestFault) {
        if target.warm.is_some() {
            let event = format!("discarded_{}", fault.kind());
            self.pipeline.metrics.warm(&target.guest.plugin, &event);
        }
    }

    async fn after(
        &self,
        instance: &mut InterceptorInstance,
        reply: &Reply,
    ) -> wasmtime::Result<Option<Reply>> {
        // A fresh budget for the after hook: the inner steps used their own.
        let deadline = self.step_deadline();
        store::refill(instance.store_mut(), self.limits, deadline);
        instance.after(self.context(), reply).await
    }

    async fn handle(&self, target: &Target, request: Request) -> Result<Reply, CallError> {
        let failed = |fault| CallError::Guest {
            plugin: target.guest.plugin.clone(),
            fault,
        };
        let _timer = self.timer("handler", target);
        let (mut live, warm, _) = self.live(target).await.map_err(failed)?;
        match target.plugin.call_handler(&mut live, request).await {
            Ok(reply) => {
                self.keep(target, live, warm);
                Ok(reply)
            }
            Err(error) => {
                let fault = classify(error, &live.store);
                self.discard(target, &fault);
                Err(failed(fault))
            }
        }
    }
}

/// Times one step of a call (instantiation included) into
/// `rotor_step_duration_seconds` when dropped, whatever the step's end.
struct StepTimer<'a> {
    metrics: &'a PluginMetrics,
    step: &'static str,
    started: Instant,
}

impl Drop for StepTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .step(self.step, self.started.elapsed().as_secs_f64());
    }
}

/// An interceptor that passed the call on, waiting for its `after`.
struct Entered {
    instance: InterceptorInstance,
    warm: Option<WarmState>,
    /// Whether its instance was `warm` or `fresh`, for the `after` span.
    instance_origin: &'static str,
}

/// The span of one step of a call (`before`, `handler` or `after`) of
/// `target`'s plugin: a child of the `call` span, exported with
/// `[telemetry] otlp` and otherwise never built (see [`STEP_TARGET`]).
fn step_span(step: &'static str, target: &Target) -> tracing::Span {
    wanted(tracing::info_span!(
        target: STEP_TARGET,
        "step",
        otel.name = step,
        step,
        plugin = target.guest.plugin.as_str(),
        version = &target.plugin.sha256()[..12],
        instance = tracing::field::Empty,
        fault = tracing::field::Empty,
    ))
}

/// Records on a step's span that the step failed, and how.
fn failed(span: &tracing::Span, fault: &GuestFault) {
    span.record("fault", fault.kind());
    otlp::mark_error(span, fault.kind());
}

/// Names what went wrong in a failed guest call.
pub(crate) fn classify(error: wasmtime::Error, store: &Store<CallState>) -> GuestFault {
    if store.data().hit_memory_limit() {
        return GuestFault::OutOfMemory;
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => GuestFault::Deadline,
        Some(Trap::OutOfFuel) => GuestFault::OutOfFuel,
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
