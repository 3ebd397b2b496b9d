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
//! A miss does not stampede: at most as many instances as the host has
//! cores are being built for one pool at a time. A call that finds the pool
//! empty while that many are being built waits for an instance to come
//! back or for a build to finish, whichever comes first, within its
//! deadline. Without that bound, a burst of misses (a pool emptied by
//! retirements while calls keep arriving) builds an instance per call in
//! flight at once, and large guests' instantiations starve everything.
//!
//! What a guest can observe across calls in this mode is its own state: its
//! globals, its heap, anything it cached. Nothing of another tenant's, and
//! nothing the host keeps (budgets, identity and stderr are reset per call;
//! an instance that still holds more than a few WASI resources when its
//! call ends is retired rather than reused).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore, SemaphorePermit};

use crate::policy::ReusePolicy;
use crate::runtime::plugin::Live;
use crate::telemetry::WarmCounters;

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
    /// It still held more WASI resources than a call may leave behind
    /// (`MAX_RESOURCES_KEPT` of the store).
    Resources,
}

impl Retired {
    /// A short, stable name for metrics.
    pub fn metric(self) -> &'static str {
        match self {
            Retired::MaxCalls => "retired_max_calls",
            Retired::MaxAge => "retired_max_age",
            Retired::Full => "retired_full",
            Retired::Resources => "retired_resources",
        }
    }
}

/// The warm instances of one plugin in one tenant.
pub struct WarmPool {
    policy: ReusePolicy,
    idle: Mutex<Vec<Warm>>,
    born: AtomicU32,
    gate: Gate,
    counters: WarmCounters,
}

/// What a call gets from its pool.
pub enum Acquired<'a> {
    /// An idle instance.
    Warm(Warm),
    /// Leave to build an instance: hold the permit until it is built.
    Build(SemaphorePermit<'a>),
}

/// A call's turn at its pool: what it got, and how it got there.
pub struct Turn<'a> {
    /// What it got; `None` if its deadline passed while it waited.
    pub acquired: Option<Acquired<'a>>,
    /// Instances dropped on the way for having reached their age.
    pub aged: u32,
    /// Whether it had to wait.
    pub waited: bool,
}

/// Bounds the instantiations in flight of one pool, and lets calls wait
/// for an instance to come back or for a build to finish.
struct Gate {
    builds: Semaphore,
    returned: Notify,
}

/// What [`Gate::acquire`] gives: something `take` found, or leave to build.
enum Got<'a, T> {
    Taken(T),
    Build(SemaphorePermit<'a>),
}

impl Gate {
    /// A gate that lets `builds` instantiations run at once.
    fn new(builds: usize) -> Gate {
        Gate {
            builds: Semaphore::new(builds.max(1)),
            returned: Notify::new(),
        }
    }

    /// What `take` finds, or a build permit when it finds nothing and
    /// fewer than the bound are being built; otherwise waits until an
    /// instance comes back or a build slot frees, and tries again. `None`
    /// once `deadline` passes. The second value says whether it waited.
    async fn acquire<T>(
        &self,
        mut take: impl FnMut() -> Option<T>,
        deadline: Instant,
    ) -> (Option<Got<'_, T>>, bool) {
        let mut waited = false;
        loop {
            // Registered before looking, so a return between the look and
            // the wait is not missed.
            let returned = self.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            if let Some(found) = take() {
                return (Some(Got::Taken(found)), waited);
            }
            if let Ok(permit) = self.builds.try_acquire() {
                return (Some(Got::Build(permit)), waited);
            }
            waited = true;
            tokio::select! {
                () = &mut returned => {}
                permit = self.builds.acquire() => match permit {
                    Ok(permit) => return (Some(Got::Build(permit)), waited),
                    // The semaphore is never closed.
                    Err(_) => return (None, waited),
                },
                () = tokio::time::sleep_until(deadline.into()) => return (None, waited),
            }
        }
    }

    /// Wakes a call waiting for an instance.
    fn returned(&self) {
        self.returned.notify_one();
    }
}

/// Instantiations one pool runs at once: one per core.
fn builds_per_pool() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
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
    /// An empty pool, counting its hits and misses in `counters`.
    pub fn new(policy: ReusePolicy, counters: WarmCounters) -> WarmPool {
        WarmPool {
            policy,
            idle: Mutex::new(Vec::new()),
            born: AtomicU32::new(0),
            gate: Gate::new(builds_per_pool()),
            counters,
        }
    }

    /// Its hit, miss and wait counters.
    pub fn counters(&self) -> &WarmCounters {
        &self.counters
    }

    /// An idle instance for a call, or leave to build one; waits (until
    /// `deadline` at most) rather than build beyond the bound of builds in
    /// flight. See the module's documentation.
    pub async fn acquire(&self, deadline: Instant) -> Turn<'_> {
        let mut aged = 0;
        let (got, waited) = self
            .gate
            .acquire(
                || {
                    let (warm, dropped) = self.take();
                    aged += dropped;
                    warm
                },
                deadline,
            )
            .await;
        let acquired = got.map(|got| match got {
            Got::Taken(warm) => Acquired::Warm(warm),
            Got::Build(permit) => Acquired::Build(permit),
        });
        Turn {
            acquired,
            aged,
            waited,
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
        drop(idle);
        self.gate.returned();
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

    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use crate::telemetry::Metrics;

    fn pool(policy: ReusePolicy) -> WarmPool {
        WarmPool::new(policy, Metrics::new().warm_counters("p.wasm"))
    }

    #[test]
    fn instances_born_together_get_different_lifespans_within_an_eighth() {
        let pool = pool(ReusePolicy {
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
        let pool = pool(ReusePolicy {
            max_calls: 3,
            max_age: Duration::from_secs(60),
            max_idle: 1,
        });
        assert!((0..20).all(|_| pool.new_state().max_calls == 3));
    }

    /// Calls on an empty pool: each gets an instance from the gate, builds
    /// one if told to (`build` long), uses it (`call` long) and gives it
    /// back. Returns (instances built, most builds at once).
    async fn burst(
        gate: Arc<Gate>,
        calls: usize,
        build: Duration,
        call: Duration,
    ) -> (usize, usize) {
        let idle = Arc::new(Mutex::new(Vec::<u32>::new()));
        let built = Arc::new(AtomicUsize::new(0));
        let building = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..calls)
            .map(|_| {
                let (gate, idle) = (gate.clone(), idle.clone());
                let (built, building, peak) = (built.clone(), building.clone(), peak.clone());
                tokio::spawn(async move {
                    let deadline = Instant::now() + Duration::from_secs(60);
                    let take = || idle.lock().expect("lock").pop();
                    let instance = match gate.acquire(take, deadline).await.0 {
                        Some(Got::Taken(instance)) => instance,
                        Some(Got::Build(permit)) => {
                            let now = building.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            tokio::time::sleep(build).await;
                            building.fetch_sub(1, Ordering::SeqCst);
                            drop(permit);
                            u32::try_from(built.fetch_add(1, Ordering::SeqCst)).expect("few")
                        }
                        None => panic!("no instance before the deadline"),
                    };
                    tokio::time::sleep(call).await;
                    idle.lock().expect("lock").push(instance);
                    gate.returned();
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a call task");
        }
        (built.load(Ordering::SeqCst), peak.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_burst_of_misses_builds_at_most_the_bound_at_once_and_reuses_what_comes_back() {
        let (built, peak) = burst(
            Arc::new(Gate::new(2)),
            32,
            Duration::from_millis(20),
            Duration::ZERO,
        )
        .await;
        assert!(peak <= 2, "{peak} instantiations at once");
        assert!(built < 32 / 2, "{built} instances built for 32 calls");
    }

    #[tokio::test]
    async fn without_a_bound_every_miss_builds() {
        // The same burst with room for every call: what the gate prevents.
        let (built, _) = burst(
            Arc::new(Gate::new(64)),
            32,
            Duration::from_millis(200),
            Duration::ZERO,
        )
        .await;
        assert_eq!(built, 32);
    }

    #[tokio::test]
    async fn a_call_waits_no_longer_than_its_deadline() {
        let gate = Gate::new(1);
        let _building = gate.builds.try_acquire().expect("a free slot");
        let deadline = Instant::now() + Duration::from_millis(50);
        let (got, waited) = gate.acquire(|| None::<u32>, deadline).await;
        assert!(got.is_none() && waited);
    }

    #[tokio::test]
    async fn a_waiting_call_takes_the_instance_given_back() {
        let gate = Arc::new(Gate::new(1));
        let idle = Arc::new(Mutex::new(Vec::<u32>::new()));
        let building = gate.builds.try_acquire().expect("a free slot");
        let waiter = {
            let (gate, idle) = (gate.clone(), idle.clone());
            tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(1);
                match gate
                    .acquire(|| idle.lock().expect("lock").pop(), deadline)
                    .await
                {
                    (Some(Got::Taken(instance)), true) => instance,
                    _ => panic!("expected to wait and take the returned instance"),
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        idle.lock().expect("lock").push(7);
        gate.returned();
        assert_eq!(waiter.await.expect("the waiter"), 7);
        drop(building);
    }
}
