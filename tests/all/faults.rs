//! Guests that trap, loop, eat memory or overflow their stack get a defined
//! reply, and the host goes on serving.

use std::time::Duration;

use rotor::proto::proxy as pb;

use crate::support::{TestServer, internal_error, request};

const FAULTY: &str = r#"
[handlers]
connect = "test-faulty.wasm"
rpc = "test-faulty.wasm"
[limits]
memory = "32MiB"
timeout = "300ms"
"#;

async fn rpc(server: &TestServer, method: &str) -> pb::RpcResponse {
    server.rpc(method, br#"{"ok":true}"#, &[]).await
}

#[tokio::test]
async fn every_fault_answers_internal_error_and_the_next_call_succeeds() {
    let server = TestServer::start(FAULTY).await;
    for method in ["trap", "loop", "oom", "stack"] {
        let response = rpc(&server, method).await;
        assert_eq!(response.error, internal_error(), "{method}");
        assert!(response.result.is_none(), "{method}");
        let next = rpc(&server, "echo").await;
        let expected = match method {
            "loop" => "deadline",
            "oom" => "out_of_memory",
            _ => "trap",
        };
        let metrics = server.rotor.metrics_text();
        assert!(
            metrics.contains(&format!(
                r#"rotor_guest_faults_total{{plugin="test-faulty.wasm",fault="{expected}"}}"#
            )),
            "{method}: {metrics}"
        );
        assert_eq!(
            next.result.map(|r| r.data),
            Some(br#"{"ok":true}"#.to_vec()),
            "the call after {method}"
        );
    }
}

#[tokio::test]
async fn a_trapping_connect_fails_closed() {
    let mut server = TestServer::start(FAULTY).await;
    let response = server
        .client
        .connect(request(pb::ConnectRequest::default(), &[]))
        .await
        .expect("an OK response")
        .into_inner();
    assert_eq!(response.error, internal_error());
    assert!(response.result.is_none() && response.disconnect.is_none());
}

#[tokio::test]
async fn calls_over_the_concurrency_limit_get_a_temporary_error() {
    let server = TestServer::start(
        r#"
        [handlers]
        rpc = "test-faulty.wasm"
        [limits]
        timeout = "400ms"
        concurrency = 1
        "#,
    )
    .await;
    let mut busy_client = server.client.clone();
    let looping = tokio::spawn(async move {
        let message = pb::RpcRequest {
            method: "loop".into(),
            ..Default::default()
        };
        busy_client.rpc(request(message, &[])).await
    });
    // The looping call holds the only slot until its deadline.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let response = rpc(&server, "echo").await;
    assert_eq!(
        response.error,
        Some(pb::Error {
            code: 111,
            message: "too many requests".into(),
            temporary: true,
        })
    );
    let looped = looping
        .await
        .expect("the task")
        .expect("an OK response")
        .into_inner();
    assert_eq!(looped.error, internal_error());
    // The slot is free again.
    assert!(rpc(&server, "echo").await.result.is_some());
}

#[tokio::test]
async fn a_guest_over_its_tenants_cpu_limit_is_paused_and_still_ends_at_its_deadline() {
    let server = TestServer::start(
        r#"
        [handlers]
        rpc = "test-faulty.wasm"
        [limits]
        timeout = "200ms"
        cpu = 0.05
        "#,
    )
    .await;
    let response = rpc(&server, "loop").await;
    assert_eq!(response.error, internal_error());
    let metrics = server.rotor.metrics_text();
    assert!(
        metrics
            .contains(r#"rotor_guest_faults_total{plugin="test-faulty.wasm",fault="deadline"} 1"#),
        "{metrics}"
    );
    let throttled = metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix(r#"rotor_cpu_throttled_seconds_total{tenant="default"} "#)
        })
        .and_then(|seconds| seconds.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no throttling counted: {metrics}"));
    // At a twentieth of a core, the guest spent most of its deadline asleep.
    assert!(throttled > 0.05, "paused {throttled} s");
    assert!(throttled <= 0.2, "paused {throttled} s, past the deadline");
    assert!(rpc(&server, "echo").await.result.is_some());
}

#[tokio::test]
async fn replies_with_codes_a_proxy_may_not_use_fail_closed() {
    let mut server = TestServer::start("[handlers]\nconnect = \"test-mirror.wasm\"").await;
    for data in ["bad-code", "bad-disconnect"] {
        let message = pb::ConnectRequest {
            data: data.as_bytes().to_vec(),
            ..Default::default()
        };
        let response = server
            .client
            .connect(request(message, &[]))
            .await
            .expect("an OK response")
            .into_inner();
        assert_eq!(response.error, internal_error(), "{data}");
        assert!(response.disconnect.is_none(), "{data}");
    }
}

/// A message Centrifugo would never send: `client` (field 1, a string in
/// `ConnectRequest`) as bytes that are not UTF-8.
#[derive(Clone, PartialEq, prost::Message)]
struct Garbled {
    #[prost(bytes = "vec", tag = "1")]
    client: Vec<u8>,
}

#[tokio::test]
async fn malformed_and_oversized_messages_get_a_status_and_the_server_goes_on() {
    let mut server = TestServer::start("[handlers]\nconnect = \"test-mirror.wasm\"").await;

    let mut raw = tonic::client::Grpc::new(server.channel.clone());
    raw.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::from_static(
        "/centrifugal.centrifugo.proxy.CentrifugoProxy/Connect",
    );
    let codec = tonic_prost::ProstCodec::<Garbled, pb::ConnectResponse>::default();
    let garbled = Garbled {
        client: vec![0xff, 0xfe, 0x00],
    };
    let status = raw
        .unary(tonic::Request::new(garbled), path, codec)
        .await
        .expect_err("a message that does not decode");
    assert_ne!(status.code(), tonic::Code::Ok);

    let huge = pb::ConnectRequest {
        data: vec![b'x'; 5 << 20],
        ..Default::default()
    };
    let status = server
        .client
        .connect(request(huge, &[]))
        .await
        .expect_err("a message over the limit");
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status}");

    let fine = pb::ConnectRequest {
        client: "c".into(),
        ..Default::default()
    };
    let response = server
        .client
        .connect(request(fine, &[]))
        .await
        .expect("still serving");
    assert_eq!(
        response.into_inner().result.map(|r| r.user),
        Some("c".to_string())
    );
}

#[tokio::test]
async fn with_auth_set_only_callers_with_the_secret_are_answered() {
    let dir = crate::support::ScratchDir::new();
    std::fs::write(dir.path().join("proxy.secret"), "s3cr3t-value\n").expect("writing");
    let config = format!(
        "[plugins]\ndir = {:?}\n[auth]\nkey = \"X-Proxy-Secret\"\nvalue_file = \"proxy.secret\"\n\
         [handlers]\nconnect = \"test-mirror.wasm\"\n",
        crate::support::plugin_dir().display().to_string()
    );
    let mut server = TestServer::start_in(dir, &config).await;
    let connect = || pb::ConnectRequest {
        client: "c".into(),
        ..Default::default()
    };
    for metadata in [
        vec![],
        vec![("x-proxy-secret", "wrong")],
        vec![("x-proxy-secret", "s3cr3t-valu")],
    ] {
        let status = server
            .client
            .connect(request(connect(), &metadata))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{metadata:?}");
    }
    let response = server
        .client
        .connect(request(
            connect(),
            &[("x-proxy-secret", "s3cr3t-value"), ("x-other", "1")],
        ))
        .await
        .expect("answered")
        .into_inner();
    // The mirror reflects the headers it saw: the secret is not among them.
    let result = response.result.expect("accepted");
    let seen = crate::support::json(&result.data);
    assert_eq!(seen["headers"]["x-other"], "1", "{seen}");
    assert!(seen["headers"].get("x-proxy-secret").is_none(), "{seen}");
}

/// Finding 1 of the hardening review: a filter whose nodes share children
/// (a few hundred bytes) was expanded into 2^16 leaves after the guest had
/// returned, outside every deadline and fuel limit, and sent on when the
/// expanded reply fit `max_reply`.
#[tokio::test]
async fn reply_conversion_is_bounded_by_the_reply() {
    let server = TestServer::start(
        "[handlers]\nsubscribe = \"test-mirror.wasm\"\n[limits]\nmax_reply = \"4MiB\"",
    )
    .await;
    let subscribe = |channel: &str| pb::SubscribeRequest {
        channel: channel.into(),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let response = server
        .client
        .clone()
        .subscribe(request(subscribe("shared-filter"), &[]))
        .await
        .expect("an OK response")
        .into_inner();
    assert_eq!(response.error, internal_error());
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "refused after {:?}",
        started.elapsed()
    );
    assert!(
        server.rotor.metrics_text().contains(
            r#"rotor_guest_faults_total{plugin="test-mirror.wasm",fault="invalid_reply"}"#
        )
    );
    // The same handler's well-formed filter still goes through.
    let response = server
        .client
        .clone()
        .subscribe(request(subscribe("room"), &[]))
        .await
        .expect("an OK response")
        .into_inner();
    let filter = response.result.expect("a result").server_tags_filter;
    assert_eq!(filter.map(|f| f.val), Some("room".to_owned()));
}

/// A refresh whose interceptor traps after writing to stderr.
const TRAPPING_REFRESH: &str = r#"
[handlers]
refresh = "test-mirror.wasm"
[interceptors]
refresh = [{ plugin = "test-interceptor.wasm", settings = { tag = "T", before = "trap" } }]
"#;

/// Finding 13 of the hardening review: a failed refresh's status carried
/// the guest's stderr to Centrifugo, which logs it.
#[tokio::test]
async fn a_refresh_fault_status_carries_no_guest_output() {
    let server = TestServer::start(TRAPPING_REFRESH).await;
    let status = server
        .client
        .clone()
        .refresh(request(
            pb::RefreshRequest {
                user: "42".into(),
                ..Default::default()
            },
            &[],
        ))
        .await
        .expect_err("a status, so Centrifugo extends by 60 s");
    // It names the plugin and the fault, not what the guest wrote.
    assert_eq!(status.code(), tonic::Code::Internal, "{status}");
    assert!(
        status.message().contains("test-interceptor.wasm"),
        "{status}"
    );
    assert!(status.message().contains("trap"), "{status}");
    assert!(!status.message().contains("as configured"), "{status}");
    assert!(!status.message().contains("stderr"), "{status}");
}

/// Two tenants whose refreshes fail: `extend` (the default) and `expire`.
const FAILING_REFRESHES: &str = r#"
[tenancy]
by = "metadata"
key = "x-tenant"

[tenants.extend]
dir = "."
handlers = { refresh = "test-mirror.wasm" }
interceptors = { refresh = [{ plugin = "test-interceptor.wasm", settings = { tag = "T", before = "trap" } }] }

[tenants.expire]
dir = "."
on_refresh_failure = "expire"
handlers = { refresh = "test-mirror.wasm", sub_refresh = "test-mirror.wasm", rpc = "test-faulty.wasm" }
interceptors = { refresh = [{ plugin = "test-interceptor.wasm", settings = { tag = "T", before = "trap" } }] }
limits = { concurrency = 1, timeout = "900ms" }
"#;

/// Finding 13 of the hardening review: a refresh that failed (a busy
/// tenant, a trapping plugin) always extended the connection by 60 s; a
/// tenant may now have it expire instead.
#[tokio::test]
async fn a_failed_refresh_expires_if_the_tenant_says_so() {
    let server = TestServer::start(FAILING_REFRESHES).await;
    let refresh = |tenant: &'static str| {
        let mut client = server.client.clone();
        async move {
            client
                .refresh(request(
                    pb::RefreshRequest {
                        user: "42".into(),
                        ..Default::default()
                    },
                    &[("x-tenant", tenant)],
                ))
                .await
                .map(tonic::Response::into_inner)
        }
    };
    // The default: a status, so Centrifugo extends by 60 s.
    let status = refresh("extend").await.expect_err("a status");
    assert_eq!(status.code(), tonic::Code::Internal, "{status}");

    // `expire`: the connection ends instead.
    let response = refresh("expire").await.expect("an OK response");
    assert!(response.result.expect("a result").expired);

    // The same when the tenant is busy: its one slot is taken by a loop.
    let mut client = server.client.clone();
    let busy = tokio::spawn(async move {
        client
            .rpc(request(
                pb::RpcRequest {
                    method: "loop".into(),
                    ..Default::default()
                },
                &[("x-tenant", "expire")],
            ))
            .await
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let response = server
        .client
        .clone()
        .sub_refresh(request(
            pb::SubRefreshRequest {
                channel: "room".into(),
                ..Default::default()
            },
            &[("x-tenant", "expire")],
        ))
        .await
        .expect("an OK response, not RESOURCE_EXHAUSTED")
        .into_inner();
    assert!(response.result.expect("a result").expired);
    let _ = busy.await;
}

/// Finding 5 of the hardening review: epoch interruption stops only wasm
/// code, so a guest sleeping in a WASI call (`std::thread::sleep`, a
/// blocking poll) held its call until Centrifugo gave up, past the tenant's
/// timeout. Now the call ends at the guest's deadline with a reply.
#[tokio::test]
async fn a_guest_waiting_in_a_host_call_ends_at_its_deadline() {
    let server = TestServer::start(
        r#"
        [handlers]
        rpc = "test-faulty.wasm"
        [limits]
        timeout = "200ms"
        "#,
    )
    .await;
    for method in ["sleep", "block"] {
        // A gRPC status (Centrifugo's deadline of 1 s passing) would fail
        // the test here: the reply must come from Rotor.
        let response = rpc(&server, method).await;
        assert_eq!(response.error, internal_error(), "{method}");
    }
    let metrics = server.rotor.metrics_text();
    assert!(
        metrics
            .contains(r#"rotor_guest_faults_total{plugin="test-faulty.wasm",fault="deadline"} 2"#),
        "{metrics}"
    );
    let next = rpc(&server, "echo").await;
    assert_eq!(
        next.result.map(|r| r.data),
        Some(br#"{"ok":true}"#.to_vec())
    );
}

/// Finding 4 of the hardening review: WASI resource-table entries (handles
/// a guest opens and never drops) grew host memory without a bound. A
/// store now holds at most 1,024; past that the guest's call fails.
#[tokio::test]
async fn wasi_resource_table_entries_are_capped_per_store() {
    let server = TestServer::start(FAULTY).await;
    // A pollable takes two entries (itself and its clock deadline).
    let response = server.rpc("leak", b"100", &[]).await;
    assert_eq!(response.result.map(|r| r.data), Some(b"100".to_vec()));
    let response = server.rpc("leak", b"100000", &[]).await;
    assert_eq!(response.error, internal_error());
    let metrics = server.rotor.metrics_text();
    assert!(
        metrics.contains(r#"rotor_guest_faults_total{plugin="test-faulty.wasm",fault="#),
        "{metrics}"
    );
    let next = server.rpc("echo", b"{}", &[]).await;
    assert_eq!(next.result.map(|r| r.data), Some(b"{}".to_vec()));
}

/// What Rotor logs while a test runs on this thread (the test's runtime
/// runs the server's tasks on it too), as text lines without colours.
struct CapturedLog {
    text: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl CapturedLog {
    fn start() -> CapturedLog {
        let text = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = text.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || LogSink(sink.clone()))
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        // Callsites other tests' threads saw first must ask this one too.
        tracing::callsite::rebuild_interest_cache();
        CapturedLog {
            text,
            _guard: guard,
        }
    }

    fn lines(&self) -> Vec<String> {
        let text = self.text.lock().expect("the log").clone();
        String::from_utf8_lossy(&text)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("the log").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Finding 10 of the hardening review: a guest's `\n` or `\r`, in a log
/// line or in the stderr a fault's log line carries, started a log line of
/// its own that could claim any tenant; and one tenant could write as many
/// lines as its calls allowed.
#[tokio::test]
async fn guests_cannot_forge_log_lines_or_flood_the_log() {
    let log = CapturedLog::start();
    let server = TestServer::start(
        r#"
        [handlers]
        rpc = "test-faulty.wasm"
        [limits]
        log_rate = 2
        "#,
    )
    .await;
    for _ in 0..20 {
        let response = server
            .rpc("log", b"hello\nFORGED tenant=other\r", &[])
            .await;
        assert_eq!(response.result.map(|r| r.data), Some(b"logged".to_vec()));
    }
    let response = server.rpc("stderr-trap", b"bye\nFORGED2", &[]).await;
    assert_eq!(response.error, internal_error());

    let lines = log.lines();
    let forged = lines.iter().filter(|line| line.contains("FORGED"));
    for line in forged {
        assert!(
            !line.starts_with("FORGED") && line.contains(r"\nFORGED"),
            "a forged line: {line:?}\n{lines:#?}"
        );
    }
    let logged = lines
        .iter()
        .filter(|line| line.contains(r"hello\nFORGED tenant=other\r"))
        .count();
    // Two a second, so two (or a few more on a slow machine) of twenty.
    assert!(
        (2..=4).contains(&logged),
        "the tenant's log rate: {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.contains("log_rate") && line.contains("dropped")),
        "{lines:#?}"
    );
    // The fault's line, with the guest's stderr, when this thread's log
    // caught it (a line another test's thread logged first may go to that
    // thread's log instead).
    if let Some(line) = lines.iter().find(|line| line.contains("guest stderr: bye")) {
        assert!(line.contains(r"bye\nFORGED2"), "{line}");
    }
}
