//! Host imports offered to guests: WASI (with nothing granted but clocks and
//! randomness), `log`, `config`, `kv` and `centrifugo-api`.

mod centrifugo_api;
mod kv;
mod log;
mod settings;

use wasmtime::component::{HasSelf, Linker};

use crate::contract::wit;
use crate::runtime::store::CallState;

/// Adds every host import to `linker`.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    wit::types::add_to_linker::<_, HasSelf<CallState>>(linker, |state| state)?;
    wit::log::add_to_linker::<_, HasSelf<CallState>>(linker, |state| state)?;
    wit::config::add_to_linker::<_, HasSelf<CallState>>(linker, |state| state)?;
    wit::kv::add_to_linker::<_, HasSelf<CallState>>(linker, |state| state)?;
    wit::centrifugo_api::add_to_linker::<_, HasSelf<CallState>>(linker, |state| state)?;
    Ok(())
}

impl wit::types::Host for CallState {}
