//! The baseline of Rotor's host path: the RPC handler of a component called
//! by a bare wasmtime embedding, with nothing around the call. `Rotor::answer`
//! minus this call, for the same component and request in the same run, is
//! what Rotor's host path costs (`micro.rs` times both, `instructions.rs`
//! counts both).
//!
//! The embedding is what a careful engineer would write for this one call:
//! engine, linker and `InstancePre` built once, the export's indices found
//! once, the request built once as the WIT record (the typed call takes it
//! by reference, so nothing is converted per call). Fresh: a new store,
//! instantiation, the export looked up, one call, the store dropped. Reuse:
//! one instance, its export looked up once, one call each time (the typed
//! call runs the guest's post-return, as the bindings do). Every reply is
//! checked, so a broken baseline fails instead of looking fast.

use std::path::Path;

use rotor::Config;
use rotor::config::{CompileCache, PoolLimits};
use rotor::proto::proxy as pb;
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use self::wit::exports::rotor::centrifugo::rpc_handler;
use self::wit::rotor::centrifugo::types::{Connection, RpcReply, RpcRequest};

/// The same WIT as the host's bindings (`wit/`, world `host`); only the
/// RPC handler export is called, and no import is implemented.
mod wit {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "host",
        exports: { default: async },
    });
}

/// Epoch ticks until a store's deadline: never reached, since nothing
/// advances this engine's epoch. Epoch interruption is on only so that the
/// guest runs the same compiled code as under Rotor.
const FAR_DEADLINE: u64 = u64::MAX / 2;

/// Fresh or reused instances, as Rotor's `[isolation]` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A new store and instance per call.
    Fresh,
    /// One instance for every call.
    Reuse,
}

/// A component's RPC handler, ready to be called in one mode.
pub struct BareRpc {
    pre: InstancePre<BareState>,
    handler: rpc_handler::GuestIndices,
    request: RpcRequest,
    /// The instance of [`Mode::Reuse`], with its export looked up.
    warm: Option<(Store<BareState>, rpc_handler::Guest)>,
}

/// A store's data: WASI, with a context built only if the guest calls WASI
/// (as Rotor does: the RPC router never does, and building one costs more
/// than the rest of a store, which would hide host path in the baseline).
struct BareState {
    wasi: Option<WasiCtx>,
    table: ResourceTable,
}

impl WasiView for BareState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: self.wasi.get_or_insert_with(|| WasiCtx::builder().build()),
            table: &mut self.table,
        }
    }
}

impl BareRpc {
    /// Compiles the component at `path` for calls of `request` in `mode`,
    /// with an engine configured as Rotor's for `config` (its pool limits
    /// and compile cache).
    pub async fn new(
        config: &Config,
        path: &Path,
        request: &pb::RpcRequest,
        mode: Mode,
    ) -> Result<BareRpc, String> {
        let failed =
            |error: wasmtime::Error| format!("bare wasmtime, {}: {error:#}", path.display());
        let engine = engine(&config.pool_limits(), &config.compile_cache).map_err(failed)?;
        let component = Component::from_file(&engine, path).map_err(failed)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(failed)?;
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(failed)?;
        let pre = linker.instantiate_pre(&component).map_err(failed)?;
        let handler = rpc_handler::GuestIndices::new(&pre).map_err(failed)?;
        let mut rpc = BareRpc {
            pre,
            handler,
            request: wit_request(request)?,
            warm: None,
        };
        if mode == Mode::Reuse {
            let (mut store, instance) = rpc.instantiate().await.map_err(failed)?;
            let guest = rpc.handler.load(&mut store, &instance).map_err(failed)?;
            rpc.warm = Some((store, guest));
        }
        Ok(rpc)
    }

    /// One call, its reply checked: the request's data must come back.
    pub async fn call(&mut self) -> Result<(), String> {
        let reply = self.reply().await?;
        self.check(&reply)
    }

    /// One call, its reply unchecked (see [`BareRpc::check`]).
    pub async fn reply(&mut self) -> Result<RpcReply, String> {
        let failed = |error: wasmtime::Error| format!("a bare wasmtime call failed: {error:#}");
        match &mut self.warm {
            Some((store, guest)) => guest
                .call_handle(&mut *store, &self.request)
                .await
                .map_err(failed),
            None => {
                let (mut store, instance) = self.instantiate().await.map_err(failed)?;
                let guest = self.handler.load(&mut store, &instance).map_err(failed)?;
                let reply = guest
                    .call_handle(&mut store, &self.request)
                    .await
                    .map_err(failed)?;
                drop(store);
                Ok(reply)
            }
        }
    }

    /// Fails unless `reply` echoes the request's data.
    pub fn check(&self, reply: &RpcReply) -> Result<(), String> {
        match reply {
            RpcReply::Accept(result) if result.data == self.request.data => Ok(()),
            other => Err(format!("the bare wasmtime call did not echo: {other:?}")),
        }
    }

    async fn instantiate(
        &self,
    ) -> wasmtime::Result<(Store<BareState>, wasmtime::component::Instance)> {
        let mut table = ResourceTable::new();
        // Resources a store may hold, as Rotor's stores (no cost per call).
        table.set_max_capacity(1024);
        let mut store = Store::new(self.pre.engine(), BareState { wasi: None, table });
        store.set_epoch_deadline(FAR_DEADLINE);
        let instance = self.pre.instantiate_async(&mut store).await?;
        Ok((store, instance))
    }
}

/// An engine with Rotor's wasmtime configuration (`Engine::wasmtime_config`),
/// which is what changes what a guest call costs:
/// - the pooling allocator, sized as Rotor's pool for the same config
///   (instances, memory, the per-component maxima), keeping as much memory
///   and table resident per slot and resetting slots the same way
///   (`pagemap_scan`): instantiation and a fresh store's drop depend on it;
/// - epoch interruption on: the compiled guest checks the epoch at function
///   entries and loop heads, so the guest's code is Rotor's; the deadline
///   is far and nothing advances the epoch, so it never fires;
/// - fuel metered only if Rotor meters it (not in the benchmark's configs);
/// - calls async, on a fiber (`instantiate_async`, the async bindings):
///   wasmtime 48 has no switch for it, the calls themselves choose;
/// - the same compile cache, which only spares compiling again (under
///   valgrind above all) and changes no call.
///
/// Not matched, because they are Rotor's host path: the store's memory
/// limiter, the epoch callback and its ticker thread, the CPU meter, the
/// tenant's semaphore, the deadline around each call.
fn engine(pool: &PoolLimits, cache: &CompileCache) -> wasmtime::Result<Engine> {
    let (config, _cache) = rotor::Engine::wasmtime_config(pool, cache);
    Engine::new(&config)
}

/// The WIT record Rotor makes of `request` with no headers (what the
/// benchmarks pass): its conversion, done once.
fn wit_request(request: &pb::RpcRequest) -> Result<RpcRequest, String> {
    if !request.b64data.is_empty() || !request.labels.is_empty() {
        return Err("the bare baseline takes `data` only, no `b64data` or labels".into());
    }
    Ok(RpcRequest {
        conn: Connection {
            client: request.client.clone(),
            transport: request.transport.clone(),
            protocol: request.protocol.clone(),
            encoding: request.encoding.clone(),
        },
        headers: Vec::new(),
        user: request.user.clone(),
        method: request.method.clone(),
        data: request.data.clone(),
        meta: request.meta.clone(),
        labels: Vec::new(),
    })
}
