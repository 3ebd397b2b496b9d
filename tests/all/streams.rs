//! Subscription streams over real gRPC, with the tests playing Centrifugo:
//! `SubscribeUnidirectional` and `SubscribeBidirectional` answered by one
//! guest instance per stream (`plugins/test-stream`), and every way a
//! stream ends: refused, closed by the guest, a fault, idle, the client
//! leaving, the tenant's cap, a reload and shutdown.

use std::time::{Duration, Instant};

use rotor::proto::proxy as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use crate::support::TestServer;

/// The longest any one message may take to arrive.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

const FIXTURE: &str = r#"
[handlers]
subscribe_stream = "test-stream.wasm"
"#;

pub(crate) fn subscribe(channel: &str, data: &str) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        client: "c1".into(),
        transport: "websocket".into(),
        protocol: "json".into(),
        encoding: "json".into(),
        user: "42".into(),
        channel: channel.into(),
        data: data.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// Opens a unidirectional stream as Centrifugo does: no deadline.
pub(crate) async fn open(
    server: &TestServer,
    channel: &str,
    data: &str,
) -> Streaming<pb::StreamSubscribeResponse> {
    server
        .client
        .clone()
        .subscribe_unidirectional(subscribe(channel, data))
        .await
        .expect("the stream opens")
        .into_inner()
}

/// Opens a bidirectional stream as Centrifugo does: the subscribe request
/// first; the sender passes the client's publications on.
pub(crate) async fn open_bidirectional(
    server: &TestServer,
    request: pb::SubscribeRequest,
) -> (
    mpsc::Sender<pb::StreamSubscribeRequest>,
    Streaming<pb::StreamSubscribeResponse>,
) {
    let (to_rotor, outgoing) = mpsc::channel(8);
    to_rotor
        .send(pb::StreamSubscribeRequest {
            subscribe_request: Some(request),
            publication: None,
        })
        .await
        .expect("the request is queued");
    let stream = server
        .client
        .clone()
        .subscribe_bidirectional(ReceiverStream::new(outgoing))
        .await
        .expect("the stream opens")
        .into_inner();
    (to_rotor, stream)
}

/// Sends `data` into a bidirectional stream as the client's publication.
pub(crate) async fn send(to_rotor: &mpsc::Sender<pb::StreamSubscribeRequest>, data: &str) {
    to_rotor
        .send(pb::StreamSubscribeRequest {
            subscribe_request: None,
            publication: Some(pb::Publication {
                data: data.as_bytes().to_vec(),
                tags: Default::default(),
            }),
        })
        .await
        .expect("the stream takes client data");
}

/// The next message, `None` at the end of the stream, or the status that
/// ended it.
pub(crate) async fn next(
    stream: &mut Streaming<pb::StreamSubscribeResponse>,
) -> Result<Option<pb::StreamSubscribeResponse>, tonic::Status> {
    tokio::time::timeout(WAIT, stream.message())
        .await
        .expect("a message or the end within the wait")
}

/// The first message's subscribe response.
pub(crate) async fn first(
    stream: &mut Streaming<pb::StreamSubscribeResponse>,
) -> pb::SubscribeResponse {
    let message = next(stream).await.expect("OK").expect("a first message");
    assert!(message.publication.is_none());
    message
        .subscribe_response
        .expect("the subscribe response first")
}

/// The next message's publication data, as text.
pub(crate) async fn publication(stream: &mut Streaming<pb::StreamSubscribeResponse>) -> String {
    let message = next(stream)
        .await
        .expect("OK")
        .expect("a publication, not the end");
    let publication = message.publication.expect("a publication");
    String::from_utf8(publication.data).expect("UTF-8")
}

/// The value of a metric line that starts with `series`, or 0.
fn metric(server: &TestServer, series: &str) -> f64 {
    server
        .rotor
        .metrics_text()
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

pub(crate) fn open_streams(server: &TestServer) -> f64 {
    metric(server, "rotor_streams_open{tenant=\"default\"}")
}

pub(crate) fn events(server: &TestServer, event: &str) -> f64 {
    metric(
        server,
        &format!("rotor_stream_events_total{{tenant=\"default\",event=\"{event}\"}}"),
    )
}

/// Waits until `holds`, failing the test after [`WAIT`].
pub(crate) async fn eventually(what: &str, holds: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !holds() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_accepted_stream_sends_the_guests_ticks_past_the_request_timeout() {
    // A stream outlives the transport's request timeout: that bounds the
    // wait for an answer's headers, not a stream's life.
    let server = TestServer::start(&format!(
        "{FIXTURE}\n[transport]\nrequest_timeout = \"1s\"\n"
    ))
    .await;
    let mut stream = open(&server, "ticks:a", "tick:100").await;
    let opened = first(&mut stream).await;
    assert_eq!(opened.error, None);
    assert_eq!(opened.disconnect, None);
    assert_eq!(opened.result.expect("accepted").data, b"opened ticks:a");
    assert_eq!(open_streams(&server), 1.0);

    let started = Instant::now();
    for n in 1..=14 {
        let message = next(&mut stream).await.expect("OK").expect("a tick");
        let publication = message.publication.expect("a publication");
        assert_eq!(publication.data, format!("tick-{n}").as_bytes());
        assert_eq!(publication.tags.get("n"), Some(&n.to_string()));
    }
    assert!(started.elapsed() > Duration::from_millis(1200));
    assert_eq!(events(&server, "opened"), 1.0);
    assert!(events(&server, "published") >= 14.0);
}

#[tokio::test]
async fn a_refused_open_ends_the_stream_after_its_answer() {
    let server = TestServer::start(FIXTURE).await;
    let mut stream = open(&server, "ticks:a", "reject").await;
    let refused = first(&mut stream).await;
    assert_eq!(refused.result, None);
    let error = refused.error.expect("an error");
    assert_eq!((error.code, error.message.as_str()), (403, "not for you"));
    assert_eq!(next(&mut stream).await.expect("OK"), None, "then the end");

    let mut stream = open(&server, "ticks:a", "disconnect").await;
    let refused = first(&mut stream).await;
    assert_eq!(
        refused.disconnect,
        Some(pb::Disconnect {
            code: 4403,
            reason: "go away".into()
        })
    );
    assert_eq!(next(&mut stream).await.expect("OK"), None);
    assert_eq!(events(&server, "refused"), 2.0);
    assert_eq!(events(&server, "opened"), 0.0);
    assert_eq!(open_streams(&server), 0.0);
}

#[tokio::test]
async fn a_stream_nothing_routes_fails_as_unimplemented() {
    let server = TestServer::start(
        r#"
[handlers.subscribe_stream]
namespaces = { ticks = "test-stream.wasm" }
"#,
    )
    .await;
    let status = server
        .client
        .clone()
        .subscribe_unidirectional(subscribe("other:a", "tick:100"))
        .await
        .expect_err("no route");
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status}");
    let mut stream = open(&server, "ticks:a", "open-publish").await;
    assert!(first(&mut stream).await.result.is_some());
    // A publication made in `open` follows the answer.
    assert_eq!(publication(&mut stream).await, "hello");
}

#[tokio::test]
async fn the_bidirectional_form_echoes_client_data() {
    let server = TestServer::start(FIXTURE).await;
    let (to_rotor, mut stream) = open_bidirectional(&server, subscribe("chat:a", "silent")).await;
    assert!(first(&mut stream).await.result.is_some());
    for text in ["hi", "again"] {
        send(&to_rotor, text).await;
        assert_eq!(publication(&mut stream).await, format!("echo:{text}"));
    }
    // Centrifugo ending its side ends the stream, and the instance goes.
    drop(to_rotor);
    assert_eq!(next(&mut stream).await.expect("OK"), None);
    eventually("the stream is closed", || open_streams(&server) == 0.0).await;
    assert_eq!(events(&server, "client_left"), 1.0);
}

#[tokio::test]
async fn a_guest_trap_mid_stream_ends_it_with_internal() {
    let server = TestServer::start(FIXTURE).await;
    let mut stream = open(&server, "ticks:a", "trap:2").await;
    assert!(first(&mut stream).await.result.is_some());
    assert_eq!(publication(&mut stream).await, "tick-1");
    assert_eq!(publication(&mut stream).await, "tick-2");
    let status = next(&mut stream).await.expect_err("a status ends it");
    assert_eq!(status.code(), tonic::Code::Internal, "{status}");
    assert!(status.message().contains("test-stream.wasm"), "{status}");
    assert!(status.message().contains("trap"), "{status}");
    assert!(
        !status.message().contains("wake 3"),
        "no guest output: {status}"
    );
    assert_eq!(events(&server, "fault"), 1.0);
    eventually("the instance is dropped", || open_streams(&server) == 0.0).await;
}

#[tokio::test]
async fn a_guest_close_ends_the_stream_with_ok() {
    let server = TestServer::start(FIXTURE).await;
    let mut stream = open(&server, "ticks:a", "close:2").await;
    assert!(first(&mut stream).await.result.is_some());
    assert_eq!(publication(&mut stream).await, "tick-1");
    assert_eq!(publication(&mut stream).await, "tick-2");
    assert_eq!(next(&mut stream).await.expect("OK"), None);
    assert_eq!(events(&server, "closed_by_guest"), 1.0);
}

#[tokio::test]
async fn an_idle_stream_ends_and_a_busy_one_does_not() {
    let server =
        TestServer::start(&format!("{FIXTURE}\n[limits]\nstream_idle = \"300ms\"\n")).await;
    let mut busy = open(&server, "ticks:a", "tick:50").await;
    let mut idle = open(&server, "ticks:b", "silent").await;
    assert!(first(&mut busy).await.result.is_some());
    assert!(first(&mut idle).await.result.is_some());
    let started = Instant::now();
    assert_eq!(
        next(&mut idle).await.expect("OK"),
        None,
        "idle ends with OK"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // The ticking stream, well past the idle time, still ticks.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut last = String::new();
    for _ in 0..3 {
        last = publication(&mut busy).await;
    }
    assert!(last.starts_with("tick-"), "{last}");
    assert_eq!(events(&server, "idle"), 1.0);
    assert_eq!(open_streams(&server), 1.0);
}

#[tokio::test]
async fn the_tenant_caps_its_open_streams() {
    let server = TestServer::start(&format!("{FIXTURE}\n[limits]\nstreams = 2\n")).await;
    let mut one = open(&server, "ticks:1", "silent").await;
    let mut two = open(&server, "ticks:2", "silent").await;
    assert!(first(&mut one).await.result.is_some());
    assert!(first(&mut two).await.result.is_some());

    let mut three = open(&server, "ticks:3", "silent").await;
    let refused = first(&mut three).await;
    let error = refused.error.expect("refused past the cap");
    assert_eq!((error.code, error.temporary), (111, true), "{error:?}");
    assert_eq!(next(&mut three).await.expect("OK"), None);
    assert_eq!(open_streams(&server), 2.0);

    // One leaves: its slot is free again.
    drop(one);
    eventually("the stream is closed", || open_streams(&server) == 1.0).await;
    let mut four = open(&server, "ticks:4", "silent").await;
    assert!(first(&mut four).await.result.is_some());
    assert_eq!(open_streams(&server), 2.0);
}

#[tokio::test]
async fn a_client_that_leaves_drops_the_instance() {
    let server = TestServer::start(FIXTURE).await;
    let mut stream = open(&server, "ticks:a", "tick:30").await;
    assert!(first(&mut stream).await.result.is_some());
    assert_eq!(publication(&mut stream).await, "tick-1");
    assert_eq!(open_streams(&server), 1.0);
    drop(stream);
    eventually("the stream is closed", || open_streams(&server) == 0.0).await;
    assert_eq!(events(&server, "client_left"), 1.0);
}

#[tokio::test]
async fn a_reload_ends_the_streams_whose_plugin_changed() {
    let routes = |moved: &str| {
        format!(
            r#"
[handlers.subscribe_stream]
default = "test-stream.wasm"
namespaces = {{ moved = "{moved}" }}

[settings."stream-ticker.wasm"]
interval_ms = "50"
"#
        )
    };
    let server = TestServer::start(&routes("test-stream.wasm")).await;
    let mut moved = open(&server, "moved:a", "tick:50").await;
    let mut stays = open(&server, "stays:a", "tick:50").await;
    assert!(first(&mut moved).await.result.is_some());
    assert!(first(&mut stays).await.result.is_some());

    let path = server.dir.path().join("rotor.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let dir_line = text.lines().take(2).collect::<Vec<_>>().join("\n");
    std::fs::write(
        &path,
        format!("{dir_line}\n{}", routes("stream-ticker.wasm")),
    )
    .unwrap();
    server
        .rotor
        .reload_config()
        .await
        .expect("the reload applies");

    let status = loop {
        match next(&mut moved).await {
            Ok(Some(message)) => assert!(message.publication.is_some()),
            Ok(None) => panic!("the moved stream ended with OK"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status}");
    assert_eq!(events(&server, "reload"), 1.0);
    // The stream whose route did not change goes on.
    for _ in 0..3 {
        assert!(publication(&mut stays).await.starts_with("tick-"));
    }
    // A new stream of the moved namespace runs the new plugin.
    let mut again = open(&server, "moved:a", "").await;
    assert!(first(&mut again).await.result.is_some());
    assert_eq!(
        publication(&mut again).await,
        r#"{"tick":1,"channel":"moved:a"}"#
    );
}

#[tokio::test]
async fn shutdown_ends_every_stream_with_unavailable() {
    let server = TestServer::start(FIXTURE).await;
    let mut stream = open(&server, "ticks:a", "tick:50").await;
    assert!(first(&mut stream).await.result.is_some());
    assert_eq!(publication(&mut stream).await, "tick-1");
    let rotor = server.rotor.clone();
    let _connection = server.channel.clone();
    // Dropping the server stops its listener.
    drop(server);
    let status = loop {
        match next(&mut stream).await {
            Ok(Some(message)) => assert!(message.publication.is_some()),
            Ok(None) => panic!("the stream ended with OK"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status}");
    let text = rotor.metrics_text();
    assert!(
        text.contains("rotor_stream_events_total{tenant=\"default\",event=\"shutdown\"} 1"),
        "{text}"
    );
}
