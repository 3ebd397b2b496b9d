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
use crate::policy::{
    CORE_INSTANCES_PER_COMPONENT, MAX_TABLE_ELEMENTS, MEMORIES_PER_COMPONENT, TABLES_PER_COMPONENT,
};
use crate::runtime::store::CallState;

/// How often the epoch advances: the resolution of CPU deadlines, and how
/// often a running guest yields to other tasks.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Table bytes a pool slot keeps mapped between instances.
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// A wasmtime engine and the linker with the host imports, built once.
pub struct Engine {
    wasmtime: wasmtime::Engine,
    linker: Linker<CallState>,
    cache: Option<Cache>,
    fuel: bool,
    pool: PoolLimits,
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
        let (config, cache) = Engine::wasmtime_config(limits, cache);
        let wasmtime = wasmtime::Engine::new(&config).map_err(PluginError::engine)?;

        let mut linker = Linker::new(&wasmtime);
        link(&mut linker).map_err(PluginError::engine)?;

        let ticker = EpochTicker::start(wasmtime.clone());
        Ok(Engine {
            wasmtime,
            linker,
            cache,
            fuel: limits.fuel,
            pool: *limits,
            _ticker: ticker,
        })
    }

    /// The wasmtime configuration of an engine whose pool is sized by
    /// `limits`, with its compile cache: the pooling allocator laid out by
    /// the per-component maxima, epoch interruption, fuel if metered. The
    /// benchmark's bare wasmtime baseline builds its engine from it too, so
    /// both run the same compiled guest in the same kind of slot.
    pub fn wasmtime_config(
        limits: &PoolLimits,
        cache: &CompileCache,
    ) -> (wasmtime::Config, Option<Cache>) {
        let instances = limits.instances.max(1);
        let mut pool = PoolingAllocationConfig::default();
        // Every component is held to the per-component maxima and the pool
        // holds them for every instance it is sized for: however a tenant's
        // components are built, its instances fit in the slots its share
        // was sized for, and never take another tenant's.
        pool.total_component_instances(instances)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .total_core_instances(instances.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
            .total_memories(instances.saturating_mul(MEMORIES_PER_COMPONENT))
            .total_tables(instances.saturating_mul(TABLES_PER_COMPONENT))
            .total_stacks(instances)
            .table_elements(MAX_TABLE_ELEMENTS)
            .max_memory_size(usize::try_from(limits.memory).unwrap_or(usize::MAX))
            // Linear memory a slot keeps mapped between instances
            // (`[pool] keep_resident`). With `pagemap_scan`, only the pages
            // the last instance dirtied are reset, by copy, so a fresh
            // instance costs neither an `madvise` (a TLB shootdown across
            // cores) nor a page fault per page it touches; dirtied pages
            // past this amount are unmapped the ordinary way.
            .linear_memory_keep_resident(
                usize::try_from(limits.keep_resident).unwrap_or(usize::MAX),
            )
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
        (config, cache)
    }

    /// What its instance pool was sized for: a config reload must fit it.
    pub fn pool(&self) -> &PoolLimits {
        &self.pool
    }

    /// The wasmtime engine.
    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.wasmtime
    }

    /// Whether guests' fuel is metered: only then does a store take fuel.
    pub fn meters_fuel(&self) -> bool {
        self.fuel
    }

    /// The linker with every host import Rotor offers.
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

#[cfg(test)]
mod tests {
    use wasmtime::Store;

    use super::*;

    /// A core module with one memory of one page, or with nothing.
    fn core_module(memory: bool) -> Vec<u8> {
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        if memory {
            // Memory section: one memory, no maximum, one page.
            bytes.extend([5, 3, 1, 0, 1]);
        }
        bytes
    }

    /// A component that instantiates `module` `count` times (at most 127).
    fn component(module: &[u8], count: u8) -> Vec<u8> {
        assert!(count < 128 && module.len() < 128);
        let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
        // Core module section.
        bytes.push(1);
        bytes.push(u8::try_from(module.len()).unwrap_or(0));
        bytes.extend(module);
        // Core instance section: `count` instances of module 0, no imports.
        let instances = 1 + 3 * usize::from(count);
        bytes.push(2);
        bytes.extend(leb128(instances));
        bytes.extend(leb128(usize::from(count)));
        for _ in 0..count {
            bytes.extend([0, 0, 0]);
        }
        bytes
    }

    fn leb128(mut value: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        loop {
            let byte = u8::try_from(value & 0x7f).unwrap_or(0);
            value >>= 7;
            if value == 0 {
                bytes.push(byte);
                return bytes;
            }
            bytes.push(byte | 0x80);
        }
    }

    async fn instantiate(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Store<()>> {
        let component = Component::new(engine.wasmtime(), bytes)?;
        let mut store = Store::new(engine.wasmtime(), ());
        Linker::new(engine.wasmtime())
            .instantiate_async(&mut store, &component)
            .await?;
        Ok(store)
    }

    /// Finding 2 of the hardening review: no per-component maximum was
    /// set, so one component with many memories or core instances took
    /// the pool's slots of several instances, and other tenants' calls
    /// failed to instantiate.
    #[tokio::test]
    async fn one_component_cannot_take_more_than_its_slot_of_the_pool() {
        let pool = PoolLimits {
            instances: 2,
            memory: 1 << 20,
            fuel: false,
            keep_resident: crate::config::DEFAULT_KEEP_RESIDENT,
        };
        let engine = Engine::with_pool(&pool, &CompileCache::Off).expect("an engine");
        let with_memory = core_module(true);
        let empty = core_module(false);
        let greedy = [
            component(
                &with_memory,
                MEMORIES_PER_COMPONENT.try_into().unwrap_or(0) + 2,
            ),
            component(
                &empty,
                CORE_INSTANCES_PER_COMPONENT.try_into().unwrap_or(0) + 1,
            ),
        ];
        for bytes in &greedy {
            assert!(
                instantiate(&engine, bytes).await.is_err(),
                "a component over the per-component maxima was instantiated"
            );
        }
        // Two instances at the maxima fit side by side, as the pool was sized.
        let at_most = component(&with_memory, MEMORIES_PER_COMPONENT.try_into().unwrap_or(0));
        let first = instantiate(&engine, &at_most)
            .await
            .expect("the first instance");
        let second = instantiate(&engine, &at_most)
            .await
            .expect("the second instance");
        drop((first, second));
    }
}
