//! Plugins from an OCI registry: `rotor push` publishes a component to a
//! real registry on loopback (Debian's `docker-registry`, the CNCF
//! distribution server), replicas pull it by tag or digest, follow a tag
//! that moves and roll back (in process, and as two `rotor serve` processes
//! rolled back through their admin listeners), with basic auth on and off;
//! a wrong digest and a registry that is down are errors that name the
//! reference, unless the component was pulled before.
//!
//! The tests skip, saying why, where `docker-registry` (or `htpasswd`, for
//! basic auth) is not installed, unless `ROTOR_REQUIRE_REGISTRY=1`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rotor::proto::proxy as pb;
use rotor::{Config, Rotor};

use crate::support::{ScratchDir, TestServer, json, plugin, request};

/// The registry server of Debian's `docker-registry` package.
const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";
/// How long a moved tag may take to go live before a test fails.
const LIVE_WITHIN: Duration = Duration::from_secs(10);
/// The user the registries with basic auth accept.
const USER: &str = "rotor";
/// Its password.
const PASSWORD: &str = "s3cret-for-tests";

/// Whether a missing registry fails the tests instead of skipping them.
fn required() -> bool {
    std::env::var("ROTOR_REQUIRE_REGISTRY").is_ok_and(|value| value == "1")
}

/// Skips a test for `reason`, or fails it when the registry is required.
fn skip<T>(reason: &str) -> Option<T> {
    assert!(!required(), "ROTOR_REQUIRE_REGISTRY=1: {reason}");
    eprintln!("skipped: {reason} (set ROTOR_REQUIRE_REGISTRY=1 to require it)");
    None
}

/// A registry on a free loopback port, with its data in a scratch dir;
/// stopped on drop.
struct Registry {
    child: Option<Child>,
    address: String,
    _dir: ScratchDir,
}

impl Registry {
    /// Starts a registry, with basic auth for [`USER`] if `auth`.
    fn start(auth: bool) -> Option<Registry> {
        if !Path::new(REGISTRY_BINARY).exists() {
            return skip("docker-registry is not installed (apt-get install docker-registry)");
        }
        let dir = ScratchDir::new();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let address = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: {address}\n",
            dir.path().join("data").display()
        );
        if auth {
            let Ok(output) = Command::new("htpasswd")
                .args(["-Bbn", USER, PASSWORD])
                .output()
            else {
                return skip("htpasswd is not installed (apt-get install apache2-utils)");
            };
            assert!(output.status.success(), "htpasswd failed");
            std::fs::write(dir.path().join("htpasswd"), output.stdout).expect("writing htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: rotor-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("writing the registry config");
        let child = Command::new(REGISTRY_BINARY)
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting docker-registry");
        let registry = Registry {
            child: Some(child),
            address,
            _dir: dir,
        };
        let started = Instant::now();
        while !registry.answers() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(registry)
    }

    /// Whether it answers `GET /v2/` (200, or 401 with auth).
    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(&self.address) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = format!(
            "GET /v2/ HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        );
        let mut answer = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut answer).is_ok()
            && answer.starts_with("HTTP/1.1 ")
    }

    /// The `oci://` reference of `repository` (with its tag or digest).
    fn reference(&self, repository: &str) -> String {
        format!("oci://{}/{repository}", self.address)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `rotor push`; its success, stdout and stderr.
fn push(file: &Path, reference: &str, credentials: Option<(&str, &str)>) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rotor"));
    command
        .args([
            "push",
            file.to_str().expect("a UTF-8 path"),
            reference,
            "--insecure",
        ])
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .env_remove("ROTOR_REGISTRY_USERNAME")
        .env_remove("ROTOR_REGISTRY_PASSWORD");
    if let Some((user, password)) = credentials {
        command
            .env("ROTOR_REGISTRY_USERNAME", user)
            .env("ROTOR_REGISTRY_PASSWORD", password);
    }
    let output = command.output().expect("running rotor push");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Pushes `file` and returns the digest it printed.
fn pushed(file: &Path, reference: &str, credentials: Option<(&str, &str)>) -> String {
    let (ok, stdout, stderr) = push(file, reference, credentials);
    assert!(ok, "rotor push failed: {stdout}{stderr}");
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("digest: "))
        .unwrap_or_else(|| panic!("no digest in: {stdout}"))
        .trim()
        .to_owned()
}

/// A Rotor config in a fresh dir whose RPC handler is `reference`, pulled
/// from `registry` (plain HTTP) with its store in `cache`.
fn config(registry: &Registry, reference: &str, cache: &Path, extra: &str) -> String {
    format!(
        "[plugins]\ndir = \"plugins\"\nwatch = true\ncache = {:?}\n\
         [oci]\ninsecure = [\"{}\"]\npoll = \"100ms\"\n{extra}\
         [handlers]\nrpc = \"{reference}\"\n",
        cache.display().to_string(),
        registry.address
    )
}

/// A scratch dir with an empty `plugins/`.
fn server_dir() -> ScratchDir {
    let dir = ScratchDir::new();
    std::fs::create_dir(dir.path().join("plugins")).expect("a plugin dir");
    dir
}

/// Parses `text` as a config written in a fresh dir, as `rotor serve` does.
fn parsed(text: &str) -> (ScratchDir, Config) {
    let dir = server_dir();
    let path = dir.path().join("rotor.toml");
    std::fs::write(&path, text).expect("writing the config");
    let config = Config::from_file(&path).expect("a valid config");
    (dir, config)
}

/// Which plugin answers an RPC: the mirror reflects the method into JSON,
/// the router echoes the data.
async fn who_answers(server: &TestServer) -> &'static str {
    let message = pb::RpcRequest {
        user: "42".into(),
        method: "echo".into(),
        data: br#"{"n":1}"#.to_vec(),
        ..Default::default()
    };
    let reply = server
        .client
        .clone()
        .rpc(request(message, &[]))
        .await
        .expect("OK")
        .into_inner();
    let data = reply.result.expect("a result").data;
    if json(&data).get("method").is_some() {
        "mirror"
    } else {
        "router"
    }
}

async fn wait_for(server: &TestServer, expected: &str) {
    let started = Instant::now();
    while who_answers(server).await != expected {
        assert!(
            started.elapsed() < LIVE_WITHIN,
            "{expected} did not go live"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn replicas_follow_a_moving_tag_and_roll_back() {
    let Some(registry) = Registry::start(false) else {
        return;
    };
    let tag = registry.reference("plugins/live:v1");
    let first = pushed(&plugin("test-mirror"), &tag, None);
    assert!(first.starts_with("sha256:"), "{first}");

    let cache = ScratchDir::new();
    let text = config(&registry, &tag, cache.path(), "");
    let replicas = [
        TestServer::start_in(server_dir(), &text).await,
        TestServer::start_in(server_dir(), &text).await,
    ];
    for replica in &replicas {
        assert_eq!(who_answers(replica).await, "mirror");
    }

    // The tag moves: every replica picks the new digest up.
    let second = pushed(&plugin("rpc-router"), &tag, None);
    assert_ne!(first, second);
    for replica in &replicas {
        wait_for(replica, "router").await;
    }
    // A rollback puts the previous digest back, and holds while the tag
    // stays where it is.
    let key = format!("default/{tag}");
    for replica in &replicas {
        replica.rotor.rollback(&key).await.expect("a rollback");
        assert_eq!(who_answers(replica).await, "mirror");
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    for replica in &replicas {
        assert_eq!(who_answers(replica).await, "mirror", "the rollback holds");
    }

    // Pinned by digest: the first version, whatever the tag says.
    let pinned = registry.reference(&format!("plugins/live@{first}"));
    let server = TestServer::start_in(
        server_dir(),
        &config(&registry, &pinned, ScratchDir::new().path(), ""),
    )
    .await;
    assert_eq!(who_answers(&server).await, "mirror");
}

#[tokio::test]
async fn basic_auth_is_sent_when_the_registry_asks_for_it() {
    let Some(registry) = Registry::start(true) else {
        return;
    };
    let tag = registry.reference("plugins/auth:v1");
    let (ok, stdout, stderr) = push(&plugin("rpc-router"), &tag, None);
    assert!(!ok, "a push without credentials is refused: {stdout}");
    assert!(stderr.contains(&tag), "{stderr}");
    pushed(&plugin("rpc-router"), &tag, Some((USER, PASSWORD)));

    let cache = ScratchDir::new();
    let (_dir, anonymous) = parsed(&config(&registry, &tag, cache.path(), ""));
    let error = Rotor::new(&anonymous)
        .await
        .err()
        .expect("a pull without credentials fails")
        .to_string();
    assert!(error.contains(&tag), "{error}");

    let secrets = ScratchDir::new();
    let password = secrets.path().join("password");
    std::fs::write(&password, PASSWORD).expect("writing the password");
    let with_auth = format!(
        "username = \"{USER}\"\npassword_file = {:?}\n",
        password.display().to_string()
    );
    // `[oci]` keys come right after the table header `config` writes.
    let text = config(&registry, &tag, cache.path(), "").replace(
        "poll = \"100ms\"\n",
        &format!("poll = \"100ms\"\n{with_auth}"),
    );
    let server = TestServer::start_in(server_dir(), &text).await;
    assert_eq!(who_answers(&server).await, "router");
}

#[tokio::test]
async fn a_wrong_digest_or_a_registry_that_is_down_is_named() {
    let Some(mut registry) = Registry::start(false) else {
        return;
    };
    let tag = registry.reference("plugins/down:v1");
    let digest = pushed(&plugin("test-mirror"), &tag, None);

    let wrong = registry.reference(&format!("plugins/down@sha256:{}", "0".repeat(64)));
    let (_dir, config_wrong) = parsed(&config(&registry, &wrong, ScratchDir::new().path(), ""));
    let error = Rotor::new(&config_wrong)
        .await
        .err()
        .expect("no such digest")
        .to_string();
    assert!(error.contains(&wrong), "{error}");

    // Pulled once into `cache`.
    let cache = ScratchDir::new();
    let (_first, pulled) = parsed(&config(&registry, &tag, cache.path(), ""));
    Rotor::new(&pulled).await.expect("a pull");

    registry.stop();
    let (_fresh, uncached) = parsed(&config(&registry, &tag, ScratchDir::new().path(), ""));
    let error = Rotor::new(&uncached)
        .await
        .err()
        .expect("the registry is down and nothing is cached")
        .to_string();
    assert!(error.contains(&tag), "{error}");

    // With the copy pulled before, the tag and the digest still serve.
    let server =
        TestServer::start_in(server_dir(), &config(&registry, &tag, cache.path(), "")).await;
    assert_eq!(who_answers(&server).await, "mirror");
    let pinned = registry.reference(&format!("plugins/down@{digest}"));
    let server =
        TestServer::start_in(server_dir(), &config(&registry, &pinned, cache.path(), "")).await;
    assert_eq!(who_answers(&server).await, "mirror");
}

/// `POST path` on the admin listener at `port` with a bearer `token`: the
/// status code and the body.
fn admin_post(port: u16, path: &str, token: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the admin listener");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("sending");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {answer}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Which plugin answers an RPC on a `rotor serve` (see [`who_answers`]).
async fn who_answers_process(
    client: &mut rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient<
        tonic::transport::Channel,
    >,
) -> &'static str {
    let message = pb::RpcRequest {
        user: "42".into(),
        method: "echo".into(),
        data: br#"{"n":1}"#.to_vec(),
        ..Default::default()
    };
    let reply = client
        .rpc(request(message, &[]))
        .await
        .expect("OK")
        .into_inner();
    let data = reply.result.expect("a result").data;
    if json(&data).get("method").is_some() {
        "mirror"
    } else {
        "router"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rotor_serve_replicas_follow_a_tag_and_roll_back_through_admin() {
    let Some(registry) = Registry::start(false) else {
        return;
    };
    let tag = registry.reference("plugins/fleet:v1");
    let first = pushed(&plugin("test-mirror"), &tag, None);
    let token = "fleet-admin-token";
    let cache = ScratchDir::new();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let admin = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let text = format!(
            "listen = \"127.0.0.1:0\"\n\
             [admin]\nlisten = \"127.0.0.1:{admin}\"\ntoken_env = \"ROTOR_FLEET_TOKEN\"\n{}",
            config(&registry, &tag, cache.path(), "")
        );
        let process = crate::support::RotorProcess::start(
            server_dir(),
            &text,
            &[("ROTOR_FLEET_TOKEN", token)],
        );
        let client = process.client().await;
        replicas.push((process, client, admin));
    }
    for (_, client, _) in &mut replicas {
        assert_eq!(who_answers_process(client).await, "mirror");
    }

    // The tag moves: both processes go over to the new digest.
    let second = pushed(&plugin("rpc-router"), &tag, None);
    assert_ne!(first, second);
    for (process, client, _) in &mut replicas {
        let started = Instant::now();
        while who_answers_process(client).await != "router" {
            assert!(
                started.elapsed() < LIVE_WITHIN,
                "the new tag did not go live: {}",
                process.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // An operator rolls back on each replica through its admin listener.
    let key = format!("default/{tag}");
    for (process, client, admin) in &mut replicas {
        let (status, body) = admin_post(*admin, &format!("/admin/rollback/{key}"), token);
        assert_eq!(status, 200, "rollback: {body}\n{}", process.log());
        assert_eq!(who_answers_process(client).await, "mirror");
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    for (_, client, _) in &mut replicas {
        assert_eq!(
            who_answers_process(client).await,
            "mirror",
            "the rollback holds while the tag stays"
        );
    }
    for (mut process, client, _) in replicas {
        drop(client);
        process.stop().await;
    }
}
