//! The cost of one host import called from a guest, measured in process
//! through `Rotor::answer` with the `bench-imports` component: an RPC that
//! makes N calls of one import against the same RPC making none, so
//! (p50 with N − p50 with none) / N is what one call costs the guest. Beside
//! it, in the same rounds, the same operation called directly from Rust in
//! this process: the `kv` store Rotor builds from its config, and a plain
//! tonic client of Centrifugo's server API.
//!
//! `kv` runs on the embedded store and, when `redis-server` is on the PATH,
//! on a Redis started on a loopback port for the run. `centrifugo-api`
//! publishes to a fake `CentrifugoApi` server on a loopback port in this
//! process, which checks the API key and answers with an empty reply.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rotor::proto::api as api_pb;
use rotor::proto::api::centrifugo_api_client::CentrifugoApiClient;
use rotor::proto::api::centrifugo_api_server::{CentrifugoApi, CentrifugoApiServer};
use rotor::proto::proxy as pb;
use rotor::{Config, Rotor};
use serde::Serialize;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::scenario::{USER, unix_now};
use crate::server::Isolation;

/// The component, in `plugins/dist`.
pub const COMPONENT: &str = "bench-imports.wasm";
/// `kv` calls per RPC on the embedded store: enough that their cost stands
/// well above the jitter of one fresh instance.
const MEMORY_CALLS: u32 = 100;
/// `kv` calls per RPC on Redis: each is a loopback round trip.
const REDIS_CALLS: u32 = 16;
/// `centrifugo-api` calls per RPC: the host allows 16 per proxy call.
const API_CALLS: u32 = 16;
/// RPCs of each kind (with N calls, with none) and direct batches per round:
/// rounds alternate the three, so a drift of the machine shifts all alike.
const ROUND: usize = 10;
/// Measured time per row; a tenth more warms up first.
const ROW_TIME: Duration = Duration::from_secs(2);
/// The same in a smoke run: enough to check every answer.
const SMOKE_ROW_TIME: Duration = Duration::from_millis(100);
/// The API key the fake Centrifugo expects, from a key file as configured
/// in production.
const API_KEY: &str = "rotor-bench-api-key";
/// The host's default timeout of one API call, also used by the direct client.
const API_TIMEOUT: Duration = Duration::from_millis(500);
/// The key the direct `set` and `get` use (the guest's keys are prefixed by
/// its tenant, so they never meet).
const DIRECT_KEY: &str = "direct:bench:value";
/// The counter the direct `increment` adds to.
const DIRECT_COUNTER: &str = "direct:bench:counter";
/// The value of the direct `set`, as long as the guest's.
const DIRECT_VALUE: &[u8] = b"0123456789abcdef";

/// Everything this section measured.
#[derive(Debug, Serialize)]
pub struct Imports {
    /// When, in Unix seconds.
    pub generated_unix: i64,
    /// Whether this was a smoke run (numbers mean nothing then).
    pub smoke: bool,
    /// Seconds measured per row.
    pub seconds_per_row: f64,
    /// One row per import, backend and isolation mode.
    pub rows: Vec<ImportCost>,
    /// Rows left out, and why (no `redis-server`).
    pub skipped: Vec<String>,
}

/// The cost of one import call from a guest against the same operation
/// called directly.
#[derive(Debug, Serialize)]
pub struct ImportCost {
    /// The import and function, e.g. `kv.get`.
    pub import: &'static str,
    /// What serves it: `memory`, `redis` or `fake Centrifugo`.
    pub backend: &'static str,
    /// `fresh` or `reuse` instances.
    pub isolation: &'static str,
    /// Import calls in the measured RPC (N).
    pub calls_per_rpc: u32,
    /// RPCs timed of each kind.
    pub rpcs: usize,
    /// Median time of an RPC making N calls, µs.
    pub rpc_p50_us: f64,
    /// Median time of the same RPC making none, µs.
    pub base_p50_us: f64,
    /// (rpc_p50_us − base_p50_us) / N: one call from the guest, µs.
    pub guest_us: f64,
    /// The direct call.
    pub direct: &'static str,
    /// Median over batches of N direct calls of the time per call, µs.
    pub direct_us: f64,
    /// guest_us / direct_us.
    pub ratio: f64,
}

/// A `kv` function a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KvOperation {
    Set,
    Get,
    Increment,
}

impl KvOperation {
    /// In order: `set` first, so `get` finds the value.
    const ALL: [KvOperation; 3] = [KvOperation::Set, KvOperation::Get, KvOperation::Increment];

    /// The component's method.
    fn method(self) -> &'static str {
        match self {
            KvOperation::Set => "kv-set",
            KvOperation::Get => "kv-get",
            KvOperation::Increment => "kv-incr",
        }
    }

    /// The WIT function, in the tables.
    fn import(self) -> &'static str {
        match self {
            KvOperation::Set => "kv.set",
            KvOperation::Get => "kv.get",
            KvOperation::Increment => "kv.increment",
        }
    }

    /// The direct call, in the tables.
    fn direct(self) -> &'static str {
        match self {
            KvOperation::Set => "KvStore::set",
            KvOperation::Get => "KvStore::get",
            KvOperation::Increment => "KvStore::increment",
        }
    }
}

/// Measures every row; `smoke` makes each one quick and rough. `work_dir`
/// holds the API key file.
pub fn run(plugin_dir: &Path, work_dir: &Path, smoke: bool) -> Result<Imports, String> {
    let component = plugin_dir.join(COMPONENT);
    if !component.is_file() {
        return Err(format!("{} was not built", component.display()));
    }
    let key_file = work_dir.join("imports-api.key");
    std::fs::write(&key_file, format!("{API_KEY}\n"))
        .map_err(|error| format!("writing {}: {error}", key_file.display()))?;
    let row_time = if smoke { SMOKE_ROW_TIME } else { ROW_TIME };
    let mut skipped = Vec::new();
    let redis = match RedisServer::start() {
        Ok(redis) => Some(redis),
        Err(problem) if std::env::var_os("ROTOR_REQUIRE_REDIS").is_some() => {
            return Err(format!("{problem} (ROTOR_REQUIRE_REDIS is set)"));
        }
        Err(problem) => {
            let notice = format!("skipping the Redis rows of the imports: {problem}");
            crate::progress(&notice);
            skipped.push(notice);
            None
        }
    };
    // The fake Centrifugo shares the runtime with the calls, like the
    // direct client: both paths pay for its side of the call alike.
    let runtime = tokio::runtime::Runtime::new().map_err(|error| error.to_string())?;
    let api = runtime.block_on(start_fake_centrifugo())?;
    let mut rows = Vec::new();
    for isolation in [Isolation::Fresh, Isolation::Reuse] {
        let setup = Setup {
            plugin_dir,
            api: &api,
            key_file: &key_file,
            isolation,
        };
        let mut backends = vec![("memory", MEMORY_CALLS, setup.config("")?)];
        if let Some(redis) = &redis {
            let kv = format!(
                "[kv]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:{}/0\"\nprefix = \"rotor-bench:\"\n",
                redis.port
            );
            backends.push(("redis", REDIS_CALLS, setup.config(&kv)?));
        }
        for (backend, calls, config) in &backends {
            let rotor = runtime.block_on(rotor_for(config))?;
            for operation in KvOperation::ALL {
                let row = runtime.block_on(kv_row(&rotor, config, operation, *calls, row_time))?;
                let row = row.into_cost(operation.import(), operation.direct(), backend, isolation);
                crate::progress(&row.summary());
                rows.push(row);
            }
            // The API once, beside the embedded store.
            if *backend == "memory" {
                let row = runtime.block_on(api_row(&rotor, &api, row_time))?;
                let row = row.into_cost(API_IMPORT, API_DIRECT, API_BACKEND, isolation);
                crate::progress(&row.summary());
                rows.push(row);
            }
        }
    }
    drop(runtime);
    drop(redis);
    Ok(Imports {
        generated_unix: unix_now(),
        smoke,
        seconds_per_row: row_time.as_secs_f64(),
        rows,
        skipped,
    })
}

/// What every configuration of this section shares.
struct Setup<'a> {
    plugin_dir: &'a Path,
    api: &'a str,
    key_file: &'a Path,
    isolation: Isolation,
}

impl Setup<'_> {
    /// Rotor's configuration: the component as the RPC handler, the API of
    /// the fake Centrifugo, `extra` (a `[kv]` section), and reused
    /// instances if asked.
    fn config(&self, extra: &str) -> Result<Config, String> {
        let mut text = format!(
            "[plugins]\ndir = {:?}\n[handlers]\nrpc = {COMPONENT:?}\n[centrifugo]\napi = {:?}\napi_key_file = {:?}\n{extra}",
            self.plugin_dir.display().to_string(),
            self.api,
            self.key_file.display().to_string(),
        );
        if self.isolation == Isolation::Reuse {
            text.push_str(&format!("[isolation.{COMPONENT:?}]\nmode = \"reuse\"\n"));
        }
        Config::parse(&text, self.plugin_dir).map_err(|error| error.to_string())
    }
}

fn isolation_name(isolation: Isolation) -> &'static str {
    match isolation {
        Isolation::Fresh => "fresh",
        Isolation::Reuse => "reuse",
    }
}

async fn rotor_for(config: &Config) -> Result<Rotor, String> {
    Rotor::new(config).await.map_err(|error| error.to_string())
}

/// One `kv` row: the guest through `rotor`, made from `config`, and the
/// store that `config` describes, called directly.
async fn kv_row(
    rotor: &Rotor,
    config: &Config,
    operation: KvOperation,
    calls: u32,
    row_time: Duration,
) -> Result<Timed, String> {
    // A second store of the same backend: Rotor's own is not reachable
    // from outside, and a store keeps no state beyond its keys.
    let store = rotor::kv::KvStore::from_config(&config.kv).map_err(|error| error.to_string())?;
    // A tenant of its own, with the default budget, as a guest's calls have.
    let space = rotor::kv::Space {
        tenant: "bench-direct",
        max_bytes: rotor::config::DEFAULT_KV_BYTES,
    };
    let failed = |error: &dyn std::fmt::Display| format!("direct {}: {error}", operation.direct());
    store
        .set(space, DIRECT_KEY, DIRECT_VALUE.to_vec(), None)
        .await
        .map_err(|error| failed(&error))?;
    let direct = async || match operation {
        KvOperation::Set => store
            .set(space, DIRECT_KEY, DIRECT_VALUE.to_vec(), None)
            .await
            .map_err(|error| failed(&error)),
        KvOperation::Get => match store.get(space, DIRECT_KEY).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(failed(&"the value is missing")),
            Err(error) => Err(failed(&error)),
        },
        KvOperation::Increment => store
            .increment(space, DIRECT_COUNTER, 1, None)
            .await
            .map(drop)
            .map_err(|error| failed(&error)),
    };
    // `get` reads what `set` wrote in this Rotor's store.
    answer(rotor, &rpc(KvOperation::Set.method(), 1)).await?;
    measure(rotor, operation.method(), calls, direct, row_time).await
}

/// The `centrifugo-api` function measured.
const API_IMPORT: &str = "centrifugo-api.publish";
/// Its direct call.
const API_DIRECT: &str = "tonic publish";
/// What serves it.
const API_BACKEND: &str = "fake Centrifugo";

/// The `centrifugo-api` row: the guest publishes through `rotor`, and a
/// tonic client publishes to the same fake Centrifugo at `address`.
async fn api_row(rotor: &Rotor, address: &str, row_time: Duration) -> Result<Timed, String> {
    let channel = Endpoint::from_shared(address.to_owned())
        .map_err(|error| format!("the fake Centrifugo's address: {error}"))?
        .connect()
        .await
        .map_err(|error| format!("connecting to the fake Centrifugo: {error}"))?;
    let client = CentrifugoApiClient::new(channel);
    let key: MetadataValue<Ascii> = format!("apikey {API_KEY}")
        .parse()
        .map_err(|_| "the API key is not a header value")?;
    let direct = async || publish_directly(&client, &key).await;
    measure(rotor, "api-publish", API_CALLS, direct, row_time).await
}

/// One publish as Rotor's API client sends it: the key in the metadata,
/// a gRPC timeout bounded by a timer, Centrifugo's `error` field checked.
async fn publish_directly(
    client: &CentrifugoApiClient<Channel>,
    key: &MetadataValue<Ascii>,
) -> Result<(), String> {
    let mut request = tonic::Request::new(api_pb::PublishRequest {
        channel: "bench:imports".into(),
        data: br#"{"bench":"imports"}"#.to_vec(),
        ..Default::default()
    });
    request.set_timeout(API_TIMEOUT);
    request.metadata_mut().insert("authorization", key.clone());
    let mut client = client.clone();
    match tokio::time::timeout(API_TIMEOUT, client.publish(request)).await {
        Err(_) => Err("direct publish: no answer in time".into()),
        Ok(Err(status)) => Err(format!("direct publish: {status}")),
        Ok(Ok(response)) => match response.into_inner().error {
            Some(error) if error.code != 0 => Err(format!("direct publish: {error:?}")),
            _ => Ok(()),
        },
    }
}

/// The times of one row, µs: of each RPC with the calls and without, and
/// per call of each batch of direct calls.
struct Timed {
    calls: u32,
    with_calls: Vec<f64>,
    without: Vec<f64>,
    direct: Vec<f64>,
}

impl Timed {
    /// The row's figures from medians.
    fn into_cost(
        mut self,
        import: &'static str,
        direct: &'static str,
        backend: &'static str,
        isolation: Isolation,
    ) -> ImportCost {
        let rpc_p50_us = median(&mut self.with_calls);
        let base_p50_us = median(&mut self.without);
        let direct_us = median(&mut self.direct);
        let guest_us = (rpc_p50_us - base_p50_us) / f64::from(self.calls);
        // To the nanosecond: finer digits are noise.
        let ns = |us: f64| (us * 1e3).round() / 1e3;
        ImportCost {
            import,
            backend,
            isolation: isolation_name(isolation),
            calls_per_rpc: self.calls,
            rpcs: self.with_calls.len(),
            rpc_p50_us: ns(rpc_p50_us),
            base_p50_us: ns(base_p50_us),
            guest_us: ns(guest_us),
            direct,
            direct_us: ns(direct_us),
            ratio: (guest_us / direct_us * 100.0).round() / 100.0,
        }
    }
}

impl ImportCost {
    /// One line for the progress log.
    pub fn summary(&self) -> String {
        format!(
            "  {} ({}, {}): guest {:.2} µs vs {} {:.2} µs per call ({:.1}×); RPC p50 {:.1} µs with {} calls, {:.1} µs without",
            self.import,
            self.backend,
            self.isolation,
            self.guest_us,
            self.direct,
            self.direct_us,
            self.ratio,
            self.rpc_p50_us,
            self.calls_per_rpc,
            self.base_p50_us
        )
    }
}

/// Measures `method` of the component: rounds of RPCs making `calls`
/// calls, RPCs making none, and batches of `calls` direct calls, in turn,
/// for a tenth of `row_time` to warm up and then for `row_time`.
async fn measure(
    rotor: &Rotor,
    method: &str,
    calls: u32,
    mut direct: impl AsyncFnMut() -> Result<(), String>,
    row_time: Duration,
) -> Result<Timed, String> {
    rounds(rotor, method, calls, &mut direct, row_time / 10).await?;
    rounds(rotor, method, calls, &mut direct, row_time).await
}

/// Rounds as [`measure`] describes them, for `time` (one at least).
async fn rounds(
    rotor: &Rotor,
    method: &str,
    calls: u32,
    direct: &mut impl AsyncFnMut() -> Result<(), String>,
    time: Duration,
) -> Result<Timed, String> {
    let with_calls = rpc(method, calls);
    let without = rpc(method, 0);
    let mut timed = Timed {
        calls,
        with_calls: Vec::new(),
        without: Vec::new(),
        direct: Vec::new(),
    };
    let started = Instant::now();
    while timed.with_calls.is_empty() || started.elapsed() < time {
        for _ in 0..ROUND {
            timed
                .with_calls
                .push(time_us(answer(rotor, &with_calls)).await?);
            timed.without.push(time_us(answer(rotor, &without)).await?);
            let batch = Instant::now();
            for _ in 0..calls {
                direct().await?;
            }
            timed
                .direct
                .push(batch.elapsed().as_secs_f64() * 1e6 / f64::from(calls));
        }
    }
    Ok(timed)
}

/// How long `call` takes, µs, or its error.
async fn time_us(call: impl Future<Output = Result<(), String>>) -> Result<f64, String> {
    let started = Instant::now();
    call.await?;
    Ok(started.elapsed().as_secs_f64() * 1e6)
}

/// The component's RPC: `method`, `calls` times.
fn rpc(method: &str, calls: u32) -> pb::RpcRequest {
    pb::RpcRequest {
        user: USER.into(),
        method: method.into(),
        data: calls.to_string().into_bytes(),
        ..Default::default()
    }
}

/// One RPC in process. The component answers with the number of calls that
/// did what was asked, so anything but the call's own data is a failure.
async fn answer(rotor: &Rotor, request: &pb::RpcRequest) -> Result<(), String> {
    let reply = rotor
        .answer(request.clone(), Vec::new(), None)
        .await
        .map_err(|status| format!("{}: {status}", request.method))?;
    match (reply.result, reply.error) {
        (Some(result), _) if result.data == request.data => Ok(()),
        (_, Some(error)) => Err(format!(
            "{} refused: {} {}",
            request.method, error.code, error.message
        )),
        (result, None) => Err(format!(
            "{}: answered {:?} for {} calls",
            request.method,
            result.map(|r| String::from_utf8_lossy(&r.data).into_owned()),
            String::from_utf8_lossy(&request.data)
        )),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Plays Centrifugo's server API for publishes: an empty reply when the
/// key is Rotor's, `UNAUTHENTICATED` otherwise.
struct FakeCentrifugo;

#[tonic::async_trait]
impl CentrifugoApi for FakeCentrifugo {
    async fn publish(
        &self,
        request: tonic::Request<api_pb::PublishRequest>,
    ) -> Result<tonic::Response<api_pb::PublishResponse>, tonic::Status> {
        let expected = format!("apikey {API_KEY}");
        match request.metadata().get("authorization") {
            Some(value) if value.as_bytes() == expected.as_bytes() => {
                Ok(tonic::Response::new(api_pb::PublishResponse::default()))
            }
            _ => Err(tonic::Status::unauthenticated("wrong API key")),
        }
    }
}

/// Serves [`FakeCentrifugo`] on a loopback port, on the current runtime
/// until it is dropped; its address.
async fn start_fake_centrifugo() -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| format!("binding the fake Centrifugo: {error}"))?;
    let address = listener
        .local_addr()
        .map_err(|error| format!("the fake Centrifugo's address: {error}"))?;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CentrifugoApiServer::new(FakeCentrifugo))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    Ok(format!("http://{address}"))
}

/// A `redis-server` on a loopback port, without persistence, stopped on drop.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// How long Redis may take to accept connections.
    const STARTUP: Duration = Duration::from_secs(5);

    fn start() -> Result<RedisServer, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| format!("finding a free loopback port: {error}"))?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("redis-server could not be started ({error})"))?;
        let mut server = RedisServer { child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("redis-server exited at start ({status})"));
            }
            if started.elapsed() > Self::STARTUP {
                return Err(format!(
                    "redis-server did not listen within {:?}",
                    Self::STARTUP
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
