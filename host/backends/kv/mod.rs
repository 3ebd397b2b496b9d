//! The key-value store behind the `kv` import: small shared state that
//! outlives a call (counters, bookings).
//!
//! Every operation names the tenant whose keys it touches (a [`Space`]), so
//! the store keeps each tenant's keys apart, and every write is charged to
//! that tenant's byte budget: a tenant that fills its budget is refused
//! ([`KvError::Full`]) while every other tenant goes on. What an entry
//! costs is [`entry_cost`]: its key and value bytes plus a fixed overhead,
//! so a million tiny keys cost what they take.
//!
//! Two backends behind one type: the embedded store keeps everything in this
//! process (zero setup, but each Rotor replica has its own state); Redis is
//! shared by every replica behind one Centrifugo.

mod memory;
mod redis;

use std::time::Duration;

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;
use crate::config::KvConfig;

/// The longest key a guest may use, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// The largest value a guest may store, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 << 10;
/// The longest TTL a guest may ask for: far beyond any window or booking,
/// and small enough that every backend can add it to its clock. Longer TTLs
/// are refused before anything is written.
pub const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// What one entry costs its tenant's budget beyond its key and value: the
/// backend's bookkeeping of it (map slot, expiry index, usage record).
pub const ENTRY_OVERHEAD: u64 = 128;
/// What a counter's value costs, whatever its digits: the longest `i64` in
/// decimal, so incrementing a counter never changes what it costs.
pub const COUNTER_BYTES: u64 = 20;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The store cannot take or serve the operation now.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The key, value or TTL breaks a limit, or the value is not a counter.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The write would take the tenant past its byte budget.
    #[error("the tenant's kv budget of {budget} bytes is full")]
    Full {
        /// The tenant's budget, in bytes.
        budget: u64,
    },
}

/// Whose keys an operation touches, and how much that tenant may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space<'a> {
    /// The tenant's name: its key space.
    pub tenant: &'a str,
    /// The bytes its entries may cost in all (see [`entry_cost`]).
    pub max_bytes: u64,
}

impl Space<'_> {
    fn full(&self) -> KvError {
        KvError::Full {
            budget: self.max_bytes,
        }
    }
}

/// What an entry of `key` with a value of `value_bytes` costs its tenant.
pub fn entry_cost(key: &str, value_bytes: u64) -> u64 {
    u64::try_from(key.len())
        .unwrap_or(u64::MAX)
        .saturating_add(value_bytes)
        .saturating_add(ENTRY_OVERHEAD)
}

fn value_cost(key: &str, value: &[u8]) -> u64 {
    entry_cost(key, u64::try_from(value.len()).unwrap_or(u64::MAX))
}

fn counter_cost(key: &str) -> u64 {
    entry_cost(key, COUNTER_BYTES)
}

/// A key-value store shared by every call.
#[derive(Debug)]
pub enum KvStore {
    /// In this process.
    Memory(MemoryStore),
    /// In Redis, shared by replicas.
    Redis(Box<RedisStore>),
}

impl KvStore {
    /// An empty embedded store.
    pub fn memory() -> KvStore {
        KvStore::Memory(MemoryStore::default())
    }

    /// Opens the store `config` names (Redis connects on first use).
    pub fn from_config(config: &KvConfig) -> Result<KvStore, KvError> {
        Ok(match config {
            KvConfig::Memory => KvStore::memory(),
            KvConfig::Redis { url, prefix } => {
                KvStore::Redis(Box::new(RedisStore::new(url, prefix)?))
            }
        })
    }

    /// The value of `key`, if set and not expired.
    pub async fn get(&self, space: Space<'_>, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        check_key(key)?;
        match self {
            KvStore::Memory(store) => store.get(space, key),
            KvStore::Redis(store) => store.get(space, key).await,
        }
    }

    /// Sets `key`, expiring after `ttl` if given.
    pub async fn set(
        &self,
        space: Space<'_>,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), KvError> {
        check_key(key)?;
        check_value(&value)?;
        check_ttl(ttl)?;
        match self {
            KvStore::Memory(store) => store.set(space, key, value, ttl),
            KvStore::Redis(store) => store.set(space, key, value, ttl).await,
        }
    }

    /// Removes `key`; true if it was set.
    pub async fn delete(&self, space: Space<'_>, key: &str) -> Result<bool, KvError> {
        check_key(key)?;
        match self {
            KvStore::Memory(store) => store.delete(space, key),
            KvStore::Redis(store) => store.delete(space, key).await,
        }
    }

    /// Adds `delta` to the decimal counter at `key` and returns the new
    /// value; `ttl` applies when the key is created.
    pub async fn increment(
        &self,
        space: Space<'_>,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, KvError> {
        check_key(key)?;
        check_ttl(ttl)?;
        match self {
            KvStore::Memory(store) => store.increment(space, key, delta, ttl),
            KvStore::Redis(store) => store.increment(space, key, delta, ttl).await,
        }
    }

    /// Sets `key` to `value` only if it currently holds `expected` (`None`:
    /// only if unset); true if it was set.
    pub async fn compare_and_set(
        &self,
        space: Space<'_>,
        key: &str,
        expected: Option<&[u8]>,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool, KvError> {
        check_key(key)?;
        check_value(&value)?;
        check_ttl(ttl)?;
        match self {
            KvStore::Memory(store) => store.compare_and_set(space, key, expected, value, ttl),
            KvStore::Redis(store) => {
                store
                    .compare_and_set(space, key, expected, value, ttl)
                    .await
            }
        }
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

fn check_ttl(ttl: Option<Duration>) -> Result<(), KvError> {
    if ttl.is_some_and(|ttl| ttl > MAX_TTL) {
        return Err(KvError::Invalid(format!(
            "a TTL is at most {} ms (ten years); omit it for a key that does not expire",
            MAX_TTL.as_millis()
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

#[cfg(test)]
mod tests;
