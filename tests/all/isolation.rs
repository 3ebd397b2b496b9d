//! Isolation modes: a fresh instance per call by default; with `reuse`, a
//! bounded pool of warm instances per plugin and tenant that never keeps an
//! instance after a fault and retires instances by calls, age and reload.

use std::time::Duration;

use rotor::proto::proxy as pb;

use crate::support::{ScratchDir, TestServer, internal_error, json, plugin, request, warm_events};

/// What `test-faulty`'s `count` answers: how many `count` calls the
/// instance that answered has served.
async fn count(server: &TestServer, tenant: Option<&str>) -> u64 {
    let metadata: Vec<(&'static str, &str)> = tenant.map(|t| ("x-tenant", t)).into_iter().collect();
    let response = server.rpc("count", b"", &metadata).await;
    let data = response.result.expect("a result").data;
    String::from_utf8(data)
        .expect("UTF-8")
        .parse()
        .expect("a count")
}

async fn rpc(server: &TestServer, method: &str) -> pb::RpcResponse {
    server.rpc(method, b"", &[]).await
}

#[tokio::test]
async fn a_fresh_instance_keeps_nothing_from_the_last_call() {
    let server = TestServer::start("[handlers]\nrpc = \"test-faulty.wasm\"").await;
    for _ in 0..5 {
        assert_eq!(count(&server, None).await, 1);
    }
}

#[tokio::test]
async fn reused_instances_keep_their_state_until_max_calls() {
    let server = TestServer::start(
        r#"
        [handlers]
        rpc = "test-faulty.wasm"
        [isolation."test-faulty.wasm"]
        mode = "reuse"
        max_calls = 3
        max_idle = 1
        "#,
    )
    .await;
    let counts = [
        count(&server, None).await,
        count(&server, None).await,
        count(&server, None).await,
        count(&server, None).await,
    ];
    assert_eq!(counts, [1, 2, 3, 1], "retired after its third call");
    let metrics = server.rotor.metrics_text();
    for event in ["hit", "miss", "retired_max_calls"] {
        assert!(
            metrics.contains(&format!(
                r#"rotor_warm_instances_total{{plugin="test-faulty.wasm",event="{event}"}}"#
            )),
            "{event}: {metrics}"
        );
    }
}

#[tokio::test]
async fn an_instance_that_faulted_is_never_used_again() {
    let server = TestServer::start(
        r#"
        [handlers]
        rpc = "test-faulty.wasm"
        [limits]
        timeout = "200ms"
        [isolation."test-faulty.wasm"]
        mode = "reuse"
        max_idle = 1
        "#,
    )
    .await;
    for fault in ["trap", "loop", "oom", "stack"] {
        assert_eq!(count(&server, None).await, 1, "before {fault}");
        assert_eq!(count(&server, None).await, 2, "before {fault}");
        // The fault hits the warm instance that counted to 2...
        assert_eq!(rpc(&server, fault).await.error, internal_error(), "{fault}");
        // ...which is gone: the next call starts from a new instance.
        assert_eq!(count(&server, None).await, 1, "after {fault}");
        // Retire the instance that counted, for the next round.
        for _ in 0..2 {
            let _ = rpc(&server, "trap").await;
        }
    }
    let metrics = server.rotor.metrics_text();
    assert!(
        metrics.contains(r#"event="discarded_trap""#)
            && metrics.contains(r#"event="discarded_deadline""#),
        "{metrics}"
    );
}

#[tokio::test]
async fn instances_retire_at_max_age() {
    let server = TestServer::start(
        r#"
        [handlers]
        rpc = "test-faulty.wasm"
        [isolation."test-faulty.wasm"]
        mode = "reuse"
        max_age = "300ms"
        max_idle = 1
        "#,
    )
    .await;
    assert_eq!(count(&server, None).await, 1);
    assert_eq!(count(&server, None).await, 2);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(count(&server, None).await, 1, "the old instance aged out");
    assert!(
        server
            .rotor
            .metrics_text()
            .contains(r#"event="retired_max_age""#)
    );
}

#[tokio::test]
async fn tenants_never_share_warm_instances() {
    let server = TestServer::start(
        r#"
        [tenancy]
        by = "metadata"
        key = "x-tenant"
        [tenants.a]
        dir = "."
        handlers = { rpc = "test-faulty.wasm" }
        isolation = { "test-faulty.wasm" = { mode = "reuse", max_idle = 1 } }
        [tenants.b]
        dir = "."
        handlers = { rpc = "test-faulty.wasm" }
        isolation = { "test-faulty.wasm" = { mode = "reuse", max_idle = 1 } }
        [tenants.c]
        dir = "."
        handlers = { rpc = "test-faulty.wasm" }
        "#,
    )
    .await;
    assert_eq!(count(&server, Some("a")).await, 1);
    assert_eq!(count(&server, Some("a")).await, 2);
    assert_eq!(
        count(&server, Some("b")).await,
        1,
        "b has instances of its own"
    );
    assert_eq!(count(&server, Some("a")).await, 3);
    assert_eq!(count(&server, Some("b")).await, 2);
    for _ in 0..3 {
        assert_eq!(count(&server, Some("c")).await, 1, "c stays fresh");
    }
}

#[tokio::test]
async fn a_reload_of_the_plugin_retires_its_pool() {
    let dir = ScratchDir::new();
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    let live = dir.path().join("plugins/live.wasm");
    std::fs::copy(plugin("test-faulty"), &live).unwrap();
    let config = "[plugins]\ndir = \"plugins\"\n[handlers]\nrpc = \"live.wasm\"\n\
                  [isolation.\"live.wasm\"]\nmode = \"reuse\"\nmax_idle = 1\n";
    let server = TestServer::start_in(dir, config).await;
    assert_eq!(count(&server, None).await, 1);
    assert_eq!(count(&server, None).await, 2);

    // A reload that changes nothing keeps the pool...
    server.rotor.reload_config().await.expect("reloaded");
    assert_eq!(count(&server, None).await, 3);
    // ...a new version of the plugin does not: here another plugin, and then
    // the first one again, which is a new version to the registry.
    for next in ["rpc-router", "test-faulty"] {
        let staging = live.with_extension("wasm.tmp");
        std::fs::copy(plugin(next), &staging).unwrap();
        std::fs::rename(&staging, &live).unwrap();
        server.rotor.reload_config().await.expect("reloaded");
    }
    assert_eq!(count(&server, None).await, 1, "a new pool");
}

/// A warm instance keeps the handler it last served ready (looked up once,
/// not per call); a plugin that handles several kinds shares one pool, so
/// the same instance must serve each kind with that kind's handler.
#[tokio::test]
async fn one_warm_instance_serves_each_kind_its_plugin_handles() {
    let server = TestServer::start(
        r#"
        [handlers]
        connect = "test-mirror.wasm"
        rpc = "test-mirror.wasm"
        [isolation."test-mirror.wasm"]
        mode = "reuse"
        max_idle = 1
        "#,
    )
    .await;
    for round in 0..3 {
        let method = format!("round-{round}");
        let rpc = server.rpc(&method, b"{}", &[]).await;
        let data = json(&rpc.result.expect("an RPC result").data);
        assert_eq!(data["method"], method.as_str());
        let connect = pb::ConnectRequest {
            client: format!("client-{round}"),
            ..Default::default()
        };
        let connected = server
            .client
            .clone()
            .connect(request(connect, &[]))
            .await
            .expect("an OK response")
            .into_inner();
        assert_eq!(
            connected.result.expect("a connect result").user,
            format!("client-{round}")
        );
    }
    let metrics = server.rotor.metrics_text();
    assert_eq!(
        warm_events(&metrics, "test-mirror.wasm", "miss"),
        1,
        "{metrics}"
    );
    assert_eq!(
        warm_events(&metrics, "test-mirror.wasm", "hit"),
        5,
        "{metrics}"
    );
}

#[tokio::test]
async fn interceptors_can_reuse_instances_too() {
    let server = TestServer::start(
        r#"
        [handlers]
        rpc = "test-faulty.wasm"
        [interceptors]
        rpc = [{ plugin = "test-interceptor.wasm", settings = { before = "rewrite", tag = "A" } }]
        [isolation."test-interceptor.wasm"]
        mode = "reuse"
        max_calls = 2
        "#,
    )
    .await;
    for _ in 0..4 {
        assert_eq!(count(&server, None).await, 1, "the handler stays fresh");
    }
    let metrics = server.rotor.metrics_text();
    assert!(
        metrics.contains(r#"plugin="test-interceptor.wasm",event="hit""#)
            && metrics.contains(r#"plugin="test-interceptor.wasm",event="retired_max_calls""#),
        "{metrics}"
    );
}

/// Finding 11 of the hardening review: a reused instance's stderr was one
/// 4 KiB pipe for its whole life, so once its calls had written 4 KiB in
/// total, the next write trapped.
#[tokio::test]
async fn a_reused_instance_writing_over_4kib_of_stderr_in_total_never_traps() {
    let server = TestServer::start(
        r#"
        [handlers]
        rpc = "test-faulty.wasm"
        [isolation."test-faulty.wasm"]
        mode = "reuse"
        max_idle = 1
        "#,
    )
    .await;
    assert_eq!(count(&server, None).await, 1);
    // 1,000 bytes a call: 10 KB in all.
    for call in 0..10 {
        let response = rpc(&server, "stderr").await;
        assert_eq!(
            response.result.map(|result| result.data),
            Some(b"written".to_vec()),
            "call {call}: {:?}",
            response.error
        );
    }
    assert_eq!(
        count(&server, None).await,
        2,
        "one instance served them all"
    );
}

/// Finding 4 of the hardening review: WASI handles a guest never drops
/// stayed in the host across reused calls. An instance that ends a call
/// holding more than a few is retired.
#[tokio::test]
async fn a_reused_instance_that_keeps_wasi_handles_is_retired() {
    let server = TestServer::start(
        r#"
        [handlers]
        rpc = "test-faulty.wasm"
        [isolation."test-faulty.wasm"]
        mode = "reuse"
        max_idle = 1
        "#,
    )
    .await;
    assert_eq!(count(&server, None).await, 1);
    assert_eq!(count(&server, None).await, 2);
    // A few handles left open are tolerated...
    let response = server.rpc("leak", b"4", &[]).await;
    assert_eq!(response.result.map(|r| r.data), Some(b"4".to_vec()));
    assert_eq!(count(&server, None).await, 3, "still the same instance");
    // ...many are not: the instance does not serve another call.
    let response = server.rpc("leak", b"40", &[]).await;
    assert_eq!(response.result.map(|r| r.data), Some(b"40".to_vec()));
    assert_eq!(count(&server, None).await, 1, "a new instance");
    let metrics = server.rotor.metrics_text();
    assert!(
        metrics.contains(
            r#"rotor_warm_instances_total{plugin="test-faulty.wasm",event="retired_resources"} 1"#
        ),
        "{metrics}"
    );
}

/// What `test-py-memory`'s `remember` answers: the calls its instance
/// answered and the 256 KiB blocks it keeps at module level.
async fn remember(server: &TestServer) -> serde_json::Value {
    let response = server.rpc("remember", b"", &[]).await;
    let data = response.result.expect("a result").data;
    serde_json::from_slice(&data).expect("JSON")
}

/// The pool keeps up to 64 MiB of each slot's linear memory mapped between
/// instances and resets only the pages the last instance dirtied: a fresh
/// instance of a Python guest, which grew and wrote its heap in the last
/// call (in a slot that kept those pages), sees none of it. The same guest
/// reused does keep its module's state, so the guest would show a leak.
#[tokio::test]
async fn a_fresh_python_instance_sees_nothing_the_last_one_wrote_in_a_resident_slot() {
    let Some(_) = crate::languages::guest_dir() else {
        return;
    };
    let pool = "[pool]\nkeep_resident = \"64MiB\"\n";
    let fresh = TestServer::start(&format!(
        "{pool}[handlers]\nrpc = \"test-py-memory.wasm\"\n"
    ))
    .await;
    for _ in 0..4 {
        assert_eq!(
            remember(&fresh).await,
            serde_json::json!({"calls": 1, "kept": 262_144, "blocks": [1]})
        );
    }
    let reused = TestServer::start(&format!(
        "{pool}[handlers]\nrpc = \"test-py-memory.wasm\"\n\
         [isolation.\"test-py-memory.wasm\"]\nmode = \"reuse\"\n"
    ))
    .await;
    for calls in 1..=3 {
        assert_eq!(
            remember(&reused).await,
            serde_json::json!({
                "calls": calls,
                "kept": calls * 262_144,
                "blocks": (1..=calls).collect::<Vec<_>>(),
            })
        );
    }
}
