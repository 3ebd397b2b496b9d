//! Test support: builds the plugins once, starts Rotor on an ephemeral
//! loopback port, and plays Centrifugo's part with a gRPC proxy client.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

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

/// The reply of a call that failed inside Rotor: `100 internal server error`, temporary.
pub fn internal_error() -> Option<rotor::proto::proxy::Error> {
    Some(rotor::proto::proxy::Error {
        code: 100,
        message: "internal server error".into(),
        temporary: true,
    })
}
