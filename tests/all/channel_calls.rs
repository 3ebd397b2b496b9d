//! The calls about channel features — map publish and remove, shared poll
//! refresh, cache-empty and channel-state notices — over real gRPC, with
//! the tests playing Centrifugo: the mapping of every field, routing by
//! namespace, refusals, interceptors, faults and the example plugins.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rotor::proto::proxy as pb;
use serde_json::json;

use crate::support::{TestServer, internal_error, json, request};

const FIXTURE: &str = r#"
[handlers]
map_publish = "test-channel-calls.wasm"
map_remove = "test-channel-calls.wasm"
shared_poll_refresh = "test-channel-calls.wasm"
notify_cache_empty = "test-channel-calls.wasm"
notify_channel_state = "test-channel-calls.wasm"
"#;

fn error(code: u32, message: &str, temporary: bool) -> Option<pb::Error> {
    Some(pb::Error {
        code,
        message: message.into(),
        temporary,
    })
}

/// The error of a trap in `plugin` on a call no client is on: error 100
/// naming the plugin, for Centrifugo's log.
fn plugin_fault(plugin: &str) -> Option<pb::Error> {
    error(
        100,
        &format!("plugin {plugin} failed (trap); Rotor's log has the details"),
        true,
    )
}

fn map_publish(key: &str, data: &[u8]) -> pb::MapPublishRequest {
    pb::MapPublishRequest {
        client: "c1".into(),
        transport: "websocket".into(),
        protocol: "json".into(),
        encoding: "json".into(),
        user: "42".into(),
        channel: "scores:game".into(),
        key: key.into(),
        data: data.to_vec(),
        meta: br#"{"m":1}"#.to_vec(),
        labels: [("region".to_string(), "eu".to_string())].into(),
        ..Default::default()
    }
}

fn event(channel: &str, kind: &str) -> pb::ChannelEvent {
    pb::ChannelEvent {
        time_ms: 1_700_000_000_000,
        channel: channel.into(),
        r#type: kind.into(),
    }
}

#[tokio::test]
async fn map_publish_maps_every_field_both_ways() {
    let server = TestServer::start(FIXTURE).await;
    let response = server
        .client
        .clone()
        .map_publish(request(
            map_publish("alice", br#"{"score":1}"#),
            &[("x-app", "a")],
        ))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, None);
    assert_eq!(response.disconnect, None);
    let result = response.result.expect("a result");
    assert_eq!(result.key, "alice!");
    assert_eq!(
        json(&result.data),
        json!({
            "transport": "websocket", "protocol": "json", "encoding": "json",
            "user": "42", "channel": "scores:game",
            "data": r#"{"score":1}"#, "meta": r#"{"m":1}"#,
            "headers": {"x-app": "a"}, "labels": {"region": "eu"},
        })
    );
    assert_eq!(result.b64data, "");
    assert_eq!(result.tags, [("user".to_string(), "42".to_string())].into());
    assert_eq!(result.score, 7);
    assert_eq!(result.key_mode, "if_new");
    assert_eq!(result.stream_data, b"s");
    assert_eq!(result.idempotency_key, "ik");
    assert!(result.delta);
    assert_eq!(result.version, 3);
    assert_eq!(result.version_epoch, "ep");

    // Binary encoding: the payload arrives base64 and goes back base64.
    let mut binary = map_publish("bob", b"");
    binary.encoding = "binary".into();
    binary.b64data = BASE64.encode(br#"{"score":2}"#);
    let result = server
        .client
        .clone()
        .map_publish(request(binary, &[]))
        .await
        .expect("OK")
        .into_inner()
        .result
        .expect("a result");
    assert!(result.data.is_empty());
    let data = json(&BASE64.decode(&result.b64data).expect("base64"));
    assert_eq!(data["data"], r#"{"score":2}"#);
    assert_eq!(data["encoding"], "binary");
    assert_eq!(BASE64.decode(&result.b64stream_data).expect("base64"), b"s");

    // Accepted as it is: an empty key and data, which Centrifugo reads as
    // the client's own.
    let result = server
        .client
        .clone()
        .map_publish(request(map_publish("keep", b"{}"), &[]))
        .await
        .expect("OK")
        .into_inner()
        .result
        .expect("a result");
    assert_eq!(result, pb::MapPublishResult::default());
}

#[tokio::test]
async fn map_refusals_reach_centrifugo_as_errors_and_disconnects() {
    let server = TestServer::start(FIXTURE).await;
    let mut client = server.client.clone();
    let response = client
        .map_publish(request(map_publish("reject", b"{}"), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, error(1001, "rejected", true));
    assert_eq!(response.result, None);
    let response = client
        .map_publish(request(map_publish("disconnect", b"{}"), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(
        response.disconnect,
        Some(pb::Disconnect {
            code: 4501,
            reason: "bye".into()
        })
    );
    // A trap fails closed: error 100, temporary, and the host keeps serving.
    let response = client
        .map_publish(request(map_publish("trap", b"{}"), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, internal_error());

    let remove = |key: &str| pb::MapRemoveRequest {
        user: "42".into(),
        channel: "scores:game".into(),
        key: key.into(),
        ..Default::default()
    };
    let response = client
        .map_remove(request(remove("alice"), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(
        response.result,
        Some(pb::MapRemoveResult {
            key: "alice!".into(),
            tags: [("channel".to_string(), "scores:game".to_string())].into(),
            idempotency_key: "42".into(),
        })
    );
    let response = client
        .map_remove(request(remove("reject"), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, error(1002, "no removal", false));
    let response = client
        .map_remove(request(remove("disconnect"), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(
        response.disconnect,
        Some(pb::Disconnect {
            code: 4502,
            reason: "gone".into()
        })
    );
}

#[tokio::test]
async fn shared_poll_refresh_and_cache_empty_map_both_ways() {
    let server = TestServer::start(FIXTURE).await;
    let mut client = server.client.clone();
    let refresh = pb::SharedPollRefreshRequest {
        channel: "prices".into(),
        items: vec![
            pb::SharedPollRefreshItem {
                key: "a".into(),
                version: 0,
            },
            pb::SharedPollRefreshItem {
                key: "gone-b".into(),
                version: 5,
            },
        ],
    };
    let response = client
        .shared_poll_refresh(request(refresh, &[("x-app", "a")]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, None);
    let result = response.result.expect("a result");
    assert_eq!(result.epoch, "e-prices");
    assert_eq!(result.items.len(), 2);
    assert_eq!(result.items[0].key, "a");
    assert_eq!(result.items[0].version, 1);
    assert!(!result.items[0].removed);
    assert_eq!(result.items[0].prev_data, b"p");
    assert_eq!(
        json(&result.items[0].data),
        json!({"channel": "prices", "known": 0, "headers": {"x-app": "a"}})
    );
    assert_eq!(
        (result.items[1].key.as_str(), result.items[1].version),
        ("gone-b", 6)
    );
    assert!(result.items[1].removed);

    let response = client
        .shared_poll_refresh(request(
            pb::SharedPollRefreshRequest {
                channel: "reject".into(),
                items: Vec::new(),
            },
            &[],
        ))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, error(1003, "no state", true));
    assert_eq!(response.result, None);
    // A fault answers error 100, which Centrifugo logs (only its message);
    // it asks again later. No client reads it: it names the plugin.
    let response = client
        .shared_poll_refresh(request(
            pb::SharedPollRefreshRequest {
                channel: "trap".into(),
                items: Vec::new(),
            },
            &[],
        ))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, plugin_fault("test-channel-calls.wasm"));

    for (channel, populated) in [("full:1", true), ("empty:1", false)] {
        let response = client
            .notify_cache_empty(request(
                pb::NotifyCacheEmptyRequest {
                    channel: channel.into(),
                },
                &[],
            ))
            .await
            .expect("OK")
            .into_inner();
        assert_eq!(
            response.result,
            Some(pb::NotifyCacheEmptyResult { populated }),
            "{channel}"
        );
    }
    // The response has no error field: a fault is a gRPC status, and its
    // message names the plugin, never what the guest wrote.
    let status = client
        .notify_cache_empty(request(
            pb::NotifyCacheEmptyRequest {
                channel: "trap".into(),
            },
            &[],
        ))
        .await
        .expect_err("a status");
    assert_eq!(status.code(), tonic::Code::Internal);
    assert!(
        status.message().contains("test-channel-calls.wasm"),
        "{status:?}"
    );
    assert!(!status.message().contains("requested"), "{status:?}");
}

#[tokio::test]
async fn channel_state_batches_are_split_by_namespace() {
    let server = TestServer::start(FIXTURE).await;
    let mut client = server.client.clone();
    let notify = |events| pb::NotifyChannelStateRequest { events };

    let response = client
        .notify_channel_state(request(
            notify(vec![event("a:1", "occupied"), event("b:1", "vacated")]),
            &[],
        ))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(
        response,
        pb::NotifyChannelStateResponse {
            result: Some(pb::NotifyChannelStateResult {}),
            error: None,
        }
    );
    // The fixture refuses naming the channels of its call: the refusal of
    // namespace `b` lists only `b`'s channels, so each call carried one
    // namespace; any refusal fails the batch.
    let response = client
        .notify_channel_state(request(
            notify(vec![
                event("a:1", "occupied"),
                event("b:1", "reject"),
                event("a:2", "vacated"),
                event("$b:2", "occupied"),
            ]),
            &[],
        ))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, error(1004, "b:1,$b:2", false));
    assert_eq!(response.result, None);

    let response = client
        .notify_channel_state(request(notify(vec![event("c:1", "trap")]), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, plugin_fault("test-channel-calls.wasm"));
}

#[tokio::test]
async fn new_kinds_route_by_channel_namespace() {
    let server = TestServer::start(
        r#"
[handlers.map_publish]
namespaces = { scores = "test-channel-calls.wasm" }
[handlers.notify_cache_empty]
namespaces = { full = "test-channel-calls.wasm" }
"#,
    )
    .await;
    let mut client = server.client.clone();
    let mut routed = map_publish("alice", b"{}");
    routed.channel = "$scores:x".into();
    let response = client
        .map_publish(request(routed, &[]))
        .await
        .expect("routed by namespace `scores`")
        .into_inner();
    assert_eq!(response.result.expect("a result").key, "alice!");
    let mut elsewhere = map_publish("alice", b"{}");
    elsewhere.channel = "chat:x".into();
    let status = client
        .map_publish(request(elsewhere, &[]))
        .await
        .expect_err("no route");
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(
        status.message().contains("map_publish of `chat:x`"),
        "{status:?}"
    );

    let response = client
        .notify_cache_empty(request(
            pb::NotifyCacheEmptyRequest {
                channel: "full:1".into(),
            },
            &[],
        ))
        .await
        .expect("routed")
        .into_inner();
    assert_eq!(
        response.result,
        Some(pb::NotifyCacheEmptyResult { populated: true })
    );

    // Kinds the config routes nowhere still answer UNIMPLEMENTED.
    let status = client
        .shared_poll_refresh(request(pb::SharedPollRefreshRequest::default(), &[]))
        .await
        .expect_err("no route");
    assert_eq!(status.code(), tonic::Code::Unimplemented);
}

#[tokio::test]
async fn interceptors_see_the_new_kinds() {
    let server = TestServer::start(
        r#"
[handlers]
map_publish = "test-channel-calls.wasm"
map_remove = "test-channel-calls.wasm"
notify_cache_empty = "test-channel-calls.wasm"
shared_poll_refresh = "test-channel-calls.wasm"
[interceptors]
map_publish = [{ plugin = "test-interceptor.wasm", settings = { tag = "keep", before = "rewrite-data" } }]
map_remove = [{ plugin = "test-interceptor.wasm", settings = { tag = "R", before = "rewrite-data" } }]
notify_cache_empty = [{ plugin = "test-interceptor.wasm", settings = { tag = "X", before = "reject" } }]
shared_poll_refresh = [{ plugin = "test-interceptor.wasm", settings = { tag = "D", before = "disconnect" } }]
"#,
    )
    .await;
    let mut client = server.client.clone();
    // The handler sees the rewritten key.
    let result = client
        .map_remove(request(
            pb::MapRemoveRequest {
                key: "alice".into(),
                ..Default::default()
            },
            &[],
        ))
        .await
        .expect("OK")
        .into_inner()
        .result
        .expect("a result");
    assert_eq!(result.key, "key-R!");
    // The rewrite makes the key `key-keep`, which the fixture accepts "as
    // it is": the rewrite travels in the reply, since Centrifugo would
    // otherwise publish the client's key and data.
    let result = client
        .map_publish(request(map_publish("alice", b"{}"), &[]))
        .await
        .expect("OK")
        .into_inner()
        .result
        .expect("a result");
    assert_eq!(result.key, "key-keep");
    assert_eq!(json(&result.data), json!({"rewritten_by": "keep"}));

    // A refusal of a cache-empty notice says the cache was not filled.
    let response = client
        .notify_cache_empty(request(
            pb::NotifyCacheEmptyRequest {
                channel: "full:1".into(),
            },
            &[],
        ))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(
        response.result,
        Some(pb::NotifyCacheEmptyResult { populated: false })
    );
    // No client is on a shared poll refresh: a disconnect answers error 100.
    let response = client
        .shared_poll_refresh(request(pb::SharedPollRefreshRequest::default(), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, error(100, "D", true));
}

#[tokio::test]
async fn map_validator_checks_keys_and_states() {
    let server = TestServer::start(
        r#"
[handlers]
map_publish = "map-validator.wasm"
map_remove = "map-validator.wasm"
[settings."map-validator.wasm"]
max_bytes = "32"
own_keys = "true"
"#,
    )
    .await;
    let mut client = server.client.clone();
    let publish = |key: &str, data: &[u8]| pb::MapPublishRequest {
        user: "42".into(),
        channel: "cursors:doc".into(),
        key: key.into(),
        data: data.to_vec(),
        ..Default::default()
    };
    let response = client
        .map_publish(request(publish("42", br#"{"x":1,"y":2}"#), &[]))
        .await
        .expect("OK")
        .into_inner();
    // Accepted unchanged: Centrifugo keeps the client's key and data.
    assert_eq!(response.error, None);
    assert_eq!(response.result, Some(pb::MapPublishResult::default()));
    for (key, data, expected) in [
        (
            "43",
            &br#"{"x":1}"#[..],
            error(103, "permission denied", false),
        ),
        (
            "42",
            b"[1]",
            error(107, "the state must be a JSON object", false),
        ),
        (
            "42",
            br#"{"text":"far more than thirty-two bytes"}"#,
            error(106, "the state is 41 bytes, at most 32 allowed", false),
        ),
        (
            "4 2",
            b"{}",
            error(107, "a key is made of letters, digits and _ - . :", false),
        ),
    ] {
        let response = client
            .map_publish(request(publish(key, data), &[]))
            .await
            .expect("OK")
            .into_inner();
        assert_eq!(response.error, expected, "{key}");
        assert_eq!(response.result, None);
    }
    let remove = |key: &str| pb::MapRemoveRequest {
        user: "42".into(),
        channel: "cursors:doc".into(),
        key: key.into(),
        ..Default::default()
    };
    let response = client
        .map_remove(request(remove("42"), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.result, Some(pb::MapRemoveResult::default()));
    let response = client
        .map_remove(request(remove("43"), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, error(103, "permission denied", false));
}

#[tokio::test]
async fn shared_poll_state_answers_what_changed_from_kv() {
    let server = TestServer::start(
        r#"
[handlers]
rpc = "shared-poll-state.wasm"
shared_poll_refresh = "shared-poll-state.wasm"
[settings."shared-poll-state.wasm"]
writers = "ops"
"#,
    )
    .await;
    let put = |user: &str, data: serde_json::Value| pb::RpcRequest {
        user: user.into(),
        method: "shared_poll.put".into(),
        data: data.to_string().into_bytes(),
        ..Default::default()
    };
    let mut client = server.client.clone();
    let response = client
        .rpc(request(
            put(
                "mallory",
                json!({"channel": "prices", "key": "a", "data": 1}),
            ),
            &[],
        ))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(response.error, error(103, "permission denied", false));
    for (key, data) in [
        ("a", json!({"p": 1})),
        ("a", json!({"p": 2})),
        ("b", json!(7)),
    ] {
        let response = client
            .rpc(request(
                put(
                    "ops",
                    json!({"channel": "prices", "key": key, "data": data}),
                ),
                &[],
            ))
            .await
            .expect("OK")
            .into_inner();
        assert!(response.result.is_some(), "{response:?}");
    }
    let refresh = |items: &[(&str, u64)]| pb::SharedPollRefreshRequest {
        channel: "prices".into(),
        items: items
            .iter()
            .map(|(key, version)| pb::SharedPollRefreshItem {
                key: (*key).into(),
                version: *version,
            })
            .collect(),
    };
    let result = client
        .shared_poll_refresh(request(refresh(&[("a", 0), ("b", 1), ("c", 0)]), &[]))
        .await
        .expect("OK")
        .into_inner()
        .result
        .expect("a result");
    // `a` is at version 2; `b` is not newer than what Centrifugo holds; `c`
    // has no state.
    assert_eq!(result.items.len(), 1, "{result:?}");
    assert_eq!(result.items[0].key, "a");
    assert_eq!(result.items[0].version, 2);
    assert_eq!(json(&result.items[0].data), json!({"p": 2}));
    assert!(!result.epoch.is_empty(), "the first write set an epoch");
    let epoch = result.epoch;

    // A removal is a newer version with `removed`.
    client
        .rpc(request(
            put(
                "ops",
                json!({"channel": "prices", "key": "b", "data": null}),
            ),
            &[],
        ))
        .await
        .expect("OK");
    let result = client
        .shared_poll_refresh(request(refresh(&[("a", 2), ("b", 1)]), &[]))
        .await
        .expect("OK")
        .into_inner()
        .result
        .expect("a result");
    assert_eq!(result.epoch, epoch);
    assert_eq!(result.items.len(), 1, "{result:?}");
    assert_eq!(
        (result.items[0].key.as_str(), result.items[0].version),
        ("b", 2)
    );
    assert!(result.items[0].removed);
}
