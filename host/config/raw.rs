//! The config file as written: serde types whose fields are the TOML keys,
//! unknown keys refused. `validate` turns them into the types of `config`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::config::KvConfig;
use crate::contract::kind::RequestKind;
use crate::error::RefreshFailure;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) listen: Option<String>,
    #[serde(default)]
    pub(super) plugins: RawPlugins,
    #[serde(default)]
    pub(super) handlers: BTreeMap<RequestKind, RawRoutes>,
    #[serde(default)]
    pub(super) interceptors: BTreeMap<String, Vec<RawInterceptor>>,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) settings: BTreeMap<String, BTreeMap<String, RawSetting>>,
    pub(super) centrifugo: Option<RawCentrifugo>,
    #[serde(default)]
    pub(super) kv: KvConfig,
    #[serde(default)]
    pub(super) canary: BTreeMap<RequestKind, String>,
    pub(super) admin: Option<RawAdmin>,
    pub(super) auth: Option<RawAuth>,
    pub(super) tls: Option<RawTls>,
    #[serde(default)]
    pub(super) transport: RawTransport,
    pub(super) tenancy: Option<RawTenancy>,
    #[serde(default)]
    pub(super) tenants: BTreeMap<String, RawTenant>,
    #[serde(default)]
    pub(super) isolation: BTreeMap<String, RawIsolation>,
    pub(super) on_refresh_failure: Option<RefreshFailure>,
    pub(super) naming: Option<RawNaming>,
    #[serde(default)]
    pub(super) pool: RawPool,
    pub(super) oci: Option<RawOci>,
    #[serde(default)]
    pub(super) telemetry: RawTelemetry,
}

/// `[telemetry]`: OTLP export of call spans.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTelemetry {
    /// The collector's OTLP/gRPC endpoint, `http://host:port`.
    pub(super) otlp: Option<String>,
    pub(super) service_name: Option<String>,
    pub(super) sample_ratio: Option<f64>,
}

/// `[oci]`: how plugins named `oci://…` are pulled.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOci {
    pub(super) username: Option<String>,
    pub(super) password_env: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) insecure: Vec<String>,
    pub(super) poll: Option<String>,
}

/// `[pool]`: the least the instance pool is sized for, whatever the
/// tenants of the file need now.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    /// Component instances alive at once.
    pub(super) instances: Option<u32>,
    /// The largest linear memory of one instance.
    pub(super) memory: Option<String>,
    /// Whether the engine meters fuel, so tenants with `fuel` may be added.
    pub(super) fuel: Option<bool>,
    /// Linear memory each pool slot keeps mapped between instances.
    pub(super) keep_resident: Option<String>,
}

/// `[naming]`: Centrifugo's settings that say how namespaces are read out
/// of channel names and RPC methods; they must match Centrifugo's config.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNaming {
    pub(super) private_prefix: Option<String>,
    pub(super) namespace_boundary: Option<String>,
    pub(super) rpc_namespace_boundary: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIsolation {
    pub(super) mode: RawMode,
    pub(super) max_calls: Option<u32>,
    pub(super) max_age: Option<String>,
    pub(super) max_idle: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawMode {
    Fresh,
    Reuse,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTenancy {
    pub(super) by: RawTenantRule,
    pub(super) key: Option<String>,
    pub(super) fallback: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawTenantRule {
    Metadata,
    Namespace,
    Listener,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTenant {
    pub(super) dir: Option<PathBuf>,
    pub(super) listen: Option<String>,
    #[serde(default)]
    pub(super) namespaces: Vec<String>,
    pub(super) grants: Option<Vec<String>>,
    pub(super) api_namespaces: Option<Vec<String>>,
    #[serde(default)]
    pub(super) handlers: BTreeMap<RequestKind, RawRoutes>,
    #[serde(default)]
    pub(super) interceptors: BTreeMap<String, Vec<RawInterceptor>>,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) settings: BTreeMap<String, BTreeMap<String, RawSetting>>,
    #[serde(default)]
    pub(super) isolation: BTreeMap<String, RawIsolation>,
    pub(super) on_refresh_failure: Option<RefreshFailure>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    pub(super) key: String,
    pub(super) value_env: Option<String>,
    pub(super) value_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) cert: PathBuf,
    pub(super) key: PathBuf,
    pub(super) client_ca: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTransport {
    pub(super) max_streams: Option<u32>,
    pub(super) max_header_bytes: Option<String>,
    pub(super) request_timeout: Option<String>,
    pub(super) max_connections: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    pub(super) listen: String,
    pub(super) token_env: Option<String>,
    pub(super) token_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) hosts: Vec<String>,
}

/// Centrifugo's server API. The key is never written in the config: it
/// comes from an environment variable or a file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCentrifugo {
    pub(super) api: String,
    pub(super) api_key_env: Option<String>,
    pub(super) api_key_file: Option<PathBuf>,
    pub(super) timeout: Option<String>,
    pub(super) namespaces: Option<Vec<String>>,
}

/// An interceptor entry: a file name, or a table with options.
pub(super) type RawInterceptor = FileOrTable<RawInterceptorTable>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInterceptorTable {
    pub(super) plugin: String,
    #[serde(default)]
    pub(super) fail_open: bool,
    #[serde(default)]
    pub(super) settings: BTreeMap<String, RawSetting>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlugins {
    pub(super) dir: Option<PathBuf>,
    #[serde(default)]
    pub(super) watch: bool,
    pub(super) cache: Option<RawCache>,
}

/// `cache = "dir"` or `cache = false`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawCache {
    Enabled(bool),
    Dir(PathBuf),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) memory: Option<String>,
    pub(super) timeout: Option<String>,
    pub(super) concurrency: Option<u32>,
    pub(super) fuel: Option<u64>,
    pub(super) cpu: Option<f64>,
    pub(super) max_request: Option<String>,
    pub(super) max_reply: Option<String>,
    pub(super) kv_bytes: Option<String>,
    pub(super) kv_ops: Option<u32>,
    pub(super) api_calls: Option<u32>,
    pub(super) log_rate: Option<u32>,
    pub(super) streams: Option<u32>,
    pub(super) stream_idle: Option<String>,
}

/// A plugin file name, or a table that names the plugin and its options.
#[derive(Debug)]
pub(super) enum FileOrTable<T> {
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
pub(super) type RawRoutes = FileOrTable<RawRoutesTable>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoutesTable {
    pub(super) default: Option<String>,
    #[serde(default)]
    pub(super) namespaces: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) methods: BTreeMap<String, String>,
}

/// A setting: a literal, or a secret read from the environment or a file so
/// it need not be written in the config in clear.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawSetting {
    Literal(String),
    Env { env: String },
    File { file: PathBuf },
}
