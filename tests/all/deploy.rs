//! The deployment files: the Dockerfile, `deploy/docker-compose.yml` and its
//! configs, the Kubernetes manifests, Prometheus' scrape config and the
//! Grafana dashboard.
//!
//! No container engine or cluster runs here, so the files are checked
//! against what Rotor really does: each container config is served by the
//! real `rotor serve` (on loopback ports instead of `0.0.0.0`), probes and
//! scrape targets must name the paths and ports that config serves, every
//! Centrifugo proxy must point at Rotor, and the dashboard may only query
//! metrics and labels a running Rotor exports.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rotor::proto::proxy as pb;
use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{ScratchDir, TestServer, plugin_dir, request};

/// Where containers serve the proxy: every interface, Rotor's usual port.
const CONTAINER_LISTEN: &str = "0.0.0.0:10001";
/// Where containers serve the admin listener.
const CONTAINER_ADMIN: &str = "0.0.0.0:9901";
/// The proxy and admin ports of [`CONTAINER_LISTEN`] and [`CONTAINER_ADMIN`].
const PROXY_PORT: u64 = 10001;
const ADMIN_PORT: u64 = 9901;
/// The metadata key Centrifugo's proxies send their credentials under.
const PROXY_CREDENTIALS_KEY: &str = "x-rotor-proxy-secret";
/// Where the image and the manifests put the plugins.
const CONTAINER_PLUGIN_DIR: &str = "/plugins";
/// Centrifugo's endpoint for Rotor in the compose network.
const COMPOSE_ENDPOINT: &str = "grpc://rotor:10001";
/// Centrifugo's endpoint for Rotor's ClusterIP Service.
const KUBERNETES_ENDPOINT: &str = "grpc://rotor.rotor.svc.cluster.local:10001";
/// The gRPC service name Rotor's health service reports once plugins load.
const PROXY_SERVICE: &str = "centrifugal.centrifugo.proxy.CentrifugoProxy";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn toml_of(name: &str, text: &str) -> toml::Table {
    toml::from_str(text).unwrap_or_else(|error| panic!("{name}: not TOML: {error}"))
}

fn json_file(path: &str) -> Json {
    serde_json::from_str(&read(path)).unwrap_or_else(|error| panic!("{path}: not JSON: {error}"))
}

/// Every YAML document of a file (Kubernetes files may hold several).
fn yaml_documents(path: &str) -> Vec<Yaml> {
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|document| {
            serde::Deserialize::deserialize(document)
                .unwrap_or_else(|error| panic!("{path}: not YAML: {error}"))
        })
        .filter(|document: &Yaml| !document.is_null())
        .collect()
}

fn yaml_file(path: &str) -> Yaml {
    let mut documents = yaml_documents(path);
    assert_eq!(documents.len(), 1, "{path}: one YAML document");
    documents.remove(0)
}

/// The string at a path of keys, or a failure naming the path.
fn text<'a>(value: &'a Yaml, keys: &[&str]) -> &'a str {
    let mut at = value;
    for key in keys {
        at = &at[*key];
    }
    at.as_str()
        .unwrap_or_else(|| panic!("`{}` is not a string: {at:?}", keys.join(".")))
}

fn toml_str<'a>(table: &'a toml::Table, keys: &[&str], name: &str) -> &'a str {
    let mut at: &toml::Value = table
        .get(keys[0])
        .unwrap_or_else(|| panic!("{name}: no `{}`", keys[0]));
    for key in &keys[1..] {
        at = at
            .get(key)
            .unwrap_or_else(|| panic!("{name}: no `{}`", keys.join(".")));
    }
    at.as_str()
        .unwrap_or_else(|| panic!("{name}: `{}` is not a string", keys.join(".")))
}

/// The container configs: the image's default, compose's and the ConfigMap's.
fn container_configs() -> Vec<(String, String)> {
    vec![
        (
            "deploy/docker/rotor.toml".into(),
            read("deploy/docker/rotor.toml"),
        ),
        (
            "deploy/compose/rotor.toml".into(),
            read("deploy/compose/rotor.toml"),
        ),
        (
            "deploy/kubernetes/10-configmap.yaml (rotor.toml)".into(),
            configmap_config(),
        ),
    ]
}

fn configmap_config() -> String {
    let map = yaml_file("deploy/kubernetes/10-configmap.yaml");
    assert_eq!(text(&map, &["kind"]), "ConfigMap");
    text(&map, &["data", "rotor.toml"]).to_owned()
}

/// The environment variables a config reads its secrets from.
fn env_names(config: &toml::Table) -> BTreeSet<String> {
    fn walk(value: &toml::Value, names: &mut BTreeSet<String>) {
        match value {
            toml::Value::Table(table) => {
                for (key, value) in table {
                    match (key.as_str(), value) {
                        (
                            "env" | "token_env" | "api_key_env" | "value_env",
                            toml::Value::String(name),
                        ) => {
                            names.insert(name.clone());
                        }
                        _ => walk(value, names),
                    }
                }
            }
            toml::Value::Array(items) => items.iter().for_each(|item| walk(item, names)),
            _ => {}
        }
    }
    let mut names = BTreeSet::new();
    walk(&toml::Value::Table(config.clone()), &mut names);
    names
}

/// Every plugin file a config names, as handler or interceptor.
fn plugin_names(config: &toml::Table) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    if let Some(handlers) = config.get("handlers").and_then(toml::Value::as_table) {
        for route in handlers.values() {
            match route {
                toml::Value::String(name) => {
                    names.insert(name.clone());
                }
                toml::Value::Table(table) => {
                    for (key, value) in table {
                        match value {
                            toml::Value::String(name) if key == "default" => {
                                names.insert(name.clone());
                            }
                            toml::Value::Table(refined) => names.extend(
                                refined
                                    .values()
                                    .filter_map(|v| v.as_str().map(str::to_owned)),
                            ),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(chains) = config.get("interceptors").and_then(toml::Value::as_table) {
        for entry in chains.values().filter_map(toml::Value::as_array).flatten() {
            match entry {
                toml::Value::String(name) => {
                    names.insert(name.clone());
                }
                toml::Value::Table(table) => {
                    if let Some(name) = table.get("plugin").and_then(toml::Value::as_str) {
                        names.insert(name.to_owned());
                    }
                }
                _ => {}
            }
        }
    }
    names
}

#[test]
fn shipped_configs_expose_the_proxy_only_with_auth_and_an_admin_token() {
    for (name, text) in container_configs() {
        let config = toml_of(&name, &text);
        assert_eq!(
            toml_str(&config, &["listen"], &name),
            CONTAINER_LISTEN,
            "{name}"
        );
        assert_eq!(
            toml_str(&config, &["admin", "listen"], &name),
            CONTAINER_ADMIN,
            "{name}"
        );
        assert!(
            !toml_str(&config, &["admin", "token_env"], &name).is_empty(),
            "{name}: the admin listener is off loopback, so it needs a token"
        );
        // The proxy is off loopback too: only Centrifugo, with the
        // credentials its proxies send, may call it.
        assert_eq!(
            toml_str(&config, &["auth", "key"], &name),
            PROXY_CREDENTIALS_KEY,
            "{name}: [auth]"
        );
        assert!(
            !toml_str(&config, &["auth", "value_env"], &name).is_empty(),
            "{name}: the proxy secret comes from the environment"
        );
        assert_eq!(
            toml_str(&config, &["plugins", "dir"], &name),
            CONTAINER_PLUGIN_DIR,
            "{name}"
        );
        // Every plugin a container config names is one the image ships.
        for plugin in plugin_names(&config) {
            let crate_name = plugin.trim_end_matches(".wasm");
            assert!(
                root()
                    .join("plugins")
                    .join(crate_name)
                    .join("Cargo.toml")
                    .is_file(),
                "{name}: {plugin} is not built from plugins/"
            );
            assert!(
                !crate_name.starts_with("test-"),
                "{name}: {plugin} is a test fixture, left out of the image"
            );
        }
    }
    // Several replicas share state only through Redis.
    let name = "deploy/compose/rotor.toml";
    let compose = toml_of(name, &read(name));
    assert_eq!(toml_str(&compose, &["kv", "backend"], name), "redis");
    let configmap = toml_of("ConfigMap", &configmap_config());
    assert_eq!(
        toml_str(&configmap, &["kv", "backend"], "ConfigMap"),
        "redis"
    );
}

#[test]
fn the_dockerfile_builds_rotor_and_the_plugins_and_serves_the_default_config() {
    let dockerfile = read("Dockerfile");
    let manifest = toml_of("Cargo.toml", &read("Cargo.toml"));
    let rust_version = toml_str(&manifest, &["package", "rust-version"], "Cargo.toml");
    assert!(
        dockerfile.contains(&format!("ARG RUST_VERSION={rust_version}\n")),
        "the builder's Rust is the package's rust-version {rust_version}"
    );
    for needed in [
        "FROM rust:${RUST_VERSION}",
        "rustup target add wasm32-wasip2",
        "cargo build --release --locked --bin rotor",
        "scripts/build-plugins",
        "-slim AS runtime",
        "COPY deploy/docker/rotor.toml /etc/rotor/rotor.toml",
        "CMD [\"serve\", \"--config\", \"/etc/rotor/rotor.toml\"]",
        "http://127.0.0.1:9901/readyz",
    ] {
        assert!(dockerfile.contains(needed), "the Dockerfile has `{needed}`");
    }
    assert!(
        dockerfile
            .lines()
            .any(|line| line == format!("EXPOSE {PROXY_PORT} {ADMIN_PORT}")),
        "the Dockerfile exposes the proxy and admin ports"
    );
    // The runtime stage, the last one, runs as a numeric non-root user.
    let runtime = dockerfile.rsplit("\nFROM ").next().expect("a last stage");
    let user = runtime
        .lines()
        .find_map(|line| line.strip_prefix("USER "))
        .expect("the runtime stage sets USER");
    let uid: u32 = user
        .split(':')
        .next()
        .and_then(|uid| uid.parse().ok())
        .unwrap_or_else(|| panic!("USER {user} is not numeric"));
    assert_ne!(uid, 0, "the runtime user is not root");

    // The build context keeps out build output and git, and keeps in what
    // the build needs.
    let ignore = read(".dockerignore");
    let ignored: BTreeSet<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    for excluded in ["target/", ".git", "plugins/dist/"] {
        assert!(ignored.contains(excluded), ".dockerignore has {excluded}");
    }
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "host",
        "proto",
        "wit",
        "scripts",
        "guest-sdk",
        "plugins",
        "bench",
        "deploy/docker",
    ] {
        assert!(
            !ignored.contains(needed) && !ignored.contains(format!("{needed}/").as_str()),
            ".dockerignore must not exclude {needed}"
        );
        assert!(root().join(needed).exists(), "{needed} exists");
    }
    assert!(
        ignored.contains("!deploy/docker/"),
        "the default config is kept"
    );
}

/// A `rotor serve` child process, killed if the test fails before it exits.
struct ServeProcess {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl ServeProcess {
    fn log(&self) -> String {
        self.log
            .lock()
            .map(|lines| lines.join("\n"))
            .unwrap_or_default()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two loopback ports free a moment ago.
fn free_ports() -> (u16, u16) {
    let first = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let second = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    (
        first.local_addr().expect("an address").port(),
        second.local_addr().expect("an address").port(),
    )
}

/// One HTTP/1.1 request; the status and body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let authorization = token
        .map(|token| format!("authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n{authorization}content-length: 0\r\nconnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Serves a container config with the real binary, on loopback ports and
/// with the built plugins, and checks what its probes, Prometheus and the
/// operators rely on.
async fn serve_container_config(name: &str, text: &str) {
    let mut config = toml_of(name, text);
    let env = env_names(&config);
    let plugins = plugin_names(&config);
    let (proxy_port, admin_port) = free_ports();
    config.insert("listen".into(), format!("127.0.0.1:{proxy_port}").into());
    let admin = config
        .get_mut("admin")
        .and_then(toml::Value::as_table_mut)
        .expect("[admin]");
    admin.insert("listen".into(), format!("127.0.0.1:{admin_port}").into());
    let dir = plugin_dir().display().to_string();
    config
        .get_mut("plugins")
        .and_then(toml::Value::as_table_mut)
        .expect("[plugins]")
        .insert("dir".into(), dir.into());

    // No Redis here: the kv store is the embedded one. Guests that count in
    // kv (rate-limit) would otherwise wait on an unreachable Redis past their
    // deadline. The Redis backend has its own tests.
    if config.contains_key("kv") {
        let mut memory = toml::Table::new();
        memory.insert("backend".into(), "memory".into());
        config.insert("kv".into(), memory.into());
    }

    let scratch = ScratchDir::new();
    let path = scratch.path().join("rotor.toml");
    std::fs::write(&path, toml::to_string(&config).expect("TOML")).expect("writing the config");
    let token = "deploy-test-admin-token";
    let mut command = Command::new(env!("CARGO_BIN_EXE_rotor"));
    command
        .args(["serve", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for variable in &env {
        command.env(variable, format!("deploy-test-{variable}"));
    }
    let admin_env = toml_str(&toml_of(name, text), &["admin", "token_env"], name).to_owned();
    command.env(&admin_env, token);
    let mut child = command.spawn().expect("starting rotor serve");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(mut lines) = lines.lock() {
                lines.push(line);
            }
        }
    });
    let mut process = ServeProcess { child, log };

    // Ready once every plugin has compiled and both listeners are up.
    let started = Instant::now();
    loop {
        if let Some(status) = process.child.try_wait().expect("waiting for rotor") {
            panic!("{name}: rotor exited with {status}:\n{}", process.log());
        }
        if let Ok((200, _)) = http(admin_port, "GET", "/readyz", None)
            && std::net::TcpStream::connect(("127.0.0.1", proxy_port)).is_ok()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{name}: not ready in time:\n{}",
            process.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let get = |path: &str, token: Option<&str>| {
        http(admin_port, "GET", path, token)
            .unwrap_or_else(|error| panic!("{name}: GET {path}: {error}"))
    };
    assert_eq!(get("/healthz", None).0, 200, "{name}: /healthz");
    assert_eq!(get("/admin/plugins", None).0, 401, "{name}: token required");
    let (status, body) = get("/admin/plugins", Some(token));
    assert_eq!(status, 200, "{name}: /admin/plugins: {body}");
    let listed: Json = serde_json::from_str(&body).expect("JSON");
    let listed: BTreeSet<&str> = listed
        .as_array()
        .expect("a list of plugins")
        .iter()
        .filter_map(|plugin| plugin["name"].as_str())
        .collect();
    for plugin in &plugins {
        assert!(
            listed.contains(plugin.as_str()),
            "{name}: {plugin} is live: {body}"
        );
    }

    // The gRPC health service on the proxy port, for `grpc:` probes.
    let channel = Endpoint::from_shared(format!("http://127.0.0.1:{proxy_port}"))
        .expect("an endpoint")
        .connect()
        .await
        .expect("connecting to the proxy port");
    let mut health = HealthClient::new(channel.clone());
    for service in ["", PROXY_SERVICE] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("a health answer")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{name}: `{service}`");
    }
    // And it answers Centrifugo, which sends the credentials of [auth], and
    // no one else: an RPC the router knows.
    let secret_env = toml_str(&toml_of(name, text), &["auth", "value_env"], name).to_owned();
    let secret = format!("deploy-test-{secret_env}");
    let mut client =
        rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient::new(channel);
    let echo = || pb::RpcRequest {
        user: "42".into(),
        method: "echo".into(),
        data: b"{}".to_vec(),
        ..Default::default()
    };
    for credentials in [&[][..], &[(PROXY_CREDENTIALS_KEY, "a guess")][..]] {
        let status = client
            .rpc(request(echo(), credentials))
            .await
            .expect_err("a call without Centrifugo's credentials");
        assert_eq!(
            status.code(),
            tonic::Code::Unauthenticated,
            "{name}: {status}"
        );
    }
    let reply = client
        .rpc(request(echo(), &[(PROXY_CREDENTIALS_KEY, &secret)]))
        .await
        .unwrap_or_else(|status| panic!("{name}: rpc echo: {status}\n{}", process.log()))
        .into_inner();
    assert!(
        reply.error.is_none() && reply.disconnect.is_none(),
        "{name}: echo answered: {reply:?}\n{}",
        process.log()
    );

    // Prometheus scrapes the call without a token.
    let (status, metrics) = get("/metrics", None);
    assert_eq!(status, 200, "{name}: /metrics needs no token");
    let exported = exported_metrics(&metrics);
    for family in [
        "rotor_calls_in_flight",
        "rotor_calls_total",
        "rotor_call_duration_seconds_bucket",
    ] {
        assert!(
            exported.families.contains(family),
            "{name}: /metrics has {family}: {metrics}"
        );
    }
    assert!(
        metrics.contains(r#"rotor_calls_total{tenant="default",kind="rpc",outcome="accept"} 1"#),
        "{name}: the echo call is counted: {metrics}"
    );

    // SIGTERM drains and exits 0, as a container runtime expects.
    let killed = Command::new("kill")
        .args(["-TERM", &process.child.id().to_string()])
        .status()
        .expect("sending SIGTERM");
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = process.child.try_wait().expect("waiting for rotor") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{name}: rotor did not exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{name}: exited with {status}");
}

#[tokio::test]
async fn the_image_default_config_serves() {
    let name = "deploy/docker/rotor.toml";
    serve_container_config(name, &read(name)).await;
}

#[tokio::test]
async fn the_compose_config_serves() {
    let name = "deploy/compose/rotor.toml";
    serve_container_config(name, &read(name)).await;
}

#[tokio::test]
async fn the_kubernetes_config_serves() {
    serve_container_config("ConfigMap rotor-config", &configmap_config()).await;
}

/// Checks that every proxy of a Centrifugo config points at `endpoint`, is
/// switched on everywhere and sends Rotor's [auth] credentials, and that the
/// server API is on. The credentials value every proxy sends.
fn check_centrifugo(name: &str, config: &Json, endpoint: &str) -> String {
    for kind in ["connect", "refresh"] {
        let proxy = &config["client"]["proxy"][kind];
        assert_eq!(
            proxy["enabled"], true,
            "{name}: client.proxy.{kind}.enabled"
        );
        assert_eq!(proxy["endpoint"], endpoint, "{name}: client.proxy.{kind}");
        assert!(proxy["timeout"].is_string(), "{name}: {kind} timeout");
    }
    for kind in ["subscribe", "publish", "sub_refresh"] {
        let proxy = &config["channel"]["proxy"][kind];
        assert_eq!(proxy["endpoint"], endpoint, "{name}: channel.proxy.{kind}");
        assert!(proxy["timeout"].is_string(), "{name}: {kind} timeout");
        let switch = format!("{kind}_proxy_enabled");
        assert_eq!(
            config["channel"]["without_namespace"][&switch], true,
            "{name}: channel.without_namespace.{switch}"
        );
        for namespace in config["channel"]["namespaces"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(
                namespace[&switch], true,
                "{name}: {switch} in namespace {}",
                namespace["name"]
            );
        }
    }
    let rpc = &config["rpc"];
    assert_eq!(rpc["proxy"]["endpoint"], endpoint, "{name}: rpc.proxy");
    assert!(rpc["proxy"]["timeout"].is_string(), "{name}: rpc timeout");
    assert_eq!(rpc["without_namespace"]["proxy_enabled"], true, "{name}");
    for namespace in rpc["namespaces"].as_array().into_iter().flatten() {
        assert_eq!(
            namespace["proxy_enabled"], true,
            "{name}: rpc namespace {}",
            namespace["name"]
        );
    }
    let secret = proxy_secret(name, config, endpoint);

    let api = &config["grpc_api"];
    assert_eq!(api["enabled"], true, "{name}: grpc_api.enabled");
    assert_eq!(api["port"], 10000, "{name}: grpc_api.port");
    assert!(
        api["key"].as_str().is_some_and(|key| !key.is_empty()),
        "{name}: grpc_api.key"
    );
    secret
}

/// Checks that every proxy of a Centrifugo config, named ones included,
/// points at `endpoint` and sends the credentials Rotor's [auth] requires;
/// the one credentials value they send.
fn proxy_secret(name: &str, config: &Json, endpoint: &str) -> String {
    fn proxies<'a>(value: &'a Json, found: &mut Vec<&'a Json>) {
        match value {
            Json::Object(map) => {
                if map.contains_key("endpoint") {
                    found.push(value);
                }
                map.values().for_each(|value| proxies(value, found));
            }
            Json::Array(items) => items.iter().for_each(|item| proxies(item, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    proxies(config, &mut found);
    assert_eq!(found.len(), 6, "{name}: one endpoint per proxy type");
    assert!(
        found.iter().all(|proxy| proxy["endpoint"] == endpoint),
        "{name}"
    );
    let values: BTreeSet<&str> = found
        .iter()
        .map(|proxy| {
            let grpc = &proxy["grpc"];
            assert_eq!(
                grpc["credentials_key"], PROXY_CREDENTIALS_KEY,
                "{name}: grpc.credentials_key of {proxy}"
            );
            grpc["credentials_value"]
                .as_str()
                .filter(|value| !value.is_empty())
                .unwrap_or_else(|| panic!("{name}: grpc.credentials_value of {proxy}"))
        })
        .collect();
    assert_eq!(values.len(), 1, "{name}: one proxy secret: {values:?}");
    values.into_iter().next().unwrap_or_default().to_owned()
}

#[test]
fn the_demo_centrifugo_config_sends_the_credentials_the_demo_rotor_config_requires() {
    let rotor = toml_of("deploy/rotor.toml", &read("deploy/rotor.toml"));
    let listen = toml_str(&rotor, &["listen"], "deploy/rotor.toml");
    assert_eq!(
        toml_str(&rotor, &["auth", "key"], "deploy/rotor.toml"),
        PROXY_CREDENTIALS_KEY
    );
    let secret_env = toml_str(&rotor, &["auth", "value_env"], "deploy/rotor.toml");
    let centrifugo = json_file("deploy/centrifugo.json");
    let secret = proxy_secret(
        "deploy/centrifugo.json",
        &centrifugo,
        &format!("grpc://{listen}"),
    );
    // scripts/demo sets the same demo values unless the environment has
    // them: the proxy secret and the server API's key.
    let demo = read("scripts/demo");
    assert!(
        demo.contains(&format!(
            "export {secret_env}=\"${{{secret_env}:-{secret}}}\""
        )),
        "scripts/demo defaults {secret_env} to Centrifugo's credentials_value"
    );
    let key_env = toml_str(&rotor, &["centrifugo", "api_key_env"], "deploy/rotor.toml");
    let key = centrifugo["grpc_api"]["key"]
        .as_str()
        .expect("grpc_api.key");
    assert!(
        demo.contains(&format!("export {key_env}=\"${{{key_env}:-{key}}}\"")),
        "scripts/demo defaults {key_env} to Centrifugo's grpc_api.key"
    );
    let (_, api_port) = host_port(toml_str(
        &rotor,
        &["centrifugo", "api"],
        "deploy/rotor.toml",
    ));
    assert_eq!(Some(api_port), centrifugo["grpc_api"]["port"].as_u64());
    check_namespaces("deploy/centrifugo.json", &centrifugo, &rotor);
}

/// Checks that Centrifugo's namespaces cover what a Rotor config routes:
/// RPC method prefixes, the namespaces guests publish to, public channels.
fn check_namespaces(name: &str, centrifugo: &Json, rotor: &toml::Table) {
    let names = |list: &Json| -> BTreeSet<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|namespace| namespace["name"].as_str().map(str::to_owned))
            .collect()
    };
    let rpc_namespaces = names(&centrifugo["rpc"]["namespaces"]);
    let channel_namespaces = names(&centrifugo["channel"]["namespaces"]);
    let methods = rotor
        .get("handlers")
        .and_then(|h| h.get("rpc"))
        .and_then(|rpc| rpc.get("methods"))
        .and_then(toml::Value::as_table);
    for method in methods.into_iter().flat_map(|m| m.keys()) {
        if let Some(namespace) = method.strip_suffix(':') {
            assert!(
                rpc_namespaces.contains(namespace),
                "{name}: Centrifugo has RPC namespace {namespace} for Rotor's `{method}` route"
            );
        }
    }
    let api_namespaces = rotor
        .get("centrifugo")
        .and_then(|c| c.get("namespaces"))
        .and_then(toml::Value::as_array);
    for namespace in api_namespaces.into_iter().flatten() {
        let namespace = namespace.as_str().expect("a namespace name");
        assert!(
            namespace.is_empty() || channel_namespaces.contains(namespace),
            "{name}: Centrifugo has channel namespace {namespace}"
        );
    }
    let public = rotor
        .get("settings")
        .and_then(|s| s.get("subscribe-acl.wasm"))
        .and_then(|s| s.get("public_namespaces"))
        .and_then(toml::Value::as_str)
        .unwrap_or("");
    for namespace in public.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        assert!(
            channel_namespaces.contains(namespace),
            "{name}: Centrifugo has public namespace {namespace}"
        );
    }
}

/// The host and port of an `http://` or `redis://` URL.
fn host_port(url: &str) -> (String, u64) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = authority
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{url} names a port"));
    (host.to_owned(), port.parse().expect("a port number"))
}

/// The source and target of a compose short-syntax volume.
fn volume(entry: &Yaml) -> (String, String) {
    let entry = entry.as_str().expect("a short-syntax volume");
    let mut parts = entry.split(':');
    let source = parts.next().expect("a source").to_owned();
    let target = parts.next().expect("a target").to_owned();
    (source, target)
}

#[test]
fn compose_points_centrifugo_at_rotor_and_rotor_at_redis_and_centrifugo() {
    let compose = yaml_file("deploy/docker-compose.yml");
    let deploy = root().join("deploy");
    let services = &compose["services"];
    let centrifugo = &services["centrifugo"];
    let rotor = &services["rotor"];
    assert!(text(centrifugo, &["image"]).starts_with("centrifugo/centrifugo:v6"));
    assert!(services["redis"]["image"].is_string(), "a redis service");

    // Rotor is built from the repository's Dockerfile, with replicas.
    let context = deploy.join(text(rotor, &["build", "context"]));
    assert!(
        context
            .join(text(rotor, &["build", "dockerfile"]))
            .is_file(),
        "the build context holds the Dockerfile"
    );
    let replicas = rotor["deploy"]["replicas"].as_u64().expect("replicas");
    assert!(replicas >= 2, "several Rotor replicas");
    assert!(
        rotor["ports"].is_null(),
        "replicas cannot share a host port"
    );

    // Every mounted file exists.
    let mut mounts: BTreeMap<(String, String), PathBuf> = BTreeMap::new();
    for (service, definition) in services.as_mapping().expect("services") {
        let service = service.as_str().expect("a service name");
        for entry in definition["volumes"].as_sequence().into_iter().flatten() {
            let (source, target) = volume(entry);
            let path = deploy.join(&source);
            assert!(path.exists(), "{service}: {source} exists");
            mounts.insert((service.to_owned(), target), path);
        }
    }
    let rotor_config_path = mounts
        .get(&("rotor".into(), "/etc/rotor/rotor.toml".into()))
        .expect("rotor mounts its config over the image's");
    assert_eq!(rotor_config_path, &deploy.join("./compose/rotor.toml"));
    let command: Vec<&str> = centrifugo["command"]
        .as_sequence()
        .expect("centrifugo's command")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    let config_at = command
        .iter()
        .position(|arg| *arg == "--config")
        .map(|at| command[at + 1])
        .expect("centrifugo --config");
    let centrifugo_config_path = mounts
        .get(&("centrifugo".into(), config_at.into()))
        .expect("centrifugo's config is mounted where --config points");
    assert_eq!(
        centrifugo_config_path,
        &deploy.join("./compose/centrifugo.json")
    );

    let centrifugo_config = json_file("deploy/compose/centrifugo.json");
    let proxy_secret = check_centrifugo("compose", &centrifugo_config, COMPOSE_ENDPOINT);
    let rotor_config = toml_of("compose rotor.toml", &read("deploy/compose/rotor.toml"));
    check_namespaces("compose", &centrifugo_config, &rotor_config);
    let (host, port) = host_port(COMPOSE_ENDPOINT);
    assert!(services[host.as_str()].is_mapping(), "{host} is a service");
    assert_eq!(port, PROXY_PORT);

    // Rotor reaches Redis and Centrifugo's API by their service names, with
    // the API key Centrifugo expects, and gets every secret it reads.
    let kv_url = toml_str(&rotor_config, &["kv", "url"], "compose");
    let (redis, _) = host_port(kv_url);
    assert!(
        services[redis.as_str()].is_mapping(),
        "{redis} is a service"
    );

    // Several Centrifugo nodes need a shared engine, so that a publication
    // through one node reaches the clients of all; it shares the Redis
    // service, in a database of its own.
    let nodes = centrifugo["deploy"]["replicas"].as_u64().unwrap_or(1);
    assert!(nodes >= 2, "several Centrifugo nodes");
    let engine = &centrifugo_config["engine"];
    assert_eq!(engine["type"], "redis", "compose: Centrifugo's engine");
    let engine_url = engine["redis"]["address"]
        .as_str()
        .expect("engine.redis.address");
    assert_eq!(
        host_port(engine_url).0,
        redis,
        "the engine uses the redis service"
    );
    let database = |url: &str| url.rsplit_once('/').map(|(_, db)| db.to_owned());
    assert_ne!(
        database(engine_url),
        database(kv_url),
        "Centrifugo and Rotor use different Redis databases"
    );
    let host_ports = centrifugo["ports"][0].as_str().expect("a port mapping");
    let range = host_ports.split(':').nth(1).expect("host ports");
    let (first, last) = range.split_once('-').expect("a host port range");
    let count = last.parse::<u64>().expect("a port") - first.parse::<u64>().expect("a port") + 1;
    assert_eq!(count, nodes, "one host port per Centrifugo node");
    let (api_host, api_port) =
        host_port(toml_str(&rotor_config, &["centrifugo", "api"], "compose"));
    assert_eq!(api_host, "centrifugo");
    assert_eq!(
        Some(api_port),
        centrifugo_config["grpc_api"]["port"].as_u64()
    );
    let environment = &rotor["environment"];
    for variable in env_names(&rotor_config) {
        assert!(
            environment[variable.as_str()].is_string(),
            "compose sets {variable} for Rotor"
        );
    }
    let key_env = toml_str(&rotor_config, &["centrifugo", "api_key_env"], "compose");
    assert_eq!(
        environment[key_env],
        centrifugo_config["grpc_api"]["key"].as_str().unwrap_or(""),
        "Rotor's API key is Centrifugo's grpc_api.key"
    );
    let secret_env = toml_str(&rotor_config, &["auth", "value_env"], "compose");
    assert_eq!(
        environment[secret_env], proxy_secret,
        "Rotor's [auth] value is what Centrifugo's proxies send"
    );

    // The monitoring profile scrapes the admin listener of every replica.
    let prometheus = yaml_file("deploy/prometheus.yml");
    let job = &prometheus["scrape_configs"][0];
    assert_eq!(text(job, &["metrics_path"]), "/metrics");
    let discovery = &job["dns_sd_configs"][0];
    assert_eq!(discovery["port"].as_u64(), Some(ADMIN_PORT));
    assert_eq!(discovery["names"][0], "rotor");
    let provider = yaml_file("deploy/grafana/provisioning/dashboards/rotor.yml");
    let dashboards = text(&provider["providers"][0], &["options", "path"]);
    assert!(
        mounts
            .get(&(
                "grafana".into(),
                format!("{dashboards}/rotor-dashboard.json")
            ))
            .is_some_and(|path| path == &deploy.join("./grafana/rotor-dashboard.json")),
        "grafana loads the dashboard from where it is mounted"
    );
}

/// The Kubernetes objects `kubectl apply -f deploy/kubernetes/` creates, in
/// the order it creates them.
fn kubernetes_objects() -> Vec<Yaml> {
    let dir = root().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/kubernetes")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| {
            path.is_file()
                && path
                    .extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml" || ext == "json")
        })
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|path| {
            let relative = path.strip_prefix(root()).expect("inside the repository");
            yaml_documents(&relative.display().to_string())
        })
        .collect()
}

fn object<'a>(objects: &'a [Yaml], kind: &str, name: &str) -> &'a Yaml {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("a {kind} {name}"))
}

/// A container port by name or number.
fn port_number(container: &Yaml, port: &Yaml) -> u64 {
    if let Some(number) = port.as_u64() {
        return number;
    }
    let name = port.as_str().expect("a port name or number");
    container["ports"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == name)
        .and_then(|p| p["containerPort"].as_u64())
        .unwrap_or_else(|| panic!("no container port named {name}"))
}

fn labels_match(selector: &Yaml, labels: &Yaml) -> bool {
    selector
        .as_mapping()
        .expect("a selector")
        .iter()
        .all(|(key, value)| labels[key.as_str().expect("a label")] == *value)
}

#[test]
fn kubernetes_probes_ports_and_volumes_match_the_config() {
    let objects = kubernetes_objects();
    assert_eq!(objects[0]["kind"], "Namespace", "the namespace comes first");
    let namespace = text(&objects[0], &["metadata", "name"]);
    for object in &objects[1..] {
        assert_eq!(
            text(object, &["metadata", "namespace"]),
            namespace,
            "{:?}",
            object["metadata"]["name"]
        );
    }
    let config_text = configmap_config();
    let config = toml_of("ConfigMap", &config_text);

    let deployment = object(&objects, "Deployment", "rotor");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"].as_u64(), Some(3));
    let pod = &spec["template"]["spec"];
    let pod_labels = &spec["template"]["metadata"]["labels"];
    assert!(labels_match(&spec["selector"]["matchLabels"], pod_labels));
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_ne!(pod["securityContext"]["runAsUser"].as_u64(), Some(0));
    let grace = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("grace");
    assert!(grace > 10, "longer than Rotor's 10 s drain");

    let containers = pod["containers"].as_sequence().expect("containers");
    let rotor = containers
        .iter()
        .find(|c| c["name"] == "rotor")
        .expect("the rotor container");
    let security = &rotor["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert!(rotor["resources"]["requests"]["memory"].is_string());
    assert!(rotor["resources"]["limits"]["memory"].is_string());

    // Ports and probes are those the config serves.
    let listen: std::net::SocketAddr = toml_str(&config, &["listen"], "ConfigMap")
        .parse()
        .expect("listen");
    let admin: std::net::SocketAddr = toml_str(&config, &["admin", "listen"], "ConfigMap")
        .parse()
        .expect("admin.listen");
    assert_eq!(
        port_number(rotor, &Yaml::from("grpc")),
        u64::from(listen.port())
    );
    assert_eq!(
        port_number(rotor, &Yaml::from("admin")),
        u64::from(admin.port())
    );
    for (probe, path) in [
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ] {
        let get = &rotor[probe]["httpGet"];
        assert_eq!(text(get, &["path"]), path, "{probe}");
        assert_eq!(
            port_number(rotor, &get["port"]),
            u64::from(admin.port()),
            "{probe} on the admin listener"
        );
    }

    // The config file is the ConfigMap's, mounted as a directory.
    let args: Vec<&str> = rotor["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    let config_path = Path::new(
        args.iter()
            .position(|arg| *arg == "--config")
            .map(|at| args[at + 1])
            .expect("serve --config"),
    );
    let mounts = |container: &Yaml| -> BTreeMap<String, String> {
        container["volumeMounts"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|m| {
                (
                    text(m, &["mountPath"]).to_owned(),
                    text(m, &["name"]).to_owned(),
                )
            })
            .collect()
    };
    let rotor_mounts = mounts(rotor);
    let config_volume = &rotor_mounts[&config_path
        .parent()
        .expect("a directory")
        .display()
        .to_string()];
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("a volume {name}"))
    };
    let map_name = text(volume(config_volume), &["configMap", "name"]);
    let map = object(&objects, "ConfigMap", map_name);
    let file = config_path
        .file_name()
        .expect("a file name")
        .to_str()
        .expect("UTF-8");
    assert_eq!(text(map, &["data", file]), config_text);

    // The init container fills the volume mounted at the plugin directory.
    let plugin_volume = &rotor_mounts[toml_str(&config, &["plugins", "dir"], "ConfigMap")];
    assert!(volume(plugin_volume)["emptyDir"].is_mapping());
    let init = &pod["initContainers"][0];
    assert!(mounts(init).values().any(|name| name == plugin_volume));
    assert_eq!(init["securityContext"]["readOnlyRootFilesystem"], true);

    // Every secret the config reads comes from the example Secret's keys.
    let secret = yaml_file("deploy/kubernetes/examples/secret.yaml");
    let env = rotor["env"].as_sequence().expect("env");
    for variable in env_names(&config) {
        let entry = env
            .iter()
            .find(|e| e["name"] == variable.as_str())
            .unwrap_or_else(|| panic!("the container sets {variable}"));
        let reference = &entry["valueFrom"]["secretKeyRef"];
        assert_eq!(reference["name"], secret["metadata"]["name"], "{variable}");
        let key = text(reference, &["key"]);
        assert!(
            secret["stringData"][key].is_string(),
            "{variable}: key {key}"
        );
    }

    // The Services select the pods and reach the proxy port.
    let service = object(&objects, "Service", "rotor");
    let headless = object(&objects, "Service", "rotor-headless");
    assert_eq!(headless["spec"]["clusterIP"], "None");
    for service in [service, headless] {
        assert!(labels_match(&service["spec"]["selector"], pod_labels));
        let grpc = service["spec"]["ports"]
            .as_sequence()
            .expect("ports")
            .iter()
            .find(|p| p["name"] == "grpc")
            .expect("a grpc port");
        assert_eq!(
            port_number(rotor, &grpc["targetPort"]),
            u64::from(listen.port())
        );
    }
    let budget = object(&objects, "PodDisruptionBudget", "rotor");
    assert!(labels_match(
        &budget["spec"]["selector"]["matchLabels"],
        pod_labels
    ));

    // Centrifugo's example config points every proxy at the ClusterIP Service.
    let centrifugo = json_file("deploy/kubernetes/examples/centrifugo.json");
    let proxy_secret = check_centrifugo("kubernetes", &centrifugo, KUBERNETES_ENDPOINT);
    assert!(
        proxy_secret.contains("proxy-secret"),
        "the example names the Secret's key: {proxy_secret}"
    );
    check_namespaces("kubernetes", &centrifugo, &config);
    assert_eq!(
        centrifugo["engine"]["type"], "redis",
        "kubernetes: several Centrifugo nodes share a Redis engine"
    );
    let service_port = service["spec"]["ports"][0]["port"].as_u64();
    assert_eq!(
        KUBERNETES_ENDPOINT,
        format!(
            "grpc://{}.{namespace}.svc.cluster.local:{}",
            text(service, &["metadata", "name"]),
            service_port.expect("a port")
        )
    );

    // The examples: the shared-volume variant and the scrape job.
    let pvc = yaml_documents("deploy/kubernetes/examples/plugins-pvc.yaml");
    let claim = text(
        object(&pvc, "PersistentVolumeClaim", "rotor-plugins"),
        &["metadata", "name"],
    );
    let job = object(&pvc, "Job", "rotor-plugins-publish");
    assert_eq!(
        text(
            &job["spec"]["template"]["spec"]["volumes"][0],
            &["persistentVolumeClaim", "claimName"]
        ),
        claim
    );
    let policy = yaml_file("deploy/kubernetes/examples/networkpolicy.yaml");
    let policy_ports: BTreeSet<u64> = policy["spec"]["ingress"]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|rule| rule["ports"].as_sequence().into_iter().flatten())
        .filter_map(|port| port["port"].as_u64())
        .collect();
    assert_eq!(policy_ports, BTreeSet::from([PROXY_PORT, ADMIN_PORT]));
    let scrape = yaml_file("deploy/kubernetes/examples/prometheus-scrape.yml");
    let job = &scrape["scrape_configs"][0];
    assert_eq!(text(job, &["metrics_path"]), "/metrics");
    assert!(
        job["relabel_configs"]
            .as_sequence()
            .expect("relabel_configs")
            .iter()
            .any(|rule| rule["regex"] == "admin"),
        "the scrape job keeps the container port named admin"
    );
}

/// The metrics a Rotor exports: sample names with their label names, and
/// the families of the `# TYPE` lines as sample names.
struct Exported {
    samples: BTreeMap<String, BTreeSet<String>>,
    families: BTreeSet<String>,
}

fn exported_metrics(text: &str) -> Exported {
    let mut samples: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut families = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            match kind {
                "counter" => {
                    families.insert(format!("{name}_total"));
                }
                "histogram" => {
                    for suffix in ["_bucket", "_sum", "_count"] {
                        families.insert(format!("{name}{suffix}"));
                    }
                }
                _ => {
                    families.insert(name.to_owned());
                }
            }
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = line[..end].to_owned();
        let labels = samples.entry(name).or_default();
        if line[end..].starts_with('{') {
            let inside = &line[end + 1..line.find('}').unwrap_or(line.len())];
            for pair in split_outside_quotes(inside, ',') {
                if let Some((label, _)) = pair.split_once('=') {
                    labels.insert(label.trim().to_owned());
                }
            }
        }
    }
    Exported { samples, families }
}

fn split_outside_quotes(text: &str, separator: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            _ if c == separator && !quoted => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(part) = parts.last_mut() {
            part.push(c);
        }
    }
    parts.retain(|part| !part.trim().is_empty());
    parts
}

/// A PromQL expression with its string literals blanked out.
fn without_strings(expr: &str) -> String {
    let mut out = String::new();
    let mut quote = None;
    for c in expr.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => out.push(' '),
            None => {
                if c == '"' || c == '\'' || c == '`' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

/// The identifiers of an expression with the character after each.
fn identifiers(expr: &str) -> Vec<(String, Option<char>)> {
    let chars: Vec<char> = expr.chars().collect();
    let mut found = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        let starts = c.is_ascii_alphabetic() || c == '_' || c == ':';
        let preceded = at > 0 && (chars[at - 1].is_ascii_alphanumeric() || chars[at - 1] == '_');
        if !starts || preceded {
            at += 1;
            continue;
        }
        let start = at;
        while at < chars.len()
            && (chars[at].is_ascii_alphanumeric() || chars[at] == '_' || chars[at] == ':')
        {
            at += 1;
        }
        let next = chars[at..].iter().find(|c| !c.is_whitespace()).copied();
        found.push((chars[start..at].iter().collect(), next));
    }
    found
}

/// Metric names and label names a query uses.
fn query_names(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let plain = without_strings(expr);
    let mut metrics = BTreeSet::new();
    let mut labels = BTreeSet::new();
    for (name, next) in identifiers(&plain) {
        if name.starts_with("rotor_") || matches!(next, Some('{') | Some('[')) {
            metrics.insert(name);
        }
    }
    // Label names inside selectors: `name op "value"`.
    let mut rest = plain.as_str();
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map_or(rest.len(), |at| open + at);
        for matcher in rest[open + 1..close].split(',') {
            let label = matcher.split(['=', '!']).next().unwrap_or("").trim();
            if !label.is_empty() {
                labels.insert(label.to_owned());
            }
        }
        rest = &rest[close.min(rest.len())..];
        if rest.is_empty() {
            break;
        }
        rest = &rest[1..];
    }
    // Grouping: `by (a, b)` and `without (a)`.
    for keyword in ["by", "without"] {
        let mut rest = plain.as_str();
        while let Some(at) = find_word(rest, keyword) {
            let after = rest[at + keyword.len()..].trim_start();
            if let Some(list) = after.strip_prefix('(') {
                let close = list.find(')').unwrap_or(list.len());
                labels.extend(
                    list[..close]
                        .split(',')
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned),
                );
            }
            rest = &rest[at + keyword.len()..];
        }
    }
    // label_values(metric, label)
    if let Some(args) = plain.trim().strip_prefix("label_values(") {
        let args = args.trim_end_matches(')');
        let label = args.rsplit(',').next().unwrap_or("").trim();
        labels.insert(label.to_owned());
    }
    (metrics, labels)
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(at) = text[from..].find(word).map(|at| at + from) {
        let before = at == 0 || !is_ident(bytes[at - 1]);
        let end = at + word.len();
        let after = end >= bytes.len() || !is_ident(bytes[end]);
        if before && after {
            return Some(at);
        }
        from = end;
    }
    None
}

/// Every query of a dashboard with its legend, and every panel's datasource.
fn dashboard_queries(dashboard: &Json) -> (Vec<(String, String)>, Vec<Json>) {
    fn panels(list: &Json, queries: &mut Vec<(String, String)>, sources: &mut Vec<Json>) {
        for panel in list.as_array().into_iter().flatten() {
            if panel["type"] != "row" {
                sources.push(panel["datasource"].clone());
            }
            for target in panel["targets"].as_array().into_iter().flatten() {
                sources.push(target["datasource"].clone());
                if let Some(expr) = target["expr"].as_str() {
                    let legend = target["legendFormat"].as_str().unwrap_or("").to_owned();
                    queries.push((expr.to_owned(), legend));
                }
            }
            panels(&panel["panels"], queries, sources);
        }
    }
    let mut queries = Vec::new();
    let mut sources = Vec::new();
    panels(&dashboard["panels"], &mut queries, &mut sources);
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] == "query" {
            sources.push(variable["datasource"].clone());
            let query = variable["query"]["query"]
                .as_str()
                .or_else(|| variable["query"].as_str())
                .expect("a variable query");
            queries.push((query.to_owned(), String::new()));
        }
    }
    (queries, sources)
}

#[tokio::test]
async fn the_grafana_dashboard_queries_only_what_rotor_exports() {
    // A Rotor with a sample of every metric: calls that succeed and fault on
    // a plugin in reuse mode (warm-instance events), a rate limit's kv
    // calls, and a reload.
    let mut server = TestServer::start(
        "[handlers]\nrpc = \"test-faulty.wasm\"\n[interceptors]\nrpc = [\"rate-limit.wasm\"]\n[limits]\nmemory = \"32MiB\"\ntimeout = \"300ms\"\n[isolation.\"test-faulty.wasm\"]\nmode = \"reuse\"\n",
    )
    .await;
    for method in ["echo", "trap"] {
        let message = pb::RpcRequest {
            method: method.into(),
            data: b"{}".to_vec(),
            ..Default::default()
        };
        server
            .client
            .rpc(request(message, &[]))
            .await
            .unwrap_or_else(|status| panic!("{method}: {status}"));
    }
    server
        .rotor
        .reload_config()
        .await
        .expect("reloading the same config");
    let metrics = server.rotor.metrics_text();
    let exported = exported_metrics(&metrics);

    let dashboard = json_file("deploy/grafana/rotor-dashboard.json");
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    let datasource = variables
        .iter()
        .find(|v| v["type"] == "datasource")
        .expect("a datasource variable");
    assert_eq!(datasource["query"], "prometheus");
    let uid = format!("${{{}}}", datasource["name"].as_str().expect("a name"));
    let (queries, sources) = dashboard_queries(&dashboard);
    assert!(!queries.is_empty());
    for source in sources {
        assert_eq!(source["type"], "prometheus", "{source}");
        assert_eq!(source["uid"], uid.as_str(), "every query uses the variable");
    }

    let mut used = BTreeSet::new();
    // Prometheus adds these to every scraped sample.
    let target_labels = BTreeSet::from(["job".to_owned(), "instance".to_owned()]);
    for (expr, legend) in &queries {
        let (metrics_used, mut labels) = query_names(expr);
        assert!(!metrics_used.is_empty(), "`{expr}` queries a metric");
        let mut available = target_labels.clone();
        // Labels are known from samples; a family this Rotor has no sample
        // of (e.g. one only some configs produce) is checked by name alone.
        let mut labels_known = true;
        for metric in &metrics_used {
            assert!(
                exported.families.contains(metric),
                "`{expr}` uses {metric}, which Rotor does not export; it has {:?}",
                exported.families
            );
            match exported.samples.get(metric) {
                Some(labels) => available.extend(labels.iter().cloned()),
                None => labels_known = false,
            }
        }
        let mut rest = legend.as_str();
        while let Some(open) = rest.find("{{") {
            let close = rest[open..].find("}}").map_or(rest.len(), |at| open + at);
            labels.insert(rest[open + 2..close].trim().to_owned());
            rest = &rest[(close + 2).min(rest.len())..];
        }
        for label in labels.iter().filter(|_| labels_known) {
            assert!(
                available.contains(label),
                "`{expr}` (legend `{legend}`) uses label {label}; {metrics_used:?} have {available:?}"
            );
        }
        if expr.contains("histogram_quantile") {
            assert!(
                metrics_used.iter().all(|m| m.ends_with("_bucket")) && labels.contains("le"),
                "`{expr}` takes quantiles of buckets by le"
            );
        }
        used.extend(metrics_used);
    }
    // Every metric Rotor exports has a panel (a histogram through its buckets).
    for family in &exported.families {
        if family.ends_with("_sum") || family.ends_with("_count") {
            continue;
        }
        assert!(used.contains(family), "the dashboard shows {family}");
    }

    // The README's list of metrics names every family Rotor exports.
    let readme = read("README.md");
    for family in &exported.families {
        let base = family
            .strip_suffix("_bucket")
            .or_else(|| family.strip_suffix("_sum"))
            .or_else(|| family.strip_suffix("_count"))
            .unwrap_or(family);
        assert!(readme.contains(base), "README.md lists {base}");
    }
}
