//! The key-value store behind the `kv` import: small shared state that
//! outlives a call (counters, bookings). Keys are namespaced per tenant by
//! the import, never by guests.
//!
//! The embedded backend keeps everything in this process: zero setup, but
//! each Rotor replica has its own state.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest key a guest may use, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// The largest value a guest may store, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 << 10;
/// Entries the embedded store holds at most: bounds its memory.
pub const MAX_ENTRIES: usize = 1_000_000;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The store cannot take or serve the operation now.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The key or value breaks a limit, or the value is not a counter.
    #[error("invalid: {0}")]
    Invalid(String),
}

/// A key-value store shared by every call.
#[derive(Debug, Default)]
pub struct KvStore {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

impl KvStore {
    /// An empty embedded store.
    pub fn new() -> KvStore {
        KvStore::default()
    }

    /// The value of `key`, if set and not expired.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        check_key(key)?;
        let entries = self.lock()?;
        let now = Instant::now();
        Ok(entries
            .get(key)
            .filter(|e| e.live(now))
            .map(|e| e.value.clone()))
    }

    /// Sets `key`, expiring after `ttl` if given.
    pub fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), KvError> {
        check_key(key)?;
        check_value(&value)?;
        let mut entries = self.lock()?;
        let now = Instant::now();
        make_room(&mut entries, key, now)?;
        entries.insert(
            key.to_owned(),
            Entry {
                value,
                expires: ttl.map(|ttl| now + ttl),
            },
        );
        Ok(())
    }

    /// Removes `key`; true if it was set.
    pub fn delete(&self, key: &str) -> Result<bool, KvError> {
        check_key(key)?;
        let mut entries = self.lock()?;
        let now = Instant::now();
        Ok(entries.remove(key).is_some_and(|e| e.live(now)))
    }

    /// Adds `delta` to the decimal counter at `key` and returns the new
    /// value; `ttl` applies when the key is created.
    pub fn increment(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, KvError> {
        check_key(key)?;
        let mut entries = self.lock()?;
        let now = Instant::now();
        let current = match entries.get(key).filter(|e| e.live(now)) {
            Some(entry) => Some(parse_counter(&entry.value)?),
            None => None,
        };
        let value = current
            .unwrap_or(0)
            .checked_add(delta)
            .ok_or_else(|| KvError::Invalid("the counter would overflow".into()))?;
        let bytes = value.to_string().into_bytes();
        match current {
            Some(_) => {
                if let Some(entry) = entries.get_mut(key) {
                    entry.value = bytes;
                }
            }
            None => {
                make_room(&mut entries, key, now)?;
                entries.insert(
                    key.to_owned(),
                    Entry {
                        value: bytes,
                        expires: ttl.map(|ttl| now + ttl),
                    },
                );
            }
        }
        Ok(value)
    }

    /// Sets `key` to `value` only if it currently holds `expected` (`None`:
    /// only if unset); true if it was set.
    pub fn compare_and_set(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool, KvError> {
        check_key(key)?;
        check_value(&value)?;
        let mut entries = self.lock()?;
        let now = Instant::now();
        let current = entries
            .get(key)
            .filter(|e| e.live(now))
            .map(|e| e.value.as_slice());
        if current != expected {
            return Ok(false);
        }
        make_room(&mut entries, key, now)?;
        entries.insert(
            key.to_owned(),
            Entry {
                value,
                expires: ttl.map(|ttl| now + ttl),
            },
        );
        Ok(true)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Entry>>, KvError> {
        self.entries
            .lock()
            .map_err(|_| KvError::Unavailable("the store was poisoned by a panic".into()))
    }
}

fn check_key(key: &str) -> Result<(), KvError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(KvError::Invalid(format!(
            "keys are 1 to {MAX_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<(), KvError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(KvError::Invalid(format!(
            "values are at most {MAX_VALUE_BYTES} bytes"
        )));
    }
    Ok(())
}

fn parse_counter(value: &[u8]) -> Result<i64, KvError> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| KvError::Invalid("the value is not a decimal counter".into()))
}

/// Makes room for one more key: drops expired entries when full, and refuses
/// when still full.
fn make_room(entries: &mut HashMap<String, Entry>, key: &str, now: Instant) -> Result<(), KvError> {
    if entries.len() < MAX_ENTRIES || entries.contains_key(key) {
        return Ok(());
    }
    entries.retain(|_, entry| entry.live(now));
    if entries.len() >= MAX_ENTRIES {
        return Err(KvError::Unavailable(format!(
            "the store is full ({MAX_ENTRIES} keys)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_delete() {
        let kv = KvStore::new();
        assert_eq!(kv.get("a"), Ok(None));
        kv.set("a", b"1".to_vec(), None).unwrap();
        assert_eq!(kv.get("a"), Ok(Some(b"1".to_vec())));
        assert_eq!(kv.delete("a"), Ok(true));
        assert_eq!(kv.delete("a"), Ok(false));
    }

    #[test]
    fn entries_expire() {
        let kv = KvStore::new();
        kv.set("a", b"1".to_vec(), Some(Duration::ZERO)).unwrap();
        assert_eq!(kv.get("a"), Ok(None));
        assert_eq!(kv.increment("n", 1, Some(Duration::ZERO)), Ok(1));
        assert_eq!(
            kv.increment("n", 1, None),
            Ok(1),
            "an expired counter starts again"
        );
    }

    #[test]
    fn counters() {
        let kv = KvStore::new();
        assert_eq!(kv.increment("n", 2, Some(Duration::from_secs(60))), Ok(2));
        assert_eq!(kv.increment("n", -5, None), Ok(-3));
        kv.set("text", b"abc".to_vec(), None).unwrap();
        assert!(matches!(
            kv.increment("text", 1, None),
            Err(KvError::Invalid(_))
        ));
        kv.set("max", i64::MAX.to_string().into_bytes(), None)
            .unwrap();
        assert!(kv.increment("max", 1, None).is_err());
    }

    #[test]
    fn compare_and_set() {
        let kv = KvStore::new();
        assert_eq!(
            kv.compare_and_set("seat", None, b"alice".to_vec(), None),
            Ok(true)
        );
        assert_eq!(
            kv.compare_and_set("seat", None, b"bob".to_vec(), None),
            Ok(false)
        );
        assert_eq!(
            kv.compare_and_set("seat", Some(b"alice"), b"bob".to_vec(), None),
            Ok(true)
        );
        assert_eq!(kv.get("seat"), Ok(Some(b"bob".to_vec())));
    }

    #[test]
    fn limits() {
        let kv = KvStore::new();
        assert!(kv.get("").is_err());
        assert!(kv.get(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
        assert!(kv.set("k", vec![0; MAX_VALUE_BYTES + 1], None).is_err());
    }
}
