//! Every field of every core proxy call survives the trip protobuf → WIT →
//! guest → WIT → protobuf, checked against the `test-mirror` plugin.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rotor::proto::proxy as pb;
use serde_json::json;

use crate::support::{TestServer, json, request};

const MIRROR: &str = r#"
[handlers]
connect = "test-mirror.wasm"
refresh = "test-mirror.wasm"
subscribe = "test-mirror.wasm"
publish = "test-mirror.wasm"
rpc = "test-mirror.wasm"
sub_refresh = "test-mirror.wasm"
"#;

fn labels() -> std::collections::HashMap<String, String> {
    [
        ("region".to_string(), "eu".to_string()),
        ("tier".to_string(), "gold".to_string()),
    ]
    .into()
}

#[tokio::test]
async fn connect_maps_every_field() {
    let mut server = TestServer::start(MIRROR).await;
    let message = pb::ConnectRequest {
        client: "client-1".into(),
        transport: "websocket".into(),
        protocol: "json".into(),
        encoding: "json".into(),
        data: br#"{"token":"t"}"#.to_vec(),
        name: "js".into(),
        version: "5.0".into(),
        channels: vec!["news".into(), "chat:1".into()],
        ..Default::default()
    };
    let response = server
        .client
        .connect(request(
            message,
            &[("authorization", "Bearer abc"), ("x-tenant", "a")],
        ))
        .await
        .expect("an OK response")
        .into_inner();
    assert!(
        response.error.is_none() && response.disconnect.is_none(),
        "{response:?}"
    );
    let result = response.result.expect("a result");
    assert_eq!(result.user, "client-1");
    assert_eq!(result.expire_at, 1_700_000_000);
    assert_eq!(result.info, br#"{"token":"t"}"#);
    assert!(result.b64info.is_empty() && result.b64data.is_empty());
    assert_eq!(
        json(&result.data),
        json!({
            "transport": "websocket", "protocol": "json", "encoding": "json",
            "name": "js", "version": "5.0",
            "headers": {"authorization": "Bearer abc", "x-tenant": "a"},
            "channels": ["news", "chat:1"],
        })
    );
    assert_eq!(result.channels, ["news", "chat:1"]);
    assert_eq!(result.meta, br#"{"m":1}"#);
    assert_eq!(
        result.caps,
        [pb::ChannelsCapability {
            channels: vec!["news".into()],
            allow: vec!["sub".into(), "hst".into()],
            r#match: "wildcard".into(),
        }]
    );
    assert_eq!(
        result.labels.get("authorization").map(String::as_str),
        Some("Bearer abc")
    );
    assert_eq!(result.labels.get("x-tenant").map(String::as_str), Some("a"));

    let sub = &result.subs["mirror:sub"];
    assert_eq!(sub.expire_at, 1_700_000_001);
    assert_eq!(sub.info, br#"{"i":1}"#);
    assert_eq!(sub.data, br#"{"d":1}"#);
    assert!(sub.cache_recover);
    let overrides = sub.r#override.as_ref().expect("overrides");
    let value = |v: &Option<pb::BoolValue>| v.as_ref().map(|b| b.value);
    assert_eq!(value(&overrides.presence), Some(true));
    assert_eq!(value(&overrides.join_leave), Some(false));
    assert_eq!(value(&overrides.force_recovery), Some(true));
    assert_eq!(value(&overrides.force_positioning), Some(false));
    assert_eq!(value(&overrides.force_push_join_leave), Some(true));
    let filter = sub.server_tags_filter.as_ref().expect("a filter");
    assert_eq!(filter.op, "and");
    assert_eq!(filter.nodes.len(), 2);
    assert_eq!(
        (filter.nodes[0].key.as_str(), filter.nodes[0].cmp.as_str()),
        ("k1", "eq")
    );
    assert_eq!(filter.nodes[0].val, "v1");
    assert_eq!(filter.nodes[1].vals, ["a", "b"]);
}

#[tokio::test]
async fn binary_encoding_round_trips_through_base64() {
    let mut server = TestServer::start(MIRROR).await;
    let payload = [0u8, 159, 146, 150, 255];
    let message = pb::ConnectRequest {
        client: "c".into(),
        encoding: "binary".into(),
        protocol: "protobuf".into(),
        b64data: BASE64.encode(payload),
        ..Default::default()
    };
    let result = server
        .client
        .connect(request(message, &[]))
        .await
        .expect("an OK response")
        .into_inner()
        .result
        .expect("a result");
    // The guest got the decoded bytes and echoed them as `info`; replies to
    // binary requests travel in the base64 fields.
    assert!(result.info.is_empty());
    assert_eq!(BASE64.decode(&result.b64info).expect("base64"), payload);
    assert!(result.data.is_empty());
    let data = BASE64.decode(&result.b64data).expect("base64");
    assert_eq!(json(&data)["encoding"], "binary");
    let sub = &result.subs["mirror:sub"];
    assert_eq!(BASE64.decode(&sub.b64info).expect("base64"), br#"{"i":1}"#);
}

#[tokio::test]
async fn invalid_base64_is_a_bad_request() {
    let mut server = TestServer::start(MIRROR).await;
    let message = pb::ConnectRequest {
        encoding: "binary".into(),
        b64data: "%%% not base64".into(),
        ..Default::default()
    };
    let status = server
        .client
        .connect(request(message, &[]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("b64data"), "{}", status.message());
}

#[tokio::test]
async fn connect_reject_and_disconnect() {
    let mut server = TestServer::start(MIRROR).await;
    let reject = server
        .client
        .connect(request(
            pb::ConnectRequest {
                data: b"reject".to_vec(),
                ..Default::default()
            },
            &[],
        ))
        .await
        .expect("an OK response")
        .into_inner();
    assert_eq!(
        reject.error,
        Some(pb::Error {
            code: 1001,
            message: "rejected".into(),
            temporary: true
        })
    );
    assert!(reject.result.is_none() && reject.disconnect.is_none());

    let disconnect = server
        .client
        .connect(request(
            pb::ConnectRequest {
                data: b"disconnect".to_vec(),
                ..Default::default()
            },
            &[],
        ))
        .await
        .expect("an OK response")
        .into_inner();
    assert_eq!(
        disconnect.disconnect,
        Some(pb::Disconnect {
            code: 4501,
            reason: "bye".into()
        })
    );
    assert!(disconnect.result.is_none() && disconnect.error.is_none());
}

#[tokio::test]
async fn refresh_extends_or_expires() {
    let mut server = TestServer::start(MIRROR).await;
    let message = pb::RefreshRequest {
        client: "c".into(),
        user: "42".into(),
        meta: br#"{"plan":"pro"}"#.to_vec(),
        labels: labels(),
        ..Default::default()
    };
    let response = server
        .client
        .refresh(request(message, &[]))
        .await
        .expect("OK")
        .into_inner();
    assert!(response.error.is_none() && response.disconnect.is_none());
    let result = response.result.expect("a result");
    assert!(!result.expired);
    assert_eq!(result.expire_at, 1_700_000_100);
    assert_eq!(result.info, br#"{"plan":"pro"}"#);
    assert_eq!(result.meta, br#"{"refreshed":true}"#);
    assert_eq!(result.caps.len(), 1);
    assert_eq!(result.caps[0].channels, ["a", "b"]);
    assert_eq!(result.caps[0].allow, ["pub"]);
    assert_eq!(result.caps[0].r#match, "");

    let message = pb::RefreshRequest {
        user: "expire".into(),
        ..Default::default()
    };
    let result = server
        .client
        .refresh(request(message, &[]))
        .await
        .expect("OK")
        .into_inner()
        .result
        .expect("a result");
    assert!(result.expired);
}

#[tokio::test]
async fn subscribe_maps_every_field() {
    let mut server = TestServer::start(MIRROR).await;
    let message = pb::SubscribeRequest {
        client: "c".into(),
        transport: "sse".into(),
        protocol: "json".into(),
        encoding: "json".into(),
        user: "42".into(),
        channel: "news:sport".into(),
        token: "sub-token".into(),
        meta: br#"{"m":2}"#.to_vec(),
        data: br#"{"since":5}"#.to_vec(),
        labels: labels(),
        ..Default::default()
    };
    let response = server
        .client
        .subscribe(request(message, &[]))
        .await
        .expect("OK")
        .into_inner();
    let result = response.result.expect("a result");
    assert_eq!(result.expire_at, 1_700_000_200);
    assert_eq!(
        json(&result.info),
        json!({"user": "42", "token": "sub-token", "meta": "{\"m\":2}", "labels": {"region": "eu", "tier": "gold"}})
    );
    assert_eq!(result.data, br#"{"since":5}"#);
    let overrides = result.r#override.expect("overrides");
    assert_eq!(overrides.presence, Some(pb::BoolValue { value: false }));
    assert!(overrides.join_leave.is_none() && overrides.force_recovery.is_none());
    assert!(overrides.force_positioning.is_none() && overrides.force_push_join_leave.is_none());
    assert_eq!(result.allow, ["pub", "prs"]);
    let filter = result.server_tags_filter.expect("a filter");
    assert_eq!(
        (
            filter.key.as_str(),
            filter.cmp.as_str(),
            filter.val.as_str()
        ),
        ("tag", "eq", "news:sport")
    );
    assert!(filter.nodes.is_empty());
}

#[tokio::test]
async fn subscribe_reject_and_disconnect() {
    let mut server = TestServer::start(MIRROR).await;
    let deny = pb::SubscribeRequest {
        channel: "deny".into(),
        ..Default::default()
    };
    let response = server
        .client
        .subscribe(request(deny, &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(
        response.error,
        Some(pb::Error {
            code: 103,
            message: "permission denied".into(),
            temporary: false
        })
    );
    let kick = pb::SubscribeRequest {
        channel: "kick".into(),
        ..Default::default()
    };
    let response = server
        .client
        .subscribe(request(kick, &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(
        response.disconnect,
        Some(pb::Disconnect {
            code: 4502,
            reason: "kicked".into()
        })
    );
}

#[tokio::test]
async fn publish_maps_every_field() {
    let mut server = TestServer::start(MIRROR).await;
    let message = pb::PublishRequest {
        client: "c9".into(),
        user: "42".into(),
        channel: "chat:1".into(),
        data: br#"{"text":"hi"}"#.to_vec(),
        meta: b"{}".to_vec(),
        labels: labels(),
        ..Default::default()
    };
    let response = server
        .client
        .publish(request(message, &[]))
        .await
        .expect("OK")
        .into_inner();
    let result = response.result.expect("a result");
    assert_eq!(json(&result.data), json!({"wrapped": {"text": "hi"}}));
    assert!(result.skip_history);
    assert_eq!(result.tags.get("user").map(String::as_str), Some("42"));
    assert_eq!(
        result.tags.get("channel").map(String::as_str),
        Some("chat:1")
    );
    assert_eq!(result.idempotency_key, "idem-c9");
    assert!(result.delta);
    assert_eq!(result.version, 7);
    assert_eq!(result.version_epoch, "ep");

    // Accepting without changes leaves `result` out: Centrifugo publishes the
    // client's data as it is.
    let keep = pb::PublishRequest {
        channel: "keep".into(),
        data: b"{}".to_vec(),
        ..Default::default()
    };
    let response = server
        .client
        .publish(request(keep, &[]))
        .await
        .expect("OK")
        .into_inner();
    assert!(response.result.is_none() && response.error.is_none() && response.disconnect.is_none());

    let deny = pb::PublishRequest {
        channel: "deny".into(),
        ..Default::default()
    };
    let response = server
        .client
        .publish(request(deny, &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(
        response.error.map(|e| (e.code, e.temporary)),
        Some((1003, false))
    );
}

#[tokio::test]
async fn rpc_maps_every_field() {
    let mut server = TestServer::start(MIRROR).await;
    let message = pb::RpcRequest {
        client: "c".into(),
        transport: "websocket".into(),
        protocol: "protobuf".into(),
        encoding: "json".into(),
        user: "42".into(),
        method: "ping".into(),
        data: br#"{"n":1}"#.to_vec(),
        meta: br#"{"m":3}"#.to_vec(),
        labels: labels(),
        ..Default::default()
    };
    let response = server
        .client
        .rpc(request(message, &[("x-request-id", "r1")]))
        .await
        .expect("OK")
        .into_inner();
    let result = response.result.expect("a result");
    assert_eq!(
        json(&result.data),
        json!({
            "method": "ping", "user": "42", "data": "{\"n\":1}", "meta": "{\"m\":3}",
            "labels": {"region": "eu", "tier": "gold"}, "headers": {"x-request-id": "r1"},
            "transport": "websocket", "protocol": "protobuf", "encoding": "json",
        })
    );

    for (method, expected) in [("fail", (Some(1004), None)), ("bye", (None, Some(4503)))] {
        let message = pb::RpcRequest {
            method: method.into(),
            ..Default::default()
        };
        let response = server
            .client
            .rpc(request(message, &[]))
            .await
            .expect("OK")
            .into_inner();
        assert_eq!(
            (
                response.error.map(|e| e.code),
                response.disconnect.map(|d| d.code)
            ),
            expected,
            "{method}"
        );
    }
}

#[tokio::test]
async fn sub_refresh_extends_or_expires() {
    let mut server = TestServer::start(MIRROR).await;
    let message = pb::SubRefreshRequest {
        client: "c".into(),
        user: "42".into(),
        channel: "news".into(),
        ..Default::default()
    };
    let result = server
        .client
        .sub_refresh(request(message, &[]))
        .await
        .expect("OK")
        .into_inner()
        .result
        .expect("a result");
    assert!(!result.expired);
    assert_eq!(result.expire_at, 1_700_000_300);
    assert_eq!(json(&result.info), json!({"channel": "news", "user": "42"}));

    let message = pb::SubRefreshRequest {
        channel: "expire".into(),
        ..Default::default()
    };
    let result = server
        .client
        .sub_refresh(request(message, &[]))
        .await
        .expect("OK")
        .into_inner()
        .result
        .expect("a result");
    assert!(result.expired);
}
