//! Hot reload: a replaced component goes live without failing a call, a
//! broken one never does, and config reloads are all or nothing.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rotor::proto::proxy as pb;

use crate::support::{ScratchDir, TestServer, json, plugin, request};

/// How long a reload may take to go live before a test fails.
const LIVE_WITHIN: Duration = Duration::from_secs(5);

fn rpc_message() -> pb::RpcRequest {
    pb::RpcRequest {
        user: "42".into(),
        method: "echo".into(),
        data: br#"{"n":1}"#.to_vec(),
        ..Default::default()
    }
}

/// Which plugin answered: the mirror reflects the method into JSON, the
/// router echoes the data.
async fn who_answers(server: &mut TestServer) -> &'static str {
    let response = server
        .client
        .rpc(request(rpc_message(), &[]))
        .await
        .expect("OK")
        .into_inner();
    let data = response.result.expect("a result").data;
    if json(&data).get("method").is_some() {
        "mirror"
    } else {
        "router"
    }
}

async fn wait_for(server: &mut TestServer, expected: &str) {
    let started = Instant::now();
    while who_answers(server).await != expected {
        assert!(
            started.elapsed() < LIVE_WITHIN,
            "{expected} did not go live"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server whose `live.wasm` starts as the mirror, watching its own plugin dir.
async fn watched_server() -> TestServer {
    let dir = ScratchDir::new();
    std::fs::create_dir(dir.path().join("plugins")).expect("a plugin dir");
    std::fs::copy(plugin("test-mirror"), dir.path().join("plugins/live.wasm")).expect("copying");
    let config = "[plugins]\ndir = \"plugins\"\nwatch = true\n[handlers]\nrpc = \"live.wasm\"\n";
    TestServer::start_in(dir, config).await
}

fn live_path(server: &TestServer) -> std::path::PathBuf {
    server.dir.path().join("plugins/live.wasm")
}

/// Replaces `target` the way deploy tools do: write beside it, rename over it.
fn rename_into_place(source: &Path, target: &Path) {
    let staging = target.with_extension("wasm.tmp");
    std::fs::copy(source, &staging).expect("staging");
    std::fs::rename(&staging, target).expect("renaming into place");
}

#[tokio::test]
async fn a_replaced_component_goes_live_under_load_without_failed_calls() {
    let mut server = watched_server().await;
    assert_eq!(who_answers(&mut server).await, "mirror");

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut callers = Vec::new();
    for _ in 0..8 {
        let mut client = server.client.clone();
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        callers.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                match client.rpc(request(rpc_message(), &[])).await {
                    Ok(response) if response.get_ref().result.is_some() => {
                        ok.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    rename_into_place(&plugin("rpc-router"), &live_path(&server));
    wait_for(&mut server, "router").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.expect("a caller");
    }
    assert!(ok.load(Ordering::Relaxed) > 0);
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "calls failed during the reload"
    );
    assert_eq!(server.rotor.reload_counts().1, 0, "no reload was rejected");
}

#[tokio::test]
async fn a_broken_file_never_goes_live() {
    let mut server = watched_server().await;
    let live = live_path(&server);
    let good = std::fs::read(plugin("rpc-router")).expect("reading");

    // Half a component, written in place: rejected, the mirror keeps serving.
    std::fs::write(&live, &good[..good.len() / 2]).expect("writing");
    let started = Instant::now();
    while server.rotor.reload_counts().1 == 0 {
        assert!(
            started.elapsed() < LIVE_WITHIN,
            "the broken file was not rejected"
        );
        assert_eq!(who_answers(&mut server).await, "mirror");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(who_answers(&mut server).await, "mirror");

    // Garbage, then a component that lacks the rpc handler: both rejected.
    std::fs::write(&live, b"not wasm at all").expect("writing");
    tokio::time::sleep(Duration::from_millis(500)).await;
    std::fs::copy(plugin("subscribe-acl"), &live).expect("copying");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(who_answers(&mut server).await, "mirror");
    assert!(
        server.rotor.reload_counts().1 >= 2,
        "{:?}",
        server.rotor.reload_counts()
    );

    // The whole file, written in place: live.
    std::fs::write(&live, &good).expect("writing");
    wait_for(&mut server, "router").await;

    // Deleted: the last good version keeps serving.
    std::fs::remove_file(&live).expect("removing");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(who_answers(&mut server).await, "router");
}

#[tokio::test]
async fn config_reload_is_all_or_nothing() {
    let dir = ScratchDir::new();
    let plugins = crate::support::plugin_dir().display().to_string();
    let config = |rpc: &str| format!("[plugins]\ndir = {plugins:?}\n[handlers]\nrpc = \"{rpc}\"\n");
    let mut server = TestServer::start_in(dir, &config("test-mirror.wasm")).await;
    let path = server.dir.path().join("rotor.toml");
    assert_eq!(who_answers(&mut server).await, "mirror");

    std::fs::write(&path, config("rpc-router.wasm")).expect("writing");
    server
        .rotor
        .reload_config()
        .await
        .expect("a valid config reloads");
    assert_eq!(who_answers(&mut server).await, "router");

    for broken in [
        "[handlers]\nrpc = \"missing.wasm\"\n".to_owned(),
        config("subscribe-acl.wasm"),
        "listen = 12".to_owned(),
    ] {
        std::fs::write(&path, &broken).expect("writing");
        assert!(server.rotor.reload_config().await.is_err(), "{broken}");
        assert_eq!(who_answers(&mut server).await, "router", "after {broken}");
    }
}

/// Sends one HTTP/1.1 request to the admin listener; the status and body.
pub async fn http(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connecting to admin");
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n{auth}content-length: 0\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("writing");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("reading");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[tokio::test]
async fn admin_lists_versions_and_rolls_a_plugin_back() {
    let mut server = watched_server().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding");
    let address = listener.local_addr().expect("an address");
    let ready = Arc::new(AtomicBool::new(true));
    tokio::spawn(rotor::admin::serve(
        server.rotor.clone(),
        listener,
        crate::support::admin_config(Some("t0ken")),
        ready.clone(),
        std::future::pending(),
    ));

    assert_eq!(http(address, "GET", "/healthz", None).await.0, 200);
    assert_eq!(http(address, "GET", "/readyz", None).await.0, 200);
    assert_eq!(http(address, "GET", "/admin/plugins", None).await.0, 401);
    assert_eq!(
        http(address, "GET", "/admin/plugins", Some("wrong"))
            .await
            .0,
        401
    );

    let (status, body) = http(address, "GET", "/admin/plugins", Some("t0ken")).await;
    assert_eq!(status, 200, "{body}");
    let listed: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let mirror_sha = listed[0]["sha256"].as_str().expect("a hash").to_owned();
    assert_eq!(listed[0]["name"], "live.wasm");
    assert!(listed[0]["previous_sha256"].is_null());
    assert_eq!(
        http(address, "POST", "/admin/rollback/live.wasm", Some("t0ken"))
            .await
            .0,
        409,
        "nothing to roll back to yet"
    );

    rename_into_place(&plugin("rpc-router"), &live_path(&server));
    wait_for(&mut server, "router").await;
    let (_, body) = http(address, "GET", "/admin/plugins", Some("t0ken")).await;
    let listed: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(listed[0]["previous_sha256"], mirror_sha.as_str());

    let (status, body) = http(address, "POST", "/admin/rollback/live.wasm", Some("t0ken")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(who_answers(&mut server).await, "mirror", "rolled back");
    let (status, _) = http(address, "POST", "/admin/rollback/live.wasm", Some("t0ken")).await;
    assert_eq!(status, 200);
    assert_eq!(
        who_answers(&mut server).await,
        "router",
        "a second rollback undoes the first"
    );

    let (status, metrics) = http(address, "GET", "/metrics", None).await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"rotor_calls_total{tenant="default",kind="rpc",outcome="accept"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"rotor_reloads_total{result="applied"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("rotor_call_duration_seconds_bucket"),
        "{metrics}"
    );

    ready.store(false, Ordering::Relaxed);
    assert_eq!(http(address, "GET", "/readyz", None).await.0, 503);
}

#[tokio::test]
async fn a_plugin_that_fails_its_canary_never_goes_live() {
    let dir = ScratchDir::new();
    std::fs::create_dir(dir.path().join("plugins")).expect("a plugin dir");
    std::fs::copy(plugin("test-mirror"), dir.path().join("plugins/live.wasm")).expect("copying");
    // The faulty plugin traps on the `trap` method: the canary catches it.
    let config = "[plugins]\ndir = \"plugins\"\nwatch = true\n[handlers]\nrpc = \"live.wasm\"\n\
                  [canary]\nrpc = '{\"user\":\"canary\",\"method\":\"trap\",\"data\":{}}'\n";
    let mut server = TestServer::start_in(dir, config).await;
    rename_into_place(&plugin("test-faulty"), &live_path(&server));
    let started = Instant::now();
    while server.rotor.reload_counts().1 == 0 {
        assert!(
            started.elapsed() < LIVE_WITHIN,
            "the canary did not reject the plugin"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(who_answers(&mut server).await, "mirror");

    // A plugin that passes the canary goes live.
    rename_into_place(&plugin("rpc-router"), &live_path(&server));
    wait_for(&mut server, "router").await;
}
