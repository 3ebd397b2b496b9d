//! The per-call store: a fresh WASI context that grants nothing, a memory
//! limiter, a CPU deadline and the tenant's CPU meter, and the calling
//! plugin's identity for imports.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

use crate::backends::centrifugo_client::ApiClient;
use crate::backends::kv::KvStore;
use crate::config::Limits;
use crate::policy::MAX_TABLE_ELEMENTS;
use crate::runtime::cpu::{CpuShares, Slice, TenantCpu};
use crate::telemetry::Metrics;

/// Bytes of a guest's stderr kept per call: enough for a panic message.
const STDERR_CAPACITY: usize = 4096;
/// Log lines a guest may write per call; more are dropped with one warning.
pub const LOG_LINES_PER_CALL: u32 = 64;
/// Bytes of one guest log line kept; the rest is cut.
pub const LOG_LINE_MAX: usize = 2048;

/// Who a store runs: what host imports need to know about the plugin.
#[derive(Debug)]
pub struct Guest {
    /// The plugin's name, as the config names it.
    pub plugin: String,
    /// The tenant the call belongs to.
    pub tenant: String,
    /// The plugin's settings, read through the `config` import.
    pub settings: BTreeMap<String, String>,
    /// What its host imports reach.
    pub services: Services,
    /// The tenant's CPU meter, which its guests' time is charged to.
    pub cpu: Arc<TenantCpu>,
}

/// What every tenant's guests share: the services behind host imports,
/// and the host's CPU.
#[derive(Debug, Clone)]
pub struct Services {
    /// The key-value store behind the `kv` import.
    pub kv: Arc<KvStore>,
    /// Centrifugo's server API behind the `centrifugo-api` import, if configured.
    pub api: Option<ApiClient>,
    /// The host's CPU, shared between tenants.
    pub cpu: Arc<CpuShares>,
    /// Where host import calls are counted.
    pub metrics: Arc<Metrics>,
}

/// The data of one call's store.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    stderr: MemoryOutputPipe,
    /// The guest this store runs.
    pub guest: Arc<Guest>,
    /// Log lines the guest may still write in this call.
    pub log_budget: u32,
    /// Server API calls the guest may still make in this call.
    pub api_budget: u32,
    /// `kv` operations the guest may still make in this call.
    pub kv_budget: u32,
    /// What the tenant's `kv` entries may cost in all.
    pub kv_bytes: u64,
    deadline: Instant,
    slice: Slice,
}

impl CallState {
    /// Whether the guest asked for more memory than it may have.
    pub fn hit_memory_limit(&self) -> bool {
        self.limiter.denied
    }

    /// Prepares a warm instance's store for its next call: the identity of
    /// the route that calls it, and a fresh log budget ([`refill`] gives
    /// the other budgets).
    pub fn begin_call(&mut self, guest: Arc<Guest>) {
        self.guest = guest;
        self.log_budget = LOG_LINES_PER_CALL;
        self.limiter.denied = false;
    }

    /// When the current guest call must end.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// What the guest wrote to stderr (a panic message, say), lossily decoded.
    pub fn stderr(&self) -> String {
        let bytes = self.stderr.contents();
        String::from_utf8_lossy(&bytes).trim_end().to_owned()
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Creates the store for one call of `guest`, with its limits attached.
///
/// The WASI context grants clocks and randomness only: no files,
/// environment, arguments or sockets. Guest stderr is captured for logs.
pub fn new_store(
    engine: &wasmtime::Engine,
    guest: Arc<Guest>,
    limits: &Limits,
    deadline: Instant,
) -> Store<CallState> {
    let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
    let wasi = {
        let mut builder = WasiCtx::builder();
        builder.stderr(stderr.clone());
        builder.build()
    };
    let state = CallState {
        wasi,
        table: ResourceTable::new(),
        limiter: MemoryLimiter {
            max: usize::try_from(limits.memory).unwrap_or(usize::MAX),
            denied: false,
        },
        stderr,
        guest,
        log_budget: LOG_LINES_PER_CALL,
        api_budget: limits.api_calls,
        kv_budget: limits.kv_ops,
        kv_bytes: limits.kv_bytes,
        deadline,
        slice: Slice::default(),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);
    store.epoch_deadline_callback(|store| Ok(on_tick(store.data(), Instant::now())));
    refill(&mut store, limits, deadline);
    store
}

/// Gives the guest in `store` a fresh budget for its next call: CPU time
/// until `deadline`, its `kv` and server API operations, and, when the
/// engine meters fuel, the limit's fuel.
pub fn refill(store: &mut Store<CallState>, limits: &Limits, deadline: Instant) {
    let state = store.data_mut();
    state.deadline = deadline;
    state.api_budget = limits.api_calls;
    state.kv_budget = limits.kv_ops;
    state.kv_bytes = limits.kv_bytes;
    store.data().slice.begin();
    store.set_epoch_deadline(1);
    // Fails only when the engine does not meter fuel, which is then moot.
    // Unmetered tenants of a metering engine get all the fuel there is:
    // their deadline still bounds them.
    let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
}

/// What a guest running at an epoch tick does next: stop once its deadline
/// has passed; otherwise pay for the slice it ran and yield, so other calls
/// on this thread run, for as long as its tenant owes CPU time (but not past
/// the deadline).
fn on_tick(state: &CallState, now: Instant) -> UpdateDeadline {
    if now >= state.deadline {
        return UpdateDeadline::Interrupt;
    }
    let cpu = &state.guest.cpu;
    let pause = cpu
        .charge(state.slice.ran(now), now)
        .map(|pause| pause.min(state.deadline - now));
    if let Some(pause) = pause {
        cpu.paused(pause);
    }
    UpdateDeadline::YieldCustom(1, state.slice.yield_for(pause))
}

/// Bounds each linear memory of an instance and remembers a refusal, so a
/// guest that dies after a failed `memory.grow` is reported as out of memory.
struct MemoryLimiter {
    max: usize,
    denied: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.max;
        self.denied |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
