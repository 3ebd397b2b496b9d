//! Tenants change without a restart: a config reload adds, changes and
//! removes tenants under load, a removed tenant's calls in flight finish,
//! new limits hold at once, and warm pools survive only for unchanged bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rotor::proto::proxy as pb;
use rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient;
use tonic::transport::Channel;

use crate::support::{ScratchDir, TestServer, internal_error, plugin, request, warm_events};

/// Centrifugo's "too many requests" error code, what a busy tenant answers.
const TOO_MANY_REQUESTS: u32 = 111;

/// A scratch dir with `plugins/` holding copies of the named components.
fn dir_with(plugins: &[(&str, &str)]) -> ScratchDir {
    let dir = ScratchDir::new();
    std::fs::create_dir(dir.path().join("plugins")).expect("a plugin dir");
    for (name, source) in plugins {
        std::fs::copy(plugin(source), dir.path().join("plugins").join(name)).expect("copying");
    }
    dir
}

/// A config over `plugins/` with small pools, mapping tenants by the
/// `x-tenant` metadata, followed by `tenants`.
fn config(tenants: &str) -> String {
    format!(
        "[plugins]\ndir = \"plugins\"\n[limits]\nmemory = \"16MiB\"\nconcurrency = 8\n\
         [pool]\ninstances = 40\n[tenancy]\nby = \"metadata\"\nkey = \"x-tenant\"\n{tenants}"
    )
}

fn tenant(name: &str, rpc: &str, extra: &str) -> String {
    format!("[tenants.{name}]\ndir = \".\"\nhandlers = {{ rpc = \"{rpc}\" }}\n{extra}")
}

async fn rpc_as(
    client: &mut CentrifugoProxyClient<Channel>,
    tenant: &str,
    method: &str,
) -> Result<pb::RpcResponse, tonic::Status> {
    let message = pb::RpcRequest {
        method: method.into(),
        data: br#"{"n":1}"#.to_vec(),
        ..Default::default()
    };
    client
        .rpc(request(message, &[("x-tenant", tenant)]))
        .await
        .map(tonic::Response::into_inner)
}

/// Rewrites the config file and reloads it, as SIGHUP or
/// `POST /admin/reload` do.
async fn reload(server: &TestServer, text: &str) -> Result<(), rotor::ReloadError> {
    std::fs::write(server.dir.path().join("rotor.toml"), text).expect("writing the config");
    server.rotor.reload_config().await
}

/// Calls of one tenant in a loop until told to stop: (answered, failed).
fn load(
    server: &TestServer,
    tenant: &'static str,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(u64, u64)> {
    let mut client = server.client.clone();
    let stop = stop.clone();
    tokio::spawn(async move {
        let (mut ok, mut failed) = (0, 0);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            match rpc_as(&mut client, tenant, "echo").await {
                Ok(reply) if reply.result.is_some() => ok += 1,
                _ => failed += 1,
            }
        }
        (ok, failed)
    })
}

#[tokio::test]
async fn tenants_are_added_changed_and_removed_under_load() {
    let dir = dir_with(&[
        ("router.wasm", "rpc-router"),
        ("mirror.wasm", "test-mirror"),
    ]);
    let steady = tenant("steady", "router.wasm", "");
    let before = config(&format!(
        "{steady}{}{}",
        tenant("changing", "router.wasm", ""),
        tenant("leaving", "router.wasm", "")
    ));
    let server = TestServer::start_in(dir, &before).await;
    let mut client = server.client.clone();
    rpc_as(&mut client, "leaving", "echo")
        .await
        .expect("the tenant to be removed answers");
    assert_eq!(
        rpc_as(&mut client, "joining", "echo")
            .await
            .expect_err("not a tenant yet")
            .code(),
        tonic::Code::PermissionDenied
    );

    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..4).map(|_| load(&server, "steady", &stop)).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Change one tenant's handler and limits, remove one, add one.
    let after = config(&format!(
        "{steady}{}{}",
        tenant(
            "changing",
            "mirror.wasm",
            "limits = { concurrency = 4, cpu = 0.5 }\n"
        ),
        tenant("joining", "router.wasm", "")
    ));
    reload(&server, &after)
        .await
        .expect("a reload that changes tenants goes live");
    let joined = rpc_as(&mut client, "joining", "echo")
        .await
        .expect("a tenant added by reload answers its first call");
    assert_eq!(
        joined.result.expect("a result").data,
        br#"{"n":1}"#,
        "the router echoes"
    );
    let status = rpc_as(&mut client, "leaving", "echo")
        .await
        .expect_err("a removed tenant's new calls are refused");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status}");
    let changed = rpc_as(&mut client, "changing", "echo")
        .await
        .expect("the changed tenant answers")
        .result
        .expect("a result");
    assert!(
        crate::support::json(&changed.data).get("method").is_some(),
        "the mirror answers the changed tenant now"
    );
    let summary = server
        .rotor
        .tenants()
        .into_iter()
        .find(|t| t.name == "changing")
        .expect("listed");
    assert_eq!(summary.limits.concurrency, 4);
    assert_eq!(summary.limits.cpu_cores, Some(0.5));

    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut failed) = (0, 0);
    for caller in callers {
        let (answered, lost) = caller.await.expect("a caller");
        ok += answered;
        failed += lost;
    }
    assert!(ok > 0, "the steady tenant was called");
    assert_eq!(failed, 0, "the unchanged tenant lost calls in the reload");

    // What only a restart can give is refused by name; nothing changes.
    let too_big = config(&format!(
        "{steady}{}",
        tenant("huge", "router.wasm", "limits = { concurrency = 1000 }\n")
    ));
    let error = reload(&server, &too_big)
        .await
        .expect_err("more than the pool holds")
        .to_string();
    assert!(error.contains("[pool]"), "{error}");
    let by_listener = "[plugins]\ndir = \"plugins\"\n[limits]\nmemory = \"16MiB\"\n\
        [tenancy]\nby = \"listener\"\n[tenants.steady]\ndir = \".\"\n\
        handlers = { rpc = \"router.wasm\" }\nlisten = \"127.0.0.1:1\"\n";
    let error = reload(&server, by_listener)
        .await
        .expect_err("a listener that is not bound")
        .to_string();
    assert!(
        error.contains("tenants.steady.listen") && error.contains("restart"),
        "{error}"
    );
    rpc_as(&mut client, "joining", "echo")
        .await
        .expect("the last good config still serves");
}

#[tokio::test]
async fn calls_in_flight_finish_and_new_limits_hold_at_once() {
    let dir = dir_with(&[
        ("faulty.wasm", "test-faulty"),
        ("router.wasm", "rpc-router"),
    ]);
    let other = tenant("other", "router.wasm", "");
    let slow = |limits: &str| tenant("slow", "faulty.wasm", &format!("limits = {{ {limits} }}\n"));
    let server = TestServer::start_in(
        dir,
        &config(&format!(
            "{other}{}",
            slow("timeout = \"2s\", concurrency = 1")
        )),
    )
    .await;
    let mut client = server.client.clone();

    // A call that runs until its tenant's deadline.
    let mut spinning = client.clone();
    let in_flight = tokio::spawn(async move {
        let mut call = request(
            pb::RpcRequest {
                method: "loop".into(),
                ..Default::default()
            },
            &[("x-tenant", "slow")],
        );
        call.set_timeout(Duration::from_secs(10));
        spinning.rpc(call).await.map(tonic::Response::into_inner)
    });
    let started = Instant::now();
    while server
        .rotor
        .tenants()
        .iter()
        .all(|t| t.name != "slow" || t.in_flight == 0)
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never in flight"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let busy = |reply: pb::RpcResponse| reply.error.map(|e| e.code);
    assert_eq!(
        busy(rpc_as(&mut client, "slow", "echo").await.expect("a reply")),
        Some(TOO_MANY_REQUESTS),
        "one call at once"
    );

    reload(
        &server,
        &config(&format!(
            "{other}{}",
            slow("timeout = \"2s\", concurrency = 2")
        )),
    )
    .await
    .expect("a raised limit");
    let reply = rpc_as(&mut client, "slow", "echo").await.expect("a reply");
    assert!(
        reply.result.is_some(),
        "a raised limit admits at once: {reply:?}"
    );

    reload(
        &server,
        &config(&format!(
            "{other}{}",
            slow("timeout = \"2s\", concurrency = 1")
        )),
    )
    .await
    .expect("a lowered limit");
    assert_eq!(
        busy(rpc_as(&mut client, "slow", "echo").await.expect("a reply")),
        Some(TOO_MANY_REQUESTS),
        "a lowered limit counts the call in flight"
    );

    reload(&server, &config(&other))
        .await
        .expect("removing a tenant");
    let status = rpc_as(&mut client, "slow", "echo")
        .await
        .expect_err("a removed tenant");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status}");
    // The call that started before the removal ran to its own end: its
    // plugin's deadline, not a refusal.
    let finished = in_flight.await.expect("the caller").expect("a reply");
    assert_eq!(finished.error, internal_error());
    assert!(started.elapsed() >= Duration::from_secs(2));
}

/// A component with the same code and other bytes: a custom section appended.
fn rebuilt(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).expect("reading");
    let name = b"rotor-test";
    let payload = b"another build";
    bytes.push(0); // custom section
    bytes.push(u8::try_from(1 + name.len() + payload.len()).expect("short"));
    bytes.push(u8::try_from(name.len()).expect("short"));
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    std::fs::write(path, bytes).expect("writing");
}

#[tokio::test]
async fn warm_pools_survive_a_reload_only_for_unchanged_bytes() {
    let dir = dir_with(&[("a.wasm", "test-faulty"), ("b.wasm", "test-faulty")]);
    let text = config(
        "[tenants.warm]\ndir = \".\"\n\
         [tenants.warm.handlers.rpc]\ndefault = \"a.wasm\"\nmethods = { \"b:\" = \"b.wasm\" }\n\
         [tenants.warm.isolation]\n\"a.wasm\" = { mode = \"reuse\" }\n\"b.wasm\" = { mode = \"reuse\" }\n",
    );
    let server = TestServer::start_in(dir, &text).await;
    let mut client = server.client.clone();
    for method in ["echo", "echo", "b:echo", "b:echo"] {
        let reply = rpc_as(&mut client, "warm", method).await.expect("a reply");
        assert!(reply.result.is_some(), "{method}: {reply:?}");
    }
    let metrics = server.rotor.metrics_text();
    assert_eq!(warm_events(&metrics, "warm/a.wasm", "hit"), 1, "{metrics}");
    assert_eq!(warm_events(&metrics, "warm/b.wasm", "miss"), 1, "{metrics}");

    rebuilt(&server.dir.path().join("plugins/b.wasm"));
    reload(&server, &text).await.expect("b's new bytes go live");
    for method in ["echo", "b:echo"] {
        rpc_as(&mut client, "warm", method).await.expect("a reply");
    }
    let metrics = server.rotor.metrics_text();
    assert_eq!(
        warm_events(&metrics, "warm/a.wasm", "hit"),
        2,
        "a's pool was kept: {metrics}"
    );
    assert_eq!(
        warm_events(&metrics, "warm/b.wasm", "miss"),
        2,
        "b's pool started empty: {metrics}"
    );
}
