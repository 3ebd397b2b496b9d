//! Warm reuse: a bounded pool of live instances of one plugin for one
//! tenant, for routes that opt out of a fresh instance per call.
//!
//! An instance serves at most `max_calls` calls and lives at most `max_age`.
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
use std::time::{Duration, Instant};

use crate::plugin::Live;

/// How long warm instances live, and how many wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReusePolicy {
    /// Calls one instance serves before it is retired.
    pub max_calls: u32,
    /// How long one instance lives, from its creation.
    pub max_age: Duration,
    /// Instances kept idle between calls, at most.
    pub max_idle: u32,
}

/// A live instance and what it has served.
pub struct Warm {
    live: Live,
    state: WarmState,
}

/// What a warm instance has served, while its instance is out on a call.
#[derive(Debug, Clone, Copy)]
pub struct WarmState {
    calls: u32,
    born: Instant,
}

impl WarmState {
    /// The state of an instance created now.
    pub fn new() -> WarmState {
        WarmState {
            calls: 0,
            born: Instant::now(),
        }
    }
}

impl Default for WarmState {
    fn default() -> Self {
        WarmState::new()
    }
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
            if warm.state.born.elapsed() < self.policy.max_age {
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
        if warm.state.calls >= self.policy.max_calls {
            return Some(Retired::MaxCalls);
        }
        if warm.state.born.elapsed() >= self.policy.max_age {
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
