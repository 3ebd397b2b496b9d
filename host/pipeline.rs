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
//! - an interceptor that fails (trap, deadline, wrong reply type) fails the
//!   call like a failing handler, unless it is `fail_open`: then it is
//!   skipped (its `after` does not run) and the call goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::Semaphore;
use wasmtime::{Store, Trap};

use crate::config::Limits;
use crate::engine::Engine;
use crate::error::{CallError, GuestFault};
use crate::kind::RequestKind;
use crate::plugin::InterceptorInstance;
use crate::registry::{PluginRegistry, Step, Target, kind_of};
use crate::sandbox::{self, CallState};
use crate::telemetry::Metrics;
use crate::wit::interceptor::{CallContext, Decision};
use crate::wit::types::{
    CentrifugoError, ConnectReply, Disconnect, PublishReply, RefreshReply, Reply, Request,
    RpcReply, SubRefreshReply, SubscribeReply,
};

/// Runs calls against the live plugins.
pub struct Pipeline {
    engine: Arc<Engine>,
    registry: Arc<PluginRegistry>,
    limits: Limits,
    permits: Semaphore,
    next_call_id: AtomicU64,
    metrics: Arc<Metrics>,
}

impl Pipeline {
    /// A pipeline over `registry` with `limits`.
    pub fn new(
        engine: Arc<Engine>,
        registry: Arc<PluginRegistry>,
        limits: Limits,
        metrics: Arc<Metrics>,
    ) -> Pipeline {
        let permits = Semaphore::new(usize::try_from(limits.concurrency).unwrap_or(usize::MAX));
        Pipeline {
            engine,
            registry,
            limits,
            permits,
            next_call_id: AtomicU64::new(1),
            metrics,
        }
    }

    /// The metrics calls are counted in.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The registry of live plugins.
    pub fn registry(&self) -> &Arc<PluginRegistry> {
        &self.registry
    }

    /// Answers `request`. `deadline` is when the caller stops waiting
    /// (Centrifugo's proxy timeout); each step's CPU budget is the smaller of
    /// that and the configured timeout.
    ///
    /// `respond` turns the final reply into the caller's response; a reply
    /// it refuses counts as a fault of the plugin that produced it.
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
        let kind = kind_of(&request);
        let call = Call {
            pipeline: self,
            kind,
            deadline,
            context: CallContext {
                tenant: crate::plugin::DEFAULT_TENANT.to_owned(),
                call_id: self.next_call_id.fetch_add(1, Ordering::Relaxed),
            },
        };
        let result = call
            .run(routes.chain(kind), &routes, request, respond)
            .await;
        if let Err(CallError::Guest { plugin, fault }) = &result {
            tracing::warn!(%plugin, %kind, fault = fault.kind(), "plugin failed: {fault}");
            self.metrics.fault(plugin, fault.kind());
        }
        result
    }

    fn step_deadline(&self, call_deadline: Option<Instant>) -> Instant {
        let budget = Instant::now() + self.limits.timeout;
        call_deadline.map_or(budget, |deadline| deadline.min(budget))
    }
}

/// One call in progress.
struct Call<'a> {
    pipeline: &'a Pipeline,
    kind: RequestKind,
    deadline: Option<Instant>,
    context: CallContext,
}

/// Where a reply came from, so a refused reply is blamed on its plugin.
struct Answer {
    reply: Reply,
    from: String,
}

impl Call<'_> {
    async fn run<R>(
        &self,
        chain: &[Step],
        routes: &crate::registry::Routes,
        mut request: Request,
        respond: impl FnOnce(Reply) -> Result<R, GuestFault>,
    ) -> Result<R, CallError> {
        let mut entered: Vec<(InterceptorInstance, &Step)> = Vec::with_capacity(chain.len());
        let mut answer = None;
        for step in chain {
            match self.before(step, &request).await {
                Ok((instance, decision)) => match decision {
                    Decision::Pass => entered.push((instance, step)),
                    Decision::Rewrite(rewritten) => {
                        if kind_of(&rewritten) != self.kind {
                            let fault = GuestFault::InvalidReply(format!(
                                "rewrote a {} request into a {} request",
                                self.kind,
                                kind_of(&rewritten)
                            ));
                            self.fail(step, fault)?;
                            continue;
                        }
                        request = rewritten;
                        entered.push((instance, step));
                    }
                    Decision::Answer(reply) if reply_kind(&reply) != self.kind => {
                        let fault = GuestFault::InvalidReply(format!(
                            "answered a {} request with a {} reply",
                            self.kind,
                            reply_kind(&reply)
                        ));
                        self.fail(step, fault)?;
                    }
                    Decision::Answer(reply) => {
                        answer = Some(Answer {
                            reply,
                            from: step.target.guest.plugin.clone(),
                        });
                        break;
                    }
                    Decision::Reject(error) => {
                        answer = Some(Answer {
                            reply: refusal(self.kind, Refusal::Error(error)),
                            from: step.target.guest.plugin.clone(),
                        });
                        break;
                    }
                    Decision::Disconnect(disconnect) => {
                        answer = Some(Answer {
                            reply: refusal(self.kind, Refusal::Disconnect(disconnect)),
                            from: step.target.guest.plugin.clone(),
                        });
                        break;
                    }
                },
                Err(fault) => self.fail(step, fault)?,
            }
        }

        let mut answer = match answer {
            Some(answer) => answer,
            None => {
                let target = routes.route(&request)?;
                Answer {
                    reply: self.handle(target, request).await?,
                    from: target.guest.plugin.clone(),
                }
            }
        };
        if reply_kind(&answer.reply) != self.kind {
            return Err(CallError::Guest {
                plugin: answer.from,
                fault: GuestFault::InvalidReply(format!(
                    "answered a {} request with a {} reply",
                    self.kind,
                    reply_kind(&answer.reply)
                )),
            });
        }

        for (mut instance, step) in entered.into_iter().rev() {
            match self.after(&mut instance, &answer.reply).await {
                Ok(None) => {}
                Ok(Some(reply)) if reply_kind(&reply) == self.kind => {
                    answer = Answer {
                        reply,
                        from: step.target.guest.plugin.clone(),
                    };
                }
                Ok(Some(reply)) => {
                    let fault = GuestFault::InvalidReply(format!(
                        "replaced a {} reply with a {} reply",
                        self.kind,
                        reply_kind(&reply)
                    ));
                    self.fail(step, fault)?;
                }
                Err(error) => {
                    let fault = classify(error, &instance.store);
                    self.fail(step, fault)?;
                }
            }
        }

        let Answer { reply, from } = answer;
        respond(reply).map_err(|fault| CallError::Guest {
            plugin: from,
            fault,
        })
    }

    /// A failed interceptor step: fails the call, or is logged and skipped
    /// when the step is `fail_open`.
    fn fail(&self, step: &Step, fault: GuestFault) -> Result<(), CallError> {
        let plugin = step.target.guest.plugin.clone();
        if step.fail_open {
            self.pipeline.metrics.fault(&plugin, fault.kind());
            tracing::warn!(%plugin, kind = %self.kind, fault = fault.kind(), "interceptor failed, skipped (fail_open): {fault}");
            return Ok(());
        }
        Err(CallError::Guest { plugin, fault })
    }

    fn store(&self, target: &Target) -> Store<CallState> {
        let pipeline = self.pipeline;
        sandbox::new_store(
            &pipeline.engine,
            target.guest.clone(),
            pipeline.limits.memory,
            pipeline.step_deadline(self.deadline),
        )
    }

    async fn before(
        &self,
        step: &Step,
        request: &Request,
    ) -> Result<(InterceptorInstance, Decision), GuestFault> {
        let store = self.store(&step.target);
        let mut instance = match step.target.plugin.interceptor(store).await {
            Ok(instance) => instance,
            Err(error) => return Err(GuestFault::Instantiate(format!("{error:#}"))),
        };
        match instance.before(&self.context, request).await {
            Ok(decision) => Ok((instance, decision)),
            Err(error) => Err(classify(error, &instance.store)),
        }
    }

    async fn after(
        &self,
        instance: &mut InterceptorInstance,
        reply: &Reply,
    ) -> wasmtime::Result<Option<Reply>> {
        // A fresh budget for the after hook: the inner steps used their own.
        let deadline = self.pipeline.step_deadline(self.deadline);
        instance.store.data_mut().set_deadline(deadline);
        instance.store.set_epoch_deadline(1);
        instance.after(&self.context, reply).await
    }

    async fn handle(&self, target: &Target, request: Request) -> Result<Reply, CallError> {
        let mut store = self.store(target);
        target
            .plugin
            .handle(&mut store, request)
            .await
            .map_err(|error| CallError::Guest {
                plugin: target.guest.plugin.clone(),
                fault: classify(error, &store),
            })
    }
}

/// An interceptor's refusal.
enum Refusal {
    Error(CentrifugoError),
    Disconnect(Disconnect),
}

/// The reply that carries a refusal for `kind`. Centrifugo ignores errors
/// on refreshes, so there a refusal ends the connection or subscription.
fn refusal(kind: RequestKind, refusal: Refusal) -> Reply {
    match (kind, refusal) {
        (RequestKind::Refresh, _) => Reply::Refresh(RefreshReply::Expire),
        (RequestKind::SubRefresh, _) => Reply::SubRefresh(SubRefreshReply::Expire),
        (RequestKind::Connect, Refusal::Error(e)) => Reply::Connect(ConnectReply::Reject(e)),
        (RequestKind::Connect, Refusal::Disconnect(d)) => {
            Reply::Connect(ConnectReply::Disconnect(d))
        }
        (RequestKind::Subscribe, Refusal::Error(e)) => Reply::Subscribe(SubscribeReply::Reject(e)),
        (RequestKind::Subscribe, Refusal::Disconnect(d)) => {
            Reply::Subscribe(SubscribeReply::Disconnect(d))
        }
        (RequestKind::Publish, Refusal::Error(e)) => Reply::Publish(PublishReply::Reject(e)),
        (RequestKind::Publish, Refusal::Disconnect(d)) => {
            Reply::Publish(PublishReply::Disconnect(d))
        }
        (RequestKind::Rpc, Refusal::Error(e)) => Reply::Rpc(RpcReply::Reject(e)),
        (RequestKind::Rpc, Refusal::Disconnect(d)) => Reply::Rpc(RpcReply::Disconnect(d)),
    }
}

/// The request kind a reply answers.
fn reply_kind(reply: &Reply) -> RequestKind {
    match reply {
        Reply::Connect(_) => RequestKind::Connect,
        Reply::Refresh(_) => RequestKind::Refresh,
        Reply::Subscribe(_) => RequestKind::Subscribe,
        Reply::Publish(_) => RequestKind::Publish,
        Reply::Rpc(_) => RequestKind::Rpc,
        Reply::SubRefresh(_) => RequestKind::SubRefresh,
    }
}

/// Names what went wrong in a failed guest call.
pub(crate) fn classify(error: wasmtime::Error, store: &Store<CallState>) -> GuestFault {
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
