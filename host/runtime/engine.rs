//! The wasmtime engine under Rotor's policy: components, async calls, the
//! pooling allocator sized from the limits, and epoch interruption driven by
//! a ticker thread.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Cache, CacheConfig, Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::config::{CompileCache, PoolLimits};
use crate::error::PluginError;
use crate::policy::MAX_TABLE_ELEMENTS;
use crate::runtime::store::CallState;

/// How often the epoch advances: the resolution of CPU deadlines, and how
/// often a running guest yields to other tasks.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Core instances per component instance: a Rust guest has a handful, a
/// Python or JavaScript guest more.
const CORE_INSTANCES_PER_COMPONENT: u32 = 8;
/// Linear memory a pool slot keeps mapped between instances. With
/// `pagemap_scan`, only the pages the last instance dirtied are reset, so a
/// fresh instance costs neither an `madvise` (a TLB shootdown across cores)
/// nor a page fault per touched page. 1 MiB covers a small guest's stack and
/// heap; larger guests reset the rest the ordinary way.
const MEMORY_KEEP_RESIDENT: usize = 1 << 20;
/// Table bytes a pool slot keeps mapped between instances.
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// A wasmtime engine and the linker with the host imports, built once.
pub struct Engine {
    wasmtime: wasmtime::Engine,
    linker: Linker<CallState>,
    cache: Option<Cache>,
    _ticker: EpochTicker,
}

impl Engine {
    /// Builds an engine whose instance pool holds `limits.instances`
    /// instances of at most `limits.memory` each, metering fuel if asked,
    /// and keeping compiled components in `cache`; `link` adds the host
    /// imports to its linker. The engine knows no host API itself: Rotor's
    /// engines, with every import linked, come from `Engine::new` and
    /// `Engine::with_pool` (in `imports`).
    pub fn with_linker(
        limits: &PoolLimits,
        cache: &CompileCache,
        link: impl FnOnce(&mut Linker<CallState>) -> wasmtime::Result<()>,
    ) -> Result<Engine, PluginError> {
        let mut pool = PoolingAllocationConfig::default();
        let instances = limits.instances.max(1);
        pool.total_component_instances(instances)
            .total_core_instances(instances.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
            .total_memories(instances.saturating_mul(2))
            .total_tables(instances.saturating_mul(2))
            .total_stacks(instances)
            .table_elements(MAX_TABLE_ELEMENTS)
            .max_memory_size(usize::try_from(limits.memory).unwrap_or(usize::MAX))
            .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT)
            .table_keep_resident(TABLE_KEEP_RESIDENT)
            .pagemap_scan(Enabled::Auto);

        let cache = compile_cache(cache);
        let mut config = wasmtime::Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .consume_fuel(limits.fuel)
            .cache(cache.clone())
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let wasmtime = wasmtime::Engine::new(&config).map_err(PluginError::engine)?;

        let mut linker = Linker::new(&wasmtime);
        link(&mut linker).map_err(PluginError::engine)?;

        let ticker = EpochTicker::start(wasmtime.clone());
        Ok(Engine {
            wasmtime,
            linker,
            cache,
            _ticker: ticker,
        })
    }

    /// The wasmtime engine.
    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.wasmtime
    }

    /// The linker with the host imports.
    pub fn linker(&self) -> &Linker<CallState> {
        &self.linker
    }

    /// How many components so far were loaded from the compile cache
    /// instead of compiled: 0 without a cache.
    pub fn compile_cache_hits(&self) -> usize {
        self.cache.as_ref().map_or(0, Cache::cache_hits)
    }

    /// Compiles a component. CPU-heavy: call it off the async runtime.
    pub fn compile(&self, bytes: &[u8]) -> Result<Component, PluginError> {
        Component::new(&self.wasmtime, bytes)
            .map_err(|error| PluginError::Compile(format!("{error:#}")))
    }
}

/// The compile cache for `setting`. A cache that cannot be set up (no home
/// directory, say) is not fatal: Rotor compiles on every start instead.
fn compile_cache(setting: &CompileCache) -> Option<Cache> {
    let mut config = CacheConfig::new();
    match setting {
        CompileCache::Off => return None,
        CompileCache::Default => {}
        CompileCache::Dir(dir) => {
            config.with_directory(dir);
        }
    }
    match Cache::new(config) {
        Ok(cache) => Some(cache),
        Err(error) => {
            tracing::warn!("compiled plugins are not cached: {error:#}");
            None
        }
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a thread of its own,
/// until dropped.
struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: wasmtime::Engine) -> EpochTicker {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("rotor-epoch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
