//! Admission of one tenant's calls under its `concurrency` limit, which a
//! config reload may raise or lower while calls run.
//!
//! A raised limit admits more calls at once. A lowered one admits no new
//! call until the calls in flight are under it: the slots above the new
//! limit are taken out of circulation as the calls holding them finish,
//! so the tenant never has more calls at once than the larger of the old
//! limit (for calls that started under it) and the new one.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

/// A tenant's concurrency slots.
#[derive(Debug)]
pub struct Admission {
    permits: Arc<Semaphore>,
    /// The limit now, in calls.
    limit: Mutex<usize>,
    /// Slots of a lowered limit still held by calls in flight: they leave
    /// circulation when those calls end.
    owed: Arc<AtomicUsize>,
}

impl Admission {
    /// Slots for `limit` calls at once.
    pub fn new(limit: u32) -> Admission {
        let limit = slots(limit);
        Admission {
            permits: Arc::new(Semaphore::new(limit)),
            limit: Mutex::new(limit),
            owed: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// One slot, or `None` at once when every slot is taken.
    pub fn try_admit(&self) -> Option<SemaphorePermit<'_>> {
        self.permits.try_acquire().ok()
    }

    /// One slot held apart from this value (a stream holds its slot for
    /// its life), or `None` at once when every slot is taken.
    pub fn try_admit_owned(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }

    /// The limit now, in calls.
    pub fn limit(&self) -> usize {
        *self.limit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether every slot is taken now.
    pub fn saturated(&self) -> bool {
        self.permits.available_permits() == 0
    }

    /// Calls holding a slot now.
    pub fn in_flight(&self) -> usize {
        let limit = self.limit();
        (limit + self.owed.load(Ordering::Relaxed)).saturating_sub(self.permits.available_permits())
    }

    /// Makes `limit` the number of calls admitted at once, for every call
    /// admitted from now on. Needs a Tokio runtime to lower a limit below
    /// the calls in flight (the excess slots are collected as they free up);
    /// without one, those slots stay in circulation.
    pub fn set_limit(&self, limit: u32) {
        let new = slots(limit);
        let mut current = self.limit.lock().unwrap_or_else(|e| e.into_inner());
        let old = *current;
        *current = new;
        if new > old {
            self.permits.add_permits(new - old);
            return;
        }
        let excess = old - new;
        let owed = excess - self.permits.forget_permits(excess);
        if owed == 0 {
            return;
        }
        let (Ok(runtime), Ok(count)) = (tokio::runtime::Handle::try_current(), u32::try_from(owed))
        else {
            return;
        };
        self.owed.fetch_add(owed, Ordering::Relaxed);
        let (permits, owed_now) = (self.permits.clone(), self.owed.clone());
        // Released slots go to this waiter before any new call: a semaphore
        // serves waiters first.
        runtime.spawn(async move {
            if let Ok(taken) = permits.acquire_many_owned(count).await {
                taken.forget();
            }
            owed_now.fetch_sub(owed, Ordering::Relaxed);
        });
    }
}

/// `limit` as a count of semaphore slots (which has a ceiling far above
/// any real limit).
fn slots(limit: u32) -> usize {
    usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .min(Semaphore::MAX_PERMITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_limit_admits_more_at_once() {
        let admission = Admission::new(1);
        let first = admission.try_admit().expect("a slot");
        assert!(admission.try_admit().is_none());
        admission.set_limit(2);
        let second = admission.try_admit().expect("a new slot");
        assert_eq!(admission.in_flight(), 2);
        drop((first, second));
        assert_eq!(admission.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_lowered_limit_holds_once_calls_in_flight_end() {
        let admission = Admission::new(3);
        let held: Vec<_> = (0..3).map(|_| admission.try_admit().unwrap()).collect();
        admission.set_limit(1);
        assert_eq!(admission.in_flight(), 3, "calls in flight finish");
        assert!(admission.try_admit().is_none());
        drop(held);
        // The collector runs on this runtime: let it take the excess.
        for _ in 0..100 {
            if admission.owed.load(Ordering::Relaxed) == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(admission.in_flight(), 0);
        let one = admission.try_admit().expect("one slot");
        assert!(admission.try_admit().is_none(), "the new limit holds");
        drop(one);
        admission.set_limit(2);
        let _both = (
            admission.try_admit().unwrap(),
            admission.try_admit().unwrap(),
        );
        assert!(admission.try_admit().is_none());
    }

    #[test]
    fn lowering_with_free_slots_takes_them_at_once() {
        let admission = Admission::new(4);
        admission.set_limit(2);
        let _a = admission.try_admit().unwrap();
        let _b = admission.try_admit().unwrap();
        assert!(admission.try_admit().is_none());
        assert_eq!(admission.in_flight(), 2);
    }
}
