//! The admin listener is safe by default: an empty token stops Rotor from
//! starting, and a browser page can neither drive it (cross-site requests)
//! nor read it through a name of its own (DNS rebinding).

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::support::{ScratchDir, TestServer, admin_config, plugin_dir};

/// Sends one raw HTTP/1.1 request, `head` being the lines between the
/// request line and the blank line; the status and body.
async fn send(address: SocketAddr, method: &str, path: &str, head: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connecting to admin");
    let request =
        format!("{method} {path} HTTP/1.1\r\n{head}content-length: 0\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("writing");
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("an answer in time")
    .expect("reading");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

/// A Rotor with its config file, and its admin listener with `config`.
async fn admin(config: rotor::config::AdminConfig) -> (TestServer, SocketAddr) {
    let server = TestServer::start("[handlers]\nrpc = \"test-mirror.wasm\"\n").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(rotor::admin::serve(
        server.rotor.clone(),
        listener,
        config,
        Arc::new(AtomicBool::new(true)),
        std::future::pending(),
    ));
    (server, address)
}

#[tokio::test]
async fn csrf_a_browser_form_cannot_reload_or_roll_back_without_a_token() {
    let (_server, address) = admin(admin_config(None)).await;
    // What a form on another site sends: a simple request, with its origin.
    let form = "host: 127.0.0.1\r\norigin: http://attacker.example\r\ncontent-type: application/x-www-form-urlencoded\r\n";
    for path in ["/admin/reload", "/admin/rollback/test-mirror.wasm"] {
        let (status, body) = send(address, "POST", path, form).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains(rotor::admin::ADMIN_HEADER), "{body}");
    }
    // Reading needs no marker: a page cannot read another origin's answers.
    let (status, _) = send(address, "GET", "/admin/plugins", "host: 127.0.0.1\r\n").await;
    assert_eq!(status, 200);
    // An operator's tool sends the header, which a page could send only
    // after a preflight that this listener never grants.
    let operator = format!("host: 127.0.0.1\r\n{}: 1\r\n", rotor::admin::ADMIN_HEADER);
    let (status, body) = send(address, "POST", "/admin/reload", &operator).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = send(address, "OPTIONS", "/admin/reload", &operator).await;
    assert_ne!(status, 200, "no preflight is granted");
}

#[tokio::test]
async fn csrf_with_a_token_state_changes_need_the_bearer_token() {
    let (_server, address) = admin(admin_config(Some("t0ken"))).await;
    let marker = format!("host: 127.0.0.1\r\n{}: 1\r\n", rotor::admin::ADMIN_HEADER);
    let (status, _) = send(address, "POST", "/admin/reload", &marker).await;
    assert_eq!(status, 401, "the marker does not replace the token");
    let (status, body) = send(
        address,
        "POST",
        "/admin/reload",
        "host: 127.0.0.1\r\nauthorization: Bearer t0ken\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn dns_rebinding_host_names_are_refused_except_probes() {
    let mut config = admin_config(Some("t0ken"));
    config.hosts = vec!["rotor.internal".into()];
    let (_server, address) = admin(config).await;
    let port = address.port();
    let token = "authorization: Bearer t0ken\r\n";
    // A page at attacker.example whose name now resolves to the listener:
    // the browser sends its own name as Host.
    let rebound = format!("host: attacker.example:{port}\r\n");
    for path in ["/metrics", "/admin/plugins", "/admin/tenants"] {
        let (status, body) = send(address, "GET", path, &rebound).await;
        assert_eq!(status, 421, "{path}: {body}");
        let (status, _) = send(address, "GET", path, &format!("{rebound}{token}")).await;
        assert_eq!(
            status, 421,
            "{path}: a token does not make another host right"
        );
    }
    let (status, _) = send(
        address,
        "POST",
        "/admin/reload",
        &format!("{rebound}{token}"),
    )
    .await;
    assert_eq!(status, 421);
    // Addresses, localhost and the configured names are answered.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("rotor.internal:{port}"),
        "[::1]".to_owned(),
    ] {
        let (status, body) = send(address, "GET", "/metrics", &format!("host: {host}\r\n")).await;
        assert_eq!(status, 200, "{host}: {body}");
        let (status, _) = send(
            address,
            "GET",
            "/admin/plugins",
            &format!("host: {host}\r\n{token}"),
        )
        .await;
        assert_eq!(status, 200, "{host}");
    }
    // Probes answer orchestrators whatever name they use.
    for path in ["/healthz", "/readyz"] {
        let (status, _) = send(address, "GET", path, &rebound).await;
        assert_eq!(status, 200, "{path}");
    }
}

#[tokio::test]
async fn an_empty_admin_token_refuses_to_start() {
    let dir = ScratchDir::new();
    let config = dir.path().join("rotor.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\n[plugins]\ndir = {:?}\n[handlers]\nrpc = \"test-mirror.wasm\"\n\
             [admin]\nlisten = \"127.0.0.1:0\"\ntoken_env = \"ROTOR_TEST_EMPTY_ADMIN_TOKEN\"\n",
            plugin_dir().display().to_string()
        ),
    )
    .expect("writing the config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rotor"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("ROTOR_TEST_EMPTY_ADMIN_TOKEN", "")
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting rotor serve");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for rotor") {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(60) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("rotor serves with an empty admin token");
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("reading stderr");
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("admin.token_env") && stderr.contains("empty"),
        "{stderr}"
    );
}
