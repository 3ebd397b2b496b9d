//! The Redis backend: state shared by every replica behind one Centrifugo.
//!
//! A tenant's entry `key` lives at `<prefix><tenant>\0<key>`. Beside its
//! entries, each tenant has three bookkeeping keys, all under
//! `<prefix><tenant>\x01`: `sizes` (a hash of what each entry costs),
//! `expiry` (a sorted set of the entries that expire, by when, in Redis's
//! clock) and `bytes` (their total). Every write is one Lua script that
//! checks the tenant's budget, writes, and updates the bookkeeping, so the
//! quota holds across replicas without a race. Entries expire in Redis as
//! usual; each script first forgets a few expired ones from the
//! bookkeeping, and more when a write would not fit. Tenant names contain
//! neither `\0` nor `\x01`, so no key of one tenant falls in another's space.
//!
//! The bookkeeping assumes that only Rotor removes these keys: a Redis that
//! evicts keys (a `maxmemory-policy` other than `noeviction`) leaves their
//! cost counted until the tenant deletes them (the count errs high, never
//! low). The README says how to set up a shared Redis.

use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use super::{KvError, Space, counter_cost, value_cost};

/// How long connecting to Redis may take before the operation fails.
const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
/// How long one Redis command may take.
const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// After a failed connect, operations fail at once for this long.
const REDIS_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Expired entries every write forgets from the bookkeeping, at most.
const PURGE_STEP: usize = 32;
/// Expired entries a write that would not fit forgets before it is refused,
/// at most: a script blocks the whole server while it runs.
const PURGE_WHEN_FULL: usize = 1024;

/// The Redis backend: one multiplexed connection, made on first use and
/// re-made after failures, so Rotor starts and serves while Redis is down
/// (guests then get `unavailable`). Every key gets the configured prefix.
pub struct RedisStore {
    client: ::redis::Client,
    prefix: String,
    connection: tokio::sync::OnceCell<::redis::aio::ConnectionManager>,
    /// When the last attempt to connect failed: for a short while after it,
    /// operations fail at once instead of each waiting on a dead server.
    failed_at: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// What every write script starts with. `KEYS`: the entry, the tenant's
/// `sizes`, `expiry` and `bytes`. `ARGV[1]`: the entry's key within the
/// tenant; `ARGV[2]`: the tenant's budget in bytes. Defines `now` (Redis's
/// clock, in ms), `fits(cost)` (whether the entry, at `cost`, fits the
/// budget) and `charge(cost, expires)` (records the entry once written),
/// and forgets a few expired entries.
const PRELUDE: &str = r"
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local now = now_ms()
local function purge(limit)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
  if #expired == 0 then return end
  local freed = 0
  for _, key in ipairs(expired) do
    freed = freed + (tonumber(redis.call('HGET', KEYS[2], key)) or 0)
  end
  redis.call('HDEL', KEYS[2], unpack(expired))
  redis.call('ZREM', KEYS[3], unpack(expired))
  redis.call('DECRBY', KEYS[4], freed)
end
local function over(cost)
  local used = tonumber(redis.call('GET', KEYS[4])) or 0
  local old = tonumber(redis.call('HGET', KEYS[2], ARGV[1])) or 0
  return used - old + cost > tonumber(ARGV[2])
end
local function fits(cost)
  if over(cost) then purge(PURGE_WHEN_FULL) end
  return not over(cost)
end
local function charge(cost, expires)
  local old = tonumber(redis.call('HGET', KEYS[2], ARGV[1])) or 0
  redis.call('HSET', KEYS[2], ARGV[1], cost)
  redis.call('INCRBY', KEYS[4], cost - old)
  if expires then
    redis.call('ZADD', KEYS[3], expires, ARGV[1])
  else
    redis.call('ZREM', KEYS[3], ARGV[1])
  end
end
local function put(value, cost, ttl)
  if ttl ~= '' then
    redis.call('SET', KEYS[1], value, 'PX', ttl)
    charge(cost, now + tonumber(ttl))
  else
    redis.call('SET', KEYS[1], value)
    charge(cost, nil)
  end
end
purge(PURGE_STEP)
";

/// Sets an entry. `ARGV[3]`: the value; `ARGV[4]`: its cost; `ARGV[5]`: the
/// TTL in ms, or empty. Returns 1, or 0 when the budget is full.
const SET_SCRIPT: &str = r"
local cost = tonumber(ARGV[4])
if not fits(cost) then return 0 end
put(ARGV[3], cost, ARGV[5])
return 1
";

/// Deletes an entry; returns how many keys were removed.
const DELETE_SCRIPT: &str = r"
local removed = redis.call('DEL', KEYS[1])
local old = tonumber(redis.call('HGET', KEYS[2], ARGV[1]))
if old then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('DECRBY', KEYS[4], old)
end
return removed
";

/// Adds to a counter, and sets its TTL only when it creates it. `ARGV[3]`:
/// the delta; `ARGV[4]`: a counter's cost; `ARGV[5]`: the TTL in ms, or
/// empty. Returns `{1, value}`, or `{0}` when the budget is full. Nothing
/// is written before every check has passed (INCRBY fails on a value that
/// is not a counter before it changes anything), so a failure never leaves
/// a counter without its expiry.
const INCREMENT_SCRIPT: &str = r"
local cost = tonumber(ARGV[4])
if not fits(cost) then return {0} end
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[3])
local expires = false
if existed == 0 then
  if ARGV[5] ~= '' then
    redis.call('PEXPIRE', KEYS[1], ARGV[5])
    expires = now + tonumber(ARGV[5])
  end
else
  expires = redis.call('ZSCORE', KEYS[3], ARGV[1])
end
charge(cost, expires)
return {1, value}
";

/// Sets an entry if it holds the expected value (or is unset). `ARGV[3]`:
/// `1` if a value is expected, else `0`; `ARGV[4]`: the expected value;
/// `ARGV[5]`: the new value; `ARGV[6]`: its cost; `ARGV[7]`: the TTL in ms,
/// or empty. Returns 1 when set, 0 when the current value differs, -1 when
/// the budget is full.
const COMPARE_AND_SET_SCRIPT: &str = r"
local current = redis.call('GET', KEYS[1])
if ARGV[3] == '0' then
  if current then return 0 end
elseif current ~= ARGV[4] then
  return 0
end
local cost = tonumber(ARGV[6])
if not fits(cost) then return -1 end
put(ARGV[5], cost, ARGV[7])
return 1
";

/// A write script: the prelude, with its limits, then `body`.
fn script(body: &str) -> ::redis::Script {
    ::redis::Script::new(&format!(
        "local PURGE_STEP, PURGE_WHEN_FULL = {PURGE_STEP}, {PURGE_WHEN_FULL}\n{PRELUDE}{body}"
    ))
}

static SET: LazyLock<::redis::Script> = LazyLock::new(|| script(SET_SCRIPT));
static DELETE: LazyLock<::redis::Script> = LazyLock::new(|| script(DELETE_SCRIPT));
static INCREMENT: LazyLock<::redis::Script> = LazyLock::new(|| script(INCREMENT_SCRIPT));
static COMPARE_AND_SET: LazyLock<::redis::Script> =
    LazyLock::new(|| script(COMPARE_AND_SET_SCRIPT));

impl RedisStore {
    /// A store at `url` (e.g. `redis://127.0.0.1:6379/0`) with keys under `prefix`.
    pub fn new(url: &str, prefix: &str) -> Result<RedisStore, KvError> {
        let client = ::redis::Client::open(url)
            .map_err(|error| KvError::Invalid(format!("Redis URL: {error}")))?;
        Ok(RedisStore {
            client,
            prefix: prefix.to_owned(),
            connection: tokio::sync::OnceCell::new(),
            failed_at: Mutex::new(None),
        })
    }

    async fn connection(&self) -> Result<::redis::aio::ConnectionManager, KvError> {
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
        let config = ::redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_CONNECT_TIMEOUT))
            .set_response_timeout(Some(REDIS_RESPONSE_TIMEOUT))
            .set_number_of_retries(1);
        let connected = self
            .connection
            .get_or_try_init(|| {
                ::redis::aio::ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
            .map_err(redis_error);
        if connected.is_err() {
            *self
                .failed_at
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
        }
        connected
    }

    /// The Redis key of a tenant's entry.
    fn key(&self, space: Space<'_>, key: &str) -> String {
        format!("{}{}\0{key}", self.prefix, space.tenant)
    }

    /// The Redis key of one of a tenant's bookkeeping records.
    fn meta(&self, space: Space<'_>, record: &str) -> String {
        format!("{}{}\x01{record}", self.prefix, space.tenant)
    }

    /// A write script's invocation with its keys and first two arguments.
    fn invocation<'s>(
        &self,
        script: &'s ::redis::Script,
        space: Space<'_>,
        key: &str,
    ) -> ::redis::ScriptInvocation<'s> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.key(space, key))
            .key(self.meta(space, "sizes"))
            .key(self.meta(space, "expiry"))
            .key(self.meta(space, "bytes"))
            .arg(key)
            .arg(space.max_bytes);
        invocation
    }

    pub(super) async fn get(
        &self,
        space: Space<'_>,
        key: &str,
    ) -> Result<Option<Vec<u8>>, KvError> {
        let mut connection = self.connection().await?;
        ::redis::cmd("GET")
            .arg(self.key(space, key))
            .query_async(&mut connection)
            .await
            .map_err(redis_error)
    }

    pub(super) async fn set(
        &self,
        space: Space<'_>,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), KvError> {
        let mut connection = self.connection().await?;
        let cost = value_cost(key, &value);
        let set: i64 = self
            .invocation(&SET, space, key)
            .arg(value)
            .arg(cost)
            .arg(ttl_arg(ttl))
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)?;
        if set == 1 { Ok(()) } else { Err(space.full()) }
    }

    pub(super) async fn delete(&self, space: Space<'_>, key: &str) -> Result<bool, KvError> {
        let mut connection = self.connection().await?;
        let removed: i64 = self
            .invocation(&DELETE, space, key)
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)?;
        Ok(removed > 0)
    }

    pub(super) async fn increment(
        &self,
        space: Space<'_>,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, KvError> {
        let mut connection = self.connection().await?;
        let answer: Vec<i64> = self
            .invocation(&INCREMENT, space, key)
            .arg(delta)
            .arg(counter_cost(key))
            .arg(ttl_arg(ttl))
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)?;
        match answer.as_slice() {
            [1, value] => Ok(*value),
            [0] => Err(space.full()),
            _ => Err(KvError::Unavailable(format!(
                "Redis: unexpected answer {answer:?}"
            ))),
        }
    }

    pub(super) async fn compare_and_set(
        &self,
        space: Space<'_>,
        key: &str,
        expected: Option<&[u8]>,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool, KvError> {
        let mut connection = self.connection().await?;
        let cost = value_cost(key, &value);
        let set: i64 = self
            .invocation(&COMPARE_AND_SET, space, key)
            .arg(if expected.is_some() { "1" } else { "0" })
            .arg(expected.unwrap_or_default())
            .arg(value)
            .arg(cost)
            .arg(ttl_arg(ttl))
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)?;
        match set {
            -1 => Err(space.full()),
            set => Ok(set == 1),
        }
    }
}

/// A TTL as the scripts take it: milliseconds (at least one, as Redis
/// requires), or empty for none.
fn ttl_arg(ttl: Option<Duration>) -> String {
    ttl.map(|ttl| {
        u64::try_from(ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
            .to_string()
    })
    .unwrap_or_default()
}

fn redis_error(error: ::redis::RedisError) -> KvError {
    let text = error.to_string();
    if text.contains("not an integer") {
        KvError::Invalid("the value is not a decimal counter".into())
    } else if text.contains("would overflow") {
        KvError::Invalid("the counter would overflow".into())
    } else {
        KvError::Unavailable(format!("Redis: {error}"))
    }
}
