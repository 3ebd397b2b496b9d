//! What the instance pool is sized for, and whether a running pool holds
//! what a reloaded config needs.

use super::{DEFAULT_KEEP_RESIDENT, Limits};

/// What the engine's instance pool is sized for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Component instances alive at once, at most.
    pub instances: u32,
    /// The largest linear memory of one instance, in bytes.
    pub memory: u64,
    /// Whether any tenant meters fuel.
    pub fuel: bool,
    /// Linear memory, in bytes, each slot of the pool keeps mapped between
    /// instances (`[pool] keep_resident`): the pages an instance dirtied
    /// within it are reset by copying, the rest are unmapped. How the pool
    /// behaves, not what it holds: [`PoolLimits::lacks`] ignores it.
    pub keep_resident: u64,
}

impl PoolLimits {
    /// Whether a pool sized for `self` holds what `needs` asks for; if not,
    /// what it lacks, in words.
    pub fn lacks(&self, needs: &PoolLimits) -> Option<String> {
        if needs.instances > self.instances {
            return Some(format!(
                "the tenants need {} instances at once (concurrency times chain length, plus \
                 idle warm instances and open streams) but the running pool holds {}",
                needs.instances, self.instances
            ));
        }
        if needs.memory > self.memory {
            return Some(format!(
                "a tenant's memory limit is {} bytes but the running pool's instances hold \
                 at most {}",
                needs.memory, self.memory
            ));
        }
        if needs.fuel && !self.fuel {
            return Some("a tenant meters fuel but the running engine does not".into());
        }
        None
    }

    /// The pool for `concurrency` calls of `per_call` instances each under `limits`.
    pub fn for_limits(limits: &Limits, per_call: usize) -> PoolLimits {
        let per_call = u32::try_from(per_call.max(1)).unwrap_or(u32::MAX);
        PoolLimits {
            instances: limits.concurrency.saturating_mul(per_call),
            memory: limits.memory,
            fuel: limits.fuel.is_some(),
            keep_resident: DEFAULT_KEEP_RESIDENT,
        }
    }
}
