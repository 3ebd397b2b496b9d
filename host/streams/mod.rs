//! Subscription streams: Centrifugo's `SubscribeUnidirectional` and
//! `SubscribeBidirectional`, answered by one guest instance per stream for
//! the stream's whole life (see `docs/stream-subscriptions.md`).
//!
//! Opening a stream is a call like any other: it is admitted under the
//! tenant's concurrency, routed by channel namespace (`[handlers]
//! subscribe_stream`), and the guest's `open` runs under the usual CPU
//! deadline; its reply is the stream's first message. An accepted stream
//! then takes one of the tenant's `limits.streams` slots and moves into a
//! task of its own ([`task`]), which owns the store, so callbacks never
//! overlap, and ends the stream as the table of the design says.

mod task;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;

use crate::config::MAX_TIMEOUT;
use crate::contract::convert::ProxyCall;
use crate::contract::kind::RequestKind;
use crate::contract::proto::proxy as pb;
use crate::contract::wit::types::{Headers, Reply, Request, SubscribeReply};
use crate::error::{CallError, FailureReply, GuestFault};
use crate::pipeline::classify;
use crate::routing::registry::{PluginRegistry, Target};
use crate::runtime::engine::Engine;
use crate::runtime::guest_log::escape_control;
use crate::runtime::outbox::StreamOutbox;
use crate::runtime::store::{self, by_deadline};
use crate::telemetry::Metrics;

use self::task::StreamTask;

/// Messages a stream sends Centrifugo: protobuf, or the status that ends it.
pub type Outgoing = Result<pb::StreamSubscribeResponse, tonic::Status>;

/// The client's publications into a bidirectional stream, as bytes; the
/// end of it means the client (or Centrifugo) left.
pub type ClientData = Pin<Box<dyn Stream<Item = Vec<u8>> + Send>>;

/// Messages a stream may have queued for Centrifugo before its task waits
/// for Centrifugo to read them: a callback's publications at most, twice.
const OUTGOING_CAPACITY: usize = 2 * crate::runtime::outbox::PUBLICATIONS_PER_CALLBACK;

/// A stream to open, as the transport read it.
pub struct StreamCall<'a> {
    /// The `SubscribeRequest` Centrifugo opened the stream with.
    pub request: pb::SubscribeRequest,
    /// The client metadata Centrifugo forwarded.
    pub headers: Headers,
    /// The tenant of the listener it arrived on, if that listener has one.
    pub listener: Option<&'a str>,
    /// When Centrifugo stops waiting for the first message, if it said.
    pub deadline: Option<Instant>,
    /// The client's publications, for the bidirectional form.
    pub client: Option<ClientData>,
}

/// Opens streams and ends them all at shutdown.
pub struct Streams {
    engine: Arc<Engine>,
    registry: Arc<PluginRegistry>,
    metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams").finish_non_exhaustive()
    }
}

impl Streams {
    /// Streams of the plugins in `registry`.
    pub fn new(
        engine: Arc<Engine>,
        registry: Arc<PluginRegistry>,
        metrics: Arc<Metrics>,
    ) -> Streams {
        Streams {
            engine,
            registry,
            metrics,
            shutdown: watch::Sender::new(false),
        }
    }

    /// Ends every open stream with `UNAVAILABLE` (its client subscribes
    /// again, through another replica) and refuses new ones: what Rotor
    /// does before its listeners stop, since the graceful stop waits for
    /// every call, streams included.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// Opens a stream: the first message (the guest's answer to `open`, or
    /// the error a failed open answers), then, if the guest accepted, its
    /// publications until the stream ends. A call that cannot be routed
    /// fails with a status, as a unary call does.
    pub async fn open(
        &self,
        call: StreamCall<'_>,
    ) -> Result<ReceiverStream<Outgoing>, tonic::Status> {
        if *self.shutdown.borrow() {
            return Err(tonic::Status::unavailable("Rotor is shutting down"));
        }
        let kind = RequestKind::SubscribeStream;
        let started = Instant::now();
        let size = u64::try_from(prost::Message::encoded_len(&call.request)).unwrap_or(u64::MAX);
        let (request, context) = call
            .request
            .into_request(call.headers)
            .map_err(|error| tonic::Status::invalid_argument(error.to_string()))?;
        let routes = self.registry.snapshot();
        let tenant = routes.tenant_of(&request, call.listener).map_err(status)?;
        let limits = *tenant.limits();
        if size > limits.max_request {
            return Err(status(CallError::TooLarge {
                size,
                limit: limits.max_request,
            }));
        }
        let target = tenant.route_as(kind, &request).map_err(status)?.clone();
        let Request::Subscribe(subscribe) = &request else {
            unreachable!("a subscribe request converts into a subscribe record");
        };
        let span = tracing::info_span!(
            "stream",
            tenant = tenant.name(),
            plugin = target.guest.plugin.as_str(),
            channel = subscribe.channel.as_str(),
        );
        let calls = tenant.calls().clone();
        let (tx, rx) = mpsc::channel(OUTGOING_CAPACITY);
        let refuse = |tx: &mpsc::Sender<Outgoing>, code, message: &str| {
            let first = pb::SubscribeRequest::error_response(pb::Error {
                code,
                message: message.to_owned(),
                temporary: true,
            });
            let _ = tx.try_send(Ok(first_message(first.unwrap_or_default())));
        };

        let Some(slot) = tenant.admit_stream() else {
            calls.count(kind, "busy", started.elapsed().as_secs_f64());
            self.metrics.stream_event(tenant.name(), "refused", 1);
            tracing::debug!(parent: &span, "refused: the tenant has limits.streams open");
            refuse(&tx, crate::error::TOO_MANY_REQUESTS, "too many requests");
            return Ok(ReceiverStream::new(rx));
        };
        let opened = match tenant.admit() {
            Ok(admitted) => {
                let deadline = open_deadline(&limits, call.deadline);
                let opened = self.run_open(&target, &limits, subscribe, deadline).await;
                drop(admitted);
                opened
            }
            Err(_) => {
                calls.count(kind, "busy", started.elapsed().as_secs_f64());
                self.metrics.stream_event(tenant.name(), "refused", 1);
                refuse(&tx, crate::error::TOO_MANY_REQUESTS, "too many requests");
                return Ok(ReceiverStream::new(rx));
            }
        };
        let checked = opened.and_then(|opened| {
            let reply = Reply::Subscribe(opened.reply.clone());
            tenant.grant_scope().check_reply(&reply)?;
            let response = pb::SubscribeRequest::response(reply, &context)?;
            let bytes = u64::try_from(prost::Message::encoded_len(&response)).unwrap_or(u64::MAX);
            if bytes > limits.max_reply {
                return Err(GuestFault::InvalidReply(format!(
                    "the reply is {bytes} bytes, over the tenant's limit of {} bytes",
                    limits.max_reply
                )));
            }
            Ok((opened, response))
        });
        let (opened, response) = match checked {
            Ok(checked) => checked,
            Err(fault) => {
                let text = fault.to_string();
                let text = escape_control(&text);
                tracing::warn!(parent: &span, fault = fault.kind(), "stream handler failed to open: {text}");
                self.metrics.fault(&target.guest.plugin, fault.kind());
                calls.count(kind, "fault", started.elapsed().as_secs_f64());
                self.metrics.stream_event(tenant.name(), "refused", 1);
                refuse(&tx, crate::error::INTERNAL_ERROR, "internal server error");
                return Ok(ReceiverStream::new(rx));
            }
        };
        let accepted = matches!(opened.reply, SubscribeReply::Accept(_));
        let outcome = crate::telemetry::outcome(&Reply::Subscribe(opened.reply));
        calls.count(kind, outcome, started.elapsed().as_secs_f64());
        let _ = tx.try_send(Ok(first_message(response)));
        if !accepted {
            self.metrics.stream_event(tenant.name(), "refused", 1);
            return Ok(ReceiverStream::new(rx));
        }
        self.metrics.stream_event(tenant.name(), "opened", 1);
        let task = StreamTask {
            tenant: tenant.name().to_owned(),
            listener: call.listener.map(str::to_owned),
            probe: request.clone(),
            target,
            limits,
            store: opened.store,
            handler: opened.handler,
            tx,
            client: call.client,
            registry: self.registry.clone(),
            metrics: self.metrics.clone(),
            shutdown: self.shutdown.subscribe(),
            _open: self.metrics.stream_open(tenant.name()),
            _slot: slot,
        };
        tokio::spawn(tracing::Instrument::instrument(task.run(), span));
        Ok(ReceiverStream::new(rx))
    }

    /// Instantiates `target` for a stream and calls its `open` by
    /// `deadline`.
    async fn run_open(
        &self,
        target: &Target,
        limits: &crate::config::Limits,
        request: &crate::contract::wit::types::SubscribeRequest,
        deadline: Instant,
    ) -> Result<Opened, GuestFault> {
        let mut store = store::new_store(
            self.engine.wasmtime(),
            self.engine.meters_fuel(),
            target.guest.clone(),
            limits,
            deadline,
        )?;
        store.data_mut().stream = Some(StreamOutbox::new(limits.max_reply));
        let instance = match target.plugin.instantiate(&mut store).await {
            Ok(instance) => instance,
            Err(error) => return Err(classify(error, &store)),
        };
        let handler = match target.plugin.stream_handler_of(&mut store, &instance) {
            Ok(handler) => handler,
            Err(error) => return Err(GuestFault::Instantiate(format!("{error:#}"))),
        };
        let _active = target.guest.cpu.enter();
        match by_deadline(deadline, handler.call_open(&mut store, request)).await {
            Ok(reply) => Ok(Opened {
                store,
                handler,
                reply,
            }),
            Err(error) => Err(classify(error, &store)),
        }
    }
}

/// A stream whose guest answered `open`.
struct Opened {
    store: wasmtime::Store<crate::runtime::store::CallState>,
    handler: crate::contract::wit::stream_handler::Guest,
    reply: SubscribeReply,
}

/// The deadline of `open`: the tenant's CPU timeout, or Centrifugo's proxy
/// timeout if it said one and it is sooner (Centrifugo cancels a stream
/// whose first message comes later than its `timeout`).
fn open_deadline(limits: &crate::config::Limits, caller: Option<Instant>) -> Instant {
    let budget = Instant::now() + limits.timeout.min(MAX_TIMEOUT);
    caller.map_or(budget, |deadline| deadline.min(budget))
}

/// The status a stream that cannot be routed fails with, as a unary
/// subscribe would (see [`CallError::reply`]).
fn status(error: CallError) -> tonic::Status {
    match error.reply(RequestKind::SubscribeStream) {
        FailureReply::Status(status) => status,
        FailureReply::Error { message, .. } => tonic::Status::internal(message),
    }
}

/// The first message of a stream: the answer to its subscribe.
fn first_message(response: pb::SubscribeResponse) -> pb::StreamSubscribeResponse {
    pb::StreamSubscribeResponse {
        subscribe_response: Some(response),
        publication: None,
    }
}
