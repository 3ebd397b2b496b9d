//! The behaviour every backend must have, run against each, and the Redis
//! backend's bookkeeping checked against the server.

use std::time::Duration;

use super::*;

/// A tenant with room to spare.
fn ample(tenant: &str) -> Space<'_> {
    Space {
        tenant,
        max_bytes: 1 << 30,
    }
}

/// The behaviour every backend must have. `run` keeps the tenants of one
/// run apart from an earlier run's on a shared server.
async fn conformance(kv: &KvStore, run: &str) {
    let tenant = format!("{run}-t");
    let space = ample(&tenant);
    assert_eq!(kv.get(space, "a").await, Ok(None));
    kv.set(space, "a", b"1".to_vec(), None).await.unwrap();
    assert_eq!(kv.get(space, "a").await, Ok(Some(b"1".to_vec())));
    assert_eq!(kv.delete(space, "a").await, Ok(true));
    assert_eq!(kv.delete(space, "a").await, Ok(false));

    let short = Some(Duration::from_millis(30));
    kv.set(space, "short", b"x".to_vec(), short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(kv.get(space, "short").await, Ok(None), "expired");

    let window = Some(Duration::from_secs(60));
    assert_eq!(kv.increment(space, "n", 2, window).await, Ok(2));
    assert_eq!(kv.increment(space, "n", -5, window).await, Ok(-3));
    kv.set(space, "text", b"abc".to_vec(), None).await.unwrap();
    assert!(matches!(
        kv.increment(space, "text", 1, None).await,
        Err(KvError::Invalid(_))
    ));
    kv.set(space, "max", i64::MAX.to_string().into_bytes(), None)
        .await
        .unwrap();
    assert!(matches!(
        kv.increment(space, "max", 1, None).await,
        Err(KvError::Invalid(_))
    ));

    let binary = vec![0u8, 255, 1, 254];
    let cas = |expected: Option<Vec<u8>>, value: &[u8]| {
        let value = value.to_vec();
        async move {
            kv.compare_and_set(space, "seat", expected.as_deref(), value, None)
                .await
        }
    };
    assert_eq!(cas(None, &binary).await, Ok(true));
    assert_eq!(cas(None, b"bob").await, Ok(false));
    assert_eq!(cas(Some(binary.clone()), b"bob").await, Ok(true));
    assert_eq!(kv.get(space, "seat").await, Ok(Some(b"bob".to_vec())));

    assert!(kv.get(space, "").await.is_err());
    assert!(kv.get(space, &"k".repeat(MAX_KEY_BYTES + 1)).await.is_err());
    let big = vec![0; MAX_VALUE_BYTES + 1];
    assert!(kv.set(space, "big", big, None).await.is_err());

    // Tenants have their own keys.
    let other = format!("{run}-other");
    assert_eq!(kv.get(ample(&other), "seat").await, Ok(None));
    kv.set(ample(&other), "seat", b"carol".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(kv.get(space, "seat").await, Ok(Some(b"bob".to_vec())));

    a_full_store_refuses_only_the_tenant_that_filled_it(kv, run).await;
    a_huge_ttl_is_refused_before_anything_is_written(kv, run).await;
}

/// Finding 3, on every backend: a tenant's budget bounds what it stores,
/// and a full tenant is refused alone.
async fn a_full_store_refuses_only_the_tenant_that_filled_it(kv: &KvStore, run: &str) {
    let (a, b) = (format!("{run}-a"), format!("{run}-b"));
    let budget = 10 * entry_cost("k00", 100);
    let small = |tenant| Space {
        tenant,
        max_bytes: budget,
    };
    for n in 0..10 {
        kv.set(small(&a), &format!("k{n:02}"), vec![0; 100], None)
            .await
            .unwrap_or_else(|error| panic!("entry {n}: {error}"));
    }
    let full = Err(KvError::Full { budget });
    assert_eq!(kv.set(small(&a), "k10", vec![0; 100], None).await, full);
    assert_eq!(
        kv.increment(small(&a), "n", 1, None).await,
        Err(KvError::Full { budget })
    );
    assert_eq!(
        kv.compare_and_set(small(&a), "k10", None, vec![0; 100], None)
            .await,
        Err(KvError::Full { budget })
    );
    // An overwrite that costs no more still fits; a delete frees room.
    kv.set(small(&a), "k00", vec![1; 100], None).await.unwrap();
    assert_eq!(kv.delete(small(&a), "k00").await, Ok(true));
    kv.set(small(&a), "k10", vec![0; 100], None).await.unwrap();
    // Another tenant is not refused, and a's entries are all there.
    kv.set(small(&b), "k00", vec![2; 100], None).await.unwrap();
    assert_eq!(kv.get(small(&b), "k00").await, Ok(Some(vec![2; 100])));
    for n in 1..=10 {
        assert!(
            kv.get(small(&a), &format!("k{n:02}"))
                .await
                .unwrap()
                .is_some()
        );
    }
    // Expired entries give their room back.
    let soon = Some(Duration::from_millis(30));
    let c = format!("{run}-c");
    for n in 0..10 {
        kv.set(small(&c), &format!("k{n:02}"), vec![0; 100], soon)
            .await
            .unwrap();
    }
    assert_eq!(kv.set(small(&c), "k10", vec![0; 100], None).await, full);
    tokio::time::sleep(Duration::from_millis(80)).await;
    for n in 10..20 {
        kv.set(small(&c), &format!("k{n:02}"), vec![0; 100], None)
            .await
            .unwrap_or_else(|error| panic!("entry {n} after expiry: {error}"));
    }
}

/// Finding 13, on every backend: a TTL beyond [`MAX_TTL`] is refused
/// before anything is written; on Redis it used to create the counter and
/// then fail to set its expiry, leaving a counter that never expires.
async fn a_huge_ttl_is_refused_before_anything_is_written(kv: &KvStore, run: &str) {
    let tenant = format!("{run}-ttl");
    let space = ample(&tenant);
    let huge = Some(Duration::from_millis(u64::MAX));
    assert!(matches!(
        kv.increment(space, "n", 1, huge).await,
        Err(KvError::Invalid(_))
    ));
    assert!(matches!(
        kv.set(space, "s", b"x".to_vec(), huge).await,
        Err(KvError::Invalid(_))
    ));
    assert!(matches!(
        kv.compare_and_set(space, "c", None, b"x".to_vec(), huge)
            .await,
        Err(KvError::Invalid(_))
    ));
    for key in ["n", "s", "c"] {
        assert_eq!(kv.get(space, key).await, Ok(None), "{key} was written");
    }
    assert_eq!(kv.increment(space, "n", 1, Some(MAX_TTL)).await, Ok(1));
}

#[tokio::test]
async fn memory_backend_conforms() {
    conformance(&KvStore::memory(), "memory").await;
}

/// A Redis server on a free loopback port, stopped on drop.
struct RedisServer(std::process::Child, u16);

impl RedisServer {
    /// A started server; `None` (the test is skipped) when redis-server is
    /// missing, unless `ROTOR_REQUIRE_REDIS` is set, as CI sets it.
    fn start() -> Option<RedisServer> {
        let server = RedisServer::spawn();
        if server.is_none() {
            assert!(
                std::env::var_os("ROTOR_REQUIRE_REDIS").is_none(),
                "redis-server is required but could not be started"
            );
            eprintln!("redis-server not found: skipping a Redis backend test");
        }
        server
    }

    fn spawn() -> Option<RedisServer> {
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

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.1)
    }

    fn store(&self, prefix: &str) -> KvStore {
        KvStore::Redis(Box::new(RedisStore::new(&self.url(), prefix).unwrap()))
    }

    /// A plain connection, to look at what the store wrote.
    async fn inspect(&self) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
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
        return;
    };
    conformance(&server.store("rotor-test:"), "redis").await;
}

async fn query<T: ::redis::FromRedisValue>(
    connection: &mut ::redis::aio::MultiplexedConnection,
    args: &[&str],
) -> T {
    let mut command = ::redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query_async(connection).await.unwrap()
}

/// Finding 13: `increment` with a huge TTL created the counter, then failed
/// to set its expiry. Now a TTL is bounded and the expiry is always set.
#[tokio::test]
async fn a_huge_ttl_never_leaves_a_redis_counter_without_expiry() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let kv = server.store("p:");
    let mut redis = server.inspect().await;
    let space = ample("t");
    let huge = Some(Duration::from_millis(u64::MAX));
    assert!(kv.increment(space, "n", 1, huge).await.is_err());
    let exists: i64 = query(&mut redis, &["EXISTS", "p:t\0n"]).await;
    assert_eq!(exists, 0, "no counter without an expiry");

    assert_eq!(kv.increment(space, "n", 1, Some(MAX_TTL)).await, Ok(1));
    let ttl: i64 = query(&mut redis, &["PTTL", "p:t\0n"]).await;
    assert!(ttl > 0, "the counter expires (PTTL {ttl})");
    assert_eq!(kv.increment(space, "n", 1, None).await, Ok(2));
    let kept: i64 = query(&mut redis, &["PTTL", "p:t\0n"]).await;
    assert!(kept > 0 && kept <= ttl, "an increment keeps the expiry");
}

/// The bookkeeping a tenant's writes leave in Redis: its byte count, and
/// the sum of what its entries cost.
async fn usage(redis: &mut ::redis::aio::MultiplexedConnection, tenant: &str) -> (i64, i64) {
    let bytes: Option<i64> = query(redis, &["GET", &format!("p:{tenant}\x01bytes")]).await;
    let sizes: Vec<i64> = query(redis, &["HVALS", &format!("p:{tenant}\x01sizes")]).await;
    (bytes.unwrap_or(0), sizes.iter().sum())
}

#[tokio::test]
async fn redis_bookkeeping_follows_every_write() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let kv = server.store("p:");
    let mut redis = server.inspect().await;
    let space = ample("t");
    let cost = |key: &str, value: usize| i64::try_from(entry_cost(key, value as u64)).unwrap();

    kv.set(space, "a", vec![0; 100], None).await.unwrap();
    assert_eq!(
        usage(&mut redis, "t").await,
        (cost("a", 100), cost("a", 100))
    );
    kv.set(space, "a", vec![0; 10], None).await.unwrap();
    assert_eq!(usage(&mut redis, "t").await.0, cost("a", 10), "overwrite");
    kv.increment(space, "n", 1, None).await.unwrap();
    kv.increment(space, "n", 1_000_000, None).await.unwrap();
    let counter = i64::try_from(counter_cost("n")).unwrap();
    assert_eq!(usage(&mut redis, "t").await.0, cost("a", 10) + counter);
    kv.delete(space, "n").await.unwrap();
    kv.compare_and_set(
        space,
        "b",
        None,
        vec![0; 5],
        Some(Duration::from_millis(30)),
    )
    .await
    .unwrap();
    assert_eq!(
        usage(&mut redis, "t").await,
        (cost("a", 10) + cost("b", 5), cost("a", 10) + cost("b", 5))
    );
    let expiring: i64 = query(&mut redis, &["ZCARD", "p:t\x01expiry"]).await;
    assert_eq!(expiring, 1);
    tokio::time::sleep(Duration::from_millis(80)).await;
    // The next write forgets the expired entry.
    kv.set(space, "a", vec![0; 10], None).await.unwrap();
    assert_eq!(usage(&mut redis, "t").await, (cost("a", 10), cost("a", 10)));
    let expiring: i64 = query(&mut redis, &["ZCARD", "p:t\x01expiry"]).await;
    assert_eq!(expiring, 0);
    kv.delete(space, "a").await.unwrap();
    assert_eq!(usage(&mut redis, "t").await, (0, 0));
}

/// Two replicas writing at once never take a tenant past its budget: the
/// check and the write are one script.
#[tokio::test]
async fn replicas_writing_at_once_keep_to_the_budget() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let replicas = [
        std::sync::Arc::new(server.store("p:")),
        std::sync::Arc::new(server.store("p:")),
    ];
    let budget = 50 * entry_cost("w0-000", 100);
    let mut writers = Vec::new();
    for writer in 0..8 {
        let kv = replicas[writer % 2].clone();
        writers.push(tokio::spawn(async move {
            let space = Space {
                tenant: "t",
                max_bytes: budget,
            };
            let mut stored = 0u64;
            for n in 0..20 {
                match kv
                    .set(space, &format!("w{writer}-{n:03}"), vec![0; 100], None)
                    .await
                {
                    Ok(()) => stored += 1,
                    Err(KvError::Full { .. }) => {}
                    Err(error) => panic!("{error}"),
                }
            }
            stored
        }));
    }
    let mut stored = 0;
    for writer in writers {
        stored += writer.await.unwrap();
    }
    assert_eq!(stored, 50, "exactly the budget's worth was stored");
    let mut redis = server.inspect().await;
    let (bytes, sizes) = usage(&mut redis, "t").await;
    assert_eq!((bytes, sizes), (budget as i64, budget as i64));
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
    let get = kv.get(ample("t"), "k").await;
    assert!(matches!(get, Err(KvError::Unavailable(_))));
    assert!(started.elapsed() < Duration::from_secs(2));
    // And at once while the server is known to be down.
    let started = std::time::Instant::now();
    let get = kv.get(ample("t"), "k").await;
    assert!(matches!(get, Err(KvError::Unavailable(_))));
    assert!(started.elapsed() < Duration::from_millis(100));
}
