//! OTLP export of call spans: `rotor serve` with `[telemetry] otlp` sends
//! the spans of its calls to a collector run by the test (the generated
//! OTLP trace service, served on loopback). One call through two
//! interceptors and a handler makes a `call` span with a child per step,
//! in the caller's trace; a collector that is down costs calls nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use rotor::proto::proxy as pb;
use rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient;
use tokio::sync::oneshot;

use crate::support::{RotorProcess, ScratchDir, plugin_dir, request};

/// The caller's trace, as a client's `traceparent` header carries it.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// The caller's span: the parent of Rotor's `call` span.
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// A span as the collector received it, with the service that sent it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

impl Received {
    fn attribute(&self, key: &str) -> Option<String> {
        let value = self
            .span
            .attributes
            .iter()
            .find(|attribute| attribute.key == key)?
            .value
            .as_ref()?
            .value
            .as_ref()?;
        Some(match value {
            Value::StringValue(text) => text.clone(),
            Value::IntValue(number) => number.to_string(),
            Value::BoolValue(flag) => flag.to_string(),
            other => format!("{other:?}"),
        })
    }

    fn id(&self) -> String {
        hex(&self.span.span_id)
    }

    fn parent(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    fn trace(&self) -> String {
        hex(&self.span.trace_id)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The collector: keeps every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().expect("the spans");
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
                .map(|value| match value {
                    Value::StringValue(name) => name.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    spans.push(Received {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Collector {
    /// Serves the collector on a free loopback port until the sender is
    /// dropped or fired; returns its address.
    async fn start(&self) -> (String, oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        let (stop, stopped) = oneshot::channel::<()>();
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await;
        });
        (format!("http://{address}"), stop)
    }

    fn spans(&self) -> Vec<Received> {
        self.spans.lock().expect("the spans").clone()
    }
}

/// `rotor serve` on `config` (TOML after `listen` and `[plugins]`).
fn serve(config: &str) -> RotorProcess {
    let text = format!(
        "listen = \"127.0.0.1:0\"\n[plugins]\ndir = {:?}\n{config}",
        plugin_dir().display().to_string()
    );
    RotorProcess::start(ScratchDir::new(), &text, &[])
}

/// An RPC of `method` with `metadata`.
async fn rpc(
    client: &mut CentrifugoProxyClient<tonic::transport::Channel>,
    method: &str,
    metadata: &[(&'static str, &str)],
) -> pb::RpcResponse {
    let message = pb::RpcRequest {
        user: "42".into(),
        method: method.into(),
        data: b"{}".to_vec(),
        ..Default::default()
    };
    client
        .rpc(request(message, metadata))
        .await
        .expect("an OK response")
        .into_inner()
}

/// Two interceptors (the second with an after hook) in front of the mirror,
/// and `trap` routed to the faulty handler; the interceptor reuses its
/// instances, the handlers do not.
fn chain_config(collector: &str) -> String {
    format!(
        "[handlers.rpc]\ndefault = \"test-mirror.wasm\"\nmethods = {{ trap = \"test-faulty.wasm\" }}\n\
         [interceptors]\nrpc = [\n  \
           {{ plugin = \"test-interceptor.wasm\", settings = {{ tag = \"A\" }} }},\n  \
           {{ plugin = \"test-interceptor.wasm\", settings = {{ tag = \"B\", after = \"tag\" }} }},\n]\n\
         [isolation.\"test-interceptor.wasm\"]\nmode = \"reuse\"\n\
         [telemetry]\notlp = \"{collector}\"\nservice_name = \"rotor-under-test\"\n"
    )
}

/// The spans of the trace `trace`, by the id of their parent.
fn children(spans: &[Received], parent: &str) -> Vec<Received> {
    let mut found: Vec<Received> = spans
        .iter()
        .filter(|span| span.parent() == parent)
        .cloned()
        .collect();
    found.sort_by_key(|span| span.span.start_time_unix_nano);
    found
}

// Two threads: the collector answers while the test waits for Rotor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_two_interceptors_exports_its_span_tree() {
    let collector = Collector::default();
    let (endpoint, _stop_collector) = collector.start().await;
    let mut serve = serve(&chain_config(&endpoint));
    let mut client = serve.client().await;

    // Three calls in three traces: the first makes every instance fresh;
    // the second finds the interceptor's instances warm; the third traps in
    // its handler.
    let traces = [
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "5bf92f3577b34da6a3ce929d0e0e4737",
        "6bf92f3577b34da6a3ce929d0e0e4738",
    ];
    assert_eq!(traces[0], TRACE_ID);
    let parent = |trace: &str| format!("00-{trace}-{CALLER_SPAN}-01");
    let first = rpc(&mut client, "ping", &[("traceparent", &parent(traces[0]))]).await;
    let data = first.result.expect("a result").data;
    assert!(
        String::from_utf8_lossy(&data).ends_with("|after:B"),
        "the after hook ran: {}",
        String::from_utf8_lossy(&data)
    );
    rpc(&mut client, "ping", &[("traceparent", &parent(traces[1]))]).await;
    let trapped = rpc(&mut client, "trap", &[("traceparent", &parent(traces[2]))]).await;
    assert!(trapped.error.is_some(), "the trap is a reply with an error");
    // A call without a trace context starts a trace of its own.
    rpc(&mut client, "ping", &[]).await;

    // Spans leave in batches; a stop sends what is still queued.
    drop(client);
    serve.stop().await;
    let spans = collector.spans();
    assert!(
        !spans.is_empty(),
        "no span reached the collector: {}",
        serve.log()
    );
    assert!(
        spans.iter().all(|span| span.service == "rotor-under-test"),
        "every span names the service: {spans:?}"
    );

    let mut calls_by_trace = BTreeMap::new();
    for span in spans.iter().filter(|span| span.span.name == "call") {
        calls_by_trace.insert(span.trace(), span.clone());
    }
    assert_eq!(
        calls_by_trace.len(),
        4,
        "four calls, four traces: {spans:?}"
    );

    for (index, trace) in traces.iter().enumerate() {
        let call = calls_by_trace
            .get(*trace)
            .unwrap_or_else(|| panic!("the call of trace {trace}: {spans:?}"));
        // Rotor's span continues the caller's trace, under the caller's span.
        assert_eq!(call.parent(), CALLER_SPAN);
        assert_eq!(call.span.kind, SpanKind::Server as i32);
        assert_eq!(call.attribute("kind").as_deref(), Some("rpc"));
        assert_eq!(call.attribute("tenant").as_deref(), Some("default"));

        let in_trace: Vec<Received> = spans
            .iter()
            .filter(|span| span.trace() == *trace)
            .cloned()
            .collect();
        let steps = children(&in_trace, &call.id());
        let names: Vec<&str> = steps.iter().map(|step| step.span.name.as_str()).collect();
        // Both interceptors pass the call on, so both after hooks run,
        // innermost first; a handler that fails ends the call: none runs.
        let expected: &[&str] = if index == 2 {
            &["before", "before", "handler"]
        } else {
            &["before", "before", "handler", "after", "after"]
        };
        assert_eq!(names, expected, "one span per step, in order: {steps:?}");
        assert_eq!(
            in_trace.len(),
            1 + steps.len(),
            "no other span: {in_trace:?}"
        );
        for step in &steps {
            assert_eq!(
                step.attribute("step").as_deref(),
                Some(step.span.name.as_str())
            );
            assert_eq!(step.attribute("version").map(|v| v.len()), Some(12));
        }
        let plugins: Vec<String> = steps
            .iter()
            .map(|step| step.attribute("plugin").unwrap_or_default())
            .collect();
        let handler = if index == 2 {
            "test-faulty.wasm"
        } else {
            "test-mirror.wasm"
        };
        let interceptor = "test-interceptor.wasm";
        let expected = [interceptor, interceptor, handler, interceptor, interceptor];
        assert_eq!(plugins, expected[..steps.len()]);
        assert_eq!(call.attribute("plugin").as_deref(), Some(handler));
        let instances: Vec<String> = steps
            .iter()
            .map(|step| step.attribute("instance").unwrap_or_default())
            .collect();
        let reused = if index == 0 { "fresh" } else { "warm" };
        let expected = [reused, reused, "fresh", reused, reused];
        assert_eq!(instances, expected[..steps.len()], "trace {trace}");

        let handler_step = &steps[2];
        if index == 2 {
            assert_eq!(call.attribute("outcome").as_deref(), Some("fault"));
            assert_eq!(handler_step.attribute("fault").as_deref(), Some("trap"));
            let status = handler_step.span.status.as_ref().expect("a status");
            assert_eq!(status.code, StatusCode::Error as i32);
            let status = call.span.status.as_ref().expect("a status");
            assert_eq!(status.code, StatusCode::Error as i32);
        } else {
            assert_eq!(call.attribute("outcome").as_deref(), Some("accept"));
            assert_eq!(handler_step.attribute("fault"), None);
        }
    }

    // The call without a context is the root of a trace of its own.
    let own = calls_by_trace
        .iter()
        .find(|(trace, _)| !traces.contains(&trace.as_str()))
        .map(|(_, call)| call)
        .expect("the call without a traceparent");
    assert!(own.span.parent_span_id.is_empty(), "{own:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_costs_calls_nothing() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let mut serve = serve(&chain_config(&format!("http://{closed}")));
    let mut client = serve.client().await;
    let started = Instant::now();
    let calls = 200;
    for n in 0..calls {
        let trace = format!("{n:032x}").replace('0', "a");
        let reply = rpc(
            &mut client,
            "ping",
            &[("traceparent", &format!("00-{trace}-{CALLER_SPAN}-01"))],
        )
        .await;
        assert!(reply.result.is_some(), "call {n} answered: {reply:?}");
        if n == 0 {
            // Past the first export attempt, which fails.
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
    }
    let elapsed = started.elapsed();
    // Each call runs three wasm instances; far below this bound even in a
    // debug build on a busy machine, far above it if calls waited for the
    // export (its timeout is seconds).
    assert!(
        elapsed < Duration::from_secs(20),
        "{calls} calls took {elapsed:?}"
    );
    drop(client);
    let stopping = serve.stop().await;
    assert!(
        stopping < Duration::from_secs(8),
        "a shutdown waits a bounded time for the collector: {stopping:?}"
    );
    let log = serve.log();
    assert!(
        log.contains("cannot export") && log.contains("OTLP collector"),
        "the failed export is logged once: {log}"
    );
    assert_eq!(
        log.matches("cannot export").count(),
        1,
        "not once per batch: {log}"
    );
}
