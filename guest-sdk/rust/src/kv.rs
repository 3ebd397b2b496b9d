//! Small shared state that outlives one call: counters, flags, caches.
//!
//! Keys are private to the tenant (the host prefixes them). Every operation
//! may fail, for example when the store is unreachable: decide whether your
//! plugin fails open or closed. Outside a component (in native unit tests)
//! there is no store, and every operation fails with
//! [`KvError::Unavailable`].

use std::time::Duration;

use crate::bindings::shared::rotor::centrifugo::kv as imports;

#[doc(inline)]
pub use imports::KvError;

/// A time to live in whole milliseconds, as the host takes it.
fn millis(ttl: Option<Duration>) -> Option<u64> {
    ttl.map(|ttl| u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(not(target_arch = "wasm32"))]
fn no_host<T>() -> Result<T, KvError> {
    Err(KvError::Unavailable(
        "no key-value store outside a component".to_string(),
    ))
}

/// The value of `key`, if it is set and has not expired.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
    #[cfg(target_arch = "wasm32")]
    return imports::get(key);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = key;
        no_host()
    }
}

/// Sets `key` to `value`, expiring after `ttl` if given.
pub fn set(key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvError> {
    #[cfg(target_arch = "wasm32")]
    return imports::set(key, value, millis(ttl));
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (key, value, millis(ttl));
        no_host()
    }
}

/// Removes `key`; `true` if it was set.
pub fn delete(key: &str) -> Result<bool, KvError> {
    #[cfg(target_arch = "wasm32")]
    return imports::delete(key);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = key;
        no_host()
    }
}

/// Adds `delta` to the counter at `key` (a missing key counts as 0) and
/// returns the new value.
///
/// `ttl` applies when this call creates the key, so a counter with a time to
/// live counts over a fixed window.
///
/// ```no_run
/// use std::time::Duration;
///
/// // At most 10 calls per user per minute.
/// let calls = rotor_sdk::kv::increment("calls:42", 1, Some(Duration::from_secs(60)));
/// let allowed = matches!(calls, Ok(count) if count <= 10);
/// ```
pub fn increment(key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, KvError> {
    #[cfg(target_arch = "wasm32")]
    return imports::increment(key, delta, millis(ttl));
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (key, delta, millis(ttl));
        no_host()
    }
}

/// Sets `key` to `value` only if its current value is `expected` (`None`:
/// only if it is not set); `true` if it was set.
pub fn compare_and_set(
    key: &str,
    expected: Option<&[u8]>,
    value: &[u8],
    ttl: Option<Duration>,
) -> Result<bool, KvError> {
    #[cfg(target_arch = "wasm32")]
    return imports::compare_and_set(key, expected, value, millis(ttl));
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (key, expected, value, millis(ttl));
        no_host()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_whole_milliseconds() {
        assert_eq!(millis(None), None);
        assert_eq!(millis(Some(Duration::from_micros(1_500))), Some(1));
        assert_eq!(millis(Some(Duration::from_secs(60))), Some(60_000));
        assert_eq!(millis(Some(Duration::MAX)), Some(u64::MAX));
    }

    #[test]
    fn natively_there_is_no_store() {
        assert!(matches!(get("k"), Err(KvError::Unavailable(_))));
        assert!(matches!(
            increment("k", 1, None),
            Err(KvError::Unavailable(_))
        ));
    }
}
