//! The answer path of one proxy call: its span and metrics, protobuf to
//! WIT records, the pipeline, and back to protobuf or to the failure
//! Centrifugo should read. Both the gRPC service and `Rotor::answer`
//! (`app`) go through it.

use std::sync::Arc;
use std::time::Instant;

use tracing::Instrument;

use crate::config::ProxyAuth;
use crate::contract::convert::ProxyCall;
use crate::contract::proto::proxy as pb;
use crate::contract::wit::types::Headers;
use crate::error::{CallError, FailureReply, GuestFault};
use crate::pipeline::{Origin, Pipeline};
use crate::streams::Streams;
use crate::telemetry::otlp;
use crate::telemetry::{CALL_TARGET, TraceParent, wanted};

/// Answers proxy calls with the live plugins: what a proxy listener hands
/// each call to. Cheap to clone.
#[derive(Clone)]
pub struct Responder {
    pipeline: Arc<Pipeline>,
    streams: Arc<Streams>,
    auth: Option<Arc<ProxyAuth>>,
    max_request: u64,
}

impl Responder {
    /// Answers with `pipeline`; every call must carry `auth`'s credentials,
    /// if set, and be at most `max_request` bytes (the largest any tenant
    /// accepts).
    pub fn new(
        pipeline: Arc<Pipeline>,
        auth: Option<Arc<ProxyAuth>>,
        max_request: u64,
    ) -> Responder {
        let streams = Arc::new(Streams::new(
            pipeline.engine().clone(),
            pipeline.registry().clone(),
            pipeline.metrics().clone(),
        ));
        Responder {
            pipeline,
            streams,
            auth,
            max_request,
        }
    }

    /// The pipeline calls run in.
    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }

    /// The subscription streams of this Rotor.
    pub(crate) fn streams(&self) -> &Streams {
        &self.streams
    }

    /// The credentials every proxy call must carry, if any.
    pub fn auth(&self) -> Option<&ProxyAuth> {
        self.auth.as_deref()
    }

    /// The same credentials, shared: what a listener checks before a
    /// call's body is read.
    pub fn shared_auth(&self) -> Option<Arc<ProxyAuth>> {
        self.auth.clone()
    }

    /// The largest request any tenant accepts, in encoded bytes: what the
    /// proxy service decodes at most.
    pub fn max_request(&self) -> u64 {
        self.max_request
    }

    /// Answers one proxy call that arrived on the listener of tenant
    /// `listener` (with `[tenancy] by = "listener"`), or on the main one.
    ///
    /// The call runs in a `call` span with its kind, tenant, plugin, the
    /// plugin's version and the outcome, and the W3C trace context of the
    /// caller if Centrifugo sent one (`traceparent`): exported, the span
    /// continues the caller's trace, as a child of the caller's span.
    pub async fn answer_on<C: ProxyCall>(
        &self,
        message: C,
        headers: Headers,
        deadline: Option<Instant>,
        listener: Option<&str>,
    ) -> Result<C::Response, tonic::Status> {
        let trace = TraceParent::from_headers(&headers);
        let span = wanted(tracing::info_span!(
            target: CALL_TARGET,
            "call",
            otel.kind = "server",
            kind = C::KIND.name(),
            tenant = tracing::field::Empty,
            plugin = tracing::field::Empty,
            version = tracing::field::Empty,
            outcome = tracing::field::Empty,
            trace_id = trace.as_ref().map(|t| t.trace_id.as_str()),
            parent_id = trace.as_ref().map(|t| t.parent_id.as_str()),
        ));
        if let Some(parent) = &trace {
            otlp::continue_trace(&span, parent);
        }
        self.answer_in_span(message, headers, deadline, listener)
            .instrument(span)
            .await
    }

    async fn answer_in_span<C: ProxyCall>(
        &self,
        message: C,
        headers: Headers,
        deadline: Option<Instant>,
        listener: Option<&str>,
    ) -> Result<C::Response, tonic::Status> {
        let metrics = self.pipeline.metrics();
        let started = Instant::now();
        let _in_flight = metrics.in_flight();
        let size = u64::try_from(prost::Message::encoded_len(&message)).unwrap_or(u64::MAX);
        let (request, context) = match message.into_request(headers) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::Span::current().record("outcome", "bad_request");
                metrics.call("", C::KIND, "bad_request", started.elapsed().as_secs_f64());
                metrics.bytes("", C::KIND, size, None);
                return Err(tonic::Status::invalid_argument(error.to_string()));
            }
        };
        let mut outcome = "fault";
        let origin = Origin {
            size,
            listener,
            deadline,
        };
        let (tenant, result) = self
            .pipeline
            .call(request, origin, |reply, limits| {
                outcome = crate::telemetry::outcome(&reply);
                let response = C::response(reply, &context)?;
                let bytes =
                    u64::try_from(prost::Message::encoded_len(&response)).unwrap_or(u64::MAX);
                if bytes > limits.max_reply {
                    return Err(GuestFault::InvalidReply(format!(
                        "the reply is {bytes} bytes, over the tenant's limit of {} bytes",
                        limits.max_reply
                    )));
                }
                Ok(response)
            })
            .await;
        let outcome = match &result {
            Ok(_) => outcome,
            Err(CallError::Busy) => "busy",
            Err(CallError::NoRoute(_)) => "no_route",
            Err(CallError::NoTenant(_)) => "no_tenant",
            Err(CallError::TooLarge { .. }) => "too_large",
            Err(CallError::Guest { .. }) => "fault",
        };
        let span = tracing::Span::current();
        span.record("outcome", outcome);
        if result.is_err() {
            otlp::mark_error(&span, outcome);
        }
        let seconds = started.elapsed().as_secs_f64();
        match &tenant {
            Some(calls) => calls.count(C::KIND, outcome, seconds),
            None => metrics.call("", C::KIND, outcome, seconds),
        }
        let answered = match result {
            Ok(response) => Ok(response),
            Err(error) => match error.reply(C::KIND) {
                FailureReply::Error { code, message } => C::error_response(pb::Error {
                    code,
                    message: message.into_owned(),
                    temporary: true,
                })
                .ok_or_else(|| {
                    tonic::Status::internal("the call failed; Rotor's log has the details")
                }),
                FailureReply::Status(status) => Err(status),
            },
        };
        let reply_size = answered.as_ref().ok().map(|response| {
            u64::try_from(prost::Message::encoded_len(response)).unwrap_or(u64::MAX)
        });
        match &tenant {
            Some(calls) => calls.bytes(C::KIND, size, reply_size),
            None => metrics.bytes("", C::KIND, size, reply_size),
        }
        answered
    }
}
