//! Rotor answers Centrifugo's gRPC proxy calls — connect, refresh,
//! subscribe, publish, RPC, sub-refresh, the channel calls and subscription
//! streams — with sandboxed WebAssembly components, one per request type.
//!
//! # The crate map
//!
//! One crate in layers; each layer imports only the layers below it
//! (`scripts/check-layers` fails CI on an import cycle):
//!
//! | layer | what it holds |
//! |---|---|
//! | `app` | [`Rotor`]: builds the engine, services, registry and reloader; the operator's facade and its admin endpoint |
//! | `transport` | the gRPC [`ProxyService`], binding and serving its listeners (limits, TLS, authentication) |
//! | `call` | the answer path of one call: span, metrics, protobuf → WIT → pipeline → protobuf |
//! | `streams` | subscription streams: one instance per stream for its life, its callbacks, limits and end |
//! | `lifecycle` | reloads of config and plugins, each checked by canary calls |
//! | `pipeline` | one call: the interceptor chain around the handler |
//! | `routing` | the [`PluginRegistry`]: which plugin answers, tenancy, channel scopes |
//! | `imports` | the host capabilities guests call (`log`, `config`, `kv`, `centrifugo-api`), and the engine that links them |
//! | `runtime` | the wasmtime [`Engine`] (it knows no host API), the per-call store and its limits, plugins, warm pools, CPU shares |
//! | `backends` | the key-value stores, the client of Centrifugo's server API, and the OCI registry client plugins are pulled with |
//! | `config` | the config file: raw schema, validation, units, secrets; the validated types |
//! | `telemetry`, `error` | metrics, trace context and the OTLP export of call spans; typed errors and the one place a failure becomes a reply |
//! | `contract`, `policy`, `digest` | leaves: WIT, protobuf, request kinds and the conversion between them; reserved names, grants and fixed limits; the SHA-256 that names plugin bytes |
//!
//! # The path of one call
//!
//! `transport::grpc` takes the protobuf message and the deadline →
//! `call::Responder` opens the call's span and converts it into WIT records
//! (`contract::convert`) → `pipeline` asks `routing` for the tenant
//! and the route, then runs each interceptor and the handler in a store of
//! their own (`runtime::store`: memory, CPU and import budgets), fresh or
//! taken from a warm pool → the reply goes back through `contract::convert`
//! as protobuf. A guest that fails becomes a defined reply (`error`).

mod app;
mod backends;
mod call;
pub mod config;
mod contract;
mod digest;
mod error;
/// Fuzz harnesses, for `cargo fuzz` (built with `--cfg fuzzing`) and the
/// bounded fuzz runs of the unit tests.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzz;
mod imports;
mod lifecycle;
mod pipeline;
mod policy;
mod routing;
mod runtime;
pub mod scaffold;
mod streams;
mod telemetry;
mod transport;

pub use app::admin;
pub use app::{Rotor, ServeError};
pub use backends::{kv, oci};
pub use call::Responder;
pub use config::{Config, ConfigError, Limits, TenantConfig};
pub use contract::convert::{BadRequest, ProxyCall};
pub use contract::kind::RequestKind;
pub use contract::proto;
pub use error::{CallError, GuestFault, PluginError};
pub use lifecycle::reload::{PluginWatcher, ReloadError};
pub use routing::registry::{PluginRegistry, RegistryError, Routes, TenantSummary};
pub use runtime::engine::Engine;
pub use runtime::plugin::Plugin;
pub use telemetry::otlp::{OtlpError, OtlpExport};
pub use telemetry::{CALL_TARGET, STEP_TARGET};
pub use transport::grpc::ProxyService;
pub use transport::serve::Listeners;
pub use transport::tls::TlsError;
// Named by the serde attributes build.rs puts on the generated protobuf code.
use contract::json_bytes;
