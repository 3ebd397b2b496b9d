//! Warm reuse: a bounded pool of live instances of one plugin for one
//! tenant, for routes that opt out of a fresh instance per call.
//!
//! An instance serves at most `max_calls` calls and lives at most `max_age`,
//! each shortened by up to an eighth, different for each instance: instances
//! born together in a burst then retire at different times, instead of
//! leaving the pool empty at once and every caller instantiating together.
//! It goes back to the pool only after a call that ended cleanly; after a
//! trap, a deadline, a memory or fuel limit it is dropped at once. A pool
//! belongs to one version of one plugin in one tenant: a reload of the
//! plugin builds a new pool and the old one is dropped with the routes that
//! held it, so instances are never shared between tenants or versions.
//!
//! What a guest can observe across calls in this mode is its own state: its
//! globals, its heap, anything it cached. Nothing of another tenant's, and
//! nothing the host keeps (budgets and identity are reset per call).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::policy::ReusePolicy;
use crate::runtime::plugin::Live;

/// A live instance and what it has served.
pub struct Warm {
    live: Live,
    state: WarmState,
}

/// What a warm instance has served and may still serve, while its
/// instance is out on a call.
#[derive(Debug, Clone, Copy)]
pub struct WarmState {
    calls: u32,
    born: Instant,
    max_calls: u32,
    max_age: Duration,
}

impl WarmState {
    fn aged(&self) -> bool {
        self.born.elapsed() >= self.max_age
    }
}

/// Sixty-fourths of its lifespan the `n`th instance of a pool is denied: 0
/// to 8 (an eighth), spread evenly over every nine instances born in a row.
fn shortening(n: u32) -> u32 {
    n.wrapping_mul(5) % 9
}

impl Warm {
    /// An instance and its state, back from a call.
    pub fn from_parts(live: Live, state: WarmState) -> Warm {
        Warm { live, state }
    }

    /// The instance, to serve a call, and its state, to give it back.
    pub fn into_parts(self) -> (Live, WarmState) {
        (self.live, self.state)
    }
}

/// Why an instance left the pool for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retired {
    /// It served `max_calls` calls.
    MaxCalls,
    /// It reached `max_age`.
    MaxAge,
    /// The pool already held `max_idle` instances.
    Full,
}

impl Retired {
    /// A short, stable name for metrics.
    pub fn metric(self) -> &'static str {
        match self {
            Retired::MaxCalls => "retired_max_calls",
            Retired::MaxAge => "retired_max_age",
            Retired::Full => "retired_full",
        }
    }
}

/// The warm instances of one plugin in one tenant.
pub struct WarmPool {
    policy: ReusePolicy,
    idle: Mutex<Vec<Warm>>,
    born: AtomicU32,
}

impl std::fmt::Debug for WarmPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmPool")
            .field("policy", &self.policy)
            .field("idle", &self.idle_count())
            .finish()
    }
}

impl WarmPool {
    /// An empty pool.
    pub fn new(policy: ReusePolicy) -> WarmPool {
        WarmPool {
            policy,
            idle: Mutex::new(Vec::new()),
            born: AtomicU32::new(0),
        }
    }

    /// The state of an instance of this pool created now, with its own
    /// share of the policy's lifespan.
    pub fn new_state(&self) -> WarmState {
        let cut = shortening(self.born.fetch_add(1, Ordering::Relaxed));
        let max_calls = self.policy.max_calls;
        WarmState {
            calls: 0,
            born: Instant::now(),
            max_calls: (max_calls - max_calls / 64 * cut).max(1),
            max_age: self.policy.max_age - self.policy.max_age / 64 * cut,
        }
    }

    /// Its policy.
    pub fn policy(&self) -> &ReusePolicy {
        &self.policy
    }

    /// Takes the most recently used idle instance that is still young
    /// enough; instances past their age are dropped on the way (counted in
    /// the second value).
    pub fn take(&self) -> (Option<Warm>, u32) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut aged = 0;
        while let Some(warm) = idle.pop() {
            if !warm.state.aged() {
                return (Some(warm), aged);
            }
            aged += 1;
        }
        (None, aged)
    }

    /// Gives back an instance after a call that ended cleanly; it stays
    /// only if it may serve another call and there is room.
    pub fn put(&self, mut warm: Warm) -> Option<Retired> {
        warm.state.calls = warm.state.calls.saturating_add(1);
        if warm.state.calls >= warm.state.max_calls {
            return Some(Retired::MaxCalls);
        }
        if warm.state.aged() {
            return Some(Retired::MaxAge);
        }
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() >= usize::try_from(self.policy.max_idle).unwrap_or(usize::MAX) {
            return Some(Retired::Full);
        }
        idle.push(warm);
        None
    }

    /// Instances waiting now.
    pub fn idle_count(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_born_together_get_different_lifespans_within_an_eighth() {
        let pool = WarmPool::new(ReusePolicy {
            max_calls: 1000,
            max_age: Duration::from_secs(64),
            max_idle: 16,
        });
        let states: Vec<WarmState> = (0..9).map(|_| pool.new_state()).collect();
        let mut calls: Vec<u32> = states.iter().map(|s| s.max_calls).collect();
        calls.sort_unstable();
        calls.dedup();
        assert_eq!(calls.len(), 9, "nine in a row differ: {calls:?}");
        assert_eq!(calls[0], 1000 - 15 * 8);
        assert_eq!(calls[8], 1000);
        assert!(states.iter().all(|s| s.max_age >= Duration::from_secs(56)));
    }

    #[test]
    fn small_policies_are_kept_exactly() {
        let pool = WarmPool::new(ReusePolicy {
            max_calls: 3,
            max_age: Duration::from_secs(60),
            max_idle: 1,
        });
        assert!((0..20).all(|_| pool.new_state().max_calls == 3));
    }
}
