//! Plugins written in JavaScript/TypeScript and Python: the examples in
//! `plugins/js-*` and `plugins/py-*`, built with the SDKs in `guest-sdk/`,
//! driven over gRPC with the same assertions as their Rust counterparts.
//!
//! The builds need Node.js and npm, and Python 3. Without them these tests
//! print a notice and pass, unless `ROTOR_REQUIRE_GUESTS` is set (CI sets
//! it), in which case they fail and say what is missing.
//!
//! JS and Python components are large (12–19 MB) and take seconds each to
//! compile, so each language has one server, started once and shared by its
//! tests on a runtime of its own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use rotor::proto::proxy as pb;
use rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient;
use rotor::{Config, Rotor};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::support::{ScratchDir, TestServer, json, plugin_dir, request};

/// The HMAC secret the JWT plugin is configured with.
const SECRET: &str = "e2e-secret";

/// Whether a command runs and exits 0.
fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The directory of built plugins with the JS and Python examples in it, or
/// `None` (after a notice) when the toolchains are missing and not required.
pub(crate) fn guest_dir() -> Option<&'static Path> {
    static DIST: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIST.get_or_init(|| {
        let missing: Vec<&str> = [("node", "node"), ("npm", "npm"), ("python3", "python3")]
            .into_iter()
            .filter(|(program, _)| !runs(program, "--version"))
            .map(|(_, name)| name)
            .collect();
        if !missing.is_empty() {
            let message = format!(
                "the JS and Python plugin tests need {} on PATH",
                missing.join(", ")
            );
            assert!(
                std::env::var_os("ROTOR_REQUIRE_GUESTS").is_none(),
                "{message} (ROTOR_REQUIRE_GUESTS is set)"
            );
            eprintln!("skipping: {message}");
            return None;
        }
        // The Rust plugins (test-mirror) come from the common build.
        let dist = plugin_dir().to_path_buf();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let status = Command::new("bash")
            .arg(root.join("scripts/build-guest-examples"))
            .args(["js", "python"])
            .status()
            .expect("running scripts/build-guest-examples");
        assert!(status.success(), "scripts/build-guest-examples failed");
        Some(dist)
    })
    .as_deref()
}

/// Starts Rotor with `config` on a thread and runtime of its own, so that
/// every test of a module can share it, and returns its address.
pub(crate) fn start_shared(dist: &Path, config: &str) -> SocketAddr {
    let text = format!(
        "[plugins]\ndir = {:?}\n{config}",
        dist.display().to_string()
    );
    let (started, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let dir = ScratchDir::new();
            let path = dir.path().join("rotor.toml");
            std::fs::write(&path, text).expect("writing the config");
            let config = Config::from_file(&path).expect("a valid config");
            let rotor = Rotor::new(&config).await.expect("Rotor starts");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("binding loopback");
            started
                .send(listener.local_addr().expect("a local address"))
                .expect("the test waits");
            let _ = rotor.serve(listener, std::future::pending::<()>()).await;
        });
    });
    address.recv().expect("the shared server started")
}

/// A proxy client of the server at `address`.
async fn client(address: SocketAddr) -> CentrifugoProxyClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .expect("an endpoint")
        .connect()
        .await
        .expect("connecting to Rotor");
    CentrifugoProxyClient::new(channel)
}

/// The server of the JavaScript examples: JWT connect auth, the RPC router
/// and the map validator.
fn js_server() -> Option<SocketAddr> {
    static ADDRESS: OnceLock<SocketAddr> = OnceLock::new();
    let dist = guest_dir()?;
    Some(*ADDRESS.get_or_init(|| {
        start_shared(
            dist,
            r#"
[handlers]
connect = "js-connect-auth.wasm"
rpc = "js-rpc-router.wasm"
map_publish = "js-map-validator.wasm"
map_remove = "js-map-validator.wasm"
[settings."js-connect-auth.wasm"]
secret = "e2e-secret"
[settings."js-map-validator.wasm"]
max_bytes = "32"
own_keys = "true"
"#,
        )
    }))
}

/// The server of the Python examples: the channel ACL, the RPC router and
/// the shared poll refresher, whose state the Rust `shared-poll-state`
/// writes (`shared_poll.put`) into the same tenant's `kv`.
fn py_server() -> Option<SocketAddr> {
    static ADDRESS: OnceLock<SocketAddr> = OnceLock::new();
    let dist = guest_dir()?;
    Some(*ADDRESS.get_or_init(|| {
        start_shared(
            dist,
            r#"
[handlers]
subscribe = "py-subscribe-acl.wasm"
shared_poll_refresh = "py-shared-poll-state.wasm"
[handlers.rpc]
default = "py-rpc-router.wasm"
methods = { "shared_poll.put" = "shared-poll-state.wasm" }
[settings."py-subscribe-acl.wasm"]
public_namespaces = "news"
[settings."shared-poll-state.wasm"]
writers = "ops"
"#,
        )
    }))
}

fn now() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970");
    i64::try_from(elapsed.as_secs()).expect("seconds fit in i64")
}

/// An HS256 token of `claims` signed with `secret`, built independently of
/// the plugin's own code.
fn token(claims: &Value, secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let mut mac = Hmac::<hmac_sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(signed.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signed}.{signature}")
}

pub(crate) fn error(code: u32, message: &str, temporary: bool) -> Option<pb::Error> {
    Some(pb::Error {
        code,
        message: message.into(),
        temporary,
    })
}

async fn connect(
    client: &mut CentrifugoProxyClient<Channel>,
    data: Vec<u8>,
    metadata: &[(&'static str, &str)],
) -> pb::ConnectResponse {
    let message = pb::ConnectRequest {
        client: "c1".into(),
        transport: "websocket".into(),
        protocol: "json".into(),
        encoding: "json".into(),
        data,
        ..Default::default()
    };
    client
        .connect(request(message, metadata))
        .await
        .expect("an OK response")
        .into_inner()
}

pub(crate) async fn rpc(
    client: &mut CentrifugoProxyClient<Channel>,
    method: &str,
    data: &[u8],
    metadata: &[(&'static str, &str)],
) -> pb::RpcResponse {
    let message = pb::RpcRequest {
        client: "client-1".into(),
        user: "42".into(),
        method: method.into(),
        data: data.to_vec(),
        ..Default::default()
    };
    client
        .rpc(request(message, metadata))
        .await
        .expect("an OK response")
        .into_inner()
}

async fn subscribe(
    client: &mut CentrifugoProxyClient<Channel>,
    user: &str,
    channel: &str,
) -> pb::SubscribeResponse {
    let message = pb::SubscribeRequest {
        client: "c1".into(),
        user: user.into(),
        channel: channel.into(),
        ..Default::default()
    };
    client
        .subscribe(request(message, &[]))
        .await
        .expect("an OK response")
        .into_inner()
}

fn token_data(token: &str) -> Vec<u8> {
    json!({ "token": token }).to_string().into_bytes()
}

#[tokio::test]
async fn js_connect_auth_accepts_valid_tokens_with_their_claims() {
    let Some(address) = js_server() else { return };
    check_jwt_accepts(address).await;
}

#[tokio::test]
async fn js_connect_auth_refuses_bad_signatures_and_expired_tokens() {
    let Some(address) = js_server() else { return };
    check_jwt_refuses(address).await;
}

/// The JWT connect handler's answers to valid tokens, whichever language it
/// is written in; it is configured with `secret = SECRET`.
pub(crate) async fn check_jwt_accepts(address: SocketAddr) {
    let mut client = client(address).await;
    let exp = now() + 3600;
    let valid = token(
        &json!({"sub": "42", "exp": exp, "info": {"name": "Ada"}, "channels": ["news"]}),
        SECRET,
    );
    let response = connect(&mut client, token_data(&valid), &[]).await;
    assert_eq!((response.error, response.disconnect), (None, None));
    let result = response.result.expect("a result");
    assert_eq!(result.user, "42");
    assert_eq!(result.expire_at, exp);
    assert_eq!(json(&result.info), json!({"name": "Ada"}));
    assert_eq!(result.channels, ["news"]);

    let bearer = format!("Bearer {}", token(&json!({"sub": "7"}), SECRET));
    let response = connect(&mut client, Vec::new(), &[("authorization", &bearer)]).await;
    let result = response.result.expect("a result");
    assert_eq!(result.user, "7");
    assert_eq!(result.expire_at, 0, "no exp, no expiry");
}

/// The JWT connect handler's refusals, whichever language it is written in.
pub(crate) async fn check_jwt_refuses(address: SocketAddr) {
    let mut client = client(address).await;

    let forged = token(&json!({"sub": "42"}), "another-secret");
    let response = connect(&mut client, token_data(&forged), &[]).await;
    assert_eq!(response.error, error(101, "unauthorized", false));
    assert_eq!((response.result, response.disconnect), (None, None));

    let response = connect(&mut client, Vec::new(), &[]).await;
    assert_eq!(
        response.error,
        error(101, "unauthorized", false),
        "no token"
    );

    let no_subject = token(&json!({"name": "Ada"}), SECRET);
    let response = connect(&mut client, token_data(&no_subject), &[]).await;
    assert_eq!(response.error, error(101, "unauthorized", false), "no sub");

    let expired = token(&json!({"sub": "42", "exp": now() - 10}), SECRET);
    let response = connect(&mut client, token_data(&expired), &[]).await;
    assert_eq!(response.error, error(109, "token expired", false));
    assert_eq!(response.result, None);
}

/// The RPC router's behaviour, whichever language it is written in.
pub(crate) async fn check_rpc_router(address: SocketAddr) {
    let mut client = client(address).await;

    let response = rpc(&mut client, "echo", br#"{"a":[1,2]}"#, &[]).await;
    assert_eq!(
        response.result.expect("echo answers").data,
        br#"{"a":[1,2]}"#
    );

    let response = rpc(&mut client, "whoami", b"", &[]).await;
    let result = response.result.expect("whoami answers");
    assert_eq!(
        json(&result.data),
        json!({"user": "42", "client": "client-1"})
    );

    let response = rpc(&mut client, "sum", br#"{"numbers":[1,2,3]}"#, &[]).await;
    assert_eq!(
        json(&response.result.expect("sum answers").data),
        json!({"sum": 6})
    );
    let response = rpc(&mut client, "sum", br#"{"numbers":[1,2,3.5]}"#, &[]).await;
    assert_eq!(
        json(&response.result.expect("sum answers").data),
        json!({"sum": 6.5})
    );
    for bad in [&b"[1,2]"[..], br#"{"numbers":[1,"2"]}"#, b""] {
        let response = rpc(&mut client, "sum", bad, &[]).await;
        assert_eq!(
            response.error.map(|error| error.code),
            Some(107),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }

    for method in ["nope", "", "Echo"] {
        let response = rpc(&mut client, method, b"{}", &[]).await;
        assert_eq!(
            response.error,
            error(104, "method not found", false),
            "{method}"
        );
        assert_eq!(response.result, None);
    }
}

#[tokio::test]
async fn js_rpc_router_answers_its_methods_and_104_for_others() {
    let Some(address) = js_server() else { return };
    check_rpc_router(address).await;
}

#[tokio::test]
async fn py_rpc_router_answers_its_methods_and_104_for_others() {
    let Some(address) = py_server() else { return };
    check_rpc_router(address).await;
}

#[tokio::test]
async fn py_subscribe_acl_opens_own_and_public_channels_only() {
    let Some(address) = py_server() else { return };
    check_subscribe_acl(address).await;
}

/// The subscribe ACL's answers, whichever language it is written in; it is
/// configured with `public_namespaces = "news"`.
pub(crate) async fn check_subscribe_acl(address: SocketAddr) {
    let mut client = client(address).await;
    for (user, channel) in [("42", "user:42"), ("", "news:today")] {
        let response = subscribe(&mut client, user, channel).await;
        assert_eq!(
            (response.error, response.disconnect),
            (None, None),
            "{channel}"
        );
        assert!(response.result.is_some(), "{channel}");
    }
    for (user, channel) in [
        ("42", "user:43"),
        ("", "user:"),
        ("42", "user:42:inbox"),
        ("42", "chat:1"),
        ("42", "public:lobby"),
        ("42", "news"),
    ] {
        let response = subscribe(&mut client, user, channel).await;
        assert_eq!(
            response.error,
            error(103, "permission denied", false),
            "{user} {channel}"
        );
        assert_eq!(response.result, None);
    }
}

#[tokio::test]
async fn js_map_validator_checks_keys_and_states() {
    let Some(address) = js_server() else { return };
    let mut client = client(address).await;
    let publish = |key: &str, data: &[u8]| pb::MapPublishRequest {
        user: "42".into(),
        channel: "cursors:doc".into(),
        key: key.into(),
        data: data.to_vec(),
        ..Default::default()
    };
    let response = client
        .map_publish(request(publish("42", br#"{"x":1}"#), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, None);
    assert_eq!(response.result, Some(pb::MapPublishResult::default()));
    for (key, data, code) in [
        ("43", &b"{}"[..], 103),
        ("42", b"[1]", 107),
        ("42", br#"{"text":"far more than thirty-two bytes"}"#, 106),
        ("4 2", b"{}", 107),
    ] {
        let response = client
            .map_publish(request(publish(key, data), &[]))
            .await
            .expect("OK")
            .into_inner();
        assert_eq!(response.error.map(|e| e.code), Some(code), "{key}");
    }
    let response = client
        .map_remove(request(
            pb::MapRemoveRequest {
                user: "42".into(),
                key: "43".into(),
                ..Default::default()
            },
            &[],
        ))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, error(103, "permission denied", false));
}

#[tokio::test]
async fn py_shared_poll_state_reads_what_the_rust_writer_stored() {
    let Some(address) = py_server() else { return };
    let mut client = client(address).await;
    for price in [1, 2] {
        let put = pb::RpcRequest {
            user: "ops".into(),
            method: "shared_poll.put".into(),
            data: json!({"channel": "py-prices", "key": "a", "data": {"p": price}})
                .to_string()
                .into_bytes(),
            ..Default::default()
        };
        let response = client
            .rpc(request(put, &[]))
            .await
            .expect("OK")
            .into_inner();
        assert!(response.result.is_some(), "{response:?}");
    }
    let refresh = pb::SharedPollRefreshRequest {
        channel: "py-prices".into(),
        items: vec![
            pb::SharedPollRefreshItem {
                key: "a".into(),
                version: 1,
            },
            pb::SharedPollRefreshItem {
                key: "b".into(),
                version: 0,
            },
        ],
    };
    let result = client
        .shared_poll_refresh(request(refresh, &[]))
        .await
        .expect("OK")
        .into_inner()
        .result
        .expect("a result");
    assert_eq!(result.items.len(), 1, "{result:?}");
    assert_eq!(
        (result.items[0].key.as_str(), result.items[0].version),
        ("a", 2)
    );
    assert_eq!(json(&result.items[0].data), json!({"p": 2}));
    assert!(!result.epoch.is_empty());
}

#[tokio::test]
async fn js_header_auth_admits_known_keys_and_names_the_caller() {
    let Some(_) = guest_dir() else { return };
    check_header_auth("js-header-auth.wasm").await;
}

/// The API-key interceptor `plugin`, whichever language it is written in, in
/// front of the Rust mirror.
pub(crate) async fn check_header_auth(plugin: &str) {
    let mut server = TestServer::start(&format!(
        r#"
[handlers]
rpc = "test-mirror.wasm"
[interceptors]
rpc = [{{ plugin = "{plugin}", settings = {{ keys = "k1=alice, k2=bob" }} }}]
"#
    ))
    .await;
    let client = &mut server.client;

    // The mirror echoes the headers it got: the caller is the key's name,
    // whatever the client claimed.
    let response = rpc(
        client,
        "ping",
        b"{}",
        &[("x-api-key", "k2"), ("x-caller", "admin")],
    )
    .await;
    let result = response.result.expect("the mirror answers");
    let seen = json(&result.data);
    assert_eq!(seen["headers"]["x-caller"], "bob", "{seen}");
    assert_eq!(seen["method"], "ping");

    // The mirror would answer anything, so a refusal shows it never ran.
    for metadata in [&[][..], &[("x-api-key", "k3"), ("x-caller", "alice")][..]] {
        let response = rpc(client, "ping", b"{}", metadata).await;
        assert_eq!(response.error, error(101, "unauthorized", false));
        assert_eq!(response.result, None);
    }

    // `after` keeps replies as they are, errors included.
    let response = rpc(client, "fail", b"{}", &[("x-api-key", "k1")]).await;
    assert_eq!(response.error, error(1004, "rpc failed", true));
}

/// `rotor check` on a built component: its stdout, after asserting success.
pub(crate) fn check(path: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_rotor"))
        .arg("check")
        .arg(path)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running rotor");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn check_accepts_the_components_and_lists_what_they_use() {
    let Some(dist) = guest_dir() else { return };
    // Each component exports what its plugin answers and imports only the
    // host interfaces its plugin uses.
    for (name, exports, imports) in [
        (
            "js-connect-auth",
            &["connect-handler"][..],
            &["log", "config"][..],
        ),
        ("js-rpc-router", &["rpc-handler"], &[]),
        ("js-header-auth", &["interceptor"], &["log", "config"]),
        (
            "js-map-validator",
            &["map-publish-handler", "map-remove-handler"],
            &["log", "config"],
        ),
        (
            "py-shared-poll-state",
            &["shared-poll-refresh-handler"],
            &["log", "kv"],
        ),
        ("py-subscribe-acl", &["subscribe-handler"], &["config"]),
        ("py-rpc-router", &["rpc-handler"], &[]),
    ] {
        let stdout = check(&dist.join(format!("{name}.wasm")));
        for export in exports {
            assert!(
                stdout.contains(&format!("exports  rotor:centrifugo/{export}@0.1.0")),
                "{name}: {stdout}"
            );
        }
        for host in ["log", "config", "kv", "centrifugo-api"] {
            assert_eq!(
                stdout.contains(&format!("imports  rotor:centrifugo/{host}@0.1.0")),
                imports.contains(&host),
                "{name} and {host}: {stdout}"
            );
        }
    }
}

#[test]
fn sdk_unit_tests_pass() {
    let Some(_) = guest_dir() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("node")
        .args(["--test", "test/"])
        .current_dir(root.join("guest-sdk/js"))
        .status()
        .expect("running node --test");
    assert!(status.success(), "the JS SDK's tests failed");
    let status = Command::new(root.join("target/guest-py/venv/bin/python"))
        .arg(root.join("guest-sdk/python/tests/run.py"))
        .status()
        .expect("running the Python SDK's tests");
    assert!(status.success(), "the Python SDK's tests failed");
}

/// Figures for the README and the SDK docs, not a check: size, compile time
/// and the cost of one call on a fresh instance, per language, for the same
/// RPC router. Run with
/// `cargo test --release --test all languages::figures -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "prints figures; slow"]
async fn figures() {
    let Some(dist) = guest_dir() else { return };
    const CALLS: u32 = 200;
    println!("| component | size | load (compile) | per call, fresh instance |");
    println!("|---|---|---|---|");
    for name in ["rpc-router", "js-rpc-router", "py-rpc-router"] {
        let path = dist.join(format!("{name}.wasm"));
        let size = std::fs::metadata(&path).expect("built").len();
        let config = format!("[handlers]\nrpc = \"{name}.wasm\"\n");
        let started = std::time::Instant::now();
        let config = Config::parse(&config, dist).expect("a valid config");
        let rotor = Rotor::new(&config).await.expect("Rotor starts");
        let load = started.elapsed();
        let call = || pb::RpcRequest {
            user: "42".into(),
            method: "echo".into(),
            data: br#"{"a":1}"#.to_vec(),
            ..Default::default()
        };
        for _ in 0..CALLS / 10 {
            rotor
                .answer(call(), Vec::new(), None)
                .await
                .expect("an answer");
        }
        let started = std::time::Instant::now();
        for _ in 0..CALLS {
            let reply = rotor
                .answer(call(), Vec::new(), None)
                .await
                .expect("an answer");
            assert!(reply.result.is_some(), "{name}: {reply:?}");
        }
        let per_call = started.elapsed() / CALLS;
        println!(
            "| {name} | {:.1} MB | {:.2} s | {:.0} µs |",
            size as f64 / 1e6,
            load.as_secs_f64(),
            per_call.as_secs_f64() * 1e6
        );
    }
}
