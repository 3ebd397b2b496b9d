//! The per-call store: a fresh WASI context that grants nothing (built on
//! the guest's first WASI call), a memory limiter, a CPU deadline and the
//! tenant's CPU meter, and the calling plugin's identity for imports.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::{ResourceLimiter, Store, Trap, UpdateDeadline};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

use crate::backends::centrifugo_client::ApiClient;
use crate::backends::kv::KvStore;
use crate::config::{Limits, RedactedValues};
use crate::error::GuestFault;
use crate::policy::{
    CORE_INSTANCES_PER_COMPONENT, MAX_TABLE_ELEMENTS, MEMORIES_PER_COMPONENT, TABLES_PER_COMPONENT,
};
use crate::runtime::cpu::{CpuShares, Slice, TenantCpu};
use crate::runtime::guest_log::{LogRate, escape_control};
use crate::runtime::outbox::StreamOutbox;
use crate::telemetry::Metrics;

/// Bytes of a guest's stderr kept per call (the last ones written): enough
/// for a panic message.
const STDERR_CAPACITY: usize = 4096;
/// WASI resources (streams, pollables, …) one store may hold at once. Each
/// costs host memory outside the guest's memory limit; a guest needs a
/// handful, and one that never drops its handles fails here instead of
/// growing the host.
pub const MAX_RESOURCES: usize = 1024;
/// WASI resources a warm instance may still hold when its call ends (a
/// guest's C library keeps its stdio streams open, say). One that holds
/// more is retired instead of serving another call, so handles a guest
/// leaks never pile up across calls.
pub const MAX_RESOURCES_KEPT: usize = 16;
/// Log lines a guest may write per call; more are dropped with one warning.
pub const LOG_LINES_PER_CALL: u32 = 64;
/// Bytes of one guest log line kept; the rest is cut.
pub const LOG_LINE_MAX: usize = 2048;

/// Who a store runs: what host imports need to know about the plugin. Its
/// `Debug` shows the names of its settings, not their values.
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
    /// The tenant's share of the instance pool: one permit per live
    /// instance, so its guests can never hold the pool slots other tenants
    /// were sized for.
    pub instances: Arc<Semaphore>,
    /// The tenant's log rate, which its guests' log lines are charged to.
    pub log_rate: Arc<LogRate>,
}

impl std::fmt::Debug for Guest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest")
            .field("plugin", &self.plugin)
            .field("tenant", &self.tenant)
            .field("settings", &RedactedValues(&self.settings))
            .finish_non_exhaustive()
    }
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
    /// Built when the guest first calls WASI: many calls of small guests
    /// never do, and building a context costs more than the rest of a store.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
    limiter: MemoryLimiter,
    stderr: StderrCapture,
    /// This instance's place in its tenant's share of the pool, given back
    /// when the store drops.
    _share: OwnedSemaphorePermit,
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
    /// What a stream's guest asked for in its callback (the `stream`
    /// import); `None` outside a subscription stream.
    pub stream: Option<StreamOutbox>,
    deadline: Instant,
    slice: Slice,
    /// Whether the engine meters fuel, so the store takes a fuel budget.
    fuel: bool,
}

impl CallState {
    /// Whether the guest asked for more memory than it may have.
    pub fn hit_memory_limit(&self) -> bool {
        self.limiter.denied
    }

    /// Prepares a warm instance's store for its next call: the identity of
    /// the route that calls it, a fresh log budget and an empty stderr
    /// ([`refill`] gives the other budgets). Memory stays counted: the
    /// instance keeps its memories.
    pub fn begin_call(&mut self, guest: Arc<Guest>) {
        self.guest = guest;
        self.log_budget = LOG_LINES_PER_CALL;
        self.limiter.denied = false;
        self.stderr.clear();
    }

    /// WASI resources the guest holds now.
    pub fn resources(&mut self) -> usize {
        self.table.iter_mut().count()
    }

    /// When the current guest call must end.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// What the guest wrote to stderr in this call (its last
    /// [`STDERR_CAPACITY`] bytes: a panic message, say), lossily decoded,
    /// with line breaks and other control characters escaped, so that it
    /// cannot forge log lines.
    pub fn stderr(&self) -> String {
        stderr_text(&self.stderr.contents())
    }
}

/// What a guest wrote to stderr as log text: lossily decoded, trailing
/// whitespace cut, control characters escaped.
fn stderr_text(bytes: &[u8]) -> String {
    escape_control(String::from_utf8_lossy(bytes).trim_end()).into_owned()
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let stderr = &self.stderr;
        let wasi = self
            .wasi
            .get_or_insert_with(|| wasi_context(stderr.clone()));
        WasiCtxView {
            ctx: wasi,
            table: &mut self.table,
        }
    }
}

/// The WASI context of a store: clocks and randomness only; no files,
/// environment, arguments or sockets. Guest stderr goes to `stderr`.
fn wasi_context(stderr: StderrCapture) -> WasiCtx {
    let mut builder = WasiCtx::builder();
    builder.stderr(stderr);
    builder.build()
}

/// Creates the store for one call of `guest`, with its limits attached,
/// taking a place in its tenant's share of the instance pool (a fault when
/// every place is taken).
///
/// The WASI context, made when the guest first needs it, grants clocks and
/// randomness only: no files, environment, arguments or sockets. Guest
/// stderr is captured for logs.
pub fn new_store(
    engine: &wasmtime::Engine,
    meters_fuel: bool,
    guest: Arc<Guest>,
    limits: &Limits,
    deadline: Instant,
) -> Result<Store<CallState>, GuestFault> {
    let share = guest.instances.clone().try_acquire_owned().map_err(|_| {
        GuestFault::Instantiate(format!(
            "tenant {} has every instance of its share of the pool alive",
            guest.tenant
        ))
    })?;
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_RESOURCES);
    let state = CallState {
        wasi: None,
        table,
        limiter: MemoryLimiter {
            max: usize::try_from(limits.memory).unwrap_or(usize::MAX),
            used: 0,
            growing: 0,
            denied: false,
        },
        stderr: StderrCapture::default(),
        _share: share,
        guest,
        log_budget: LOG_LINES_PER_CALL,
        api_budget: limits.api_calls,
        kv_budget: limits.kv_ops,
        kv_bytes: limits.kv_bytes,
        stream: None,
        deadline,
        slice: Slice::default(),
        fuel: meters_fuel,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);
    store.epoch_deadline_callback(|store| Ok(on_tick(store.data(), Instant::now())));
    refill(&mut store, limits, deadline);
    Ok(store)
}

/// Runs `call`, a guest call in a store whose deadline is `deadline`, and
/// ends it at the deadline even if the guest waits in a host import then
/// (a WASI sleep or poll, a slow backend): epoch interruption stops only
/// wasm code, so this is the last line. A call cut short fails as the
/// guest's deadline (a [`Trap::Interrupt`]); its store must not be used
/// again.
pub async fn by_deadline<T>(
    deadline: Instant,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    match tokio::time::timeout_at(deadline.into(), call).await {
        Ok(result) => result,
        Err(_) => Err(Trap::Interrupt.into()),
    }
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
    // Asked only of a metering engine: on any other, `set_fuel` fails, and
    // building that error (with a backtrace when `RUST_BACKTRACE` is set)
    // would cost every call more than the rest of this function. Unmetered
    // tenants of a metering engine get all the fuel there is: their
    // deadline still bounds them.
    if store.data().fuel {
        let set = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
        debug_assert!(set.is_ok(), "a metering engine takes fuel");
    }
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

/// Bounds the linear memory of an instance, all its memories together, and
/// remembers a refusal, so a guest that dies after a failed `memory.grow`
/// is reported as out of memory. A store holds one component instance, so
/// its memories are that instance's.
struct MemoryLimiter {
    /// The limit, in bytes, over every memory of the store.
    max: usize,
    /// Bytes of every memory of the store, as granted.
    used: usize,
    /// Bytes the last granted growth added, taken back if it then failed.
    growing: usize,
    denied: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Called with `current` 0 when a memory is created, so `used` counts
        // every memory from its first byte.
        let added = desired.saturating_sub(current);
        let allowed = self
            .used
            .checked_add(added)
            .is_some_and(|used| used <= self.max);
        if allowed {
            self.used += added;
            self.growing = added;
        }
        self.denied |= !allowed;
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.used -= std::mem::take(&mut self.growing).min(self.used);
        Ok(())
    }

    fn instances(&self) -> usize {
        CORE_INSTANCES_PER_COMPONENT as usize
    }

    fn memories(&self) -> usize {
        MEMORIES_PER_COMPONENT as usize
    }

    fn tables(&self) -> usize {
        TABLES_PER_COMPONENT as usize
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

/// A guest's stderr: the last [`STDERR_CAPACITY`] bytes written since the
/// call began. Writing never fails: what does not fit pushes out the oldest
/// bytes, so a guest that writes a lot still leaves its last words and
/// never traps for writing. Every stream the guest opens on stderr writes
/// here, so clearing it between reused calls also empties the streams a
/// guest keeps open.
#[derive(Clone, Default)]
struct StderrCapture {
    bytes: Arc<Mutex<VecDeque<u8>>>,
}

impl StderrCapture {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<u8>> {
        self.bytes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, written: &[u8]) {
        let mut bytes = self.lock();
        let kept = &written[written.len().saturating_sub(STDERR_CAPACITY)..];
        let overflow = (bytes.len() + kept.len()).saturating_sub(STDERR_CAPACITY);
        bytes.drain(..overflow);
        bytes.extend(kept);
    }

    fn contents(&self) -> Vec<u8> {
        self.lock().iter().copied().collect()
    }

    fn clear(&self) {
        self.lock().clear();
    }
}

impl IsTerminal for StderrCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StderrCapture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for StderrCapture {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(STDERR_CAPACITY)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for StderrCapture {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for StderrCapture {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _context: &mut std::task::Context<'_>,
        written: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(written);
        std::task::Poll::Ready(Ok(written.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finding 11 of the hardening review: stderr was a 4 KiB pipe for the
    /// life of a store, so a reused instance that wrote 4 KiB in total over
    /// its calls trapped on its next write.
    #[test]
    fn stderr_never_fails_a_write_and_keeps_the_last_bytes() {
        let mut stderr = StderrCapture::default();
        for round in 0..10u8 {
            let line = vec![b'a' + round; 1000];
            OutputStream::write(&mut stderr, bytes::Bytes::from(line)).expect("a write");
            assert_eq!(stderr.check_write().ok(), Some(STDERR_CAPACITY));
        }
        let kept = stderr.contents();
        assert_eq!(kept.len(), STDERR_CAPACITY);
        assert_eq!(kept.last(), Some(&(b'a' + 9)));
        assert_eq!(kept.first(), Some(&(b'a' + 5)));
        stderr.push(&[b'z'; 3 * STDERR_CAPACITY]);
        assert_eq!(stderr.contents(), vec![b'z'; STDERR_CAPACITY]);
        stderr.clear();
        assert!(stderr.contents().is_empty());
    }

    /// Finding 10 of the hardening review: the stderr a fault's log line
    /// carries could start lines of its own.
    #[test]
    fn stderr_in_fault_logs_cannot_forge_lines() {
        let stderr = StderrCapture::default();
        stderr.push(b"bye\n2026-01-01T00:00:00Z  WARN tenant=other: forged\r\n");
        let text = stderr_text(&stderr.contents());
        assert_eq!(
            text,
            r"bye\n2026-01-01T00:00:00Z  WARN tenant=other: forged"
        );
        assert!(!text.contains(['\n', '\r']));
    }

    fn limiter(max: usize) -> MemoryLimiter {
        MemoryLimiter {
            max,
            used: 0,
            growing: 0,
            denied: false,
        }
    }

    /// Finding 2 of the hardening review: the limit held per memory, so an
    /// instance with N memories could take N times `memory`.
    #[test]
    fn the_memory_limit_holds_per_instance_across_its_memories() {
        const PAGE: usize = 64 << 10;
        let mut limiter = limiter(10 * PAGE);
        // Two memories created, then grown.
        assert!(limiter.memory_growing(0, 4 * PAGE, None).unwrap());
        assert!(limiter.memory_growing(0, 4 * PAGE, None).unwrap());
        assert!(limiter.memory_growing(4 * PAGE, 6 * PAGE, None).unwrap());
        assert!(!limiter.hit());
        // Either memory growing further passes the instance's limit.
        assert!(!limiter.memory_growing(4 * PAGE, 5 * PAGE, None).unwrap());
        assert!(!limiter.memory_growing(6 * PAGE, 7 * PAGE, None).unwrap());
        assert!(limiter.hit());
        // A granted growth that then fails is given back.
        let mut limiter = super::tests::limiter(10 * PAGE);
        assert!(limiter.memory_growing(0, 8 * PAGE, None).unwrap());
        limiter
            .memory_grow_failed(wasmtime::format_err!("no"))
            .unwrap();
        assert!(limiter.memory_growing(0, 10 * PAGE, None).unwrap());
    }

    impl MemoryLimiter {
        fn hit(&self) -> bool {
            self.denied
        }
    }
}
