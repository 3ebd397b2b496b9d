//! The `kv` store seen from guests: each tenant has a byte budget of its
//! own, each guest call a number of operations, and canaries a store of
//! their own.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{ScratchDir, TestServer, json, plugin};

/// The fixture also imports the server API, so its tenants are granted it;
/// these tests never call it.
const UNUSED_API: &str = r#"
[centrifugo]
api = "http://127.0.0.1:1"
"#;

/// Two tenants told apart by `x-tenant`, both answered by the host-calls
/// fixture; `small` has a budget of 64 KiB.
const TWO_TENANTS: &str = r#"
[tenancy]
by = "metadata"
key = "x-tenant"

[tenants.small]
dir = "."
grants = ["kv", "centrifugo-api"]
handlers = { rpc = "test-host-calls.wasm" }
limits = { kv_bytes = "64KiB", kv_ops = 200 }

[tenants.other]
dir = "."
grants = ["kv", "centrifugo-api"]
handlers = { rpc = "test-host-calls.wasm" }
"#;

async fn call(server: &TestServer, tenant: &str, method: &str, input: Value) -> Value {
    let reply = server
        .rpc(
            method,
            input.to_string().as_bytes(),
            &[("x-tenant", tenant)],
        )
        .await;
    json(
        &reply
            .result
            .unwrap_or_else(|| panic!("{method}: no result"))
            .data,
    )
}

/// Finding 3: the embedded store was bounded by key count for all tenants
/// together, so one tenant could fill it for everyone. Now each tenant has
/// a byte budget, and a full tenant is refused alone.
#[tokio::test]
async fn a_full_store_refuses_only_the_tenant_that_filled_it() {
    let server = TestServer::start(&format!("{UNUSED_API}{TWO_TENANTS}")).await;
    // 1 KiB values: each entry costs a little more, so 64 KiB holds fewer
    // than 64 of them.
    let filled = call(&server, "small", "kv-fill", json!({"count": 100})).await;
    let stored = filled["done"].as_u64().expect("a count");
    assert!((50..64).contains(&stored), "{filled}");
    let error = filled["error"].as_str().expect("refused once full");
    assert!(
        error.contains("Unavailable") && error.contains("65536 bytes is full"),
        "{error}"
    );

    // The other tenant stores more than the small one could.
    let other = call(&server, "other", "kv-fill", json!({"count": 100})).await;
    assert_eq!(other, json!({"done": 100, "error": null}));

    // Deleting gives the small tenant its room back.
    let deleted = call(&server, "small", "kv-delete", json!({"count": 10})).await;
    assert_eq!(deleted["done"], 10);
    let refilled = call(
        &server,
        "small",
        "kv-fill",
        json!({"count": 10, "prefix": "again"}),
    )
    .await;
    assert_eq!(refilled, json!({"done": 10, "error": null}));

    let metrics = server.rotor.metrics_text();
    assert!(
        metrics.contains(
            r#"rotor_host_calls_total{tenant="small",import="kv",call="set",outcome="full"} 1"#
        ),
        "{metrics}"
    );
}

/// Finding 3: one guest call could make any number of store operations.
/// Now it may make the tenant's `kv_ops` (128 by default).
#[tokio::test]
async fn kv_operations_per_call_are_capped() {
    let server = TestServer::start(&format!("{UNUSED_API}{TWO_TENANTS}")).await;
    let many = call(&server, "other", "kv-get", json!({"count": 1000})).await;
    assert_eq!(many["done"], 128, "{many}");
    let error = many["error"].as_str().expect("refused");
    assert!(
        error.contains("Invalid") && error.contains("kv_ops"),
        "{error}"
    );
    // The next call has a fresh budget; the small tenant's limit is 200.
    let again = call(&server, "other", "kv-get", json!({"count": 128})).await;
    assert_eq!(again, json!({"done": 128, "error": null}));
    let small = call(&server, "small", "kv-get", json!({"count": 1000})).await;
    assert_eq!(small["done"], 200, "{small}");
    let metrics = server.rotor.metrics_text();
    assert!(
        metrics.contains(
            r#"rotor_host_calls_total{tenant="other",import="kv",call="get",outcome="denied"} 1"#
        ),
        "{metrics}"
    );
}

/// Replaces `target` the way deploy tools do: write beside it, rename over it.
fn rename_into_place(source: &std::path::Path, target: &std::path::Path) {
    let staging = target.with_extension("wasm.tmp");
    std::fs::copy(source, &staging).expect("staging");
    std::fs::rename(&staging, target).expect("renaming into place");
}

/// Waits until the reload counters reach `(applied, rejected)`.
async fn reloads(server: &TestServer, expected: (u64, u64)) {
    let started = Instant::now();
    loop {
        let counts = server.rotor.reload_counts();
        if counts == expected {
            return;
        }
        assert!(
            counts.0 <= expected.0 && counts.1 <= expected.1,
            "reloads (applied, rejected): {counts:?}, expected {expected:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "reloads stuck at {counts:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Finding 13: canaries all ran as tenant `canary` in the shared store, so
/// one tenant's canary saw what another's (or an earlier run) wrote, and
/// their keys stayed. Now each canary run has a store of its own. The
/// canary here traps when its key is already claimed.
#[tokio::test]
async fn canary_kv_keys_are_per_tenant_and_not_kept() {
    let dir = ScratchDir::new();
    for tenant in ["a", "b"] {
        let tenant_dir = dir.path().join("plugins").join(tenant);
        std::fs::create_dir_all(&tenant_dir).expect("a plugin dir");
        std::fs::copy(plugin("test-mirror"), tenant_dir.join("live.wasm")).expect("copying");
    }
    let config = r#"
        [plugins]
        dir = "plugins"
        watch = true
        [centrifugo]
        api = "http://127.0.0.1:1"
        [canary]
        rpc = '{"user":"canary","method":"kv-once","data":{}}'
        [tenancy]
        by = "metadata"
        key = "x-tenant"
        [tenants.a]
        grants = ["kv", "centrifugo-api"]
        handlers = { rpc = "live.wasm" }
        [tenants.b]
        grants = ["kv", "centrifugo-api"]
        handlers = { rpc = "live.wasm" }
    "#;
    let server = TestServer::start_in(dir, config).await;
    let live = |tenant: &str| {
        server
            .dir
            .path()
            .join("plugins")
            .join(tenant)
            .join("live.wasm")
    };

    // Tenant a's canary claims its key, and the plugin goes live; then
    // tenant b's canary finds no key claimed.
    rename_into_place(&plugin("test-host-calls"), &live("a"));
    reloads(&server, (1, 0)).await;
    rename_into_place(&plugin("test-host-calls"), &live("b"));
    reloads(&server, (2, 0)).await;
    // A later canary run of a does not see its earlier run's key either.
    rename_into_place(&plugin("test-mirror"), &live("a"));
    reloads(&server, (3, 0)).await;
    rename_into_place(&plugin("test-host-calls"), &live("a"));
    reloads(&server, (4, 0)).await;

    // The canaries left nothing in the tenants' own key spaces.
    for tenant in ["a", "b"] {
        let claimed = call(&server, tenant, "kv-once", json!({})).await;
        assert_eq!(claimed, json!({"done": 1, "error": null}), "{tenant}");
    }
}
