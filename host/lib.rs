//! Rotor answers Centrifugo's gRPC proxy calls — connect, refresh,
//! subscribe, publish, RPC, sub-refresh — with sandboxed WebAssembly
//! components, one per request type.
//!
//! The flow of one call: [`proxy`](ProxyService) decodes protobuf into the
//! WIT records of `wit/`, the [`PluginRegistry`] picks the component, a fresh
//! instance answers in a sandbox with memory and CPU limits, and the reply
//! goes back as protobuf. A guest that fails becomes a defined reply.

pub mod admin;
mod admission;
mod api;
mod canary;
mod channel_calls;
mod channel_state;
pub mod config;
mod convert;
mod cpu;
mod engine;
mod error;
/// Fuzz harnesses, for `cargo fuzz` (built with `--cfg fuzzing`) and the
/// bounded fuzz runs of the unit tests.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzz;
mod guest_log;
mod imports;
mod json_bytes;
mod kind;
pub mod kv;
pub mod oci;
mod pipeline;
mod plugin;
pub mod proto;
mod proxy;
mod registry;
mod reload;
mod request_parts;
mod sandbox;
pub mod scaffold;
mod scope;
mod series;
mod server;
mod telemetry;
mod tenant;
mod tls;
mod transport;
mod warm;
mod wit;

pub use config::{Config, ConfigError, Limits, TenantConfig};
pub use convert::{BadRequest, ProxyCall};
pub use engine::Engine;
pub use error::{CallError, GuestFault, PluginError};
pub use kind::RequestKind;
pub use plugin::Plugin;
pub use proxy::ProxyService;
pub use registry::{PluginRegistry, RegistryError, Routes, TenantSummary};
pub use reload::{PluginWatcher, ReloadError};
pub use server::{Listeners, Rotor, ServeError};
pub use tls::TlsError;
