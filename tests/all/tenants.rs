//! Tenants: calls are mapped to tenants by metadata, namespace or listener;
//! each tenant has its own limits, grants and `kv` keys; a hostile tenant's
//! faults never reach a good tenant's calls.

use std::time::Duration;

use rotor::proto::proxy as pb;
use rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient;
use rotor::{Config, Rotor};
use tonic::transport::Endpoint;

use crate::support::{ScratchDir, TestServer, internal_error, plugin_dir, request};

/// Two tenants told apart by the `x-tenant` metadata Centrifugo's proxy
/// sends (`grpc.static_metadata`): `good` echoes, `bad` misbehaves.
const TWO_TENANTS: &str = r#"
[tenancy]
by = "metadata"
key = "x-tenant"

[tenants.good]
dir = "."
handlers = { rpc = "rpc-router.wasm" }

[tenants.bad]
dir = "."
handlers = { rpc = "test-faulty.wasm", connect = "test-mirror.wasm" }
limits = { memory = "16MiB", timeout = "200ms", concurrency = 8, cpu = 1 }
"#;

fn rpc_message(method: &str, data: &[u8]) -> pb::RpcRequest {
    pb::RpcRequest {
        method: method.into(),
        data: data.to_vec(),
        ..Default::default()
    }
}

async fn rpc_as(
    client: &mut CentrifugoProxyClient<tonic::transport::Channel>,
    tenant: &str,
    method: &str,
) -> Result<pb::RpcResponse, tonic::Status> {
    client
        .rpc(request(
            rpc_message(method, br#"{"n":1}"#),
            &[("x-tenant", tenant)],
        ))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_hostile_tenant_never_disturbs_a_good_one() {
    let server = TestServer::start(TWO_TENANTS).await;

    let mut good_callers = Vec::new();
    for _ in 0..4 {
        let mut client = server.client.clone();
        good_callers.push(tokio::spawn(async move {
            for _ in 0..40 {
                let response = rpc_as(&mut client, "good", "echo")
                    .await
                    .expect("the good tenant is answered");
                assert_eq!(response.error, None);
                assert_eq!(
                    response.result.map(|r| r.data),
                    Some(br#"{"n":1}"#.to_vec())
                );
            }
        }));
    }
    let mut bad_callers = Vec::new();
    for offset in 0..2 {
        let mut client = server.client.clone();
        bad_callers.push(tokio::spawn(async move {
            let methods = ["trap", "loop", "oom", "stack"];
            for round in 0..8 {
                let method = methods[(round + offset) % methods.len()];
                let response = rpc_as(&mut client, "bad", method)
                    .await
                    .expect("a fault is a reply, not a status");
                assert_eq!(response.error, internal_error(), "{method}");
                // An invalid reply (an error code a proxy may not use).
                let garbage = pb::ConnectRequest {
                    data: b"bad-code".to_vec(),
                    ..Default::default()
                };
                let response = client
                    .connect(request(garbage, &[("x-tenant", "bad")]))
                    .await
                    .expect("an OK response")
                    .into_inner();
                assert_eq!(response.error, internal_error());
            }
        }));
    }
    for caller in good_callers.into_iter().chain(bad_callers) {
        caller.await.expect("a caller's assertions");
    }

    let metrics = server.rotor.metrics_text();
    for fault in ["trap", "deadline", "out_of_memory", "invalid_reply"] {
        assert!(
            metrics.contains(&format!(
                r#"rotor_guest_faults_total{{plugin="bad/test-faulty.wasm",fault="{fault}"}}"#
            )) || metrics.contains(&format!(
                r#"rotor_guest_faults_total{{plugin="bad/test-mirror.wasm",fault="{fault}"}}"#
            )),
            "{fault}: {metrics}"
        );
    }
    // The good tenant's fault series exist (at zero) but never count.
    let good_faults: Vec<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("rotor_guest_faults_total{plugin=\"good/"))
        .filter(|line| !line.ends_with(" 0"))
        .collect();
    assert!(good_faults.is_empty(), "{good_faults:?}");
    assert!(metrics.contains("rotor_calls_in_flight 0"), "{metrics}");
    // Both tenants are still served.
    let mut client = server.client.clone();
    assert!(
        rpc_as(&mut client, "bad", "echo")
            .await
            .unwrap()
            .result
            .is_some()
    );
    assert!(
        rpc_as(&mut client, "good", "echo")
            .await
            .unwrap()
            .result
            .is_some()
    );
}

#[tokio::test]
async fn a_call_that_maps_to_no_tenant_is_refused_with_a_reason() {
    let server = TestServer::start(TWO_TENANTS).await;
    let mut client = server.client.clone();

    let status = client
        .rpc(request(rpc_message("echo", b"{}"), &[]))
        .await
        .expect_err("no tenant metadata and no fallback");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status}");
    assert!(status.message().contains("x-tenant"), "{status}");

    // Finding 13 of the hardening review: the value, which a client may
    // have sent, is not echoed back.
    let status = rpc_as(&mut client, "nobody", "echo")
        .await
        .expect_err("an unknown tenant");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status}");
    assert!(status.message().contains("x-tenant"), "{status}");
    assert!(!status.message().contains("nobody"), "{status}");

    // The good tenant has no connect handler; the bad one has.
    let status = client
        .connect(request(
            pb::ConnectRequest::default(),
            &[("x-tenant", "good")],
        ))
        .await
        .expect_err("no connect route for this tenant");
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status}");
}

#[tokio::test]
async fn namespaces_pick_the_tenant_and_the_fallback_takes_the_rest() {
    let server = TestServer::start(
        r#"
        [tenancy]
        by = "namespace"
        fallback = "shop"

        [tenants.shop]
        dir = "."
        namespaces = ["shop"]
        handlers = { subscribe = "subscribe-acl.wasm", connect = "test-mirror.wasm" }
        settings = { "subscribe-acl.wasm" = { public_namespaces = "shop" } }

        [tenants.chat]
        dir = "."
        namespaces = ["chat"]
        handlers = { subscribe = "test-mirror.wasm" }
        "#,
    )
    .await;
    let mut client = server.client.clone();
    let subscribe = |channel: &str| pb::SubscribeRequest {
        client: "c1".into(),
        user: "42".into(),
        channel: channel.into(),
        ..Default::default()
    };

    // shop: the ACL allows its public namespace.
    let shop = client
        .subscribe(request(subscribe("shop:deals"), &[]))
        .await
        .expect("an OK response")
        .into_inner();
    assert_eq!(shop.error, None);
    assert!(shop.result.is_some());
    // chat: the mirror answers, with its expiry and the channel as a tag.
    let chat = client
        .subscribe(request(subscribe("chat:room"), &[]))
        .await
        .expect("an OK response")
        .into_inner();
    assert_eq!(chat.result.map(|r| r.expire_at), Some(1_700_000_200));
    // No namespace, and connect (which has none): the fallback tenant.
    let unclaimed = client
        .subscribe(request(subscribe("lobby"), &[]))
        .await
        .expect("an OK response")
        .into_inner();
    assert_eq!(
        unclaimed.error.map(|e| e.code),
        Some(103),
        "the ACL refuses"
    );
    let connect = client
        .connect(request(
            pb::ConnectRequest {
                client: "c1".into(),
                ..Default::default()
            },
            &[],
        ))
        .await
        .expect("an OK response")
        .into_inner();
    assert_eq!(connect.result.map(|r| r.user), Some("c1".to_string()));
}

#[tokio::test]
async fn each_tenant_has_its_own_kv_keys() {
    let server = TestServer::start(
        r#"
        [tenancy]
        by = "metadata"
        key = "x-tenant"

        [tenants.a]
        dir = "."
        handlers = { rpc = "rpc-router.wasm" }
        interceptors = { rpc = [{ plugin = "rate-limit.wasm", settings = { limit = "1", window_ms = "60000", by = "method" } }] }

        [tenants.b]
        dir = "."
        handlers = { rpc = "rpc-router.wasm" }
        interceptors = { rpc = [{ plugin = "rate-limit.wasm", settings = { limit = "1", window_ms = "60000", by = "method" } }] }
        "#,
    )
    .await;
    let mut client = server.client.clone();
    let first_a = rpc_as(&mut client, "a", "echo").await.unwrap();
    assert!(first_a.result.is_some());
    let second_a = rpc_as(&mut client, "a", "echo").await.unwrap();
    assert_eq!(
        second_a.error.map(|e| e.code),
        Some(111),
        "a's counter is spent"
    );
    // b counts in its own key space: the same key is fresh there.
    let first_b = rpc_as(&mut client, "b", "echo").await.unwrap();
    assert!(first_b.result.is_some(), "{first_b:?}");
}

#[tokio::test]
async fn an_import_the_tenant_was_not_granted_is_refused_at_load() {
    let dir = ScratchDir::new();
    let path = dir.path().join("rotor.toml");
    std::fs::write(
        &path,
        format!(
            r#"
            [plugins]
            dir = {:?}
            [tenancy]
            by = "metadata"
            [tenants.shop]
            dir = "."
            grants = ["log", "config", "kv"]
            handlers = {{ rpc = "ticket-booking.wasm" }}
            "#,
            plugin_dir().display().to_string()
        ),
    )
    .unwrap();
    let config = Config::from_file(&path).expect("a valid config");
    let error = Rotor::new(&config)
        .await
        .err()
        .expect("the plugin imports the server API")
        .to_string();
    assert!(error.contains("rotor:centrifugo/centrifugo-api"), "{error}");
    assert!(error.contains("not granted"), "{error}");
    assert!(error.contains("shop/ticket-booking.wasm"), "{error}");
}

#[tokio::test]
async fn fuel_and_message_sizes_are_limited_per_tenant() {
    let server = TestServer::start(
        r#"
        [tenancy]
        by = "metadata"
        key = "x-tenant"

        [tenants.metered]
        dir = "."
        handlers = { rpc = "test-faulty.wasm" }
        limits = { fuel = 5000000, timeout = "10s" }

        [tenants.small]
        dir = "."
        handlers = { rpc = "test-faulty.wasm" }
        limits = { max_request = "256B", max_reply = "64B" }
        "#,
    )
    .await;
    let mut client = server.client.clone();

    // Fuel stops a loop long before its 10 s deadline.
    let started = std::time::Instant::now();
    let looped = rpc_as(&mut client, "metered", "loop").await.unwrap();
    assert_eq!(looped.error, internal_error());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        server
            .rotor
            .metrics_text()
            .contains(r#"plugin="metered/test-faulty.wasm",fault="out_of_fuel""#)
    );
    // An ordinary call fits in the same fuel.
    assert!(
        rpc_as(&mut client, "metered", "echo")
            .await
            .unwrap()
            .result
            .is_some()
    );

    // A small echo fits both limits; a larger reply is refused as invalid.
    assert!(
        rpc_as(&mut client, "small", "echo")
            .await
            .unwrap()
            .result
            .is_some()
    );
    let big_reply = client
        .rpc(request(
            rpc_message("echo", &[b'x'; 128]),
            &[("x-tenant", "small")],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(big_reply.error, internal_error());
    let status = client
        .rpc(request(
            rpc_message("echo", &[b'x'; 512]),
            &[("x-tenant", "small")],
        ))
        .await
        .expect_err("a request over the tenant's limit");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status}");
    assert!(status.message().contains("256"), "{status}");
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

#[tokio::test]
async fn each_tenant_listener_answers_for_its_tenant() {
    let (main, red, blue) = (free_port(), free_port(), free_port());
    let dir = ScratchDir::new();
    let path = dir.path().join("rotor.toml");
    std::fs::write(
        &path,
        format!(
            r#"
            listen = "127.0.0.1:{main}"
            [plugins]
            dir = {:?}
            [tenancy]
            by = "listener"
            [tenants.red]
            dir = "."
            listen = "127.0.0.1:{red}"
            handlers = {{ rpc = "rpc-router.wasm" }}
            [tenants.blue]
            dir = "."
            listen = "127.0.0.1:{blue}"
            handlers = {{ rpc = "test-faulty.wasm" }}
            "#,
            plugin_dir().display().to_string()
        ),
    )
    .unwrap();
    let config = Config::from_file(&path).expect("a valid config");
    let rotor = Rotor::new(&config).await.expect("Rotor starts");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listeners = Rotor::bind(&config).await.expect("the listeners bind");
    let serving = tokio::spawn(async move {
        rotor
            .serve(listeners, async {
                let _ = stopped.await;
            })
            .await
    });

    let connect = |port: u16| async move {
        let channel = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect_timeout(Duration::from_secs(5));
        for _ in 0..50 {
            if let Ok(channel) = channel.connect().await {
                return CentrifugoProxyClient::new(channel);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("port {port} never accepted a connection");
    };
    let call = |method: &str| request(rpc_message(method, br#"{"n":1}"#), &[]);

    // red echoes through the router; blue traps on `trap`, which the
    // router would answer with 104 "method not found".
    let mut red_client = connect(red).await;
    let answer = red_client.rpc(call("trap")).await.unwrap().into_inner();
    assert_eq!(answer.error.map(|e| e.code), Some(104));
    let mut blue_client = connect(blue).await;
    let answer = blue_client.rpc(call("trap")).await.unwrap().into_inner();
    assert_eq!(answer.error, internal_error());
    // The main listener belongs to no tenant, and there is no fallback.
    let mut main_client = connect(main).await;
    let status = main_client.rpc(call("echo")).await.expect_err("no tenant");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("every listener stops")
        .expect("the serving task")
        .expect("served cleanly");
}

#[tokio::test]
async fn the_admin_endpoint_lists_tenants_with_their_routes() {
    let server = TestServer::start(TWO_TENANTS).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(rotor::admin::serve(
        server.rotor.clone(),
        listener,
        crate::support::admin_config(Some("t0ken")),
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
        std::future::pending(),
    ));
    assert_eq!(
        crate::reload::http(address, "GET", "/admin/tenants", None)
            .await
            .0,
        401
    );
    let (status, body) = crate::reload::http(address, "GET", "/admin/tenants", Some("t0ken")).await;
    assert_eq!(status, 200, "{body}");
    let tenants: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let bad = tenants
        .as_array()
        .and_then(|all| all.iter().find(|t| t["name"] == "bad"))
        .expect("tenant bad");
    assert_eq!(bad["limits"]["concurrency"], 8);
    assert_eq!(bad["limits"]["timeout_ms"], 200);
    assert_eq!(bad["limits"]["cpu_cores"], 1.0);
    assert_eq!(bad["grants"], "log, config, kv");
    assert_eq!(
        bad["handlers"]["rpc"]["default"]["plugin"],
        "bad/test-faulty.wasm"
    );
    assert_eq!(bad["handlers"]["rpc"]["default"]["mode"], "fresh");
    // A tenant's plugin key has a slash; the rollback path takes it whole.
    let (status, body) = crate::reload::http(
        address,
        "POST",
        "/admin/rollback/bad/test-faulty.wasm",
        Some("t0ken"),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("bad/test-faulty.wasm"), "{body}");
}

/// Tenant `main` (the fallback) answers connect and refresh with the
/// mirror; tenant `chat` owns namespace `chat` and answers its publications.
const NAMESPACED: &str = r#"
[tenancy]
by = "namespace"
fallback = "main"

[tenants.main]
dir = "."
namespaces = ["main"]
handlers = { connect = "test-mirror.wasm", refresh = "test-mirror.wasm" }

[tenants.chat]
dir = "."
namespaces = ["chat"]
handlers = { publish = "test-mirror.wasm" }
"#;

/// Finding 7 of the hardening review: `$chat:room` is in namespace `chat`
/// for Centrifugo, so it belongs to the tenant that owns `chat`.
#[tokio::test]
async fn private_channels_belong_to_the_tenant_of_their_namespace() {
    let server = TestServer::start(NAMESPACED).await;
    let response = server
        .client
        .clone()
        .publish(request(
            pb::PublishRequest {
                channel: "$chat:room".into(),
                data: br#"{"x":1}"#.to_vec(),
                ..Default::default()
            },
            &[],
        ))
        .await
        .expect("chat's publish handler answers")
        .into_inner();
    assert!(response.result.is_some(), "{response:?}");
    let metrics = server.rotor.metrics_text();
    assert!(
        metrics.contains(r#"rotor_calls_total{tenant="chat",kind="publish",outcome="accept"}"#),
        "{metrics}"
    );
}

/// Finding 14 of the hardening review: a tenant's connect and refresh
/// replies could subscribe connections to another tenant's channels,
/// skipping that tenant's subscribe proxy.
#[tokio::test]
async fn cross_tenant_grants_are_refused() {
    let server = TestServer::start(NAMESPACED).await;
    let connect = |channels: &[&str]| {
        let mut client = server.client.clone();
        let message = pb::ConnectRequest {
            client: "c1".into(),
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
            ..Default::default()
        };
        async move {
            client
                .connect(request(message, &[]))
                .await
                .expect("an OK response")
                .into_inner()
        }
    };
    // The mirror grants what the client asks for, plus `mirror:sub` and a
    // capability on `news`: unclaimed namespaces, so the fallback's.
    let own = connect(&["main:lobby", "$main:vip", "lobby"]).await;
    assert_eq!(own.error, None);
    assert_eq!(own.result.expect("a result").channels.len(), 3);
    for channels in [&["chat:room"][..], &["$chat:room"], &["main:x", "chat:x"]] {
        let response = connect(channels).await;
        assert_eq!(response.error, internal_error(), "{channels:?}");
        assert!(response.result.is_none(), "{channels:?}");
    }

    let refresh = |user: &str| {
        let mut client = server.client.clone();
        let message = pb::RefreshRequest {
            user: user.into(),
            ..Default::default()
        };
        async move { client.refresh(request(message, &[])).await }
    };
    let own = refresh("grant:main:room").await.expect("an OK response");
    assert!(!own.into_inner().result.expect("a result").expired);
    let status = refresh("grant:chat:room")
        .await
        .expect_err("a refused reply fails the refresh");
    assert_eq!(status.code(), tonic::Code::Internal, "{status}");
}

/// Finding 13 of the hardening review: the default tenant's `shop/x.wasm`
/// and tenant `shop`'s `x.wasm` had one key, so one of the two plugins
/// answered both tenants' calls.
#[tokio::test]
async fn plugins_of_different_tenants_never_share_a_key() {
    let dir = ScratchDir::new();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(plugins.join("default/shop")).unwrap();
    std::fs::create_dir_all(plugins.join("shop")).unwrap();
    std::fs::copy(
        crate::support::plugin("test-mirror"),
        plugins.join("default/shop/x.wasm"),
    )
    .unwrap();
    std::fs::copy(
        crate::support::plugin("test-faulty"),
        plugins.join("shop/x.wasm"),
    )
    .unwrap();
    let config = format!(
        r#"
[plugins]
dir = {:?}

[tenancy]
by = "metadata"
key = "x-tenant"

[tenants.default]
handlers = {{ rpc = "shop/x.wasm" }}

[tenants.shop]
handlers = {{ rpc = "x.wasm" }}
"#,
        plugins.display().to_string()
    );
    let server = TestServer::start_in(dir, &config).await;
    let mut client = server.client.clone();
    // The mirror answers with JSON that names the method.
    let mirror = rpc_as(&mut client, "default", "echo").await.unwrap();
    let data = mirror.result.expect("a result").data;
    assert_eq!(crate::support::json(&data)["method"], "echo");
    // The faulty plugin echoes the data.
    let faulty = rpc_as(&mut client, "shop", "echo").await.unwrap();
    assert_eq!(faulty.result.expect("a result").data, br#"{"n":1}"#);
    let mut names: Vec<_> = server
        .rotor
        .plugin_versions()
        .await
        .into_iter()
        .map(|version| version.name)
        .collect();
    names.sort();
    assert_eq!(names, ["default/shop/x.wasm", "shop/x.wasm"]);
}
