//! CPU shared between tenants. A guest that runs through an epoch tick is
//! charged, at that tick, for the time since its current slice began; a
//! tenant whose guests ran faster than its rate owes the difference, and
//! its guests pause at their next tick until the debt is paid. A tenant
//! whose guests spin therefore cannot take the cores from the others: its
//! spinning calls sleep instead, and still end at their deadline.
//!
//! A tenant's rate is its `limits.cpu`, if set, and never more than an
//! equal share of the cores while other tenants have calls in flight. A
//! tenant alone without a `cpu` limit is not metered at all.
//!
//! Only guest code is metered: decoding, routing and the transport are the
//! host's and run for every tenant alike. Time a guest waits on a host
//! import inside a slice is charged as if it ran: the meter errs on the
//! side of the other tenants, and a guest cannot dodge it by calling
//! imports.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;

use crate::policy::CORE;
use crate::telemetry::{CpuThrottled, TenantLabels};

/// The CPU time a tenant may bank while its guests are idle, as time at
/// its rate: how long a burst runs unthrottled.
const BURST: Duration = Duration::from_millis(10);

/// The CPU of this host, shared by every tenant.
#[derive(Debug)]
pub struct CpuShares {
    millicores: u32,
    busy: AtomicUsize,
    throttled: CpuThrottled,
}

impl CpuShares {
    /// The shares of a host with `cores` cores for guests, counting pauses
    /// in `throttled`.
    pub fn new(cores: usize, throttled: CpuThrottled) -> Arc<CpuShares> {
        let cores = u32::try_from(cores.max(1)).unwrap_or(u32::MAX / CORE);
        Arc::new(CpuShares {
            millicores: cores.saturating_mul(CORE),
            busy: AtomicUsize::new(0),
            throttled,
        })
    }

    /// The shares of this host: one core per thread the runtime may run.
    pub fn host(throttled: CpuThrottled) -> Arc<CpuShares> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        CpuShares::new(cores, throttled)
    }

    /// A new meter for `tenant`, with its `cpu` limit in millicores if it
    /// has one.
    pub fn tenant(self: &Arc<CpuShares>, tenant: &str, limit: Option<u32>) -> Arc<TenantCpu> {
        let throttled = self.throttled.get_or_create(&TenantLabels {
            tenant: tenant.to_owned(),
        });
        Arc::new(TenantCpu {
            shares: self.clone(),
            throttled: throttled.clone(),
            limit: AtomicU32::new(limit.unwrap_or(UNLIMITED)),
            in_flight: AtomicUsize::new(0),
            bucket: Mutex::new(Bucket {
                credit_ns: i64::MAX,
                refilled: Instant::now(),
            }),
        })
    }

    /// Tenants with calls in flight.
    fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed).max(1)
    }
}

/// The stored `limit` of a tenant without a `cpu` limit.
const UNLIMITED: u32 = u32::MAX;

/// One tenant's CPU meter.
#[derive(Debug)]
pub struct TenantCpu {
    shares: Arc<CpuShares>,
    throttled: Counter<f64, AtomicU64>,
    /// The `cpu` limit in millicores, [`UNLIMITED`] for none: a config
    /// reload may change it while calls run.
    limit: AtomicU32,
    in_flight: AtomicUsize,
    bucket: Mutex<Bucket>,
}

/// Credit for CPU time at the tenant's rate, in nanoseconds: negative when
/// its guests owe time.
#[derive(Debug)]
struct Bucket {
    credit_ns: i64,
    refilled: Instant,
}

impl TenantCpu {
    /// Marks a call of this tenant in flight until the guard drops: while
    /// it is, other tenants' guests are held to their share.
    pub fn enter(&self) -> InFlight<'_> {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
            self.shares.busy.fetch_add(1, Ordering::Relaxed);
        }
        InFlight(self)
    }

    /// The tenant's `cpu` limit in millicores, if it has one.
    pub fn limit(&self) -> Option<u32> {
        Some(self.limit.load(Ordering::Relaxed)).filter(|&limit| limit != UNLIMITED)
    }

    /// Sets the tenant's `cpu` limit (a config reload): the next tick of
    /// every guest of the tenant, running or not, is metered at it.
    pub fn set_limit(&self, limit: Option<u32>) {
        self.limit
            .store(limit.unwrap_or(UNLIMITED), Ordering::Relaxed);
    }

    /// The rate this tenant's guests may run at now, in millicores; `None`
    /// when they are not metered.
    pub fn rate(&self) -> Option<u32> {
        let limit = self.limit();
        let busy = self.shares.busy();
        if busy <= 1 {
            return limit;
        }
        let share = self.shares.millicores / u32::try_from(busy).unwrap_or(u32::MAX);
        let share = share.max(1);
        Some(limit.map_or(share, |limit| limit.min(share)))
    }

    /// Charges `ran` of guest CPU time at `now`; returns how long the
    /// tenant's guest must pause to keep within its rate, if it must.
    pub fn charge(&self, ran: Duration, now: Instant) -> Option<Duration> {
        let rate = i64::from(self.rate()?);
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let since = duration_ns(now.saturating_duration_since(bucket.refilled));
        bucket.refilled = now;
        let burst = duration_ns(BURST).saturating_mul(rate) / i64::from(CORE);
        let earned = since.saturating_mul(rate) / i64::from(CORE);
        bucket.credit_ns = bucket
            .credit_ns
            .saturating_add(earned)
            .min(burst)
            .saturating_sub(duration_ns(ran));
        if bucket.credit_ns >= 0 {
            return None;
        }
        let debt = bucket.credit_ns.unsigned_abs();
        Some(Duration::from_nanos(
            debt.saturating_mul(u64::from(CORE)) / rate.unsigned_abs(),
        ))
    }

    /// Counts a pause of this tenant's guest.
    pub fn paused(&self, pause: Duration) {
        self.throttled.inc_by(pause.as_secs_f64());
    }
}

fn duration_ns(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

/// A call in flight: see [`TenantCpu::enter`].
#[derive(Debug)]
pub struct InFlight<'a>(&'a TenantCpu);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.shares.busy.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// When a guest's current slice of CPU began: at the start of each call
/// step, and again whenever it resumes after yielding at a tick.
#[derive(Debug, Clone, Default)]
pub struct Slice(Arc<AtomicU64>);

impl Slice {
    /// Starts a slice now.
    pub fn begin(&self) {
        self.0
            .store(since_origin(Instant::now()), Ordering::Relaxed);
    }

    /// How long the current slice has run at `now`.
    pub fn ran(&self, now: Instant) -> Duration {
        let began = self.0.load(Ordering::Relaxed);
        Duration::from_nanos(since_origin(now).saturating_sub(began))
    }

    /// What a guest awaits at a tick: `pause` (if any) in which other
    /// tenants' guests run, then its turn in the runtime's queue; its next
    /// slice begins when it runs again. Outside a Tokio runtime, which has
    /// no timer, it only yields.
    pub fn yield_for(&self, pause: Option<Duration>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let slice = self.clone();
        let pause = pause.filter(|_| tokio::runtime::Handle::try_current().is_ok());
        Box::pin(async move {
            match pause {
                Some(pause) => tokio::time::sleep(pause).await,
                None => tokio::task::yield_now().await,
            }
            slice.begin();
        })
    }
}

/// Nanoseconds from the first slice of this process to `now`.
fn since_origin(now: Instant) -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    u64::try_from(now.saturating_duration_since(origin).as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_tenant_alone_without_a_limit_is_not_metered() {
        let shares = CpuShares::new(2, CpuThrottled::default());
        let tenant = shares.tenant("t", None);
        let _call = tenant.enter();
        assert_eq!(tenant.rate(), None);
        assert_eq!(tenant.charge(100 * MS, Instant::now()), None);
    }

    #[test]
    fn busy_tenants_share_the_cores_equally_within_their_limits() {
        let shares = CpuShares::new(2, CpuThrottled::default());
        let (a, b) = (shares.tenant("t", None), shares.tenant("t", Some(250)));
        assert_eq!(b.rate(), Some(250), "a limit holds even alone");
        let _a_call = a.enter();
        let b_call = b.enter();
        assert_eq!(a.rate(), Some(1000));
        assert_eq!(b.rate(), Some(250));
        let c = shares.tenant("t", None);
        let _c_call = c.enter();
        assert_eq!(a.rate(), Some(666));
        drop(b_call);
        assert_eq!(
            a.rate(),
            Some(1000),
            "a tenant with no call in flight gives up its share"
        );
    }

    #[test]
    fn a_changed_limit_holds_from_the_next_tick() {
        let shares = CpuShares::new(2, CpuThrottled::default());
        let tenant = shares.tenant("t", None);
        let _call = tenant.enter();
        assert_eq!(tenant.rate(), None);
        tenant.set_limit(Some(250));
        assert_eq!(tenant.rate(), Some(250));
        assert_eq!(tenant.limit(), Some(250));
        tenant.set_limit(None);
        assert_eq!(tenant.rate(), None);
    }

    #[test]
    fn a_second_call_in_flight_does_not_count_its_tenant_twice() {
        let shares = CpuShares::new(2, CpuThrottled::default());
        let (a, b) = (shares.tenant("t", None), shares.tenant("t", None));
        let _one = a.enter();
        let _two = a.enter();
        assert_eq!(a.rate(), None);
        let _other = b.enter();
        assert_eq!(a.rate(), Some(1000));
    }

    #[test]
    fn a_tenant_over_its_rate_pauses_for_its_debt() {
        let shares = CpuShares::new(2, CpuThrottled::default());
        let tenant = shares.tenant("t", Some(500));
        let start = Instant::now();
        // A new tenant has the burst banked: 10 ms at half a core, 5 ms.
        assert_eq!(tenant.charge(5 * MS, start), None);
        // 5 ms more at once are owed: at half a core, 10 ms of pause.
        assert_eq!(tenant.charge(5 * MS, start), Some(10 * MS));
        // 10 ms later the debt is paid, and 1 ms more is owed again.
        let later = start + 10 * MS;
        assert_eq!(tenant.charge(MS, later), Some(2 * MS));
        let much_later = later + Duration::from_secs(60);
        assert_eq!(
            tenant.charge(MS, much_later),
            None,
            "idle time banks at most the burst"
        );
        assert_eq!(tenant.charge(4 * MS + MS / 2, much_later), Some(MS));
    }

    #[test]
    fn a_slice_runs_from_its_beginning() {
        let slice = Slice::default();
        slice.begin();
        let now = Instant::now();
        assert!(slice.ran(now + 3 * MS) >= 3 * MS);
        assert!(slice.ran(now + 3 * MS) < 4 * MS);
    }
}
