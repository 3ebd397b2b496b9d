//! End-to-end tests behind the real Centrifugo: one Centrifugo process, one
//! `rotor serve` process and Centrifugo's own JavaScript client SDK over a
//! WebSocket, all on loopback with ephemeral ports.
//!
//! Centrifugo comes from `scripts/centrifugo`, which builds the pinned
//! version from its Go module once. The client is `tests/client/driver.mjs`,
//! which drives the `centrifuge` npm package and talks JSON lines with the
//! test. The tests of several nodes add a `redis-server`, and the browser
//! test Debian's Chromium. Without Go, Node.js, `redis-server` or Chromium
//! the tests that need them print why and pass, unless
//! `ROTOR_REQUIRE_CENTRIFUGO` is set (CI sets it): then they fail.

mod binary;
mod browser;
mod chains;
mod channels;
mod checkconfig;
mod cluster;
mod expiry;
mod faults;
mod proxies;
mod reload;
mod server_api;
mod streams;
mod tenants;

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::support::{ScratchDir, plugin_dir};

/// The HMAC key the JWT plugins (and Centrifugo, for subscription tokens)
/// verify tokens with in these tests.
pub const SECRET: &str = "e2e-secret-of-a-decent-length";

/// Connect data that carries `token`, as the JWT plugins read it.
pub fn token_data(token: &str) -> Json {
    json!({ "token": token })
}

/// A token for `user` that expires in `seconds`.
pub fn user_token(user: &str, seconds: i64) -> String {
    token(&json!({ "sub": user, "exp": now() + seconds }), SECRET)
}

/// How long any one wait of these tests may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);

/// The repository's root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether missing tools fail the tests instead of skipping them.
fn required() -> bool {
    std::env::var_os("ROTOR_REQUIRE_CENTRIFUGO").is_some_and(|value| !value.is_empty())
}

/// Reports a missing tool: a failure when required, else a notice.
fn missing<T>(message: &str) -> Option<T> {
    assert!(!required(), "{message} (ROTOR_REQUIRE_CENTRIFUGO is set)");
    eprintln!("skipping the Centrifugo end-to-end test: {message}");
    None
}

/// What the end-to-end tests run: Centrifugo's binary and the directory of
/// the Node.js client driver, its packages installed.
#[derive(Clone, Copy)]
pub struct Tools {
    /// The Centrifugo binary.
    pub centrifugo: &'static Path,
    /// `tests/client`, with `node_modules` in place.
    pub client_dir: &'static Path,
}

/// The tools, prepared once per test process; `None` (after a notice) when
/// Go or Node.js is missing and not required.
pub fn tools() -> Option<Tools> {
    Some(Tools {
        centrifugo: centrifugo_binary()?,
        client_dir: client_dir()?,
    })
}

/// Centrifugo's binary, built by `scripts/centrifugo` on first use.
pub fn centrifugo_binary() -> Option<&'static Path> {
    static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let output = Command::new("bash")
                .arg(root().join("scripts/centrifugo"))
                .stderr(Stdio::inherit())
                .output()
                .expect("running scripts/centrifugo");
            match output.status.code() {
                Some(0) => {}
                // The script's own exit status for "Go is not installed".
                Some(3) => {
                    return missing("Go is needed to build Centrifugo (see scripts/centrifugo)");
                }
                _ => panic!("scripts/centrifugo failed: {}", output.status),
            }
            let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
            let path = stdout.lines().last().expect("the binary's path");
            Some(PathBuf::from(path))
        })
        .as_deref()
}

/// `tests/client` with its packages installed (`npm ci` on first use).
pub fn client_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = root().join("tests/client");
        let runs = |program: &str| {
            Command::new(program)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        };
        if !runs("node") {
            return missing("Node.js is needed to run Centrifugo's JavaScript client");
        }
        if !dir.join("node_modules/centrifuge/package.json").exists() {
            if !runs("npm") {
                return missing("npm is needed to install Centrifugo's JavaScript client");
            }
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                // The browser test drives the system's Chromium; never fetch one.
                .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
                .status()
                .expect("running npm ci in tests/client");
            assert!(status.success(), "npm ci in tests/client failed");
        }
        Some(dir)
    })
    .as_deref()
}

/// Lines a child process wrote, kept for failure messages.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    /// Collects the lines of `stream` on a thread, also sending each to
    /// `lines` if given.
    fn collect(
        &self,
        stream: impl std::io::Read + Send + 'static,
        lines: Option<mpsc::Sender<String>>,
    ) {
        let log = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(lines) = &lines {
                    let _ = lines.send(line.clone());
                }
                if let Ok(mut kept) = log.0.lock() {
                    kept.push(line);
                }
            }
        });
    }

    /// Everything so far, one line each.
    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|lines| lines.join("\n"))
            .unwrap_or_default()
    }

    /// Whether some line so far contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        self.0
            .lock()
            .map(|lines| lines.iter().any(|line| line.contains(needle)))
            .unwrap_or(false)
    }

    /// Whether some line contains `needle` within `within`: a line is read
    /// by a thread of its own, so it may come after an answer the process
    /// sent once it had written that line.
    pub fn shows(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while !self.contains(needle) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// One HTTP/1.1 GET on loopback; the whole response (head and body), or
/// `None` if nothing answered.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// One HTTP/1.1 GET on loopback; the status, or `None` if nothing answered.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// A `rotor serve` process on an ephemeral loopback port, killed on drop.
pub struct RotorProcess {
    child: Child,
    /// Where it serves the proxy, `127.0.0.1:<port>`.
    pub address: String,
    /// Its stderr.
    pub log: Log,
    /// The directory of its config file (and of anything the test put
    /// there), removed after the process is gone.
    _dir: ScratchDir,
}

impl RotorProcess {
    /// Serves `config` (TOML without `listen` and `[plugins]`, plugin names
    /// those of `plugins/dist`).
    pub fn start(config: &str) -> RotorProcess {
        RotorProcess::start_with_env(config, &[])
    }

    /// Serves `config` as [`RotorProcess::start`] does, with `env` set.
    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> RotorProcess {
        let text = format!(
            "listen = \"127.0.0.1:0\"\n[plugins]\ndir = {:?}\n{config}",
            plugin_dir().display().to_string()
        );
        RotorProcess::start_in(ScratchDir::new(), &text, env)
    }

    /// Serves a complete `config` (its `listen` on port 0) written to
    /// `rotor.toml` in `dir`, with `env` set.
    pub fn start_in(dir: ScratchDir, config: &str, env: &[(&str, &str)]) -> RotorProcess {
        let path = dir.path().join("rotor.toml");
        std::fs::write(&path, config).expect("writing the config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_rotor"))
            .args(["serve", "--config"])
            .arg(&path)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting rotor serve");
        let log = Log::default();
        let (lines, received) = mpsc::channel();
        log.collect(child.stderr.take().expect("stderr"), Some(lines));
        let started = Instant::now();
        let address = loop {
            match received.recv_timeout(Duration::from_millis(200)) {
                // The proxy's line: an admin listener logs its address too.
                Ok(line) if line.contains("proxy") => {
                    if let Some(rest) = line.split("address=").nth(1) {
                        break rest
                            .split_whitespace()
                            .next()
                            .expect("an address")
                            .to_owned();
                    }
                }
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = child.wait();
                    panic!("rotor serve exited:\n{}", log.text());
                }
            }
            // Rotor listens once its plugins are compiled: seconds for Rust
            // ones, minutes for a 12–18 MB JS or Python component on a busy
            // 2-core machine when the compile cache does not have it yet.
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "rotor serve did not listen in time:\n{}",
                log.text()
            );
        };
        RotorProcess {
            child,
            address,
            log,
            _dir: dir,
        }
    }

    /// The gRPC endpoint Centrifugo's proxies point at.
    pub fn endpoint(&self) -> String {
        format!("grpc://{}", self.address)
    }
}

impl Drop for RotorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `redis-server` on a free loopback port, without persistence, killed on
/// drop: the shared engine of Centrifugo nodes and the `kv` backend of Rotor
/// replicas.
pub struct RedisServer {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl RedisServer {
    /// A started server; `None` (after a notice) when `redis-server` is
    /// missing and not required.
    pub fn start() -> Option<RedisServer> {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            return missing("redis-server is needed for the tests of several nodes");
        };
        let mut server = RedisServer { child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = server.child.try_wait().expect("waiting for redis-server") {
                panic!("redis-server exited with {status}");
            }
            assert!(
                started.elapsed() < WAIT,
                "redis-server did not listen in time"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    /// The URL of database `db`.
    pub fn url(&self, db: u8) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The API key of every Centrifugo these tests start (gRPC and HTTP API).
pub const API_KEY: &str = "e2e-api-key";

/// A Centrifugo process on ephemeral loopback ports, killed on drop.
pub struct Centrifugo {
    child: Child,
    /// Where it listens.
    pub ports: Ports,
    /// Its stdout and stderr.
    pub log: Log,
    /// The directory of its config file, removed after the process is gone.
    _dir: ScratchDir,
}

/// The two ports a Centrifugo of these tests listens on, chosen before it
/// starts, so that Rotor's config can name its server API first.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    /// Client WebSockets, `/health` and the HTTP API.
    pub http: u16,
    /// The gRPC server API.
    pub api: u16,
}

impl Ports {
    /// Two loopback ports that were free a moment ago.
    pub fn free() -> Ports {
        Ports {
            http: free_port(),
            api: free_port(),
        }
    }

    /// The gRPC server API's address, as Rotor's `[centrifugo] api` wants it.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api)
    }
}

impl Centrifugo {
    /// Starts Centrifugo on free ports; see [`Centrifugo::start_on`].
    pub fn start(tools: Tools, config: Json) -> Centrifugo {
        // A port that was free a moment ago may be taken by now: try again.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match Centrifugo::try_start(tools, Ports::free(), config.clone()) {
                Ok(centrifugo) => return centrifugo,
                Err(log) if attempts < 3 && log.contains("address already in use") => {}
                Err(log) => panic!("Centrifugo did not start:\n{log}"),
            }
        }
    }

    /// Starts Centrifugo on `ports` with `config` merged over what every
    /// test needs: the HTTP server and the gRPC API on loopback with
    /// [`API_KEY`], the health endpoint, no usage statistics. Fails the test
    /// if Centrifugo reports an unknown key (a misspelt key would otherwise
    /// be ignored with a warning).
    pub fn start_on(tools: Tools, ports: Ports, config: Json) -> Centrifugo {
        Centrifugo::try_start(tools, ports, config)
            .unwrap_or_else(|log| panic!("Centrifugo did not start:\n{log}"))
    }

    fn try_start(tools: Tools, ports: Ports, mut config: Json) -> Result<Centrifugo, String> {
        let Ports {
            http: port,
            api: api_port,
        } = ports;
        let base = json!({
            "http_server": { "address": "127.0.0.1", "port": port },
            "grpc_api": { "enabled": true, "address": "127.0.0.1", "port": api_port, "key": API_KEY },
            "http_api": { "key": API_KEY },
            "health": { "enabled": true },
            "usage_stats": { "disabled": true },
            "log": { "level": "info" },
        });
        merge(&mut config, base);
        let dir = ScratchDir::new();
        let path = dir.path().join("config.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&config).expect("JSON"))
            .expect("writing Centrifugo's config");
        let mut child = Command::new(tools.centrifugo)
            .arg("--config")
            .arg(&path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting Centrifugo");
        let log = Log::default();
        log.collect(child.stdout.take().expect("stdout"), None);
        log.collect(child.stderr.take().expect("stderr"), None);
        let mut centrifugo = Centrifugo {
            child,
            ports,
            log,
            _dir: dir,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = centrifugo.child.try_wait().expect("waiting for Centrifugo") {
                // Let the log threads drain before reporting.
                std::thread::sleep(Duration::from_millis(100));
                return Err(format!("exited with {status}:\n{}", centrifugo.log.text()));
            }
            if http_status(port, "/health") == Some(200)
                && std::net::TcpStream::connect(("127.0.0.1", api_port)).is_ok()
            {
                break;
            }
            if started.elapsed() > WAIT {
                return Err(format!("not ready in time:\n{}", centrifugo.log.text()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            !centrifugo.log.contains("unknown key"),
            "Centrifugo ignored a key of the test's config:\n{}",
            centrifugo.log.text()
        );
        Ok(centrifugo)
    }

    /// The WebSocket URL clients connect to.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/connection/websocket", self.ports.http)
    }
}

impl Drop for Centrifugo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Merges `base` into `config`: objects key by key, and `config`'s own
/// values win everywhere else.
fn merge(config: &mut Json, base: Json) {
    match (config, base) {
        (Json::Object(config), Json::Object(base)) => {
            for (key, value) in base {
                match config.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        config.insert(key, value);
                    }
                }
            }
        }
        (config @ Json::Null, base) => *config = base,
        _ => {}
    }
}

/// A proxy object of Centrifugo's config pointing at `endpoint`, with
/// Centrifugo's default timeout written out.
pub fn proxy(endpoint: &str) -> Json {
    json!({ "endpoint": endpoint, "timeout": "1s" })
}

/// A Centrifugo config that sends every proxy call (connect, refresh,
/// subscribe, publish, sub-refresh, RPC) to `endpoint`, for channels
/// without a namespace and in each of `namespaces`, with `extra` proxy
/// settings (such as `grpc`) on every proxy object.
pub fn all_proxies(endpoint: &str, namespaces: &[&str], extra: Json) -> Json {
    let mut object = proxy(endpoint);
    merge(&mut object, extra);
    let mut enabled = object.clone();
    merge(&mut enabled, json!({ "enabled": true }));
    let channel_options = json!({
        "subscribe_proxy_enabled": true,
        "publish_proxy_enabled": true,
        "sub_refresh_proxy_enabled": true,
    });
    let namespaces: Vec<Json> = namespaces
        .iter()
        .map(|name| {
            let mut namespace = channel_options.clone();
            merge(&mut namespace, json!({ "name": name }));
            namespace
        })
        .collect();
    json!({
        "client": { "proxy": { "connect": enabled, "refresh": enabled } },
        "channel": {
            "proxy": { "subscribe": object, "publish": object, "sub_refresh": object },
            "without_namespace": channel_options,
            "namespaces": namespaces,
        },
        "rpc": { "proxy": object, "without_namespace": { "proxy_enabled": true } },
    })
}

/// An error a client command got, as the SDK reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// Centrifugo's error code.
    pub code: u64,
    /// Its message.
    pub message: String,
    /// Whether the SDK treats it as temporary.
    pub temporary: bool,
}

/// A process running Centrifugo's JavaScript SDK (`tests/client/driver.mjs`),
/// holding any number of named clients; killed on drop.
pub struct Client {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// Events received but not yet waited for.
    pending: VecDeque<Json>,
    /// Every event received, for failure messages.
    seen: Vec<Json>,
    /// Answers received but not yet waited for, by command id.
    answers: HashMap<u64, Json>,
    next_id: u64,
    stderr: Log,
}

impl Client {
    /// Starts the driver.
    pub fn start(tools: Tools) -> Client {
        let mut child = Command::new("node")
            .arg("driver.mjs")
            .current_dir(tools.client_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting node");
        let (sender, lines) = mpsc::channel();
        let stdout = Log::default();
        stdout.collect(child.stdout.take().expect("stdout"), Some(sender));
        let stderr = Log::default();
        stderr.collect(child.stderr.take().expect("stderr"), None);
        Client {
            stdin: child.stdin.take().expect("stdin"),
            child,
            lines,
            pending: VecDeque::new(),
            seen: Vec::new(),
            answers: HashMap::new(),
            next_id: 0,
            stderr,
        }
    }

    /// Reads one line from the driver, waiting until `deadline` at most,
    /// and files it: an answer (a line with an `id`) under its command's
    /// id, an event in `pending` and `seen`. `false` when nothing came.
    ///
    /// Every wait of [`Client`] loops on this and then looks where the line
    /// it wants is filed, so an answer never waits for an event (or an event
    /// for an answer) to arrive after it.
    fn receive(&mut self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        let line: Json = match self.lines.recv_timeout(left) {
            Ok(line) => serde_json::from_str(&line).unwrap_or_else(|error| {
                panic!("the driver wrote a line that is not JSON ({error}): {line}")
            }),
            Err(RecvTimeoutError::Timeout) => return false,
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(100));
                panic!("the client driver exited:\n{}", self.stderr.text())
            }
        };
        match line.get("id").and_then(Json::as_u64) {
            Some(id) => {
                self.answers.insert(id, line);
            }
            None => {
                self.seen.push(line.clone());
                self.pending.push_back(line);
            }
        }
        true
    }

    /// Sends command `op` with `arguments` and waits for its answer.
    pub fn command(&mut self, op: &str, arguments: Json) -> Result<Json, ClientError> {
        let id = self.send(op, arguments);
        self.answer(id)
    }

    /// Sends command `op` with `arguments` without waiting: the driver
    /// runs commands concurrently. The command's id, for [`Client::answer`].
    pub fn send(&mut self, op: &str, mut arguments: Json) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        merge(&mut arguments, json!({ "id": id, "op": op }));
        writeln!(self.stdin, "{arguments}").expect("writing to the driver");
        self.stdin.flush().expect("flushing to the driver");
        id
    }

    /// Waits (at most [`WAIT`]) for the answer to the command sent as `id`.
    pub fn answer(&mut self, id: u64) -> Result<Json, ClientError> {
        let deadline = Instant::now() + WAIT;
        let line = loop {
            if let Some(line) = self.answers.remove(&id) {
                break line;
            }
            if !self.receive(deadline) {
                panic!(
                    "no answer to command {id} in time; events: {:#?}",
                    self.seen
                );
            }
        };
        if let Some(error) = line.get("error") {
            return Err(ClientError {
                code: error["code"].as_u64().unwrap_or(0),
                message: error["message"].as_str().unwrap_or_default().to_owned(),
                temporary: error["temporary"].as_bool().unwrap_or(false),
            });
        }
        Ok(line["ok"].clone())
    }

    /// Waits for the first event (received earlier or later) for which
    /// `matches` holds, and removes it; fails the test after `within`.
    pub fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        matches: impl Fn(&Json) -> bool,
    ) -> Json {
        let deadline = Instant::now() + within;
        loop {
            if let Some(index) = self.pending.iter().position(&matches) {
                return self.pending.remove(index).expect("an index in range");
            }
            if !self.receive(deadline) {
                panic!("no {what} in time; events: {:#?}", self.seen);
            }
        }
    }

    /// The event `event` of `client` (and, for subscription events,
    /// `channel`), within [`WAIT`].
    pub fn event(&mut self, client: &str, event: &str, channel: Option<&str>) -> Json {
        let what = format!("{event} of {client} {}", channel.unwrap_or_default());
        self.wait_for(&what, WAIT, |line| {
            line["event"] == event
                && line["client"] == client
                && channel.is_none_or(|channel| line["channel"] == channel)
        })
    }

    /// Drops the pending events for which `matches` holds.
    fn discard(&mut self, matches: impl Fn(&Json) -> bool) {
        self.pending.retain(|line| !matches(line));
    }

    /// Collects events for `period`, then returns those that match (without
    /// removing any): to check that something did *not* happen.
    pub fn events_during(
        &mut self,
        period: Duration,
        matches: impl Fn(&Json) -> bool,
    ) -> Vec<Json> {
        let deadline = Instant::now() + period;
        while self.receive(deadline) {}
        self.pending
            .iter()
            .filter(|line| matches(line))
            .cloned()
            .collect()
    }

    /// Starts connecting client `name` to `url` with `options` (protocol,
    /// data, token).
    pub fn connect(&mut self, name: &str, url: &str, mut options: Json) {
        merge(&mut options, json!({ "client": name, "url": url }));
        self.command("connect", options)
            .expect("the driver connects");
    }

    /// Connects client `name` and waits until it is connected; its
    /// `connected` event.
    pub fn connected(&mut self, name: &str, url: &str, options: Json) -> Json {
        self.connect(name, url, options);
        let line = self.wait_for(&format!("{name} connected or disconnected"), WAIT, |line| {
            line["client"] == name
                && (line["event"] == "connected" || line["event"] == "disconnected")
        });
        assert_eq!(
            line["event"], "connected",
            "{name} did not connect: {line}; events: {:#?}",
            self.seen
        );
        // The `connecting` that `connect()` itself causes is no news.
        self.discard(|line| {
            line["client"] == name && line["event"] == "connecting" && line["code"] == 0
        });
        line
    }

    /// Starts subscribing `client` to `channel` with `options` (data, token).
    pub fn subscribe(&mut self, client: &str, channel: &str, mut options: Json) {
        merge(
            &mut options,
            json!({ "client": client, "channel": channel }),
        );
        self.command("subscribe", options)
            .expect("the driver subscribes");
    }

    /// Subscribes and waits for the outcome: the `subscribed` event, or the
    /// `unsubscribed` one if Centrifugo refused.
    pub fn subscription(&mut self, client: &str, channel: &str, options: Json) -> Json {
        self.subscribe(client, channel, options);
        let outcome = self.wait_for(
            &format!("{client} subscribed to {channel} or not"),
            WAIT,
            |line| {
                line["client"] == client
                    && line["channel"] == channel
                    && (line["event"] == "subscribed" || line["event"] == "unsubscribed")
            },
        );
        // The `subscribing` that `subscribe()` itself causes is no news.
        self.discard(|line| {
            line["client"] == client
                && line["channel"] == channel
                && line["event"] == "subscribing"
                && line["code"] == 0
        });
        outcome
    }

    /// Publishes `data` to `channel` from `client`.
    pub fn publish(
        &mut self,
        client: &str,
        channel: &str,
        data: Json,
    ) -> Result<Json, ClientError> {
        self.command(
            "publish",
            json!({ "client": client, "channel": channel, "data": data }),
        )
    }

    /// Calls RPC `method` with `data` from `client`; the reply's data.
    pub fn rpc(&mut self, client: &str, method: &str, data: Json) -> Result<Json, ClientError> {
        self.command(
            "rpc",
            json!({ "client": client, "method": method, "data": data }),
        )
        .map(|reply| reply["data"].clone())
    }

    /// The SDK's state of `client` and of its subscriptions.
    pub fn state(&mut self, client: &str) -> Json {
        self.command("state", json!({ "client": client }))
            .expect("the driver knows the client")
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bytes as the driver carries them on the protobuf protocol.
pub fn bytes(data: &[u8]) -> Json {
    use base64::Engine as _;
    json!({ "b64": base64::engine::general_purpose::STANDARD.encode(data) })
}

/// The bytes of a driver value made by [`bytes`].
pub fn from_bytes(value: &Json) -> Vec<u8> {
    use base64::Engine as _;
    let text = value["b64"]
        .as_str()
        .unwrap_or_else(|| panic!("bytes expected, got {value}"));
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64 from the driver")
}

/// An HS256 token of `claims` signed with `secret`, made independently of
/// the plugins' code.
pub fn token(claims: &Json, secret: &str) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, KeyInit as _, Mac as _};
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let mut mac = Hmac::<hmac_sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(signed.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signed}.{signature}")
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    i64::try_from(elapsed.as_secs()).expect("seconds fit in i64")
}
