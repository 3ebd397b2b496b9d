//! Export of call spans to an OpenTelemetry collector over OTLP/gRPC
//! (`[telemetry] otlp`).
//!
//! `tracing` spans become OpenTelemetry spans through `tracing-opentelemetry`;
//! only the `call` span and its steps' spans are exported (see
//! [`CALL_TARGET`] and [`STEP_TARGET`]). Finished spans go into a bounded
//! queue that a task on the tokio runtime drains in batches to the
//! collector. A call never waits for the collector: when the queue is full
//! a span is dropped and counted (`rotor_trace_spans_dropped_total`), and
//! an export that takes too long is abandoned.

use std::sync::LazyLock;
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, Status, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    TracerProvider as _,
};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    Sampler, SdkTracerProvider, Span, SpanData, SpanExporter, SpanProcessor,
};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::{mpsc, oneshot};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;

use super::trace::{CALL_TARGET, STEP_TARGET, TraceParent};
use crate::config::OtlpConfig;

/// Finished spans waiting for export, at most: about a second of calls of
/// a busy replica with a few steps each. Past it spans are dropped.
pub const QUEUE_CAPACITY: usize = 8192;
/// Spans sent in one export request, at most.
const MAX_BATCH: usize = 512;
/// How long a span may wait for a batch to fill before it is sent anyway.
const EXPORT_INTERVAL: Duration = Duration::from_secs(1);
/// The longest one export may take, retries included: a collector that
/// does not answer costs the export task this, never a call.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a shutdown waits for the last spans to be sent.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

/// Spans not exported: the queue was full, or the collector did not take
/// them. The subscriber that exports spans is process-wide, so is this
/// count; every [`super::Metrics`] registers it.
pub(crate) static SPANS_DROPPED: LazyLock<Counter> = LazyLock::new(Counter::default);

/// Why the exporter could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot export to the OTLP collector at {endpoint} (`telemetry.otlp`): {message}")]
pub struct OtlpError {
    endpoint: String,
    message: String,
}

/// The running export: spans go to the collector until [`shutdown`].
///
/// [`shutdown`]: OtlpExport::shutdown
pub struct OtlpExport {
    provider: SdkTracerProvider,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for OtlpExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpExport").finish_non_exhaustive()
    }
}

impl OtlpExport {
    /// Starts exporting to `config`'s collector. Must be called on a tokio
    /// runtime: the export task runs there. The collector need not be up:
    /// the connection is made when the first batch is sent, and again after
    /// a failure.
    pub fn start(config: &OtlpConfig) -> Result<OtlpExport, OtlpError> {
        OtlpExport::with_capacity(config, QUEUE_CAPACITY)
    }

    /// [`OtlpExport::start`] with a queue of `capacity` spans.
    pub fn with_capacity(config: &OtlpConfig, capacity: usize) -> Result<OtlpExport, OtlpError> {
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .build();
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(config.endpoint.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|error| OtlpError {
                endpoint: config.endpoint.clone(),
                message: error.to_string(),
            })?;
        exporter.set_resource(&resource);
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(drain(exporter, receiver, stopped));
        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                config.sample_ratio,
            ))))
            .with_span_processor(SpanQueue { sender })
            .build();
        Ok(OtlpExport {
            provider,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The layer that turns the call and step spans into exported spans;
    /// it sees no other span and no event.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + use<S>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        exporting_layer(&self.provider)
    }

    /// Sends the spans still queued, waiting [`SHUTDOWN_TIMEOUT`] at most.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_TIMEOUT, task).await.is_err()
        {
            tracing::warn!(
                "spans still queued for the OTLP collector after {SHUTDOWN_TIMEOUT:?}; dropped"
            );
        }
    }
}

/// The layer that makes OpenTelemetry spans of `provider` out of the call
/// and step spans.
fn exporting_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + Send + Sync + use<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("rotor"))
        .with_location(false)
        .with_threads(false)
        .with_level(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_filter(
            filter_fn(|meta| {
                meta.is_span() && (meta.target() == CALL_TARGET || meta.target() == STEP_TARGET)
            })
            // Call and step spans are `info` spans: nothing below that
            // level is exported, and the `log` crate may know it.
            .with_max_level_hint(tracing::level_filters::LevelFilter::INFO),
        )
}

impl Drop for OtlpExport {
    fn drop(&mut self) {
        // Without a `shutdown`, the task stops and its queue is dropped.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Makes `span` a child of the caller's span `parent`, in the caller's
/// trace. Does nothing when spans are not exported.
pub fn continue_trace(span: &tracing::Span, parent: &TraceParent) {
    let (Ok(trace_id), Ok(span_id)) = (
        TraceId::from_hex(&parent.trace_id),
        SpanId::from_hex(&parent.parent_id),
    ) else {
        return;
    };
    let remote = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(parent.flags),
        true,
        TraceState::default(),
    );
    // Fails only where no exporting layer sees the span: nothing to do then.
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
}

/// Marks `span` as failed, for the collector: `why` is a short word (an
/// outcome or a fault kind), never text a guest wrote.
pub fn mark_error(span: &tracing::Span, why: &'static str) {
    span.set_status(Status::error(why));
}

/// The span processor: hands each sampled span to the export task without
/// ever waiting, and counts those there is no room for.
#[derive(Debug)]
struct SpanQueue {
    sender: mpsc::Sender<SpanData>,
}

impl SpanProcessor for SpanQueue {
    fn on_start(&self, _span: &mut Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() && self.sender.try_send(span).is_err() {
            SPANS_DROPPED.inc();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        // The export task sends every `EXPORT_INTERVAL`; `OtlpExport::shutdown`
        // sends the rest. Blocking a runtime thread here could deadlock it.
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The export task: sends batches of up to [`MAX_BATCH`] spans when one is
/// full or every [`EXPORT_INTERVAL`], until told to stop; then sends what
/// is queued and ends.
async fn drain(
    exporter: impl SpanExporter,
    mut queue: mpsc::Receiver<SpanData>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut failing = false;
    let mut tick = tokio::time::interval(EXPORT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // At least 1: a full batch is sent before the task waits again.
        let room = MAX_BATCH - batch.len();
        let wake = tokio::select! {
            received = queue.recv_many(&mut batch, room) => Wake::Received(received),
            _ = tick.tick() => Wake::Tick,
            _ = &mut stop => Wake::Stop,
        };
        match wake {
            // Zero received: every sender is gone, as after `Stop`.
            Wake::Received(0) | Wake::Stop => break,
            Wake::Received(_) if batch.len() < MAX_BATCH => {}
            Wake::Received(_) | Wake::Tick => send(&exporter, &mut batch, &mut failing).await,
        }
    }
    queue.close();
    while let Ok(span) = queue.try_recv() {
        batch.push(span);
        if batch.len() == MAX_BATCH {
            send(&exporter, &mut batch, &mut failing).await;
        }
    }
    send(&exporter, &mut batch, &mut failing).await;
}

/// What woke the export task.
enum Wake {
    /// This many spans were queued.
    Received(usize),
    /// A batch is due, full or not.
    Tick,
    /// Shutdown: send what is queued and stop.
    Stop,
}

/// Sends `batch` (and empties it), logging the first failure and the
/// recovery, not every failed batch.
async fn send(exporter: &impl SpanExporter, batch: &mut Vec<SpanData>, failing: &mut bool) {
    if batch.is_empty() {
        return;
    }
    let spans = std::mem::take(batch);
    let count = spans.len();
    let result = match tokio::time::timeout(EXPORT_TIMEOUT, exporter.export(spans)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {EXPORT_TIMEOUT:?}")),
    };
    match result {
        Ok(()) if *failing => {
            *failing = false;
            tracing::info!("spans reach the OTLP collector again");
        }
        Ok(()) => {}
        Err(error) => {
            SPANS_DROPPED.inc_by(u64::try_from(count).unwrap_or(u64::MAX));
            if !*failing {
                *failing = true;
                tracing::warn!("cannot export {count} spans to the OTLP collector: {error}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use opentelemetry::trace::Tracer as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Held by the tests that count drops: the count is process-wide.
    static COUNTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// A provider whose spans land in a queue of `capacity`, sampled as
    /// Rotor samples with `ratio`.
    fn provider(capacity: usize, ratio: f64) -> (SdkTracerProvider, mpsc::Receiver<SpanData>) {
        let (sender, receiver) = mpsc::channel(capacity);
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                ratio,
            ))))
            .with_span_processor(SpanQueue { sender })
            .build();
        (provider, receiver)
    }

    fn queued(receiver: &mut mpsc::Receiver<SpanData>) -> Vec<SpanData> {
        std::iter::from_fn(|| receiver.try_recv().ok()).collect()
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let _counting = COUNTING.blocking_lock();
        let (provider, mut receiver) = provider(2, 1.0);
        let tracer = provider.tracer("test");
        let dropped = SPANS_DROPPED.get();
        let started = Instant::now();
        for _ in 0..10 {
            drop(tracer.start("span"));
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(SPANS_DROPPED.get() - dropped, 8);
        assert_eq!(queued(&mut receiver).len(), 2);
    }

    /// An exporter that keeps the size of each batch, or fails them all.
    #[derive(Debug, Clone, Default)]
    struct Recorder {
        batches: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
        fail: bool,
    }

    impl SpanExporter for Recorder {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.batches.lock().expect("batches").push(batch.len());
            if self.fail {
                Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                    "down".into(),
                ))
            } else {
                Ok(())
            }
        }
    }

    /// Queues `count` finished spans for `exporter`'s task, stops it and
    /// waits for it; the batches it sent.
    async fn drained(count: usize, exporter: Recorder) -> Vec<usize> {
        let (sender, receiver) = mpsc::channel(count);
        let provider = SdkTracerProvider::builder()
            .with_span_processor(SpanQueue { sender })
            .build();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(drain(exporter.clone(), receiver, stopped));
        let tracer = provider.tracer("test");
        for _ in 0..count {
            drop(tracer.start("span"));
        }
        stop.send(()).expect("the task runs");
        task.await.expect("the task ends");
        exporter.batches.lock().expect("batches").clone()
    }

    #[tokio::test]
    async fn queued_spans_leave_in_bounded_batches_and_all_of_them_on_stop() {
        let batches = drained(1200, Recorder::default()).await;
        assert_eq!(batches.iter().sum::<usize>(), 1200, "{batches:?}");
        assert!(batches.iter().all(|&size| size <= MAX_BATCH), "{batches:?}");
    }

    #[tokio::test]
    async fn spans_a_collector_refuses_are_counted_as_dropped() {
        let _counting = COUNTING.lock().await;
        let dropped = SPANS_DROPPED.get();
        let failing = Recorder {
            fail: true,
            ..Recorder::default()
        };
        let batches = drained(700, failing).await;
        assert_eq!(batches.iter().sum::<usize>(), 700);
        assert_eq!(SPANS_DROPPED.get() - dropped, 700);
    }

    #[test]
    fn the_call_span_continues_the_callers_trace_and_parents_its_steps() {
        let (provider, mut receiver) = provider(16, 0.0);
        let subscriber = tracing_subscriber::registry().with(exporting_layer(&provider));
        let caller = |flags| TraceParent {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            parent_id: "00f067aa0ba902b7".into(),
            flags,
        };
        tracing::subscriber::with_default(subscriber, || {
            for flags in [1, 0] {
                let call = tracing::info_span!(target: CALL_TARGET, "call", outcome = "accept");
                continue_trace(&call, &caller(flags));
                call.in_scope(|| {
                    let step = tracing::info_span!(
                        target: STEP_TARGET,
                        "step",
                        otel.name = "handler",
                        fault = "trap"
                    );
                    mark_error(&step, "trap");
                    // Spans of other targets are not exported.
                    tracing::info_span!("elsewhere").in_scope(|| {});
                });
            }
        });
        // The caller sampled the first trace (flags 01) and not the second:
        // Rotor follows, whatever its own ratio (0 here).
        let spans = queued(&mut receiver);
        let names: Vec<&str> = spans.iter().map(|span| span.name.as_ref()).collect();
        assert_eq!(names, ["handler", "call"]);
        let (step, call) = (&spans[0], &spans[1]);
        let trace = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex");
        assert_eq!(call.span_context.trace_id(), trace);
        assert_eq!(
            call.parent_span_id,
            SpanId::from_hex("00f067aa0ba902b7").expect("hex")
        );
        assert!(call.parent_span_is_remote);
        assert_eq!(step.span_context.trace_id(), trace);
        assert_eq!(step.parent_span_id, call.span_context.span_id());
        assert_eq!(step.status, Status::error("trap"));
        assert!(
            step.attributes
                .iter()
                .any(|kv| kv.key.as_str() == "fault" && kv.value.as_str() == "trap")
        );
    }
}
