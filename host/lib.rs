//! Rotor answers Centrifugo's gRPC proxy calls — connect, refresh,
//! subscribe, publish, RPC, sub-refresh — with sandboxed WebAssembly
//! components, one per request type.
//!
//! # The crate map
//!
//! One crate in layers; each layer imports only the layers below it
//! (`scripts/check-layers` fails CI on an import cycle):
//!
//! | layer | what it holds |
//! |---|---|
//! | `app` | [`Rotor`]: builds the engine, services, registry and reloader; the operator's facade and its admin endpoint |
//! | `transport` | the gRPC [`ProxyService`] and its listeners (limits, TLS, authentication) |
//! | `lifecycle` | reloads of config and plugins, each checked by canary calls |
//! | `pipeline` | one call: the interceptor chain around the handler |
//! | `routing` | the [`PluginRegistry`]: which plugin answers, tenancy, channel scopes |
//! | `imports` | the host capabilities guests call: `log`, `config`, `kv`, `centrifugo-api` |
//! | `runtime` | the wasmtime [`Engine`], the per-call store and its limits, plugins, warm pools, CPU shares |
//! | `backends` | the key-value stores and the client of Centrifugo's server API |
//! | `telemetry` | metrics and trace context |
//! | `config`, `contract`, `error` | the validated config; WIT, protobuf and the conversion between them; typed errors |
//!
//! # The path of one call
//!
//! `transport::grpc` takes the protobuf message and the deadline →
//! `Rotor::answer_on` (`app`) opens the call's span and converts it into WIT
//! records (`contract::convert`) → `pipeline` asks `routing` for the tenant
//! and the route, then runs each interceptor and the handler in a store of
//! their own (`runtime::store`: memory, CPU and import budgets), fresh or
//! taken from a warm pool → the reply goes back through `contract::convert`
//! as protobuf. A guest that fails becomes a defined reply (`error`).

mod app;
mod backends;
pub mod config;
mod contract;
mod error;
mod imports;
mod lifecycle;
mod pipeline;
mod routing;
mod runtime;
pub mod scaffold;
mod telemetry;
mod transport;

pub use app::admin;
pub use app::{Listeners, Rotor, ServeError};
pub use backends::kv;
pub use config::{Config, ConfigError, Limits, TenantConfig};
pub use contract::convert::{BadRequest, ProxyCall};
pub use contract::kind::RequestKind;
pub use contract::proto;
pub use error::{CallError, GuestFault, PluginError};
pub use lifecycle::reload::{PluginWatcher, ReloadError};
pub use routing::registry::{PluginRegistry, RegistryError, Routes, TenantSummary};
pub use runtime::engine::Engine;
pub use runtime::plugin::Plugin;
pub use transport::grpc::ProxyService;
pub use transport::tls::TlsError;
// Named by the serde attributes build.rs puts on the generated protobuf code.
use contract::json_bytes;
