//! Calls reach the component their type, channel namespace or RPC method is
//! routed to; what is not routed gets a clear status.

use rotor::proto::proxy as pb;

use crate::support::{TestServer, json, request};

const ROUTED: &str = r#"
[handlers.subscribe]
default = "test-mirror.wasm"
namespaces = { user = "subscribe-acl.wasm" }
[handlers.rpc]
default = "test-mirror.wasm"
methods = { "faulty:" = "test-faulty.wasm", "whoami" = "rpc-router.wasm" }
"#;

#[tokio::test]
async fn channel_namespaces_pick_their_plugin() {
    let mut server = TestServer::start(ROUTED).await;
    let subscribe = |user: &str, channel: &str| pb::SubscribeRequest {
        user: user.into(),
        channel: channel.into(),
        ..Default::default()
    };
    // `user:` goes to the ACL plugin, which lets users into their own channel only.
    let own = server
        .client
        .subscribe(request(subscribe("42", "user:42"), &[]))
        .await
        .expect("OK");
    assert!(own.into_inner().result.is_some());
    let other = server
        .client
        .subscribe(request(subscribe("42", "user:43"), &[]))
        .await
        .expect("OK");
    assert_eq!(other.into_inner().error.map(|e| e.code), Some(103));
    // Anything else falls back to the mirror, which accepts it.
    let default = server
        .client
        .subscribe(request(subscribe("42", "room:43"), &[]))
        .await
        .expect("OK");
    assert_eq!(
        default.into_inner().result.map(|r| r.expire_at),
        Some(1_700_000_200)
    );
}

#[tokio::test]
async fn rpc_methods_pick_their_plugin() {
    let mut server = TestServer::start(ROUTED).await;
    let rpc = |method: &str| pb::RpcRequest {
        client: "c1".into(),
        user: "42".into(),
        method: method.into(),
        data: br#"{"x":1}"#.to_vec(),
        ..Default::default()
    };
    // A `namespace:` prefix: the faulty plugin echoes what it does not know.
    let echoed = server
        .client
        .rpc(request(rpc("faulty:anything"), &[]))
        .await
        .expect("OK");
    assert_eq!(
        echoed.into_inner().result.map(|r| r.data),
        Some(br#"{"x":1}"#.to_vec())
    );
    // An exact method name.
    let whoami = server
        .client
        .rpc(request(rpc("whoami"), &[]))
        .await
        .expect("OK");
    let data = whoami.into_inner().result.expect("a result").data;
    assert_eq!(json(&data)["user"], "42");
    // The default.
    let mirrored = server
        .client
        .rpc(request(rpc("other"), &[]))
        .await
        .expect("OK");
    assert_eq!(
        json(&mirrored.into_inner().result.expect("a result").data)["method"],
        "other"
    );
}

#[tokio::test]
async fn unrouted_types_and_rpcs_are_unimplemented() {
    let mut server = TestServer::start(ROUTED).await;
    let status = server
        .client
        .connect(request(pb::ConnectRequest::default(), &[]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(status.message().contains("connect"), "{}", status.message());

    let status = server
        .client
        .notify_cache_empty(request(pb::NotifyCacheEmptyRequest::default(), &[]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(
        status.message().contains("notify_cache_empty"),
        "{}",
        status.message()
    );

    let status = server
        .client
        .map_publish(request(pb::MapPublishRequest::default(), &[]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(
        status.message().contains("map_publish"),
        "{}",
        status.message()
    );

    // Subscription streams no handler routes, in either form.
    let status = server
        .client
        .subscribe_unidirectional(request(pb::SubscribeRequest::default(), &[]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(
        status.message().contains("subscribe_stream"),
        "{}",
        status.message()
    );
    let first = pb::StreamSubscribeRequest {
        subscribe_request: Some(pb::SubscribeRequest::default()),
        publication: None,
    };
    let status = server
        .client
        .subscribe_bidirectional(tokio_stream::iter([first]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(
        status.message().contains("subscribe_stream"),
        "{}",
        status.message()
    );
}

/// Finding 7 of the hardening review: Centrifugo strips the private prefix
/// (`$`) before it finds a channel's namespace, so a publication into
/// `$chat:room` comes from namespace `chat`'s proxy and must reach `chat`'s
/// handler.
#[tokio::test]
async fn private_channels_are_routed_by_their_namespace() {
    let server = TestServer::start(
        "[handlers.publish]\nnamespaces = { chat = \"test-mirror.wasm\" }\n\
         [handlers.sub_refresh]\nnamespaces = { chat = \"test-mirror.wasm\" }\n",
    )
    .await;
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
        .expect("routed to chat's handler")
        .into_inner();
    let data = response.result.expect("the mirror wraps the data").data;
    assert_eq!(json(&data)["wrapped"]["x"], 1);
    let response = server
        .client
        .clone()
        .sub_refresh(request(
            pb::SubRefreshRequest {
                channel: "$chat:room".into(),
                ..Default::default()
            },
            &[],
        ))
        .await
        .expect("routed to chat's handler")
        .into_inner();
    assert_eq!(response.result.map(|r| r.expire_at), Some(1_700_000_300));
    // A private channel without a namespace is not `chat`'s.
    let status = server
        .client
        .clone()
        .publish(request(
            pb::PublishRequest {
                channel: "$chatroom".into(),
                ..Default::default()
            },
            &[],
        ))
        .await
        .expect_err("no handler for channels without a namespace");
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status}");
}
