//! Measures Rotor's per-call cost against a native handler in the same run.
//!
//! `cargo bench --bench pipeline` builds the plugins, then measures:
//! - compile time of each component, and one call through `Rotor::answer`
//!   (fresh instance + call, no network) in a loop;
//! - gRPC throughput and latency on loopback, for a native Rust handler
//!   (the speed limit of this stack) and for Rotor with the `rpc-router`
//!   component behind 0, 1 and 3 pass-through interceptors.
//!
//! Figures are ratios against the native baseline measured in the same run:
//! absolute numbers on a shared machine are noise, ratios are not.
//! Settings: `ROTOR_BENCH_SECONDS` (default 5), `ROTOR_BENCH_CONCURRENCY` (default 32).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rotor::proto::proxy as pb;
use rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient;
use rotor::proto::proxy::centrifugo_proxy_server::{CentrifugoProxy, CentrifugoProxyServer};
use rotor::{Config, Engine, Limits, Plugin, Rotor};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

const CONNECTIONS: usize = 4;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(run());
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run() {
    let seconds = env_number("ROTOR_BENCH_SECONDS", 5);
    let concurrency = env_number("ROTOR_BENCH_CONCURRENCY", 32) as usize;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = std::process::Command::new("bash")
        .arg(root.join("scripts/build-plugins"))
        .stdout(std::process::Stdio::null())
        .status()
        .expect("running scripts/build-plugins");
    assert!(status.success(), "building the plugins failed");
    let dist = root.join("plugins/dist");

    println!("## Component compile time\n");
    println!("| component | size | compile |");
    println!("|---|---:|---:|");
    let engine = Engine::new(&Limits::default(), 1).expect("an engine");
    for name in [
        "rpc-router",
        "test-mirror",
        "test-interceptor",
        "connect-jwt",
    ] {
        let path = dist.join(format!("{name}.wasm"));
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let started = Instant::now();
        Plugin::load(&engine, name, &path).expect("a valid component");
        println!(
            "| {name} | {} KiB | {:.1?} |",
            size / 1024,
            started.elapsed()
        );
    }

    println!("\n## One call in process (fresh instance + call, no network)\n");
    let dir = tempdir(&dist);
    let rotor = rotor_with(&dir, 0).await;
    let message = rpc_message();
    for _ in 0..1000 {
        rotor
            .answer(message.clone(), Vec::new(), None)
            .await
            .expect("a reply");
    }
    let calls = 20_000;
    let started = Instant::now();
    for _ in 0..calls {
        rotor
            .answer(message.clone(), Vec::new(), None)
            .await
            .expect("a reply");
    }
    let per_call = started.elapsed() / calls;
    println!("rpc-router echo: {per_call:.1?} per call ({calls} sequential calls)");

    println!(
        "\n## gRPC on loopback: {concurrency} concurrent callers over {CONNECTIONS} connections, {seconds} s each\n"
    );
    println!("| system | calls/s | p50 µs | p99 µs | p99.9 µs | errors | vs native |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let duration = Duration::from_secs(seconds);
    let native = measure(serve_native().await, concurrency, duration).await;
    native.print("native Rust handler", native.rate);
    for interceptors in [0, 1, 3] {
        let rotor = rotor_with(&dir, interceptors).await;
        let result = measure(serve_rotor(rotor).await, concurrency, duration).await;
        result.print(
            &format!("Rotor, wasm, {interceptors} interceptors"),
            native.rate,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn rpc_message() -> pb::RpcRequest {
    pb::RpcRequest {
        client: "bench-client".into(),
        transport: "websocket".into(),
        protocol: "json".into(),
        encoding: "json".into(),
        user: "42".into(),
        method: "echo".into(),
        data: br#"{"text":"hello, world","n":1}"#.to_vec(),
        ..Default::default()
    }
}

fn tempdir(dist: &Path) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rotor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let _ = dist;
    dir
}

async fn rotor_with(dir: &Path, interceptors: usize) -> Rotor {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/dist");
    let chain = vec!["\"test-interceptor.wasm\""; interceptors].join(", ");
    let text = format!(
        "[plugins]\ndir = {:?}\n[handlers]\nrpc = \"rpc-router.wasm\"\n[interceptors]\nrpc = [{chain}]\n[limits]\nconcurrency = 1024\n",
        dist.display().to_string()
    );
    let path = dir.join(format!("rotor-{interceptors}.toml"));
    std::fs::write(&path, text).expect("writing the config");
    let config = Config::from_file(&path).expect("a valid config");
    Rotor::new(&config).await.expect("Rotor starts")
}

/// The same echo logic as `rpc-router`, compiled into the host.
struct NativeEcho;

#[tonic::async_trait]
impl CentrifugoProxy for NativeEcho {
    async fn rpc(
        &self,
        request: Request<pb::RpcRequest>,
    ) -> Result<Response<pb::RpcResponse>, Status> {
        let request = request.into_inner();
        let response = if request.method == "echo" {
            pb::RpcResponse {
                result: Some(pb::RpcResult {
                    data: request.data,
                    b64data: String::new(),
                }),
                ..Default::default()
            }
        } else {
            pb::RpcResponse {
                error: Some(pb::Error {
                    code: 104,
                    message: "method not found".into(),
                    temporary: false,
                }),
                ..Default::default()
            }
        };
        Ok(Response::new(response))
    }
}

async fn serve_native() -> String {
    serve(CentrifugoProxyServer::new(NativeEcho)).await
}

async fn serve_rotor(rotor: Rotor) -> String {
    serve(rotor::ProxyService::new(rotor).into_server()).await
}

async fn serve<S>(service: S) -> String
where
    S: tower_service::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding loopback");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await;
    });
    format!("http://{address}")
}

struct Measured {
    rate: f64,
    latencies: Vec<u32>,
    errors: u64,
}

impl Measured {
    fn percentile(&self, p: f64) -> u32 {
        if self.latencies.is_empty() {
            return 0;
        }
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[index]
    }

    fn print(&self, system: &str, baseline: f64) {
        println!(
            "| {system} | {:.0} | {} | {} | {} | {} | {:.2} |",
            self.rate,
            self.percentile(0.50),
            self.percentile(0.99),
            self.percentile(0.999),
            self.errors,
            self.rate / baseline
        );
    }
}

/// A closed-loop load: `concurrency` callers each send the next call when
/// the last returns, for a warm-up second and then `duration`.
async fn measure(endpoint: String, concurrency: usize, duration: Duration) -> Measured {
    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        let channel: Channel = Endpoint::from_shared(endpoint.clone())
            .expect("an endpoint")
            .connect()
            .await
            .expect("connecting");
        channels.push(channel);
    }
    let message = Arc::new(rpc_message());
    let warm_up = Duration::from_secs(1);
    let start = Instant::now();
    let measure_from = start + warm_up;
    let end = measure_from + duration;
    let mut tasks = Vec::new();
    for caller in 0..concurrency {
        let mut client = CentrifugoProxyClient::new(channels[caller % CONNECTIONS].clone());
        let message = message.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let mut request = Request::new((*message).clone());
                request.set_timeout(Duration::from_secs(1));
                let ok = matches!(client.rpc(request).await, Ok(r) if r.get_ref().result.is_some());
                if sent >= measure_from {
                    if ok {
                        latencies
                            .push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut l, e) = task.await.expect("a caller");
        latencies.append(&mut l);
        errors += e;
    }
    latencies.sort_unstable();
    Measured {
        rate: latencies.len() as f64 / duration.as_secs_f64(),
        latencies,
        errors,
    }
}
