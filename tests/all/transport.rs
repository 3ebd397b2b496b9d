//! The proxy listener's transport is bounded: a caller without the `[auth]`
//! credentials gets its answer before any of its body is read, and streams
//! per connection, connections per listener, header sizes, message sizes
//! and the time a call may take all have limits. The tests speak raw
//! HTTP/2, so they can send what no well-behaved gRPC client would: a
//! message whose body never arrives.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use rotor::proto::proxy as pb;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::support::TestServer;

/// The proxy's RPC method.
const RPC: &str = "/centrifugal.centrifugo.proxy.CentrifugoProxy/RPC";
/// How long a test waits for an answer that must come at once.
const PROMPTLY: Duration = Duration::from_secs(3);

/// A raw HTTP/2 connection to a proxy listener.
struct RawConnection {
    client: h2::client::SendRequest<Bytes>,
    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS, once it arrived.
    max_streams: watch::Receiver<Option<usize>>,
}

async fn connect(address: SocketAddr) -> RawConnection {
    let tcp = TcpStream::connect(address).await.expect("connecting");
    let (client, mut connection) = h2::client::handshake(tcp).await.expect("an h2 handshake");
    let (settings, max_streams) = watch::channel(None);
    tokio::spawn(std::future::poll_fn(move |cx| {
        let polled = Pin::new(&mut connection).poll(cx);
        let _ = settings.send(Some(connection.max_concurrent_send_streams()));
        polled.map(drop)
    }));
    RawConnection {
        client,
        max_streams,
    }
}

/// The headers of a gRPC call of `path` with `metadata`.
fn call_headers(path: &str, metadata: &[(&str, &str)]) -> http::Request<()> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://rotor{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (key, value) in metadata {
        request = request.header(*key, *value);
    }
    request.body(()).expect("a request")
}

/// A gRPC message frame: the prefix (uncompressed, `length`) and `body`.
fn frame(length: u32, body: &[u8]) -> Bytes {
    let mut bytes = vec![0];
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(body);
    Bytes::from(bytes)
}

/// The gRPC status of an answer: from the headers of a trailers-only
/// answer, else from the trailers.
async fn grpc_status(response: h2::client::ResponseFuture) -> Result<i32, String> {
    let response = response.await.map_err(|error| error.to_string())?;
    let status = |headers: &http::HeaderMap| {
        headers
            .get("grpc-status")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
    };
    if let Some(code) = status(response.headers()) {
        return Ok(code);
    }
    let mut body = response.into_body();
    while let Some(data) = body.data().await {
        let data = data.map_err(|error| error.to_string())?;
        let _ = body.flow_control().release_capacity(data.len());
    }
    let trailers = body.trailers().await.map_err(|error| error.to_string())?;
    trailers
        .as_ref()
        .and_then(status)
        .ok_or_else(|| "no grpc-status".to_owned())
}

/// Starts a call whose message announces `announced` bytes and sends only
/// `sent` of them, leaving the stream open.
async fn unfinished_call(
    connection: &mut RawConnection,
    metadata: &[(&str, &str)],
    announced: u32,
    sent: usize,
) -> (h2::client::ResponseFuture, h2::SendStream<Bytes>) {
    let client = connection
        .client
        .clone()
        .ready()
        .await
        .expect("a ready connection");
    let mut client = client;
    let (response, mut body) = client
        .send_request(call_headers(RPC, metadata), false)
        .expect("sending the headers");
    body.reserve_capacity(sent + 5);
    body.send_data(frame(announced, &vec![b'x'; sent]), false)
        .expect("sending part of the body");
    (response, body)
}

/// A whole RPC call; its gRPC status.
async fn whole_call(connection: &mut RawConnection, metadata: &[(&str, &str)]) -> i32 {
    let message = pb::RpcRequest {
        method: "echo".into(),
        data: b"{}".to_vec(),
        ..Default::default()
    }
    .encode_to_vec();
    let mut client = connection
        .client
        .clone()
        .ready()
        .await
        .expect("a ready connection");
    let (response, mut body) = client
        .send_request(call_headers(RPC, metadata), false)
        .expect("sending the headers");
    let length = u32::try_from(message.len()).expect("a small message");
    body.send_data(frame(length, &message), true)
        .expect("sending the body");
    tokio::time::timeout(PROMPTLY, grpc_status(response))
        .await
        .expect("an answer in time")
        .expect("an answer")
}

const SECRET_CONFIG: &str = "[handlers]\nrpc = \"test-mirror.wasm\"\n\
                             [auth]\nkey = \"x-proxy-secret\"\nvalue_file = \"secret\"\n";

async fn server_with_secret(extra: &str) -> TestServer {
    let dir = crate::support::ScratchDir::new();
    std::fs::write(dir.path().join("secret"), "s3cret").expect("writing the secret");
    let config = format!(
        "[plugins]\ndir = {:?}\n{SECRET_CONFIG}{extra}",
        crate::support::plugin_dir().display().to_string()
    );
    TestServer::start_in(dir, &config).await
}

#[tokio::test]
async fn an_unauthenticated_caller_cannot_make_rotor_buffer_a_body() {
    let server = server_with_secret("").await;
    let mut connection = connect(server.address).await;
    // Many streams, each announcing a message of nearly 1 MiB and sending a
    // few KiB of it: every one is refused from its headers, at once.
    let mut open = Vec::new();
    for _ in 0..64 {
        open.push(
            unfinished_call(
                &mut connection,
                &[("x-proxy-secret", "a guess")],
                1_000_000,
                4096,
            )
            .await,
        );
    }
    for (response, _body) in open {
        let status = tokio::time::timeout(PROMPTLY, grpc_status(response))
            .await
            .expect("refused before the body arrives, not after");
        assert_eq!(status, Ok(tonic::Code::Unauthenticated as i32));
    }
    // Centrifugo, with the credentials, is answered on the same connection.
    assert_eq!(
        whole_call(&mut connection, &[("x-proxy-secret", "s3cret")]).await,
        tonic::Code::Ok as i32
    );
    // The health service stays open to probes without credentials.
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health needs no credentials");
}

#[tokio::test]
async fn a_message_over_every_max_request_is_refused_before_its_body() {
    let server = TestServer::start(
        "[handlers]\nrpc = \"test-mirror.wasm\"\n[limits]\nmax_request = \"64KiB\"\n",
    )
    .await;
    let mut connection = connect(server.address).await;
    // 2 MiB announced, within the gRPC server's 4 MiB ceiling but over the
    // only tenant's max_request: refused from the length prefix.
    let (response, _body) = unfinished_call(&mut connection, &[], 2 << 20, 1024).await;
    let status = tokio::time::timeout(PROMPTLY, grpc_status(response))
        .await
        .expect("refused before the body arrives");
    assert_eq!(status, Ok(tonic::Code::OutOfRange as i32));
}

#[tokio::test]
async fn concurrent_streams_per_connection_are_bounded() {
    let server = server_with_secret("[transport]\nmax_streams = 4\n").await;
    let mut connection = connect(server.address).await;
    assert_eq!(
        whole_call(&mut connection, &[("x-proxy-secret", "s3cret")]).await,
        tonic::Code::Ok as i32
    );
    let advertised = *connection
        .max_streams
        .wait_for(Option::is_some)
        .await
        .expect("the connection's settings");
    assert_eq!(advertised, Some(4), "SETTINGS_MAX_CONCURRENT_STREAMS");

    // The default bounds them too.
    let server = server_with_secret("").await;
    let mut connection = connect(server.address).await;
    whole_call(&mut connection, &[("x-proxy-secret", "s3cret")]).await;
    let advertised = *connection
        .max_streams
        .wait_for(Option::is_some)
        .await
        .expect("the connection's settings");
    assert_eq!(
        advertised,
        Some(rotor::config::DEFAULT_MAX_STREAMS as usize)
    );
}

#[tokio::test]
async fn a_call_whose_body_never_ends_is_cut_at_the_request_timeout() {
    let server = server_with_secret("[transport]\nrequest_timeout = \"300ms\"\n").await;
    let mut connection = connect(server.address).await;
    // Centrifugo's credentials, no grpc-timeout, and a body that stalls.
    let started = std::time::Instant::now();
    let (response, _body) =
        unfinished_call(&mut connection, &[("x-proxy-secret", "s3cret")], 1000, 10).await;
    let status = tokio::time::timeout(PROMPTLY, grpc_status(response))
        .await
        .expect("the call ends by the request timeout");
    assert_eq!(status, Ok(tonic::Code::Cancelled as i32));
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn header_lists_over_the_limit_are_refused_and_the_connection_survives() {
    let big = "v".repeat(24 << 10);
    let server = server_with_secret("").await;
    let mut connection = connect(server.address).await;
    let mut client = connection.client.clone().ready().await.expect("ready");
    // The client may refuse to send what the server said it would not take;
    // if it sends it, the server refuses the stream.
    if let Ok((response, _body)) = client.send_request(
        call_headers(RPC, &[("x-proxy-secret", "s3cret"), ("x-big", &big)]),
        false,
    ) {
        let refused = tokio::time::timeout(PROMPTLY, grpc_status(response))
            .await
            .expect("an answer in time");
        assert!(
            refused.is_err(),
            "24 KiB of metadata over the default 16 KiB: {refused:?}"
        );
    }
    assert_eq!(
        whole_call(&mut connection, &[("x-proxy-secret", "s3cret")]).await,
        tonic::Code::Ok as i32,
        "the connection still serves"
    );

    // A larger limit lets the same call through.
    let server = server_with_secret("[transport]\nmax_header_bytes = \"64KiB\"\n").await;
    let mut connection = connect(server.address).await;
    assert_eq!(
        whole_call(
            &mut connection,
            &[("x-proxy-secret", "s3cret"), ("x-big", &big)]
        )
        .await,
        tonic::Code::Ok as i32
    );
}

#[tokio::test]
async fn connections_per_listener_are_bounded() {
    let server = server_with_secret("[transport]\nmax_connections = 2\n").await;
    let secret = [("x-proxy-secret", "s3cret")];
    // The test server's own client holds one connection; one more fits.
    let mut second = connect(server.address).await;
    assert_eq!(
        whole_call(&mut second, &secret).await,
        tonic::Code::Ok as i32
    );
    // A third waits to be accepted: its call gets no answer...
    let third = connect(server.address).await;
    let message = pb::RpcRequest {
        method: "echo".into(),
        data: b"{}".to_vec(),
        ..Default::default()
    }
    .encode_to_vec();
    let mut client = third.client.clone().ready().await.expect("ready");
    let (response, mut body) = client
        .send_request(call_headers(RPC, &secret), false)
        .expect("sending the headers");
    let length = u32::try_from(message.len()).expect("small");
    body.send_data(frame(length, &message), true)
        .expect("sending");
    let mut response = Box::pin(grpc_status(response));
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut response)
            .await
            .is_err(),
        "a third connection is not served while two are open"
    );
    // ...until one of the others closes.
    drop(second);
    let status = tokio::time::timeout(PROMPTLY, response)
        .await
        .expect("served once a slot is free");
    assert_eq!(status, Ok(tonic::Code::Ok as i32));
    drop(third.client);
}

/// The message of a whole gRPC answer, without its frame prefix.
async fn answer_message(response: h2::client::ResponseFuture) -> Vec<u8> {
    let response = response.await.expect("an answer");
    assert_eq!(response.status(), http::StatusCode::OK);
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(data) = body.data().await {
        let data = data.expect("the answer's body");
        let _ = body.flow_control().release_capacity(data.len());
        bytes.extend_from_slice(&data);
    }
    let trailers = body.trailers().await.expect("trailers");
    assert_eq!(
        trailers.as_ref().and_then(|t| t.get("grpc-status")),
        Some(&http::HeaderValue::from_static("0")),
        "{trailers:?}"
    );
    assert!(bytes.len() >= 5, "a framed message: {bytes:?}");
    bytes.split_off(5)
}

#[tokio::test]
async fn a_busy_tenants_call_is_refused_before_its_body() {
    let server = TestServer::start(
        "[handlers]\nrpc = \"test-faulty.wasm\"\n[limits]\nconcurrency = 1\ntimeout = \"2s\"\n",
    )
    .await;
    // One call spins until its deadline and holds the tenant's only slot.
    let mut spinner = server.client.clone();
    let spinning = tokio::spawn(async move {
        spinner
            .rpc(pb::RpcRequest {
                method: "loop".into(),
                ..Default::default()
            })
            .await
    });
    let started = std::time::Instant::now();
    while !server
        .rotor
        .metrics_text()
        .contains("rotor_calls_in_flight 1")
    {
        assert!(
            started.elapsed() < PROMPTLY,
            "the spinning call never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A call that announces nearly 1 MiB and sends 4 KiB of it gets the
    // busy answer from its headers: its body is never waited for.
    let mut connection = connect(server.address).await;
    let (response, _body) = unfinished_call(&mut connection, &[], 1_000_000, 4096).await;
    let message = tokio::time::timeout(PROMPTLY, answer_message(response))
        .await
        .expect("refused before the body arrives, not after");
    let reply = pb::RpcResponse::decode(message.as_slice()).expect("an RPC reply");
    assert_eq!(
        reply.error.map(|error| error.code),
        Some(111),
        "too many requests"
    );
    assert!(
        server
            .rotor
            .metrics_text()
            .contains(r#"rotor_calls_total{tenant="default",kind="rpc",outcome="busy"} 1"#),
        "counted as busy"
    );
    // The spinning call ends at its deadline, and the slot is free again.
    let _ = spinning.await.expect("the spinning call");
    assert_eq!(
        server.rpc("echo", b"{}", &[]).await.result.map(|r| r.data),
        Some(b"{}".to_vec())
    );
}
