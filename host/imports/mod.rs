//! Host imports offered to guests: WASI (with nothing granted but clocks and
//! randomness), `log`, `config` (the plugin's settings), `kv`,
//! `centrifugo-api` and `stream`, one file each; and Rotor's engine, the runtime's engine
//! with all of them linked.

mod centrifugo_api;
pub(crate) mod kv;
mod log;
mod settings;
mod stream;

use wasmtime::component::{HasSelf, Linker};

use crate::config::{CompileCache, Limits, PoolLimits};
use crate::contract::wit;
use crate::error::PluginError;
use crate::runtime::engine::Engine;
use crate::runtime::store::CallState;

/// Adds every host import to `linker`.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    wit::types::add_to_linker::<_, HasSelf<CallState>>(linker, |state| state)?;
    wit::log::add_to_linker::<_, HasSelf<CallState>>(linker, |state| state)?;
    wit::config::add_to_linker::<_, HasSelf<CallState>>(linker, |state| state)?;
    wit::kv::add_to_linker::<_, HasSelf<CallState>>(linker, |state| state)?;
    wit::centrifugo_api::add_to_linker::<_, HasSelf<CallState>>(linker, |state| state)?;
    wit::stream::add_to_linker::<_, HasSelf<CallState>>(linker, |state| state)?;
    Ok(())
}

impl wit::types::Host for CallState {}

/// Rotor's engines: every host import linked.
impl Engine {
    /// Builds an engine whose pool fits `limits` with up to
    /// `instances_per_call` instances alive per call (the handler and the
    /// interceptors around it).
    /// It compiles every component anew.
    pub fn new(limits: &Limits, instances_per_call: usize) -> Result<Engine, PluginError> {
        Engine::with_pool(
            &PoolLimits::for_limits(limits, instances_per_call),
            &CompileCache::Off,
        )
    }

    /// Builds an engine whose instance pool holds `limits.instances`
    /// instances of at most `limits.memory` each, metering fuel if asked,
    /// and keeping compiled components in `cache`.
    pub fn with_pool(limits: &PoolLimits, cache: &CompileCache) -> Result<Engine, PluginError> {
        Engine::with_linker(limits, cache, add_to_linker)
    }
}
