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

mod defaults;
pub mod oci;
mod pool;
mod raw;
mod redact;
mod secrets;
mod telemetry;
mod units;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use self::defaults::*;
use self::oci::{OciRef, OciSettings};
pub use self::pool::PoolLimits;
use self::raw::RawConfig;
pub use self::redact::{REDACTED, RedactedValues, redact_url};
pub use self::telemetry::{OtlpConfig, TelemetryConfig};
pub use self::units::{MAX_TIMEOUT, parse_duration};
use crate::contract::kind::{Naming, RequestKind};
use crate::error::RefreshFailure;
use crate::policy::{DEFAULT_TENANT, Grants, ReusePolicy};

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
    /// What `[pool]` sizes the instance pool for at least: room for the
    /// tenants and limits a config reload may add, since the pool is sized
    /// once, at start.
    pub pool: PoolLimits,
    /// How plugins named `oci://…` are pulled.
    pub oci: OciSettings,
    /// Where call spans are exported, if anywhere (applied at start only).
    pub telemetry: TelemetryConfig,
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

/// One tenant: its routes, limits, settings and capabilities. Its `Debug`
/// shows the names of settings, never their values (secrets among them).
#[derive(Clone, PartialEq, Eq)]
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

    /// Instances its calls may hold alive at once: `concurrency` calls of
    /// a handler and the longest interceptor chain each, every warm pool
    /// full, and, when it routes subscription streams, `streams` open
    /// streams (each holds one instance for its life). The instance pool
    /// holds this many for the tenant, and the tenant may never have more
    /// (its share carries over reloads, like its limits), so no tenant can
    /// take the slots another was sized for.
    pub fn instance_share(&self) -> u32 {
        let streams = if self.handlers.contains_key(&RequestKind::SubscribeStream) {
            self.limits.streams
        } else {
            0
        };
        let per_call = u32::try_from(1 + self.interceptors.longest()).unwrap_or(u32::MAX);
        let idle = self
            .reuse
            .values()
            .fold(0u32, |sum, policy| sum.saturating_add(policy.max_idle));
        self.limits
            .concurrency
            .saturating_mul(per_call)
            .saturating_add(idle)
            .saturating_add(streams)
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

/// The admin listener: probes and operator endpoints. Its `Debug` hides the
/// token.
#[derive(Clone, PartialEq, Eq)]
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
    /// The file, resolved against the plugin directory; for a plugin from a
    /// registry, its component in the OCI store once resolved (see
    /// [`Config::resolve_oci`]).
    pub path: PathBuf,
    /// The registry reference, for a name that starts with `oci://`.
    pub oci: Option<OciRef>,
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

    /// The length of the longest chain (streams run none).
    pub fn longest(&self) -> usize {
        RequestKind::ALL
            .iter()
            .filter(|kind| !kind.is_stream())
            .map(|kind| self.chain(*kind).count())
            .max()
            .unwrap_or(0)
    }
}

/// One interceptor in a chain. Its `Debug` hides the values of its settings.
#[derive(Clone, PartialEq, Eq)]
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
    /// Log lines a second the tenant's guests may write together; more are
    /// dropped (and counted in a warning).
    pub log_rate: u32,
    /// Subscription streams the tenant may have open at once; one more is
    /// refused with error 111, so its client retries.
    pub streams: u32,
    /// How long a stream may go without a publication, client data or
    /// timer before Rotor ends it.
    pub stream_idle: Duration,
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
            log_rate: DEFAULT_LOG_RATE,
            streams: DEFAULT_STREAMS,
            stream_idle: DEFAULT_STREAM_IDLE,
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

    /// Every distinct registry reference among the plugins.
    pub fn oci_refs(&self) -> Vec<OciRef> {
        let mut refs: Vec<OciRef> = self
            .plugins()
            .into_iter()
            .filter_map(|(_, plugin)| plugin.oci.clone())
            .collect();
        refs.sort();
        refs.dedup();
        refs
    }

    /// Points every plugin named by a reference in `resolved` at its
    /// component in the OCI store.
    pub fn resolve_oci(&mut self, resolved: &BTreeMap<OciRef, PathBuf>) {
        for tenant in self.tenants.values_mut() {
            let handlers = tenant
                .handlers
                .values_mut()
                .flat_map(|routes| routes.default.iter_mut().chain(routes.refined.values_mut()));
            let interceptors = tenant
                .interceptors
                .all
                .iter_mut()
                .chain(tenant.interceptors.by_kind.values_mut().flatten())
                .map(|interceptor| &mut interceptor.plugin);
            for plugin in handlers.chain(interceptors) {
                if let Some(path) = plugin.oci.as_ref().and_then(|oci| resolved.get(oci)) {
                    plugin.path.clone_from(path);
                }
            }
        }
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

    /// What the instance pool is sized for at start: what the tenants need
    /// ([`Config::pool_needs`]), or what `[pool]` asks for where that is more.
    pub fn pool_limits(&self) -> PoolLimits {
        let needs = self.pool_needs();
        PoolLimits {
            instances: needs.instances.max(self.pool.instances),
            memory: needs.memory.max(self.pool.memory),
            fuel: needs.fuel || self.pool.fuel,
            keep_resident: self.pool.keep_resident,
        }
    }

    /// The largest of every tenant's limits, and their summed concurrency:
    /// what the instance pool must hold for these tenants.
    pub fn pool_needs(&self) -> PoolLimits {
        let mut pool = PoolLimits {
            instances: CANARY_INSTANCES,
            memory: 0,
            fuel: false,
            keep_resident: DEFAULT_KEEP_RESIDENT,
        };
        for tenant in self.tenants.values() {
            pool.instances = pool.instances.saturating_add(tenant.instance_share());
            pool.memory = pool.memory.max(tenant.limits.memory);
            pool.fuel |= tenant.limits.fuel.is_some();
        }
        pool
    }
}

/// How to reach Centrifugo's server API. Its `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// The API's address, e.g. `http://127.0.0.1:10000`.
    pub address: String,
    /// The API key, sent as `authorization: apikey <key>`.
    pub key: Option<String>,
    /// The longest one API call may take (the proxy call's deadline may cut it shorter).
    pub timeout: Duration,
    /// Channel namespaces plugins may touch; `None` allows all. `""` stands
    /// for channels without a namespace.
    pub namespaces: Option<Vec<String>>,
}

/// How a call is mapped to its tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantRule {
    /// One tenant answers every call.
    Single,
    /// The value of a metadata key names the tenant.
    Metadata {
        /// The key, lower-case.
        key: String,
    },
    /// The namespace of the channel (subscribe, publish, sub-refresh) or of
    /// the RPC method picks the tenant that claims it.
    Namespace {
        /// Namespace → tenant.
        owners: BTreeMap<String, String>,
    },
    /// The listener the call arrived on picks the tenant.
    Listener,
}

/// The mapping of calls to tenants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenancy {
    /// The rule.
    pub rule: TenantRule,
    /// The tenant of calls that carry no tenant key: no metadata, no
    /// namespace claimed by a tenant, or the main listener.
    pub fallback: Option<String>,
    /// How namespaces are read out of channels and methods, as Centrifugo
    /// reads them.
    pub naming: Naming,
}

impl Tenancy {
    /// One tenant for every call.
    pub fn single() -> Tenancy {
        Tenancy {
            rule: TenantRule::Single,
            fallback: Some(DEFAULT_TENANT.to_owned()),
            naming: Naming::default(),
        }
    }
}

/// The store behind the `kv` import. Its `Debug` hides a password in the
/// Redis URL.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
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

fn invalid(key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests;
