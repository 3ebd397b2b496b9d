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

pub use crate::api::ApiConfig;
use crate::kind::{Refinement, RequestKind};

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

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address the proxy service listens on.
    pub listen: SocketAddr,
    /// The directory that plugin file names are relative to.
    pub plugin_dir: PathBuf,
    /// Whether to watch `plugin_dir` and reload changed plugins.
    pub watch: bool,
    /// Which component answers each request kind.
    pub handlers: BTreeMap<RequestKind, HandlerRoutes>,
    /// Interceptor chains: `all` run first for every kind, then the kind's own.
    pub interceptors: Interceptors,
    /// Limits applied to every call.
    pub limits: Limits,
    /// Per-plugin settings, read by guests through the `config` import.
    pub settings: BTreeMap<String, BTreeMap<String, String>>,
    /// Centrifugo's server API for the `centrifugo-api` import, if configured.
    pub centrifugo: Option<ApiConfig>,
    /// The store behind the `kv` import.
    pub kv: KvConfig,
    /// Sample requests (Centrifugo proxy JSON) a reloaded handler must answer
    /// without fault before it goes live.
    pub canary: BTreeMap<RequestKind, String>,
    /// The admin listener, if configured.
    pub admin: Option<AdminConfig>,
    /// The file this configuration was read from, for reloads.
    pub source: Option<PathBuf>,
}

/// The admin listener: probes and operator endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The bearer token operator endpoints require (mandatory off loopback).
    pub token: Option<String>,
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: DEFAULT_MEMORY,
            timeout: DEFAULT_TIMEOUT,
            concurrency: DEFAULT_CONCURRENCY,
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

    /// Every distinct plugin the configuration refers to.
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: String,
    token_env: Option<String>,
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
    pub fn store(&self) -> Result<crate::kv::KvStore, crate::kv::KvError> {
        Ok(match self {
            KvConfig::Memory => crate::kv::KvStore::memory(),
            KvConfig::Redis { url, prefix } => {
                crate::kv::KvStore::Redis(crate::kv::RedisStore::new(url, prefix)?)
            }
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory: Option<String>,
    timeout: Option<String>,
    concurrency: Option<u32>,
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
        let listen_text = self.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen = listen_text.parse().map_err(|_| ConfigError::Invalid {
            key: "listen".into(),
            message: format!("`{listen_text}` is not a socket address like 127.0.0.1:10001"),
        })?;
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

        let mut handlers = BTreeMap::new();
        for (kind, raw) in self.handlers {
            handlers.insert(kind, validate_routes(kind, raw, &plugin_dir)?);
        }

        let mut interceptors = Interceptors::default();
        for (chain, entries) in self.interceptors {
            let key = format!("interceptors.\"{chain}\"");
            let mut steps = Vec::with_capacity(entries.len());
            for (index, entry) in entries.into_iter().enumerate() {
                steps.push(entry.validate(&format!("{key}[{index}]"), &plugin_dir, base)?);
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

        let limits = self.limits.validate()?;
        let admin = self.admin.map(|raw| raw.validate(base)).transpose()?;
        for (kind, json) in &self.canary {
            crate::convert::request_from_json(*kind, json).map_err(|message| {
                ConfigError::Invalid {
                    key: format!("canary.{kind}"),
                    message,
                }
            })?;
        }
        let centrifugo = self.centrifugo.map(|raw| raw.validate(base)).transpose()?;

        let mut settings = BTreeMap::new();
        for (plugin, values) in self.settings {
            let mut resolved = BTreeMap::new();
            for (key, value) in values {
                let dotted = format!("settings.\"{plugin}\".{key}");
                resolved.insert(key, value.resolve(&dotted, base)?);
            }
            settings.insert(plugin, resolved);
        }

        Ok(Config {
            listen,
            plugin_dir,
            watch: self.plugins.watch,
            handlers,
            interceptors,
            limits,
            settings,
            centrifugo,
            kv: self.kv,
            canary: self.canary,
            admin,
            source: None,
        })
    }
}

fn validate_routes(
    kind: RequestKind,
    raw: RawRoutes,
    plugin_dir: &Path,
) -> Result<HandlerRoutes, ConfigError> {
    let key = format!("handlers.{kind}");
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
        let token = self
            .token_env
            .map(|env| RawSetting::Env { env }.resolve("admin.token_env", base))
            .transpose()?;
        if token.is_none() && !listen.ip().is_loopback() {
            return Err(invalid(
                "admin.token_env",
                "an admin listener off loopback needs a token",
            ));
        }
        Ok(AdminConfig { listen, token })
    }
}

impl RawCentrifugo {
    fn validate(self, base: &Path) -> Result<ApiConfig, ConfigError> {
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
    fn validate(self) -> Result<Limits, ConfigError> {
        let defaults = Limits::default();
        let memory = match self.memory {
            Some(text) => parse_size(&text).map_err(|message| ConfigError::Invalid {
                key: "limits.memory".into(),
                message,
            })?,
            None => defaults.memory,
        };
        let timeout = match self.timeout {
            Some(text) => parse_duration(&text).map_err(|message| ConfigError::Invalid {
                key: "limits.timeout".into(),
                message,
            })?,
            None => defaults.timeout,
        };
        let concurrency = self.concurrency.unwrap_or(defaults.concurrency);
        if memory < 1 << 20 {
            return Err(invalid("limits.memory", "must be at least 1MiB"));
        }
        if timeout.is_zero() {
            return Err(invalid("limits.timeout", "must be greater than zero"));
        }
        if concurrency == 0 {
            return Err(invalid("limits.concurrency", "must be at least 1"));
        }
        Ok(Limits {
            memory,
            timeout,
            concurrency,
        })
    }
}

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
        assert_eq!(config.limits.memory, 16 << 20);
        assert_eq!(config.limits.timeout, Duration::from_millis(100));
        assert_eq!(config.limits.concurrency, 8);
        let rpc = &config.handlers[&RequestKind::Rpc];
        assert_eq!(rpc.refined["booking:"].name, "booking.wasm");
        assert_eq!(config.settings["auth.wasm"]["secret"], "s3cret");
        assert_eq!(config.plugins().len(), 4);
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
        let chain: Vec<_> = config
            .interceptors
            .chain(RequestKind::Publish)
            .map(|i| i.plugin.name.as_str())
            .collect();
        assert_eq!(chain, ["t.wasm", "rl.wasm", "t.wasm"]);
        assert_eq!(config.interceptors.chain(RequestKind::Connect).count(), 1);
        assert_eq!(config.interceptors.longest(), 3);
        let rate_limit = &config.interceptors.by_kind[&RequestKind::Publish][0];
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
