//! The embedded backend: one map per tenant in this process.
//!
//! Each tenant has its own partition behind its own lock, so one tenant's
//! traffic never holds up another's. A partition keeps its byte count
//! current on every write, and an index of entries by expiry time: expired
//! entries are dropped from the front of that index, a few per operation and
//! more when a write would not fit, so no operation scans the partition.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::{KvError, Space, counter_cost, parse_counter, value_cost};

/// Expired entries every operation drops, at most: keeps the expiry index
/// from growing behind the writes that feed it.
const PURGE_STEP: usize = 32;
/// Expired entries a write that would not fit drops before it is refused,
/// at most: bounds the time one operation holds its tenant's lock.
const PURGE_WHEN_FULL: usize = 4096;

/// The embedded backend: a partition per tenant, each bounded by its
/// tenant's byte budget.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tenants: RwLock<HashMap<String, Arc<Mutex<Partition>>>>,
}

/// One tenant's entries.
#[derive(Debug, Default)]
struct Partition {
    entries: HashMap<Arc<str>, Entry>,
    /// The entries that expire, by when.
    expiry: BTreeSet<(Instant, Arc<str>)>,
    /// What the entries cost in all (see [`super::entry_cost`]).
    bytes: u64,
}

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
    cost: u64,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

fn poisoned<T>(_: T) -> KvError {
    KvError::Unavailable("the store was poisoned by a panic".into())
}

impl MemoryStore {
    /// Runs `operation` on the partition of `space`'s tenant, under its
    /// lock, after dropping a few expired entries.
    fn with<T>(
        &self,
        space: Space<'_>,
        operation: impl FnOnce(&mut Partition, Instant) -> Result<T, KvError>,
    ) -> Result<T, KvError> {
        let partition = self.partition(space.tenant)?;
        let mut partition = partition.lock().map_err(poisoned)?;
        let now = Instant::now();
        partition.purge(now, PURGE_STEP);
        operation(&mut partition, now)
    }

    fn partition(&self, tenant: &str) -> Result<Arc<Mutex<Partition>>, KvError> {
        if let Some(partition) = self.tenants.read().map_err(poisoned)?.get(tenant) {
            return Ok(partition.clone());
        }
        let mut tenants = self.tenants.write().map_err(poisoned)?;
        Ok(tenants.entry(tenant.to_owned()).or_default().clone())
    }

    pub(super) fn get(&self, space: Space<'_>, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.with(space, |partition, now| {
            Ok(partition.live(key, now).map(|entry| entry.value.clone()))
        })
    }

    pub(super) fn set(
        &self,
        space: Space<'_>,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), KvError> {
        self.with(space, |partition, now| {
            let cost = value_cost(key, &value);
            partition.put(space, key, value, cost, expiry(now, ttl), now)
        })
    }

    pub(super) fn delete(&self, space: Space<'_>, key: &str) -> Result<bool, KvError> {
        self.with(space, |partition, now| {
            Ok(partition.remove(key).is_some_and(|entry| entry.live(now)))
        })
    }

    pub(super) fn increment(
        &self,
        space: Space<'_>,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, KvError> {
        self.with(space, |partition, now| {
            let (current, expires) = match partition.live(key, now) {
                Some(entry) => (parse_counter(&entry.value)?, entry.expires),
                None => (0, expiry(now, ttl)),
            };
            let value = current
                .checked_add(delta)
                .ok_or_else(|| KvError::Invalid("the counter would overflow".into()))?;
            let bytes = value.to_string().into_bytes();
            partition.put(space, key, bytes, counter_cost(key), expires, now)?;
            Ok(value)
        })
    }

    pub(super) fn compare_and_set(
        &self,
        space: Space<'_>,
        key: &str,
        expected: Option<&[u8]>,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool, KvError> {
        self.with(space, |partition, now| {
            let current = partition.live(key, now).map(|entry| entry.value.as_slice());
            if current != expected {
                return Ok(false);
            }
            let cost = value_cost(key, &value);
            partition.put(space, key, value, cost, expiry(now, ttl), now)?;
            Ok(true)
        })
    }
}

/// When an entry written at `now` with `ttl` expires. TTLs are bounded by
/// [`super::MAX_TTL`], so this does not overflow; if it did, the entry
/// would simply not expire by the clock.
fn expiry(now: Instant, ttl: Option<Duration>) -> Option<Instant> {
    ttl.and_then(|ttl| now.checked_add(ttl))
}

impl Partition {
    /// The entry at `key` if it has not expired; an expired one is dropped.
    fn live(&mut self, key: &str, now: Instant) -> Option<&Entry> {
        if self.entries.get(key).is_some_and(|entry| !entry.live(now)) {
            self.remove(key);
        }
        self.entries.get(key)
    }

    /// Drops up to `limit` entries that have expired by `now`, soonest first.
    fn purge(&mut self, now: Instant, limit: usize) {
        for _ in 0..limit {
            let Some((at, _)) = self.expiry.first() else {
                return;
            };
            if *at > now {
                return;
            }
            if let Some((_, key)) = self.expiry.pop_first()
                && let Some(entry) = self.entries.remove(&key)
            {
                self.bytes = self.bytes.saturating_sub(entry.cost);
            }
        }
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let (key, entry) = self.entries.remove_entry(key)?;
        if let Some(at) = entry.expires {
            self.expiry.remove(&(at, key));
        }
        self.bytes = self.bytes.saturating_sub(entry.cost);
        Some(entry)
    }

    /// What the partition would cost with `key` replaced by an entry of `cost`.
    fn cost_with(&self, key: &str, cost: u64) -> u64 {
        let old = self.entries.get(key).map_or(0, |entry| entry.cost);
        self.bytes.saturating_sub(old).saturating_add(cost)
    }

    /// Puts `value` at `key`, charged `cost`; refuses when that would take
    /// the tenant past its budget even after dropping expired entries.
    fn put(
        &mut self,
        space: Space<'_>,
        key: &str,
        value: Vec<u8>,
        cost: u64,
        expires: Option<Instant>,
        now: Instant,
    ) -> Result<(), KvError> {
        if self.cost_with(key, cost) > space.max_bytes {
            self.purge(now, PURGE_WHEN_FULL);
            if self.cost_with(key, cost) > space.max_bytes {
                return Err(space.full());
            }
        }
        self.remove(key);
        let key: Arc<str> = Arc::from(key);
        if let Some(at) = expires {
            self.expiry.insert((at, key.clone()));
        }
        self.bytes = self.bytes.saturating_add(cost);
        self.entries.insert(
            key,
            Entry {
                value,
                expires,
                cost,
            },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::kv::entry_cost;

    const AMPLE: Space<'static> = Space {
        tenant: "t",
        max_bytes: 1 << 30,
    };

    #[test]
    fn set_get_delete() {
        let kv = MemoryStore::default();
        assert_eq!(kv.get(AMPLE, "a"), Ok(None));
        kv.set(AMPLE, "a", b"1".to_vec(), None).unwrap();
        assert_eq!(kv.get(AMPLE, "a"), Ok(Some(b"1".to_vec())));
        assert_eq!(kv.delete(AMPLE, "a"), Ok(true));
        assert_eq!(kv.delete(AMPLE, "a"), Ok(false));
    }

    #[test]
    fn entries_expire() {
        let kv = MemoryStore::default();
        kv.set(AMPLE, "a", b"1".to_vec(), Some(Duration::ZERO))
            .unwrap();
        assert_eq!(kv.get(AMPLE, "a"), Ok(None));
        assert_eq!(kv.increment(AMPLE, "n", 1, Some(Duration::ZERO)), Ok(1));
        assert_eq!(
            kv.increment(AMPLE, "n", 1, None),
            Ok(1),
            "an expired counter starts again"
        );
    }

    #[test]
    fn counters() {
        let kv = MemoryStore::default();
        let window = Some(Duration::from_secs(60));
        assert_eq!(kv.increment(AMPLE, "n", 2, window), Ok(2));
        assert_eq!(kv.increment(AMPLE, "n", -5, None), Ok(-3));
        kv.set(AMPLE, "text", b"abc".to_vec(), None).unwrap();
        assert!(matches!(
            kv.increment(AMPLE, "text", 1, None),
            Err(KvError::Invalid(_))
        ));
        kv.set(AMPLE, "max", i64::MAX.to_string().into_bytes(), None)
            .unwrap();
        assert!(kv.increment(AMPLE, "max", 1, None).is_err());
    }

    #[test]
    fn compare_and_set() {
        let kv = MemoryStore::default();
        let cas = |expected: Option<&[u8]>, value: &[u8]| {
            kv.compare_and_set(AMPLE, "seat", expected, value.to_vec(), None)
        };
        assert_eq!(cas(None, b"alice"), Ok(true));
        assert_eq!(cas(None, b"bob"), Ok(false));
        assert_eq!(cas(Some(b"alice"), b"bob"), Ok(true));
        assert_eq!(kv.get(AMPLE, "seat"), Ok(Some(b"bob".to_vec())));
    }

    fn used(kv: &MemoryStore, tenant: &str) -> u64 {
        let partition = kv.partition(tenant).unwrap();
        let partition = partition.lock().unwrap();
        partition.bytes
    }

    #[test]
    fn the_byte_count_follows_every_write() {
        let kv = MemoryStore::default();
        kv.set(AMPLE, "a", vec![0; 100], None).unwrap();
        assert_eq!(used(&kv, "t"), entry_cost("a", 100));
        kv.set(AMPLE, "a", vec![0; 10], None).unwrap();
        assert_eq!(used(&kv, "t"), entry_cost("a", 10), "an overwrite");
        kv.increment(AMPLE, "n", 1, None).unwrap();
        kv.increment(AMPLE, "n", 1_000_000, None).unwrap();
        assert_eq!(
            used(&kv, "t"),
            entry_cost("a", 10) + counter_cost("n"),
            "a counter costs the same whatever its digits"
        );
        kv.compare_and_set(AMPLE, "a", Some(&[0; 10]), vec![1; 20], None)
            .unwrap();
        kv.delete(AMPLE, "n").unwrap();
        assert_eq!(used(&kv, "t"), entry_cost("a", 20));
        kv.set(AMPLE, "a", vec![], Some(Duration::ZERO)).unwrap();
        assert_eq!(kv.get(AMPLE, "a"), Ok(None));
        assert_eq!(used(&kv, "t"), 0, "an expired entry is freed");
    }

    /// Finding 3: the store was bounded by key count for all tenants at
    /// once, so one tenant could fill it for everyone.
    #[test]
    fn a_full_store_refuses_only_the_tenant_that_filled_it() {
        let kv = MemoryStore::default();
        let small = |tenant| Space {
            tenant,
            max_bytes: 10 * entry_cost("k00", 100),
        };
        let mut stored = 0;
        while kv
            .set(small("a"), &format!("k{stored:02}"), vec![0; 100], None)
            .is_ok()
        {
            stored += 1;
        }
        assert_eq!(stored, 10, "a's budget holds ten such entries");
        assert_eq!(
            kv.set(small("a"), "k99", vec![0; 100], None),
            Err(KvError::Full {
                budget: small("a").max_bytes
            })
        );
        assert_eq!(
            kv.increment(small("a"), "n", 1, None),
            Err(small("a").full()),
            "counters count too"
        );
        // An overwrite that costs no more still fits, and a delete frees room.
        kv.set(small("a"), "k00", vec![1; 100], None).unwrap();
        kv.delete(small("a"), "k00").unwrap();
        assert_eq!(kv.increment(small("a"), "n", 1, None), Ok(1));
        // Another tenant is not refused.
        kv.set(small("b"), "k00", vec![0; 100], None).unwrap();
        assert_eq!(kv.get(small("b"), "k00"), Ok(Some(vec![0; 100])));
        assert_eq!(
            kv.get(small("a"), "k01"),
            Ok(Some(vec![0; 100])),
            "and a's keys are untouched"
        );
    }

    #[test]
    fn expired_entries_make_room() {
        let kv = MemoryStore::default();
        let space = Space {
            tenant: "t",
            max_bytes: 2 * entry_cost("k0", 10),
        };
        kv.set(space, "k0", vec![0; 10], Some(Duration::from_millis(20)))
            .unwrap();
        kv.set(space, "k1", vec![0; 10], Some(Duration::from_millis(20)))
            .unwrap();
        assert_eq!(kv.set(space, "k2", vec![0; 10], None), Err(space.full()));
        std::thread::sleep(Duration::from_millis(40));
        kv.set(space, "k2", vec![0; 10], None).unwrap();
        kv.set(space, "k3", vec![0; 10], None).unwrap();
    }

    /// Finding 3: a write to a full store scanned every entry under one
    /// global lock. Now a write drops a bounded number of expired entries:
    /// a few always, more only when it would not fit otherwise.
    #[test]
    fn a_write_to_a_full_store_does_bounded_work() {
        let count = 3 * PURGE_WHEN_FULL;
        let cost = entry_cost("k00000", 0);
        let space = Space {
            tenant: "t",
            max_bytes: u64::try_from(count).unwrap() * cost,
        };
        let mut partition = Partition::default();
        let start = Instant::now();
        let soon = Some(start + Duration::from_millis(1));
        for n in 0..count {
            partition
                .put(space, &format!("k{n:05}"), Vec::new(), cost, soon, start)
                .unwrap_or_else(|error| panic!("entry {n}: {error}"));
        }
        assert_eq!(partition.bytes, space.max_bytes, "full");

        // A later write, as `MemoryStore::with` runs it: every entry has
        // expired, and the value needs more room than the first step frees.
        let later = start + Duration::from_secs(1);
        partition.purge(later, PURGE_STEP);
        let big = vec![0; 64 << 10];
        let big_cost = entry_cost("new", 64 << 10);
        partition
            .put(space, "new", big, big_cost, None, later)
            .unwrap();
        assert_eq!(
            partition.entries.len(),
            count - PURGE_STEP - PURGE_WHEN_FULL + 1,
            "the write dropped a bounded number of entries, not all {count}"
        );
        assert_eq!(partition.expiry.len(), partition.entries.len() - 1);
        assert_eq!(
            partition.bytes,
            u64::try_from(partition.entries.len() - 1).unwrap() * cost + big_cost
        );
    }
}
