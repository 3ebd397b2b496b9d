//! Rotor's configuration file: TOML parsed into raw serde types, then
//! validated into [`Config`], whose values are known to be usable.
//!
//! ```toml
//! listen = "127.0.0.1:10001"
//! [plugins]
//! dir = "plugins/dist"
//! [handlers]
//! connect = "connect-jwt.wasm"
//! [handlers.rpc]
//! default = "rpc-router.wasm"
//! methods = { "booking:" = "booking.wasm" }
//! [limits]
//! memory = "16MiB"
//! timeout = "100ms"
//! concurrency = 256
//! [interceptors]
//! "*" = ["telemetry.wasm"]
//! publish = [{ plugin = "rate-limit.wasm", settings = { limit = "10" } }]
//! [settings."connect-jwt.wasm"]
//! secret = { env = "ROTOR_JWT_SECRET" }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

pub use crate::backends::centrifugo_client::ApiConfig;
pub use crate::contract::kind::Naming;
use crate::contract::kind::{Refinement, RequestKind};
pub use crate::error::RefreshFailure;
use crate::routing::tenancy::DEFAULT_TENANT_KEY;
pub use crate::routing::tenancy::{DEFAULT_TENANT, Grants, Tenancy, TenantRule};
pub use crate::runtime::warm::ReusePolicy;

/// Where Centrifugo's proxy points when `listen` is not set.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:10001";
/// Plugins live beside the config file unless told otherwise.
pub const DEFAULT_PLUGIN_DIR: &str = ".";
/// Linear memory per instance: ample for handlers written in Rust, JS or Python.
pub const DEFAULT_MEMORY: u64 = 64 << 20;
/// CPU time per call: well inside Centrifugo's default 1 s proxy timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);
/// One server API call: guests wait on it inside Centrifugo's 1 s proxy deadline.
pub const DEFAULT_API_TIMEOUT: Duration = Duration::from_millis(500);
/// Keys Rotor writes to a shared Redis start with this, apart from other users'.
pub const DEFAULT_KV_PREFIX: &str = "rotor:";
/// Concurrent calls: bounds memory use under load instead of queueing without end.
pub const DEFAULT_CONCURRENCY: u32 = 256;
/// Calls one warm instance serves before it is retired.
pub const DEFAULT_REUSE_MAX_CALLS: u32 = 10_000;
/// How long one warm instance lives.
pub const DEFAULT_REUSE_MAX_AGE: Duration = Duration::from_secs(60);
/// Warm instances kept idle per plugin, at most (and at most the tenant's
/// concurrency).
pub const DEFAULT_REUSE_MAX_IDLE: u32 = 16;
/// Requests and replies: 1 MiB, far above Centrifugo's own 64 KiB client
/// message limit.
pub const DEFAULT_MAX_MESSAGE: u64 = 1 << 20;
/// HTTP/2 streams (calls) open at once on one proxy connection: twice the
/// default concurrency, since Centrifugo sends all the calls of a proxy type
/// over one connection and calls past a tenant's concurrency fail at once.
pub const DEFAULT_MAX_STREAMS: u32 = 512;
/// Request headers (gRPC metadata) of one call: Centrifugo forwards a few
/// client headers, cookies included; this is hyper's own default.
pub const DEFAULT_MAX_HEADER_BYTES: u32 = 16 << 10;
/// The longest a call may take, body included, when the caller sets no
/// shorter `grpc-timeout`: ten times Centrifugo's default proxy timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections open at once on each proxy listener; Centrifugo opens about
/// one per proxy type and node.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1024;
/// What a tenant's `kv` entries may cost in all: room for about 300,000
/// rate-limit counters, and a bound on what one tenant can take from the
/// store (the embedded store's memory, or a shared Redis).
pub const DEFAULT_KV_BYTES: u64 = 64 << 20;
/// `kv` operations one guest call may make: far more than a rate limit or
/// a booking needs, few enough that one call cannot keep the store busy.
pub const DEFAULT_KV_OPS: u32 = 128;
/// Server API work one guest call may cause: each call counts one, and a
/// `batch` or `broadcast` one per command or channel.
pub const DEFAULT_API_CALLS: u32 = 16;

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address the proxy service listens on.
    pub listen: SocketAddr,
    /// The directory that plugin file names are relative to.
    pub plugin_dir: PathBuf,
    /// Whether to watch the plugin directories and reload changed plugins.
    pub watch: bool,
    /// Where compiled plugins are kept, so a restart does not compile again.
    pub compile_cache: CompileCache,
    /// The tenants, by name: one, `default`, when the file declares none.
    pub tenants: BTreeMap<String, TenantConfig>,
    /// How calls are mapped to tenants.
    pub tenancy: Tenancy,
    /// Centrifugo's server API for the `centrifugo-api` import, if configured.
    pub centrifugo: Option<ApiConfig>,
    /// The store behind the `kv` import.
    pub kv: KvConfig,
    /// Sample requests (Centrifugo proxy JSON) a reloaded handler must answer
    /// without fault before it goes live.
    pub canary: BTreeMap<RequestKind, String>,
    /// The admin listener, if configured.
    pub admin: Option<AdminConfig>,
    /// The credentials every proxy call must carry, if required.
    pub auth: Option<ProxyAuth>,
    /// TLS on the proxy listeners, if configured.
    pub tls: Option<TlsConfig>,
    /// Limits of the proxy listeners' connections.
    pub transport: TransportLimits,
    /// The file this configuration was read from, for reloads.
    pub source: Option<PathBuf>,
}

/// Where compiled plugins are cached on disk, keyed by their content and
/// the engine's settings: a restart, or a reload of a file seen before, loads
/// the compiled code instead of compiling a component again (seconds for a
/// JavaScript or Python component).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileCache {
    /// The user's cache directory (on Linux `~/.cache/wasmtime`).
    Default,
    /// This directory.
    Dir(PathBuf),
    /// No cache: every start compiles.
    Off,
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// One tenant: its routes, limits, settings and capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantConfig {
    /// Its name: the `kv` key space, log and metric label, and (with
    /// `by = "metadata"`) the metadata value that selects it.
    pub name: String,
    /// The directory its plugin file names are relative to.
    pub plugin_dir: PathBuf,
    /// Which component answers each request kind.
    pub handlers: BTreeMap<RequestKind, HandlerRoutes>,
    /// Interceptor chains: `all` run first for every kind, then the kind's own.
    pub interceptors: Interceptors,
    /// Limits of each of its calls.
    pub limits: Limits,
    /// Per-plugin settings, read by guests through the `config` import.
    pub settings: BTreeMap<String, BTreeMap<String, String>>,
    /// The host imports its guests may use.
    pub grants: Grants,
    /// Channel namespaces its guests may touch through the server API
    /// (`None`: all); `""` stands for channels without a namespace.
    pub api_namespaces: Option<Vec<String>>,
    /// Its own listener, with `[tenancy] by = "listener"`.
    pub listen: Option<SocketAddr>,
    /// The plugins whose instances are reused across calls, by name; every
    /// other plugin gets a fresh instance per call.
    pub reuse: BTreeMap<String, ReusePolicy>,
    /// What a refresh or sub-refresh answers when the tenant is busy or its
    /// plugin fails.
    pub on_refresh_failure: RefreshFailure,
}

impl TenantConfig {
    /// Every distinct plugin this tenant refers to.
    pub fn plugins(&self) -> Vec<&PluginRef> {
        let interceptors = self
            .interceptors
            .all
            .iter()
            .chain(self.interceptors.by_kind.values().flatten());
        let mut plugins: Vec<&PluginRef> = self
            .handlers
            .values()
            .flat_map(|routes| routes.default.iter().chain(routes.refined.values()))
            .chain(interceptors.map(|interceptor| &interceptor.plugin))
            .collect();
        plugins.sort();
        plugins.dedup();
        plugins
    }

    /// The key of one of its plugins among all tenants' plugins: see
    /// [`plugin_key`].
    pub fn plugin_key(&self, name: &str) -> String {
        plugin_key(&self.name, name)
    }
}

/// The key of plugin `name` of `tenant` among all tenants' plugins, in
/// logs, metrics and the admin endpoints: `tenant/name`, or the name alone
/// for the default tenant's plugins whose name has no `/`.
///
/// No two plugins share a key: a key without `/` is a default-tenant
/// plugin's, and in any other key the part before the first `/` is the
/// tenant (tenant names have no `/`). So the default tenant's `shop/x.wasm`
/// (key `default/shop/x.wasm`) and tenant `shop`'s `x.wasm` (key
/// `shop/x.wasm`) stay two plugins.
pub fn plugin_key(tenant: &str, name: &str) -> String {
    if tenant == DEFAULT_TENANT && !name.contains('/') {
        name.to_owned()
    } else {
        format!("{tenant}/{name}")
    }
}

/// The metadata pair Centrifugo sends with every proxy call when its proxy
/// sets `grpc.credentials_key` and `grpc.credentials_value`: with it set,
/// Rotor refuses calls from anyone else.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyAuth {
    /// The metadata key, lower-case.
    pub key: String,
    /// The value it must have.
    pub value: String,
}

impl fmt::Debug for ProxyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyAuth")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// TLS on the proxy listeners (the main one and tenants'): Centrifugo's
/// proxies connect with `grpc.tls`, and with `client_ca` they must present a
/// certificate that CA signed (mutual TLS). Files are PEM; SIGHUP reads them
/// again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain Rotor presents, leaf first.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The CA certificates a client certificate must chain to; `None`: no
    /// client certificate is asked for.
    pub client_ca: Option<PathBuf>,
}

/// Limits of the proxy listeners' HTTP/2 connections, so that no caller can
/// hold more than a bounded share of Rotor's memory or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportLimits {
    /// Streams (calls) open at once on one connection.
    pub max_streams: u32,
    /// The largest header list (gRPC metadata) of one call, in bytes.
    pub max_header_bytes: u32,
    /// The longest a call may take, its body included (a caller's shorter
    /// `grpc-timeout` also applies).
    pub request_timeout: Duration,
    /// Connections open at once on each listener; more wait to be accepted.
    pub max_connections: u32,
}

impl Default for TransportLimits {
    fn default() -> Self {
        TransportLimits {
            max_streams: DEFAULT_MAX_STREAMS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The admin listener: probes and operator endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The bearer token operator endpoints require (mandatory off loopback,
    /// never empty).
    pub token: Option<String>,
    /// Host names it answers to besides IP addresses and `localhost`, lower-case:
    /// requests naming another host are refused (DNS rebinding).
    pub hosts: Vec<String>,
}

/// The components that answer one request kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandlerRoutes {
    /// The component for calls that no refinement matches.
    pub default: Option<PluginRef>,
    /// Components by channel namespace or RPC method (see [`Refinement`]).
    pub refined: BTreeMap<String, PluginRef>,
}

/// A plugin named in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PluginRef {
    /// The name as written in the config, e.g. `auth.wasm`: the key of its settings.
    pub name: String,
    /// The file, resolved against the plugin directory.
    pub path: PathBuf,
}

/// The interceptor chains of a configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interceptors {
    /// The `"*"` chain: runs first, for every request kind.
    pub all: Vec<InterceptorRef>,
    /// The chains of single request kinds.
    pub by_kind: BTreeMap<RequestKind, Vec<InterceptorRef>>,
}

impl Interceptors {
    /// The chain of `kind`, outermost first: the `"*"` entries, then the kind's.
    pub fn chain(&self, kind: RequestKind) -> impl Iterator<Item = &InterceptorRef> {
        self.all
            .iter()
            .chain(self.by_kind.get(&kind).into_iter().flatten())
    }

    /// The length of the longest chain.
    pub fn longest(&self) -> usize {
        RequestKind::ALL
            .iter()
            .map(|kind| self.chain(*kind).count())
            .max()
            .unwrap_or(0)
    }
}

/// One interceptor in a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterceptorRef {
    /// Its component.
    pub plugin: PluginRef,
    /// Settings of this entry, over the plugin's `[settings]`.
    pub settings: BTreeMap<String, String>,
    /// Whether the call goes on without it when it fails (default: the call
    /// fails with error 100).
    pub fail_open: bool,
}

/// Resource limits of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum linear memory of one instance, in bytes.
    pub memory: u64,
    /// CPU time one call may take (also bounded by Centrifugo's deadline).
    pub timeout: Duration,
    /// Calls that may run at once; more get a temporary error.
    pub concurrency: u32,
    /// WebAssembly fuel (roughly, instructions) per step of a call, for a
    /// bound that does not depend on the machine's speed; `None`: unmetered.
    pub fuel: Option<u64>,
    /// CPU the tenant's guests may use at most, in millicores (1000 = one
    /// core); `None`: an equal share of the cores while other tenants have
    /// calls in flight, and all of them otherwise.
    pub cpu: Option<u32>,
    /// The largest proxy request accepted, in encoded protobuf bytes.
    pub max_request: u64,
    /// The largest reply a guest may answer with, in encoded protobuf bytes.
    pub max_reply: u64,
    /// What the tenant's `kv` entries may cost in all, in bytes (key and
    /// value bytes plus a fixed overhead per entry).
    pub kv_bytes: u64,
    /// `kv` operations one guest call may make.
    pub kv_ops: u32,
    /// Server API calls one guest call may make; a `batch` counts one per
    /// command and a `broadcast` one per channel.
    pub api_calls: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: DEFAULT_MEMORY,
            timeout: DEFAULT_TIMEOUT,
            concurrency: DEFAULT_CONCURRENCY,
            fuel: None,
            cpu: None,
            max_request: DEFAULT_MAX_MESSAGE,
            max_reply: DEFAULT_MAX_MESSAGE,
            kv_bytes: DEFAULT_KV_BYTES,
            kv_ops: DEFAULT_KV_OPS,
            api_calls: DEFAULT_API_CALLS,
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("invalid config {path}: {message}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid config: `{key}`: {message}")]
    Invalid {
        /// The dotted key of the value.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A configured plugin file does not exist.
    #[error("invalid config: `{key}`: plugin file {path} does not exist")]
    MissingPlugin {
        /// The dotted key that names the plugin.
        key: String,
        /// The resolved path.
        path: PathBuf,
    },
}

impl Config {
    /// Reads and validates a config file; relative paths in it are resolved
    /// against the file's directory.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = Config::parse(&text, base).map_err(|error| match error {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })?;
        config.source = Some(path.to_owned());
        Ok(config)
    }

    /// Parses and validates config text; relative paths are resolved against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            message: error.to_string(),
        })?;
        raw.validate(base)
    }

    /// Every tenant's plugins, with the tenant and the plugin's key.
    pub fn plugins(&self) -> Vec<(&TenantConfig, &PluginRef)> {
        self.tenants
            .values()
            .flat_map(|tenant| tenant.plugins().into_iter().map(move |p| (tenant, p)))
            .collect()
    }

    /// The tenant of a configuration without tenants, or the first tenant.
    pub fn first_tenant(&self) -> &TenantConfig {
        self.tenants
            .get(DEFAULT_TENANT)
            .or_else(|| self.tenants.values().next())
            .expect("a validated config has at least one tenant")
    }

    /// The directories plugins are read from: the plugin directory and
    /// every tenant's own.
    pub fn plugin_dirs(&self) -> Vec<&Path> {
        let mut dirs: Vec<&Path> = std::iter::once(self.plugin_dir.as_path())
            .chain(self.tenants.values().map(|t| t.plugin_dir.as_path()))
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// The largest request any tenant accepts: what the gRPC server decodes
    /// at most, so a larger message is refused before its body is read.
    pub fn max_request(&self) -> u64 {
        self.tenants
            .values()
            .map(|tenant| tenant.limits.max_request)
            .max()
            .unwrap_or(DEFAULT_MAX_MESSAGE)
    }

    /// The proxy listeners (the main one and tenants') that anyone beyond
    /// this machine may reach while no `[auth]` is set: each answers every
    /// caller, so Rotor warns about them at start.
    pub fn unauthenticated_listeners(&self) -> Vec<SocketAddr> {
        if self.auth.is_some() {
            return Vec::new();
        }
        std::iter::once(self.listen)
            .chain(self.tenants.values().filter_map(|tenant| tenant.listen))
            .filter(|address| !address.ip().is_loopback())
            .collect()
    }

    /// The largest of every tenant's limits, and their summed concurrency:
    /// what the instance pool must hold.
    pub fn pool_limits(&self) -> PoolLimits {
        let mut pool = PoolLimits {
            instances: 0,
            memory: 0,
            fuel: false,
        };
        for tenant in self.tenants.values() {
            let per_call = u32::try_from(1 + tenant.interceptors.longest()).unwrap_or(u32::MAX);
            let idle: u32 = tenant.reuse.values().map(|policy| policy.max_idle).sum();
            pool.instances = pool
                .instances
                .saturating_add(tenant.limits.concurrency.saturating_mul(per_call))
                .saturating_add(idle);
            pool.memory = pool.memory.max(tenant.limits.memory);
            pool.fuel |= tenant.limits.fuel.is_some();
        }
        pool
    }
}

/// What the engine's instance pool is sized for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Component instances alive at once, at most.
    pub instances: u32,
    /// The largest linear memory of one instance, in bytes.
    pub memory: u64,
    /// Whether any tenant meters fuel.
    pub fuel: bool,
}

impl PoolLimits {
    /// The pool for `concurrency` calls of `per_call` instances each under `limits`.
    pub fn for_limits(limits: &Limits, per_call: usize) -> PoolLimits {
        let per_call = u32::try_from(per_call.max(1)).unwrap_or(u32::MAX);
        PoolLimits {
            instances: limits.concurrency.saturating_mul(per_call),
            memory: limits.memory,
            fuel: limits.fuel.is_some(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    #[serde(default)]
    plugins: RawPlugins,
    #[serde(default)]
    handlers: BTreeMap<RequestKind, RawRoutes>,
    #[serde(default)]
    interceptors: BTreeMap<String, Vec<RawInterceptor>>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    settings: BTreeMap<String, BTreeMap<String, RawSetting>>,
    centrifugo: Option<RawCentrifugo>,
    #[serde(default)]
    kv: KvConfig,
    #[serde(default)]
    canary: BTreeMap<RequestKind, String>,
    admin: Option<RawAdmin>,
    auth: Option<RawAuth>,
    tls: Option<RawTls>,
    #[serde(default)]
    transport: RawTransport,
    tenancy: Option<RawTenancy>,
    #[serde(default)]
    tenants: BTreeMap<String, RawTenant>,
    #[serde(default)]
    isolation: BTreeMap<String, RawIsolation>,
    on_refresh_failure: Option<RefreshFailure>,
    naming: Option<RawNaming>,
}

/// `[naming]`: Centrifugo's settings that say how namespaces are read out
/// of channel names and RPC methods; they must match Centrifugo's config.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNaming {
    private_prefix: Option<String>,
    namespace_boundary: Option<String>,
    rpc_namespace_boundary: Option<String>,
}

impl RawNaming {
    fn validate(self) -> Naming {
        let defaults = Naming::default();
        Naming {
            private_prefix: self.private_prefix.unwrap_or(defaults.private_prefix),
            namespace_boundary: self
                .namespace_boundary
                .unwrap_or(defaults.namespace_boundary),
            rpc_namespace_boundary: self
                .rpc_namespace_boundary
                .unwrap_or(defaults.rpc_namespace_boundary),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIsolation {
    mode: RawMode,
    max_calls: Option<u32>,
    max_age: Option<String>,
    max_idle: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawMode {
    Fresh,
    Reuse,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenancy {
    by: RawTenantRule,
    key: Option<String>,
    fallback: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawTenantRule {
    Metadata,
    Namespace,
    Listener,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    dir: Option<PathBuf>,
    listen: Option<String>,
    #[serde(default)]
    namespaces: Vec<String>,
    grants: Option<Vec<String>>,
    api_namespaces: Option<Vec<String>>,
    #[serde(default)]
    handlers: BTreeMap<RequestKind, RawRoutes>,
    #[serde(default)]
    interceptors: BTreeMap<String, Vec<RawInterceptor>>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    settings: BTreeMap<String, BTreeMap<String, RawSetting>>,
    #[serde(default)]
    isolation: BTreeMap<String, RawIsolation>,
    on_refresh_failure: Option<RefreshFailure>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    key: String,
    value_env: Option<String>,
    value_file: Option<PathBuf>,
}

impl RawAuth {
    fn validate(self, base: &Path) -> Result<ProxyAuth, ConfigError> {
        let key = self.key.to_ascii_lowercase();
        let valid_key = !key.is_empty()
            && !key.starts_with("grpc-")
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
        if !valid_key {
            return Err(invalid(
                "auth.key",
                "must be a gRPC metadata key such as x-proxy-secret",
            ));
        }
        let value = match (self.value_env, self.value_file) {
            (Some(env), None) => RawSetting::Env { env }.resolve("auth.value_env", base)?,
            (None, Some(file)) => RawSetting::File { file }.resolve("auth.value_file", base)?,
            _ => {
                return Err(invalid(
                    "auth.value_env",
                    "set `value_env` or `value_file` (one of them): the secret never goes in the config",
                ));
            }
        };
        if value.is_empty() {
            return Err(invalid("auth.value_env", "the secret is empty"));
        }
        Ok(ProxyAuth { key, value })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
}

impl RawTls {
    fn validate(self, base: &Path) -> Result<TlsConfig, ConfigError> {
        let file = |key: &str, path: PathBuf| {
            let path = absolute(&base.join(path));
            if path.is_file() {
                Ok(path)
            } else {
                Err(invalid(
                    &format!("tls.{key}"),
                    &format!("{} is not a file", path.display()),
                ))
            }
        };
        Ok(TlsConfig {
            cert: file("cert", self.cert)?,
            key: file("key", self.key)?,
            client_ca: self
                .client_ca
                .map(|path| file("client_ca", path))
                .transpose()?,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransport {
    max_streams: Option<u32>,
    max_header_bytes: Option<String>,
    request_timeout: Option<String>,
    max_connections: Option<u32>,
}

impl RawTransport {
    fn validate(self) -> Result<TransportLimits, ConfigError> {
        let defaults = TransportLimits::default();
        let max_header_bytes = match self.max_header_bytes {
            Some(text) => {
                let bytes = parse_size(&text)
                    .map_err(|message| invalid("transport.max_header_bytes", &message))?;
                u32::try_from(bytes)
                    .ok()
                    .filter(|bytes| (1 << 10..=MAX_HEADER_BYTES).contains(bytes))
                    .ok_or_else(|| {
                        invalid(
                            "transport.max_header_bytes",
                            &format!("must be between 1KiB and {}KiB", MAX_HEADER_BYTES >> 10),
                        )
                    })?
            }
            None => defaults.max_header_bytes,
        };
        let request_timeout = match self.request_timeout {
            Some(text) => parse_duration(&text)
                .map_err(|message| invalid("transport.request_timeout", &message))?,
            None => defaults.request_timeout,
        };
        if request_timeout.is_zero() || request_timeout > MAX_REQUEST_TIMEOUT {
            return Err(invalid(
                "transport.request_timeout",
                &format!(
                    "must be greater than zero and at most {}s",
                    MAX_REQUEST_TIMEOUT.as_secs()
                ),
            ));
        }
        let limits = TransportLimits {
            max_streams: self.max_streams.unwrap_or(defaults.max_streams),
            max_header_bytes,
            request_timeout,
            max_connections: self.max_connections.unwrap_or(defaults.max_connections),
        };
        for (key, value) in [
            ("transport.max_streams", limits.max_streams),
            ("transport.max_connections", limits.max_connections),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        Ok(limits)
    }
}

/// The largest `transport.max_header_bytes`: 1 MiB of metadata is already
/// far more than any proxy call carries.
const MAX_HEADER_BYTES: u32 = 1 << 20;
/// The longest `transport.request_timeout`: an hour.
const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: String,
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    #[serde(default)]
    hosts: Vec<String>,
}

/// The store behind the `kv` import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case", deny_unknown_fields)]
pub enum KvConfig {
    /// In this process: zero setup, state per replica (the default).
    #[default]
    Memory,
    /// Redis, shared by every replica.
    Redis {
        /// The server, e.g. `redis://127.0.0.1:6379/0`.
        url: String,
        /// Prefix of every key Rotor writes.
        #[serde(default = "default_kv_prefix")]
        prefix: String,
    },
}

fn default_kv_prefix() -> String {
    DEFAULT_KV_PREFIX.to_owned()
}

impl KvConfig {
    /// Opens the configured store (Redis connects on first use).
    pub fn store(&self) -> Result<crate::backends::kv::KvStore, crate::backends::kv::KvError> {
        Ok(match self {
            KvConfig::Memory => crate::backends::kv::KvStore::memory(),
            KvConfig::Redis { url, prefix } => crate::backends::kv::KvStore::Redis(Box::new(
                crate::backends::kv::RedisStore::new(url, prefix)?,
            )),
        })
    }
}

/// Centrifugo's server API. The key is never written in the config: it
/// comes from an environment variable or a file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCentrifugo {
    api: String,
    api_key_env: Option<String>,
    api_key_file: Option<PathBuf>,
    timeout: Option<String>,
    namespaces: Option<Vec<String>>,
}

/// An interceptor entry: a file name, or a table with options.
type RawInterceptor = FileOrTable<RawInterceptorTable>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterceptorTable {
    plugin: String,
    #[serde(default)]
    fail_open: bool,
    #[serde(default)]
    settings: BTreeMap<String, RawSetting>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugins {
    dir: Option<PathBuf>,
    #[serde(default)]
    watch: bool,
    cache: Option<RawCache>,
}

/// `cache = "dir"` or `cache = false`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawCache {
    Enabled(bool),
    Dir(PathBuf),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory: Option<String>,
    timeout: Option<String>,
    concurrency: Option<u32>,
    fuel: Option<u64>,
    cpu: Option<f64>,
    max_request: Option<String>,
    max_reply: Option<String>,
    kv_bytes: Option<String>,
    kv_ops: Option<u32>,
    api_calls: Option<u32>,
}

/// A plugin file name, or a table that names the plugin and its options.
#[derive(Debug)]
enum FileOrTable<T> {
    File(String),
    Table(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for FileOrTable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FileOrTableVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for FileOrTableVisitor<T> {
            type Value = FileOrTable<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a plugin file name or a table")
            }

            fn visit_str<E: de::Error>(self, file: &str) -> Result<Self::Value, E> {
                Ok(FileOrTable::File(file.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(FileOrTable::Table)
            }
        }

        deserializer.deserialize_any(FileOrTableVisitor(std::marker::PhantomData))
    }
}

/// A handler route: a file name, or a table with refinements.
type RawRoutes = FileOrTable<RawRoutesTable>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoutesTable {
    default: Option<String>,
    #[serde(default)]
    namespaces: BTreeMap<String, String>,
    #[serde(default)]
    methods: BTreeMap<String, String>,
}

/// A setting: a literal, or a secret read from the environment or a file so
/// it need not be written in the config in clear.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSetting {
    Literal(String),
    Env { env: String },
    File { file: PathBuf },
}

impl RawConfig {
    fn validate(self, base: &Path) -> Result<Config, ConfigError> {
        let listen = parse_listen("listen", self.listen.as_deref().unwrap_or(DEFAULT_LISTEN))?;
        let plugin_dir = base.join(
            self.plugins
                .dir
                .unwrap_or_else(|| DEFAULT_PLUGIN_DIR.into()),
        );
        if !plugin_dir.is_dir() {
            return Err(ConfigError::Invalid {
                key: "plugins.dir".into(),
                message: format!("{} is not a directory", plugin_dir.display()),
            });
        }

        let limits = self.limits.validate("limits", Limits::default())?;
        let admin = self.admin.map(|raw| raw.validate(base)).transpose()?;
        let auth = self.auth.map(|raw| raw.validate(base)).transpose()?;
        let tls = self.tls.map(|raw| raw.validate(base)).transpose()?;
        let transport = self.transport.validate()?;
        for (kind, json) in &self.canary {
            crate::contract::convert::request_from_json(*kind, json).map_err(|message| {
                ConfigError::Invalid {
                    key: format!("canary.{kind}"),
                    message,
                }
            })?;
        }
        let naming = self.naming.unwrap_or_default().validate();
        let on_refresh_failure = self.on_refresh_failure.unwrap_or_default();
        let centrifugo = self
            .centrifugo
            .map(|raw| raw.validate(base, &naming))
            .transpose()?;
        let api_namespaces = centrifugo.as_ref().and_then(|api| api.namespaces.clone());

        let (tenants, tenancy) = if self.tenants.is_empty() {
            if let Some(tenancy) = self.tenancy {
                let key = match tenancy.by {
                    RawTenantRule::Metadata => "metadata",
                    RawTenantRule::Namespace => "namespace",
                    RawTenantRule::Listener => "listener",
                };
                return Err(invalid(
                    "tenancy.by",
                    &format!("maps calls by {key}, but no [tenants] are declared"),
                ));
            }
            let tenant = RawTenant {
                dir: None,
                listen: None,
                namespaces: Vec::new(),
                grants: None,
                api_namespaces,
                handlers: self.handlers,
                interceptors: self.interceptors,
                limits: RawLimits::default(),
                settings: self.settings,
                isolation: self.isolation,
                on_refresh_failure: None,
            }
            .validate(TenantScope {
                name: DEFAULT_TENANT,
                key: "",
                plugin_dir: plugin_dir.clone(),
                base,
                limits,
                grants: Grants::ALL,
                api: centrifugo.is_some(),
                on_refresh_failure,
                naming: &naming,
            })?;
            (
                BTreeMap::from([(DEFAULT_TENANT.to_owned(), tenant)]),
                Tenancy {
                    naming: naming.clone(),
                    ..Tenancy::single()
                },
            )
        } else {
            for (key, used) in [
                ("handlers", !self.handlers.is_empty()),
                ("interceptors", !self.interceptors.is_empty()),
                ("settings", !self.settings.is_empty()),
                ("isolation", !self.isolation.is_empty()),
            ] {
                if used {
                    return Err(invalid(
                        key,
                        &format!("with [tenants], `{key}` belongs in each [tenants.<name>.{key}]"),
                    ));
                }
            }
            let raw_tenancy = self.tenancy.ok_or_else(|| {
                invalid(
                    "tenancy.by",
                    "[tenants] need a rule that maps calls to them: \"metadata\", \"namespace\" or \"listener\"",
                )
            })?;
            validate_tenants(
                self.tenants,
                raw_tenancy,
                TenantScope {
                    name: "",
                    key: "",
                    plugin_dir: plugin_dir.clone(),
                    base,
                    limits,
                    grants: Grants::DEFAULT,
                    api: centrifugo.is_some(),
                    on_refresh_failure,
                    naming: &naming,
                },
                listen,
                api_namespaces.as_deref(),
            )?
        };

        Ok(Config {
            listen,
            plugin_dir,
            watch: self.plugins.watch,
            compile_cache: match self.plugins.cache {
                None | Some(RawCache::Enabled(true)) => CompileCache::Default,
                Some(RawCache::Enabled(false)) => CompileCache::Off,
                Some(RawCache::Dir(dir)) => CompileCache::Dir(absolute(&base.join(dir))),
            },
            tenants,
            tenancy,
            centrifugo,
            kv: self.kv,
            canary: self.canary,
            admin,
            auth,
            tls,
            transport,
            source: None,
        })
    }
}

/// What a tenant's section is validated against: its place in the file and
/// the defaults it inherits.
struct TenantScope<'a> {
    name: &'a str,
    /// The dotted prefix of its keys: `""` for the top level.
    key: &'a str,
    plugin_dir: PathBuf,
    base: &'a Path,
    limits: Limits,
    grants: Grants,
    /// Whether `[centrifugo]` is configured.
    api: bool,
    /// The default of `on_refresh_failure`.
    on_refresh_failure: RefreshFailure,
    /// How Centrifugo reads namespaces, to check the names configured.
    naming: &'a Naming,
}

fn validate_tenants(
    raw: BTreeMap<String, RawTenant>,
    tenancy: RawTenancy,
    scope: TenantScope<'_>,
    main_listen: SocketAddr,
    api_namespaces: Option<&[String]>,
) -> Result<(BTreeMap<String, TenantConfig>, Tenancy), ConfigError> {
    if tenancy.key.is_some() && tenancy.by != RawTenantRule::Metadata {
        return Err(invalid(
            "tenancy.key",
            "applies to `by = \"metadata\"` only",
        ));
    }
    let mut tenants = BTreeMap::new();
    let mut owners = BTreeMap::new();
    for (name, tenant) in raw {
        let key = format!("tenants.{name}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                &key,
                "a tenant name is letters, digits, `-` and `_`",
            ));
        }
        if name == crate::lifecycle::canary::CANARY_TENANT {
            return Err(invalid(&key, "`canary` is the tenant of canary calls"));
        }
        let namespaced = tenancy.by == RawTenantRule::Namespace;
        if !namespaced && !tenant.namespaces.is_empty() {
            return Err(invalid(
                &format!("{key}.namespaces"),
                "applies with `[tenancy] by = \"namespace\"` only",
            ));
        }
        if namespaced {
            for namespace in &tenant.namespaces {
                if let Some(problem) = scope.naming.impossible_namespace(namespace) {
                    return Err(invalid(
                        &format!("{key}.namespaces"),
                        &format!("`{namespace}`: {problem}"),
                    ));
                }
                if let Some(other) = owners.insert(namespace.clone(), name.clone()) {
                    return Err(invalid(
                        &format!("{key}.namespaces"),
                        &format!("namespace `{namespace}` is already claimed by tenant `{other}`"),
                    ));
                }
            }
        }
        match (&tenant.listen, tenancy.by) {
            (None, RawTenantRule::Listener) => {
                return Err(invalid(
                    &format!("{key}.listen"),
                    "each tenant needs its own listener with `by = \"listener\"`",
                ));
            }
            (Some(_), RawTenantRule::Metadata | RawTenantRule::Namespace) => {
                return Err(invalid(
                    &format!("{key}.listen"),
                    "applies with `[tenancy] by = \"listener\"` only",
                ));
            }
            _ => {}
        }
        // With namespaces, a tenant's server API calls stay in its own
        // namespaces unless it says otherwise.
        let own_namespaces =
            (namespaced && tenant.api_namespaces.is_none()).then(|| tenant.namespaces.clone());
        let inherited = own_namespaces.or_else(|| api_namespaces.map(<[String]>::to_vec));
        let plugin_dir = scope
            .plugin_dir
            .join(tenant.dir.clone().unwrap_or_else(|| name.clone().into()));
        if !plugin_dir.is_dir() {
            return Err(invalid(
                &format!("{key}.dir"),
                &format!("{} is not a directory", plugin_dir.display()),
            ));
        }
        let validated = RawTenant {
            api_namespaces: tenant.api_namespaces.clone().or(inherited),
            ..tenant
        }
        .validate(TenantScope {
            name: &name,
            key: &key,
            plugin_dir,
            ..scope
        })?;
        if let Some(listen) = validated.listen
            && (listen == main_listen
                || tenants
                    .values()
                    .any(|other: &TenantConfig| other.listen == Some(listen)))
        {
            return Err(invalid(
                &format!("{key}.listen"),
                &format!("{listen} is already the listener of another tenant or of `listen`"),
            ));
        }
        tenants.insert(name, validated);
    }
    if let Some(fallback) = &tenancy.fallback
        && !tenants.contains_key(fallback)
    {
        return Err(invalid(
            "tenancy.fallback",
            &format!("`{fallback}` is not a tenant"),
        ));
    }
    let rule = match tenancy.by {
        RawTenantRule::Metadata => TenantRule::Metadata {
            key: tenancy
                .key
                .unwrap_or_else(|| DEFAULT_TENANT_KEY.to_owned())
                .to_ascii_lowercase(),
        },
        RawTenantRule::Namespace => TenantRule::Namespace { owners },
        RawTenantRule::Listener => TenantRule::Listener,
    };
    Ok((
        tenants,
        Tenancy {
            rule,
            fallback: tenancy.fallback,
            naming: scope.naming.clone(),
        },
    ))
}

impl RawTenant {
    fn validate(self, scope: TenantScope<'_>) -> Result<TenantConfig, ConfigError> {
        let prefix = if scope.key.is_empty() {
            String::new()
        } else {
            format!("{}.", scope.key)
        };
        let plugin_dir = &scope.plugin_dir;
        let mut handlers = BTreeMap::new();
        for (kind, raw) in self.handlers {
            handlers.insert(
                kind,
                validate_routes(&prefix, kind, raw, plugin_dir, scope.naming)?,
            );
        }

        let mut interceptors = Interceptors::default();
        for (chain, entries) in self.interceptors {
            let key = format!("{prefix}interceptors.\"{chain}\"");
            let mut steps = Vec::with_capacity(entries.len());
            for (index, entry) in entries.into_iter().enumerate() {
                steps.push(entry.validate(&format!("{key}[{index}]"), plugin_dir, scope.base)?);
            }
            if chain == "*" {
                interceptors.all = steps;
            } else {
                let kind =
                    chain
                        .parse::<RequestKind>()
                        .map_err(|message| ConfigError::Invalid {
                            key: key.clone(),
                            message: format!("{message}, or \"*\""),
                        })?;
                interceptors.by_kind.insert(kind, steps);
            }
        }

        let limits = self
            .limits
            .validate(&format!("{prefix}limits"), scope.limits)?;

        let mut settings = BTreeMap::new();
        for (plugin, values) in self.settings {
            let mut resolved = BTreeMap::new();
            for (key, value) in values {
                let dotted = format!("{prefix}settings.\"{plugin}\".{key}");
                resolved.insert(key, value.resolve(&dotted, scope.base)?);
            }
            settings.insert(plugin, resolved);
        }

        let grants = match &self.grants {
            Some(names) => Grants::from_names(names.iter().map(String::as_str))
                .map_err(|message| invalid(&format!("{prefix}grants"), &message))?,
            None => scope.grants,
        };
        if grants.centrifugo_api && !scope.api && self.grants.is_some() {
            return Err(invalid(
                &format!("{prefix}grants"),
                "grants `centrifugo-api`, but no [centrifugo] api is configured",
            ));
        }
        let listen = self
            .listen
            .map(|text| parse_listen(&format!("{prefix}listen"), &text))
            .transpose()?;

        let mut reuse = BTreeMap::new();
        for (plugin, raw) in self.isolation {
            let key = format!("{prefix}isolation.\"{plugin}\"");
            let used = handlers
                .values()
                .flat_map(|routes: &HandlerRoutes| {
                    routes.default.iter().chain(routes.refined.values())
                })
                .chain(
                    interceptors
                        .all
                        .iter()
                        .chain(interceptors.by_kind.values().flatten())
                        .map(|i| &i.plugin),
                )
                .any(|p| p.name == plugin);
            if !used {
                return Err(invalid(
                    &key,
                    "names a plugin that no route of this tenant uses",
                ));
            }
            if let Some(policy) = raw.validate(&key, &limits)? {
                reuse.insert(plugin, policy);
            }
        }

        if let Some(namespaces) = &self.api_namespaces {
            check_namespaces(&format!("{prefix}api_namespaces"), namespaces, scope.naming)?;
        }
        Ok(TenantConfig {
            name: scope.name.to_owned(),
            plugin_dir: scope.plugin_dir,
            handlers,
            interceptors,
            limits,
            settings,
            grants,
            api_namespaces: self.api_namespaces,
            listen,
            reuse,
            on_refresh_failure: self.on_refresh_failure.unwrap_or(scope.on_refresh_failure),
        })
    }
}

impl RawIsolation {
    /// The reuse policy, or `None` for `mode = "fresh"`.
    fn validate(self, key: &str, limits: &Limits) -> Result<Option<ReusePolicy>, ConfigError> {
        if self.mode == RawMode::Fresh {
            if self.max_calls.is_some() || self.max_age.is_some() || self.max_idle.is_some() {
                return Err(invalid(
                    key,
                    "`max_calls`, `max_age` and `max_idle` apply to `mode = \"reuse\"`",
                ));
            }
            return Ok(None);
        }
        let max_age = match self.max_age {
            Some(text) => parse_duration(&text).map_err(|message| ConfigError::Invalid {
                key: format!("{key}.max_age"),
                message,
            })?,
            None => DEFAULT_REUSE_MAX_AGE,
        };
        let policy = ReusePolicy {
            max_calls: self.max_calls.unwrap_or(DEFAULT_REUSE_MAX_CALLS),
            max_age,
            max_idle: self
                .max_idle
                .unwrap_or_else(|| DEFAULT_REUSE_MAX_IDLE.min(limits.concurrency)),
        };
        for (field, zero) in [
            ("max_calls", policy.max_calls == 0),
            ("max_age", policy.max_age.is_zero()),
            ("max_idle", policy.max_idle == 0),
        ] {
            if zero {
                return Err(invalid(
                    &format!("{key}.{field}"),
                    "must be greater than zero",
                ));
            }
        }
        Ok(Some(policy))
    }
}

fn parse_listen(key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| ConfigError::Invalid {
        key: key.to_owned(),
        message: format!("`{text}` is not a socket address like 127.0.0.1:10001"),
    })
}

/// Refuses namespace names that no channel can have under `naming` (`""`
/// stands for channels without a namespace and is allowed).
fn check_namespaces(key: &str, namespaces: &[String], naming: &Naming) -> Result<(), ConfigError> {
    for namespace in namespaces.iter().filter(|namespace| !namespace.is_empty()) {
        if let Some(problem) = naming.impossible_namespace(namespace) {
            return Err(invalid(key, &format!("`{namespace}`: {problem}")));
        }
    }
    Ok(())
}

fn validate_routes(
    prefix: &str,
    kind: RequestKind,
    raw: RawRoutes,
    plugin_dir: &Path,
    naming: &Naming,
) -> Result<HandlerRoutes, ConfigError> {
    let key = format!("{prefix}handlers.{kind}");
    let raw = match raw {
        FileOrTable::File(file) => RawRoutesTable {
            default: Some(file),
            namespaces: BTreeMap::new(),
            methods: BTreeMap::new(),
        },
        FileOrTable::Table(table) => table,
    };
    let refined = match kind.refinement() {
        Some(Refinement::ChannelNamespace) if !raw.methods.is_empty() => {
            return Err(invalid(&key, "`methods` applies to rpc; use `namespaces`"));
        }
        Some(Refinement::Method) if !raw.namespaces.is_empty() => {
            return Err(invalid(
                &key,
                "`namespaces` applies to channels; use `methods`",
            ));
        }
        None if !raw.methods.is_empty() || !raw.namespaces.is_empty() => {
            return Err(invalid(
                &key,
                "this request type has no channel or method to route by",
            ));
        }
        Some(Refinement::Method) => raw.methods,
        _ => raw.namespaces,
    };
    if raw.default.is_none() && refined.is_empty() {
        return Err(invalid(&key, "names no plugin"));
    }
    let default = raw
        .default
        .map(|name| plugin_ref(format!("{key}.default"), name, plugin_dir))
        .transpose()?;
    let refined = refined
        .into_iter()
        .map(|(prefix, name)| {
            if prefix.is_empty() {
                return Err(invalid(&key, "an empty namespace or method name"));
            }
            if kind.refinement() == Some(Refinement::ChannelNamespace)
                && let Some(problem) = naming.impossible_namespace(&prefix)
            {
                return Err(invalid(&format!("{key}.\"{prefix}\""), &problem));
            }
            let plugin = plugin_ref(format!("{key}.\"{prefix}\""), name, plugin_dir)?;
            Ok((prefix, plugin))
        })
        .collect::<Result<_, _>>()?;
    Ok(HandlerRoutes { default, refined })
}

impl FileOrTable<RawInterceptorTable> {
    fn validate(
        self,
        key: &str,
        plugin_dir: &Path,
        base: &Path,
    ) -> Result<InterceptorRef, ConfigError> {
        let table = match self {
            FileOrTable::File(plugin) => RawInterceptorTable {
                plugin,
                fail_open: false,
                settings: BTreeMap::new(),
            },
            FileOrTable::Table(table) => table,
        };
        let mut settings = BTreeMap::new();
        for (name, value) in table.settings {
            settings.insert(
                name.clone(),
                value.resolve(&format!("{key}.settings.{name}"), base)?,
            );
        }
        Ok(InterceptorRef {
            plugin: plugin_ref(key.to_owned(), table.plugin, plugin_dir)?,
            settings,
            fail_open: table.fail_open,
        })
    }
}

fn plugin_ref(key: String, name: String, plugin_dir: &Path) -> Result<PluginRef, ConfigError> {
    let path = plugin_dir.join(&name);
    if !path.is_file() {
        return Err(ConfigError::MissingPlugin { key, path });
    }
    Ok(PluginRef { name, path })
}

fn invalid(key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.to_owned(),
    }
}

impl RawAdmin {
    fn validate(self, base: &Path) -> Result<AdminConfig, ConfigError> {
        let listen: SocketAddr = self.listen.parse().map_err(|_| ConfigError::Invalid {
            key: "admin.listen".into(),
            message: format!(
                "`{}` is not a socket address like 127.0.0.1:9901",
                self.listen
            ),
        })?;
        let token_key = if self.token_file.is_some() {
            "admin.token_file"
        } else {
            "admin.token_env"
        };
        let token = match (self.token_env, self.token_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "admin.token_env",
                    "set `token_env` or `token_file`, not both",
                ));
            }
            (Some(env), None) => Some(RawSetting::Env { env }.resolve("admin.token_env", base)?),
            (None, Some(file)) => {
                Some(RawSetting::File { file }.resolve("admin.token_file", base)?)
            }
            (None, None) => None,
        };
        // An empty token would let every empty `Bearer ` header through:
        // refuse to start rather than run an admin listener anyone can drive.
        if token
            .as_deref()
            .is_some_and(|token| token.trim().is_empty())
        {
            return Err(invalid(
                token_key,
                "the admin token is empty: set it to a long random value (an admin listener on loopback may also have no token)",
            ));
        }
        if token.is_none() && !listen.ip().is_loopback() {
            return Err(invalid(
                "admin.token_env",
                "an admin listener off loopback needs a token",
            ));
        }
        let mut hosts = Vec::with_capacity(self.hosts.len());
        for host in self.hosts {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            let valid = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !valid {
                return Err(invalid(
                    "admin.hosts",
                    &format!("`{host}` is not a host name (no port, no scheme)"),
                ));
            }
            hosts.push(host);
        }
        Ok(AdminConfig {
            listen,
            token,
            hosts,
        })
    }
}

impl RawCentrifugo {
    fn validate(self, base: &Path, naming: &Naming) -> Result<ApiConfig, ConfigError> {
        if let Some(namespaces) = &self.namespaces {
            check_namespaces("centrifugo.namespaces", namespaces, naming)?;
        }
        if !(self.api.starts_with("http://") || self.api.starts_with("https://")) {
            return Err(invalid(
                "centrifugo.api",
                "must be an http:// or https:// address, e.g. http://127.0.0.1:10000",
            ));
        }
        let key = match (self.api_key_env, self.api_key_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "centrifugo.api_key_env",
                    "set `api_key_env` or `api_key_file`, not both",
                ));
            }
            (Some(env), None) => {
                Some(RawSetting::Env { env }.resolve("centrifugo.api_key_env", base)?)
            }
            (None, Some(file)) => {
                Some(RawSetting::File { file }.resolve("centrifugo.api_key_file", base)?)
            }
            (None, None) => None,
        };
        let timeout = match self.timeout {
            Some(text) => parse_duration(&text).map_err(|message| ConfigError::Invalid {
                key: "centrifugo.timeout".into(),
                message,
            })?,
            None => DEFAULT_API_TIMEOUT,
        };
        Ok(ApiConfig {
            address: self.api,
            key,
            timeout,
            namespaces: self.namespaces,
        })
    }
}

impl RawLimits {
    /// Validates these limits, taking what is not set from `defaults`; `key`
    /// is the dotted key of the section.
    fn validate(self, key: &str, defaults: Limits) -> Result<Limits, ConfigError> {
        let named = |field: &str, message: String| ConfigError::Invalid {
            key: format!("{key}.{field}"),
            message,
        };
        let size = |field: &str, text: Option<String>, default: u64| match text {
            Some(text) => parse_size(&text).map_err(|message| named(field, message)),
            None => Ok(default),
        };
        let memory = size("memory", self.memory, defaults.memory)?;
        let max_request = size("max_request", self.max_request, defaults.max_request)?;
        let max_reply = size("max_reply", self.max_reply, defaults.max_reply)?;
        let kv_bytes = size("kv_bytes", self.kv_bytes, defaults.kv_bytes)?;
        let kv_ops = self.kv_ops.unwrap_or(defaults.kv_ops);
        let api_calls = self.api_calls.unwrap_or(defaults.api_calls);
        let timeout = match self.timeout {
            Some(text) => parse_duration(&text).map_err(|message| named("timeout", message))?,
            None => defaults.timeout,
        };
        let concurrency = self.concurrency.unwrap_or(defaults.concurrency);
        let fuel = self.fuel.or(defaults.fuel);
        if memory < 1 << 20 {
            return Err(named("memory", "must be at least 1MiB".into()));
        }
        if timeout.is_zero() {
            return Err(named("timeout", "must be greater than zero".into()));
        }
        if concurrency == 0 {
            return Err(named("concurrency", "must be at least 1".into()));
        }
        if fuel == Some(0) {
            return Err(named("fuel", "must be at least 1".into()));
        }
        if kv_bytes < MIN_KV_BYTES {
            return Err(named("kv_bytes", "must be at least 1KiB".into()));
        }
        for (field, count) in [("kv_ops", kv_ops), ("api_calls", api_calls)] {
            if count == 0 {
                return Err(named(field, "must be at least 1".into()));
            }
        }
        let cpu = match self.cpu {
            Some(cores) => Some(millicores(cores).map_err(|message| named("cpu", message))?),
            None => defaults.cpu,
        };
        for (field, bytes) in [("max_request", max_request), ("max_reply", max_reply)] {
            if bytes == 0 || bytes > MAX_MESSAGE_LIMIT {
                return Err(named(
                    field,
                    format!("must be between 1B and {}MiB", MAX_MESSAGE_LIMIT >> 20),
                ));
            }
        }
        Ok(Limits {
            memory,
            timeout,
            concurrency,
            fuel,
            cpu,
            max_request,
            max_reply,
            kv_bytes,
            kv_ops,
            api_calls,
        })
    }
}

/// The smallest `kv_bytes`: room for a few small entries.
const MIN_KV_BYTES: u64 = 1 << 10;

/// The most cores a `cpu` limit may name.
const MAX_CPU_CORES: f64 = 4096.0;

/// `cores` (a `cpu` limit) in millicores: at least one hundredth of a core.
fn millicores(cores: f64) -> Result<u32, String> {
    if !(0.01..=MAX_CPU_CORES).contains(&cores) {
        return Err(format!(
            "must be a number of cores between 0.01 and {MAX_CPU_CORES}, not {cores}"
        ));
    }
    // In range, so the cast is exact enough and cannot overflow.
    Ok((cores * f64::from(crate::runtime::cpu::CORE)).round() as u32)
}

/// The gRPC server's own message limit: no tenant limit can exceed it.
pub const MAX_MESSAGE_LIMIT: u64 = 4 << 20;

impl RawSetting {
    fn resolve(self, key: &str, base: &Path) -> Result<String, ConfigError> {
        match self {
            RawSetting::Literal(value) => Ok(value),
            RawSetting::Env { env } => std::env::var(&env).map_err(|_| ConfigError::Invalid {
                key: key.to_owned(),
                message: format!("environment variable {env} is not set"),
            }),
            RawSetting::File { file } => {
                let path = base.join(file);
                std::fs::read_to_string(&path)
                    .map(|text| text.trim_end_matches(['\r', '\n']).to_owned())
                    .map_err(|error| ConfigError::Invalid {
                        key: key.to_owned(),
                        message: format!("cannot read {}: {error}", path.display()),
                    })
            }
        }
    }
}

/// Parses a byte size such as `16MiB`, `512KiB`, `1GiB` or `65536`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 16MiB"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KiB, MiB or GiB)"
            ));
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Parses a duration such as `100ms`, `2s`, `250us`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 100ms"))?;
    match unit.trim() {
        "us" | "µs" => Ok(Duration::from_micros(number)),
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number.saturating_mul(60))),
        "" => Err(format!("`{text}` needs a unit: us, ms, s or m")),
        other => Err(format!(
            "unknown duration unit `{other}` (use us, ms, s or m)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[&str]) -> tempdir::Dir {
        tempdir::Dir::with_files(files)
    }

    /// A throwaway directory for config tests, removed on drop.
    mod tempdir {
        use std::path::{Path, PathBuf};
        use std::sync::atomic::{AtomicU32, Ordering};

        pub struct Dir(PathBuf);

        impl Dir {
            pub fn with_files(files: &[&str]) -> Dir {
                static NEXT: AtomicU32 = AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "rotor-config-test-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&path).expect("create temp dir");
                for file in files {
                    std::fs::write(path.join(file), b"").expect("write temp file");
                }
                Dir(path)
            }

            pub fn path(&self) -> &Path {
                &self.0
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn full_config() {
        let dir = dir_with(&["auth.wasm", "acl.wasm", "rpc.wasm", "booking.wasm"]);
        let config = Config::parse(
            r#"
            listen = "127.0.0.1:9999"
            [handlers]
            connect = "auth.wasm"
            subscribe = { default = "acl.wasm", namespaces = { chat = "acl.wasm" } }
            [handlers.rpc]
            default = "rpc.wasm"
            methods = { "booking:" = "booking.wasm" }
            [limits]
            memory = "16MiB"
            timeout = "100ms"
            concurrency = 8
            [settings."auth.wasm"]
            secret = "s3cret"
            "#,
            dir.path(),
        )
        .expect("valid config");
        assert_eq!(config.listen.port(), 9999);
        let tenant = &config.tenants[DEFAULT_TENANT];
        assert_eq!(tenant.limits.memory, 16 << 20);
        assert_eq!(tenant.limits.timeout, Duration::from_millis(100));
        assert_eq!(tenant.limits.concurrency, 8);
        assert_eq!(tenant.grants, Grants::ALL);
        let rpc = &tenant.handlers[&RequestKind::Rpc];
        assert_eq!(rpc.refined["booking:"].name, "booking.wasm");
        assert_eq!(tenant.settings["auth.wasm"]["secret"], "s3cret");
        assert_eq!(config.plugins().len(), 4);
        assert_eq!(config.tenancy, Tenancy::single());
    }

    #[test]
    fn interceptor_chains() {
        let dir = dir_with(&["t.wasm", "rl.wasm", "h.wasm"]);
        let config = Config::parse(
            r#"
            [handlers]
            publish = "h.wasm"
            [interceptors]
            "*" = ["t.wasm"]
            publish = [{ plugin = "rl.wasm", fail_open = true, settings = { limit = "5" } }, "t.wasm"]
            [settings."rl.wasm"]
            window = "1s"
            "#,
            dir.path(),
        )
        .expect("valid config");
        let interceptors = &config.first_tenant().interceptors;
        let chain: Vec<_> = interceptors
            .chain(RequestKind::Publish)
            .map(|i| i.plugin.name.as_str())
            .collect();
        assert_eq!(chain, ["t.wasm", "rl.wasm", "t.wasm"]);
        assert_eq!(interceptors.chain(RequestKind::Connect).count(), 1);
        assert_eq!(interceptors.longest(), 3);
        let rate_limit = &interceptors.by_kind[&RequestKind::Publish][0];
        assert!(rate_limit.fail_open);
        assert_eq!(rate_limit.settings["limit"], "5");
        assert_eq!(config.plugins().len(), 3);

        for (text, key) in [
            ("[interceptors]\npublsh = [\"t.wasm\"]", "publsh"),
            (
                r#"interceptors = { "*" = ["gone.wasm"] }"#,
                r#"interceptors."*"[0]"#,
            ),
            (
                r#"interceptors = { "*" = [{ plugin = "t.wasm", fail_opn = true }] }"#,
                "fail_opn",
            ),
        ] {
            let error = Config::parse(text, dir.path()).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = dir_with(&[]);
        let error = Config::parse("lisen = \"x\"", dir.path()).unwrap_err();
        assert!(error.to_string().contains("lisen"), "{error}");
        let error = Config::parse("[handlers]\nconect = \"a.wasm\"", dir.path()).unwrap_err();
        assert!(error.to_string().contains("conect"), "{error}");
        let error = Config::parse(
            "[handlers.rpc]\ndefault = \"a\"\nnamspaces = {}",
            dir.path(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("namspaces"), "{error}");
    }

    #[test]
    fn missing_plugin_names_key_and_file() {
        let dir = dir_with(&[]);
        let error = Config::parse("[handlers]\nconnect = \"gone.wasm\"", dir.path()).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("handlers.connect.default"), "{message}");
        assert!(message.contains("gone.wasm"), "{message}");
    }

    #[test]
    fn refinements_must_fit_the_kind() {
        let dir = dir_with(&["a.wasm"]);
        for text in [
            "[handlers.connect]\ndefault = \"a.wasm\"\nnamespaces = { x = \"a.wasm\" }",
            "[handlers.rpc]\ndefault = \"a.wasm\"\nnamespaces = { x = \"a.wasm\" }",
            "[handlers.publish]\ndefault = \"a.wasm\"\nmethods = { x = \"a.wasm\" }",
            "[handlers.rpc]\n",
        ] {
            let error = Config::parse(text, dir.path()).unwrap_err();
            assert!(
                matches!(error, ConfigError::Invalid { .. }),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn bad_values_are_named() {
        let dir = dir_with(&[]);
        for (text, key) in [
            ("listen = \"nowhere\"", "listen"),
            ("[limits]\nmemory = \"16 parsecs\"", "limits.memory"),
            ("[limits]\ntimeout = \"100\"", "limits.timeout"),
            ("[limits]\nconcurrency = 0", "limits.concurrency"),
            ("[plugins]\ndir = \"no/such/dir\"", "plugins.dir"),
            (
                "[settings.\"a.wasm\"]\nkey = { env = \"ROTOR_TEST_UNSET_VARIABLE\" }",
                "settings",
            ),
        ] {
            let error = Config::parse(text, dir.path()).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn kv_and_api_budgets_are_limits_with_defaults() {
        let dir = dir_with(&[]);
        let defaults = Config::parse("", dir.path()).expect("valid config");
        let limits = defaults.first_tenant().limits;
        assert_eq!(
            (limits.kv_bytes, limits.kv_ops, limits.api_calls),
            (DEFAULT_KV_BYTES, DEFAULT_KV_OPS, DEFAULT_API_CALLS)
        );
        let text = "[limits]\nkv_bytes = \"1MiB\"\nkv_ops = 8\napi_calls = 100\n";
        let limits = Config::parse(text, dir.path()).expect("valid config");
        let limits = limits.first_tenant().limits;
        assert_eq!(
            (limits.kv_bytes, limits.kv_ops, limits.api_calls),
            (1 << 20, 8, 100)
        );
        for (text, key) in [
            ("kv_bytes = \"100B\"", "limits.kv_bytes"),
            ("kv_bytes = \"lots\"", "limits.kv_bytes"),
            ("kv_ops = 0", "limits.kv_ops"),
            ("api_calls = 0", "limits.api_calls"),
        ] {
            let error = Config::parse(&format!("[limits]\n{text}"), dir.path())
                .unwrap_err()
                .to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn tenants_inherit_and_override() {
        let dir = dir_with(&[]);
        for (tenant, files) in [("acme", ["auth.wasm"]), ("globex", ["auth.wasm"])] {
            std::fs::create_dir(dir.path().join(tenant)).unwrap();
            for file in files {
                std::fs::write(dir.path().join(tenant).join(file), b"").unwrap();
            }
        }
        let config = Config::parse(
            r#"
            [centrifugo]
            api = "http://127.0.0.1:10000"
            [limits]
            memory = "8MiB"
            concurrency = 10
            [tenancy]
            by = "namespace"
            fallback = "acme"
            [tenants.acme]
            namespaces = ["acme", "shop"]
            grants = ["log", "centrifugo-api"]
            handlers = { connect = "auth.wasm" }
            limits = { concurrency = 2, fuel = 1000000, cpu = 0.25, max_reply = "4KiB" }
            settings = { "auth.wasm" = { secret = "a" } }
            [tenants.globex]
            namespaces = ["globex"]
            handlers = { connect = "auth.wasm" }
            "#,
            dir.path(),
        )
        .expect("valid config");
        let acme = &config.tenants["acme"];
        assert_eq!(acme.limits.memory, 8 << 20);
        assert_eq!(acme.limits.concurrency, 2);
        assert_eq!(acme.limits.fuel, Some(1_000_000));
        assert_eq!(acme.limits.cpu, Some(250));
        assert_eq!(acme.limits.max_reply, 4096);
        assert!(acme.grants.centrifugo_api && !acme.grants.kv);
        assert_eq!(
            acme.api_namespaces.as_deref(),
            Some(&["acme".into(), "shop".into()][..])
        );
        assert_eq!(acme.plugin_dir, dir.path().join("acme"));
        assert_eq!(acme.plugin_key("auth.wasm"), "acme/auth.wasm");
        let globex = &config.tenants["globex"];
        assert_eq!(globex.limits.concurrency, 10);
        assert_eq!(globex.limits.cpu, None);
        assert_eq!(globex.grants, Grants::DEFAULT);
        assert_eq!(config.plugins().len(), 2);
        let pool = config.pool_limits();
        assert_eq!(
            (pool.instances, pool.memory, pool.fuel),
            (12, 8 << 20, true)
        );
        let TenantRule::Namespace { owners } = &config.tenancy.rule else {
            panic!("namespace rule expected");
        };
        assert_eq!(owners["shop"], "acme");
    }

    #[test]
    fn bad_tenants_are_named() {
        let dir = dir_with(&["a.wasm"]);
        std::fs::create_dir(dir.path().join("t")).unwrap();
        for (text, key) in [
            ("[tenants.t]\n", "tenancy.by"),
            ("[tenancy]\nby = \"metadata\"\n", "tenancy.by"),
            (
                "[handlers]\nconnect = \"a.wasm\"\n[tenancy]\nby = \"metadata\"\n[tenants.t]\n",
                "handlers",
            ),
            (
                "[tenancy]\nby = \"metadata\"\n[tenants.t]\nnamespaces = [\"x\"]\n",
                "tenants.t.namespaces",
            ),
            (
                "[tenancy]\nby = \"listener\"\n[tenants.t]\n",
                "tenants.t.listen",
            ),
            (
                "[tenancy]\nby = \"metadata\"\nfallback = \"u\"\n[tenants.t]\n",
                "tenancy.fallback",
            ),
            (
                "[tenancy]\nby = \"metadata\"\n[tenants.t]\ngrants = [\"files\"]\n",
                "tenants.t.grants",
            ),
            (
                "[tenancy]\nby = \"metadata\"\n[tenants.t]\ngrants = [\"centrifugo-api\"]\n",
                "tenants.t.grants",
            ),
            (
                "[tenancy]\nby = \"metadata\"\n[tenants.nodir]\n",
                "tenants.nodir.dir",
            ),
            (
                "[tenancy]\nby = \"metadata\"\n[tenants.t]\nlimits = { fuel = 0 }\n",
                "tenants.t.limits.fuel",
            ),
            (
                "[tenancy]\nby = \"metadata\"\n[tenants.t]\nlimits = { cpu = 0 }\n",
                "tenants.t.limits.cpu",
            ),
            ("[limits]\ncpu = nan\n", "limits.cpu"),
            (
                "[tenancy]\nby = \"metadata\"\n[tenants.t]\nhandlers = { connect = \"a.wasm\" }\n",
                "tenants.t.handlers.connect",
            ),
            (
                "[tenancy]\nby = \"metadata\"\n[tenants.canary]\ndir = \"t\"\n",
                "tenants.canary",
            ),
            (
                "[tenancy]\nby = \"namespace\"\n[tenants.t]\nnamespaces = [\"x\"]\n[tenants.u]\ndir = \"t\"\nnamespaces = [\"x\"]\n",
                "tenants.u.namespaces",
            ),
        ] {
            let error = Config::parse(text, dir.path()).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn naming_and_refresh_failures() {
        let dir = dir_with(&["a.wasm"]);
        std::fs::create_dir(dir.path().join("t")).unwrap();
        std::fs::create_dir(dir.path().join("u")).unwrap();
        let config = Config::parse(
            r#"
            on_refresh_failure = "expire"
            [naming]
            private_prefix = "private-"
            namespace_boundary = "."
            [tenancy]
            by = "namespace"
            [tenants.t]
            namespaces = ["chat"]
            [tenants.u]
            namespaces = ["shop"]
            on_refresh_failure = "extend"
            "#,
            dir.path(),
        )
        .expect("valid config");
        let naming = &config.tenancy.naming;
        assert_eq!(naming.private_prefix, "private-");
        assert_eq!(naming.namespace_boundary, ".");
        assert_eq!(naming.rpc_namespace_boundary, ":");
        assert_eq!(
            config.tenants["t"].on_refresh_failure,
            RefreshFailure::Expire
        );
        assert_eq!(
            config.tenants["u"].on_refresh_failure,
            RefreshFailure::Extend
        );

        let single = Config::parse("[handlers]\nrpc = \"a.wasm\"\n", dir.path()).unwrap();
        assert_eq!(single.tenancy.naming, Naming::default());
        assert_eq!(
            single.tenants[DEFAULT_TENANT].on_refresh_failure,
            RefreshFailure::Extend
        );

        // Names no channel can have: Centrifugo strips `$` first, and a
        // namespace never contains the boundary.
        for (text, key) in [
            (
                "[tenancy]\nby = \"namespace\"\n[tenants.t]\nnamespaces = [\"$chat\"]\n",
                "tenants.t.namespaces",
            ),
            (
                "[handlers.publish]\nnamespaces = { \"$chat\" = \"a.wasm\" }\n",
                "handlers.publish",
            ),
            (
                "[handlers.subscribe]\nnamespaces = { \"a:b\" = \"a.wasm\" }\n",
                "handlers.subscribe",
            ),
            (
                "[centrifugo]\napi = \"http://127.0.0.1:1\"\nnamespaces = [\"$chat\"]\n",
                "centrifugo.namespaces",
            ),
            ("on_refresh_failure = \"retry\"\n", "on_refresh_failure"),
        ] {
            let error = Config::parse(text, dir.path()).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn a_proxy_beyond_loopback_without_auth_is_reported() {
        let dir = dir_with(&["secret"]);
        std::fs::write(dir.path().join("secret"), "s3cret").unwrap();
        let exposed = |text: &str| {
            Config::parse(text, dir.path())
                .expect("a valid config")
                .unauthenticated_listeners()
        };
        assert!(exposed("listen = \"127.0.0.1:10001\"").is_empty());
        assert!(exposed("listen = \"[::1]:10001\"").is_empty());
        assert_eq!(
            exposed("listen = \"0.0.0.0:10001\""),
            ["0.0.0.0:10001".parse().unwrap()]
        );
        assert_eq!(
            exposed("listen = \"[::]:10001\""),
            ["[::]:10001".parse().unwrap()]
        );
        assert!(
            exposed(
                "listen = \"0.0.0.0:10001\"\n[auth]\nkey = \"x-proxy-secret\"\nvalue_file = \"secret\"\n"
            )
            .is_empty()
        );
    }

    #[test]
    fn an_empty_admin_token_refuses_to_start() {
        let dir = dir_with(&["empty-token", "token"]);
        std::fs::write(dir.path().join("empty-token"), "\n").unwrap();
        std::fs::write(dir.path().join("token"), "s3cret\n").unwrap();
        let error = Config::parse(
            "[admin]\nlisten = \"127.0.0.1:9901\"\ntoken_file = \"empty-token\"\n",
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("admin.token_file") && error.contains("empty"),
            "{error}"
        );
        let config = Config::parse(
            "[admin]\nlisten = \"0.0.0.0:9901\"\ntoken_file = \"token\"\nhosts = [\"Rotor.Internal\"]\n",
            dir.path(),
        )
        .expect("a token from a file");
        let admin = config.admin.expect("[admin]");
        assert_eq!(admin.token.as_deref(), Some("s3cret"));
        assert_eq!(admin.hosts, ["rotor.internal"]);
        for (text, key) in [
            (
                "[admin]\nlisten = \"127.0.0.1:9901\"\ntoken_env = \"A\"\ntoken_file = \"token\"\n",
                "admin.token_env",
            ),
            (
                "[admin]\nlisten = \"127.0.0.1:9901\"\nhosts = [\"rotor:9901\"]\n",
                "admin.hosts",
            ),
        ] {
            let error = Config::parse(text, dir.path()).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    /// Finding 13 of the hardening review: the default tenant's
    /// `shop/x.wasm` and tenant `shop`'s `x.wasm` had one key, so one
    /// plugin served both.
    #[test]
    fn plugin_keys_never_collide() {
        assert_eq!(plugin_key(DEFAULT_TENANT, "x.wasm"), "x.wasm");
        assert_eq!(plugin_key("shop", "x.wasm"), "shop/x.wasm");
        assert_eq!(
            plugin_key(DEFAULT_TENANT, "shop/x.wasm"),
            "default/shop/x.wasm"
        );
        assert_ne!(
            plugin_key(DEFAULT_TENANT, "shop/x.wasm"),
            plugin_key("shop", "x.wasm")
        );
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert!(parse_size("MiB").is_err());
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("2h").is_err());
    }
}
