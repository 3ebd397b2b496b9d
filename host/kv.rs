//! The key-value store behind the `kv` import: small shared state that
//! outlives a call (counters, bookings). Keys are namespaced per tenant by
//! the import, never by guests.
//!
//! Two backends behind one type: the embedded store keeps everything in this
//! process (zero setup, but each Rotor replica has its own state); Redis is
//! shared by every replica behind one Centrifugo.

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

    /// The value of `key`, if set and not expired.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        check_key(key)?;
        match self {
            KvStore::Memory(store) => store.get(key),
            KvStore::Redis(store) => store.get(key).await,
        }
    }

    /// Sets `key`, expiring after `ttl` if given.
    pub async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), KvError> {
        check_key(key)?;
        check_value(&value)?;
        match self {
            KvStore::Memory(store) => store.set(key, value, ttl),
            KvStore::Redis(store) => store.set(key, value, ttl).await,
        }
    }

    /// Removes `key`; true if it was set.
    pub async fn delete(&self, key: &str) -> Result<bool, KvError> {
        check_key(key)?;
        match self {
            KvStore::Memory(store) => store.delete(key),
            KvStore::Redis(store) => store.delete(key).await,
        }
    }

    /// Adds `delta` to the decimal counter at `key` and returns the new
    /// value; `ttl` applies when the key is created.
    pub async fn increment(
        &self,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, KvError> {
        check_key(key)?;
        match self {
            KvStore::Memory(store) => store.increment(key, delta, ttl),
            KvStore::Redis(store) => store.increment(key, delta, ttl).await,
        }
    }

    /// Sets `key` to `value` only if it currently holds `expected` (`None`:
    /// only if unset); true if it was set.
    pub async fn compare_and_set(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool, KvError> {
        check_key(key)?;
        check_value(&value)?;
        match self {
            KvStore::Memory(store) => store.compare_and_set(key, expected, value, ttl),
            KvStore::Redis(store) => store.compare_and_set(key, expected, value, ttl).await,
        }
    }
}

/// The embedded backend: a map in this process, bounded in entries.
#[derive(Debug, Default)]
pub struct MemoryStore {
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

impl MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let entries = self.lock()?;
        let now = Instant::now();
        Ok(entries
            .get(key)
            .filter(|e| e.live(now))
            .map(|e| e.value.clone()))
    }

    fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), KvError> {
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

    fn delete(&self, key: &str) -> Result<bool, KvError> {
        let mut entries = self.lock()?;
        let now = Instant::now();
        Ok(entries.remove(key).is_some_and(|e| e.live(now)))
    }

    fn increment(&self, key: &str, delta: i64, ttl: Option<Duration>) -> Result<i64, KvError> {
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

    fn compare_and_set(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool, KvError> {
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

/// The Redis backend: one multiplexed connection, made on first use and
/// re-made after failures, so Rotor starts and serves while Redis is down
/// (guests then get `unavailable`). Every key gets the configured prefix.
pub struct RedisStore {
    client: redis::Client,
    prefix: String,
    connection: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    /// When the last attempt to connect failed: for a short while after it,
    /// operations fail at once instead of each waiting on a dead server.
    failed_at: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How long connecting to Redis may take before the operation fails.
const REDIS_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(250);
/// How long one Redis command may take.
const REDIS_RESPONSE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);
/// After a failed connect, operations fail at once for this long.
const REDIS_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Atomically adds to a counter and sets its TTL only when it creates it.
const INCREMENT_SCRIPT: &str = r"
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and ARGV[2] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
";

/// Atomically sets a key if it holds the expected value (or is unset).
const COMPARE_AND_SET_SCRIPT: &str = r"
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[3])
end
return 1
";

impl RedisStore {
    /// A store at `url` (e.g. `redis://127.0.0.1:6379/0`) with keys under `prefix`.
    pub fn new(url: &str, prefix: &str) -> Result<RedisStore, KvError> {
        let client = redis::Client::open(url)
            .map_err(|error| KvError::Invalid(format!("Redis URL: {error}")))?;
        Ok(RedisStore {
            client,
            prefix: prefix.to_owned(),
            connection: tokio::sync::OnceCell::new(),
            failed_at: std::sync::Mutex::new(None),
        })
    }

    async fn connection(&self) -> Result<redis::aio::ConnectionManager, KvError> {
        if let Some(connection) = self.connection.get() {
            return Ok(connection.clone());
        }
        let recently_failed = self
            .failed_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some_and(|at| at.elapsed() < REDIS_RETRY_AFTER);
        if recently_failed {
            return Err(KvError::Unavailable("Redis is unreachable".into()));
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_CONNECT_TIMEOUT))
            .set_response_timeout(Some(REDIS_RESPONSE_TIMEOUT))
            .set_number_of_retries(1);
        let connected = self
            .connection
            .get_or_try_init(|| {
                redis::aio::ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
            .map_err(redis_error);
        if connected.is_err() {
            *self
                .failed_at
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(std::time::Instant::now());
        }
        connected
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let mut connection = self.connection().await?;
        redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut connection)
            .await
            .map_err(redis_error)
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<(), KvError> {
        let mut connection = self.connection().await?;
        let mut command = redis::cmd("SET");
        command.arg(self.key(key)).arg(value);
        if let Some(ttl) = ttl {
            command.arg("PX").arg(millis(ttl));
        }
        command
            .query_async::<()>(&mut connection)
            .await
            .map_err(redis_error)
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let mut connection = self.connection().await?;
        let removed: i64 = redis::cmd("DEL")
            .arg(self.key(key))
            .query_async(&mut connection)
            .await
            .map_err(redis_error)?;
        Ok(removed > 0)
    }

    async fn increment(
        &self,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, KvError> {
        let mut connection = self.connection().await?;
        redis::Script::new(INCREMENT_SCRIPT)
            .key(self.key(key))
            .arg(delta)
            .arg(ttl.map(|ttl| millis(ttl).to_string()).unwrap_or_default())
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool, KvError> {
        let mut connection = self.connection().await?;
        let set: i64 = redis::Script::new(COMPARE_AND_SET_SCRIPT)
            .key(self.key(key))
            .arg(if expected.is_some() { "1" } else { "0" })
            .arg(expected.unwrap_or_default())
            .arg(value)
            .arg(ttl.map(|ttl| millis(ttl).to_string()).unwrap_or_default())
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)?;
        Ok(set == 1)
    }
}

/// Redis takes TTLs of at least one millisecond.
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn redis_error(error: redis::RedisError) -> KvError {
    if error.to_string().contains("not an integer") {
        KvError::Invalid("the value is not a decimal counter".into())
    } else {
        KvError::Unavailable(format!("Redis: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_delete() {
        let kv = MemoryStore::default();
        assert_eq!(kv.get("a"), Ok(None));
        kv.set("a", b"1".to_vec(), None).unwrap();
        assert_eq!(kv.get("a"), Ok(Some(b"1".to_vec())));
        assert_eq!(kv.delete("a"), Ok(true));
        assert_eq!(kv.delete("a"), Ok(false));
    }

    #[test]
    fn entries_expire() {
        let kv = MemoryStore::default();
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
        let kv = MemoryStore::default();
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
        let kv = MemoryStore::default();
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

    /// The behaviour every backend must have, run against each.
    async fn conformance(kv: &KvStore, run: &str) {
        let key = |name: &str| format!("{run}:{name}");
        assert_eq!(kv.get(&key("a")).await, Ok(None));
        kv.set(&key("a"), b"1".to_vec(), None).await.unwrap();
        assert_eq!(kv.get(&key("a")).await, Ok(Some(b"1".to_vec())));
        assert_eq!(kv.delete(&key("a")).await, Ok(true));
        assert_eq!(kv.delete(&key("a")).await, Ok(false));

        kv.set(
            &key("short"),
            b"x".to_vec(),
            Some(Duration::from_millis(30)),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(kv.get(&key("short")).await, Ok(None), "expired");

        let window = Some(Duration::from_secs(60));
        assert_eq!(kv.increment(&key("n"), 2, window).await, Ok(2));
        assert_eq!(kv.increment(&key("n"), -5, window).await, Ok(-3));
        kv.set(&key("text"), b"abc".to_vec(), None).await.unwrap();
        assert!(matches!(
            kv.increment(&key("text"), 1, None).await,
            Err(KvError::Invalid(_))
        ));

        let binary = vec![0u8, 255, 1, 254];
        assert_eq!(
            kv.compare_and_set(&key("seat"), None, binary.clone(), None)
                .await,
            Ok(true)
        );
        assert_eq!(
            kv.compare_and_set(&key("seat"), None, b"bob".to_vec(), None)
                .await,
            Ok(false)
        );
        assert_eq!(
            kv.compare_and_set(&key("seat"), Some(&binary), b"bob".to_vec(), None)
                .await,
            Ok(true)
        );
        assert_eq!(kv.get(&key("seat")).await, Ok(Some(b"bob".to_vec())));

        assert!(kv.get("").await.is_err());
        assert!(kv.get(&"k".repeat(MAX_KEY_BYTES + 1)).await.is_err());
        assert!(
            kv.set(&key("big"), vec![0; MAX_VALUE_BYTES + 1], None)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn memory_backend_conforms() {
        conformance(&KvStore::memory(), "memory").await;
    }

    /// A Redis server on a free loopback port, stopped on drop.
    struct RedisServer(std::process::Child, u16);

    impl RedisServer {
        fn start() -> Option<RedisServer> {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .ok()?
                .local_addr()
                .ok()?
                .port();
            let child = std::process::Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .ok()?;
            let server = RedisServer(child, port);
            let started = std::time::Instant::now();
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if started.elapsed() > Duration::from_secs(5) {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(server)
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[tokio::test]
    async fn redis_backend_conforms() {
        let Some(server) = RedisServer::start() else {
            // CI installs redis-server and sets ROTOR_REQUIRE_REDIS so this
            // cannot pass silently there.
            assert!(
                std::env::var_os("ROTOR_REQUIRE_REDIS").is_none(),
                "redis-server is required but could not be started"
            );
            eprintln!("redis-server not found: skipping the Redis backend test");
            return;
        };
        let kv = KvStore::Redis(Box::new(
            RedisStore::new(&format!("redis://127.0.0.1:{}/0", server.1), "rotor-test:").unwrap(),
        ));
        conformance(&kv, "redis").await;
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_unavailable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let kv = KvStore::Redis(Box::new(
            RedisStore::new(&format!("redis://127.0.0.1:{port}/0"), "").unwrap(),
        ));
        // Fails quickly: well inside a proxy call's deadline, not after it.
        let started = std::time::Instant::now();
        assert!(matches!(kv.get("k").await, Err(KvError::Unavailable(_))));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        // And at once while the server is known to be down.
        let started = std::time::Instant::now();
        assert!(matches!(kv.get("k").await, Err(KvError::Unavailable(_))));
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }
}
