//! Test support: builds the plugins once, starts Rotor on an ephemeral
//! loopback port, and plays Centrifugo's part with a gRPC proxy client.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient;
use rotor::{Config, Rotor};
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint};

/// Centrifugo's default proxy timeout, sent as `grpc-timeout` on every call.
pub const PROXY_TIMEOUT: Duration = Duration::from_secs(1);

/// The directory of built plugin components, building them on first use.
pub fn plugin_dir() -> &'static Path {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let status = Command::new("bash")
            .arg(root.join("scripts/build-plugins"))
            .status()
            .expect("running scripts/build-plugins");
        assert!(status.success(), "scripts/build-plugins failed");
        root.join("plugins/dist")
    })
}

/// The path of a built plugin component.
pub fn plugin(name: &str) -> PathBuf {
    plugin_dir().join(format!("{name}.wasm"))
}

/// Creates `dir/plugins` holding a copy of each example `(name, file)`
/// under `file`, and returns its path: one plugin can serve as several
/// files, which a test may then replace one by one.
pub fn plugin_copies(dir: &Path, copies: &[(&str, &str)]) -> PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("a plugin dir");
    for (name, file) in copies {
        std::fs::copy(plugin(name), plugins.join(file)).expect("copying a plugin");
    }
    plugins
}

/// A scratch directory, removed on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new empty directory.
    pub fn new() -> ScratchDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "rotor-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("creating a scratch dir");
        ScratchDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A Rotor serving on loopback, stopped on drop.
pub struct TestServer {
    /// A proxy client connected to it, as Centrifugo would be.
    pub client: CentrifugoProxyClient<Channel>,
    /// The channel under `client`, for raw calls.
    pub channel: Channel,
    /// The Rotor behind it.
    pub rotor: Rotor,
    /// The directory of its config file.
    pub dir: ScratchDir,
    /// The address of its proxy listener.
    pub address: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    _watcher: Option<rotor::PluginWatcher>,
}

impl TestServer {
    /// Calls RPC `method` with `data` and `metadata` as Centrifugo would;
    /// fails the test on a gRPC status instead of a reply.
    pub async fn rpc(
        &self,
        method: &str,
        data: &[u8],
        metadata: &[(&'static str, &str)],
    ) -> rotor::proto::proxy::RpcResponse {
        let message = rotor::proto::proxy::RpcRequest {
            method: method.into(),
            data: data.to_vec(),
            ..Default::default()
        };
        self.client
            .clone()
            .rpc(request(message, metadata))
            .await
            .unwrap_or_else(|status| panic!("{method}: a gRPC status instead of a reply: {status}"))
            .into_inner()
    }

    /// Starts Rotor with `config` (TOML without `listen` and `[plugins]`;
    /// plugin names are those of `plugins/dist`).
    pub async fn start(config: &str) -> TestServer {
        let text = format!(
            "[plugins]\ndir = {:?}\n{config}",
            plugin_dir().display().to_string()
        );
        TestServer::start_in(ScratchDir::new(), &text).await
    }

    /// Starts Rotor like [`TestServer::start_in`], with a client that
    /// connects on its first call (in plain text): for listeners a plain
    /// client cannot talk to, such as TLS ones.
    pub async fn start_lazy_in(dir: ScratchDir, config: &str) -> TestServer {
        TestServer::launch(dir, config, false).await
    }

    /// Starts Rotor with a complete `config` written to `rotor.toml` in
    /// `dir`, watching its plugin directory if the config says so.
    pub async fn start_in(dir: ScratchDir, config: &str) -> TestServer {
        TestServer::launch(dir, config, true).await
    }

    async fn launch(dir: ScratchDir, config: &str, connect: bool) -> TestServer {
        let path = dir.path().join("rotor.toml");
        std::fs::write(&path, config).expect("writing the config");
        let config = Config::from_file(&path).expect("a valid config");
        let rotor = Rotor::new(&config).await.expect("Rotor starts");
        let watcher = config.watch.then(|| {
            rotor
                .watch_plugins(&config)
                .expect("watching the plugin dir")
        });

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding loopback");
        let address = listener.local_addr().expect("a local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = rotor.clone();
        tokio::spawn(async move {
            let _ = server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
        });

        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .expect("an endpoint")
            .connect_timeout(Duration::from_secs(5));
        let channel = if connect {
            endpoint.connect().await.expect("connecting to Rotor")
        } else {
            endpoint.connect_lazy()
        };
        TestServer {
            client: CentrifugoProxyClient::new(channel.clone()),
            channel,
            rotor,
            dir,
            address,
            stop: Some(stop),
            _watcher: watcher,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An admin listener's settings with `token` (its `listen` is not used:
/// tests hand `rotor::admin::serve` a bound listener).
pub fn admin_config(token: Option<&str>) -> rotor::config::AdminConfig {
    rotor::config::AdminConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        token: token.map(str::to_owned),
        hosts: Vec::new(),
    }
}

/// A request with Centrifugo's deadline and the given metadata.
pub fn request<T>(message: T, metadata: &[(&'static str, &str)]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(PROXY_TIMEOUT);
    for (key, value) in metadata {
        request
            .metadata_mut()
            .insert(*key, value.parse().expect("an ASCII metadata value"));
    }
    request
}

/// Parses JSON bytes, failing the test with the text if they are not JSON.
pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", String::from_utf8_lossy(bytes)))
}

/// The count of `event` warm-instance events of `plugin` in `metrics`
/// (Prometheus text), 0 if it has none.
pub fn warm_events(metrics: &str, plugin: &str, event: &str) -> u64 {
    let series = format!("rotor_warm_instances_total{{plugin=\"{plugin}\",event=\"{event}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |count| count.trim().parse().expect("a count"))
}

/// The reply of a call that failed inside Rotor: `100 internal server error`, temporary.
pub fn internal_error() -> Option<rotor::proto::proxy::Error> {
    Some(rotor::proto::proxy::Error {
        code: 100,
        message: "internal server error".into(),
        temporary: true,
    })
}

/// How long a `rotor serve` may take to stop once told to.
const STOP_WITHIN: Duration = Duration::from_secs(20);

/// A `rotor serve` child and what it logged, killed on drop.
pub struct RotorProcess {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// Where its proxy listener listens.
    pub address: String,
    _dir: ScratchDir,
}

impl RotorProcess {
    /// Starts `rotor serve` on config `text`, written to `dir` (which lives
    /// as long as the process), with `env` set, and waits until it listens.
    pub fn start(dir: ScratchDir, text: &str, env: &[(&str, &str)]) -> RotorProcess {
        let path = dir.path().join("rotor.toml");
        std::fs::write(&path, text).expect("writing the config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_rotor"))
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting rotor serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().expect("the log").push(line);
            }
        });
        let started = Instant::now();
        let address = loop {
            let found = log.lock().expect("the log").iter().find_map(|line| {
                if !line.contains("serving Centrifugo's proxy") {
                    return None;
                }
                Some(
                    line.split("address=")
                        .nth(1)?
                        .split_whitespace()
                        .next()?
                        .to_owned(),
                )
            });
            if let Some(address) = found {
                break address;
            }
            if let Some(status) = child.try_wait().expect("waiting for rotor") {
                panic!(
                    "rotor exited with {status}: {:?}",
                    log.lock().expect("the log")
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "rotor did not listen in time"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        RotorProcess {
            child,
            log,
            address,
            _dir: dir,
        }
    }

    /// A proxy client connected to it.
    pub async fn client(&self) -> CentrifugoProxyClient<tonic::transport::Channel> {
        let channel = Endpoint::from_shared(format!("http://{}", self.address))
            .expect("an endpoint")
            .connect()
            .await
            .expect("connecting to rotor");
        CentrifugoProxyClient::new(channel)
    }

    /// SIGTERM, then the time until the process exited (successfully).
    /// Clients must be gone: Rotor waits for their connections to close.
    pub async fn stop(&mut self) -> Duration {
        let started = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("sending SIGTERM");
        assert!(sent.success());
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for rotor") {
                assert!(
                    status.success(),
                    "rotor exited with {status}: {}",
                    self.log()
                );
                return started.elapsed();
            }
            assert!(
                started.elapsed() < STOP_WITHIN,
                "rotor did not stop: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("the log").join("\n")
    }
}

impl Drop for RotorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
