//! Guests that trap, loop, eat memory or overflow their stack get a defined
//! reply, and the host goes on serving.

use std::time::Duration;

use rotor::proto::proxy as pb;

use crate::support::{TestServer, request};

const FAULTY: &str = r#"
[handlers]
connect = "test-faulty.wasm"
rpc = "test-faulty.wasm"
[limits]
memory = "32MiB"
timeout = "300ms"
"#;

async fn rpc(server: &mut TestServer, method: &str) -> pb::RpcResponse {
    let message = pb::RpcRequest {
        method: method.into(),
        data: br#"{"ok":true}"#.to_vec(),
        ..Default::default()
    };
    server
        .client
        .rpc(request(message, &[]))
        .await
        .unwrap_or_else(|status| panic!("{method}: a gRPC status instead of a reply: {status}"))
        .into_inner()
}

fn internal_error() -> Option<pb::Error> {
    Some(pb::Error {
        code: 100,
        message: "internal server error".into(),
        temporary: true,
    })
}

#[tokio::test]
async fn every_fault_answers_internal_error_and_the_next_call_succeeds() {
    let mut server = TestServer::start(FAULTY).await;
    for method in ["trap", "loop", "oom", "stack"] {
        let response = rpc(&mut server, method).await;
        assert_eq!(response.error, internal_error(), "{method}");
        assert!(response.result.is_none(), "{method}");
        let next = rpc(&mut server, "echo").await;
        assert_eq!(
            next.result.map(|r| r.data),
            Some(br#"{"ok":true}"#.to_vec()),
            "the call after {method}"
        );
    }
}

#[tokio::test]
async fn a_trapping_connect_fails_closed() {
    let mut server = TestServer::start(FAULTY).await;
    let response = server
        .client
        .connect(request(pb::ConnectRequest::default(), &[]))
        .await
        .expect("an OK response")
        .into_inner();
    assert_eq!(response.error, internal_error());
    assert!(response.result.is_none() && response.disconnect.is_none());
}

#[tokio::test]
async fn calls_over_the_concurrency_limit_get_a_temporary_error() {
    let mut server = TestServer::start(
        r#"
        [handlers]
        rpc = "test-faulty.wasm"
        [limits]
        timeout = "400ms"
        concurrency = 1
        "#,
    )
    .await;
    let mut busy_client = server.client.clone();
    let looping = tokio::spawn(async move {
        let message = pb::RpcRequest {
            method: "loop".into(),
            ..Default::default()
        };
        busy_client.rpc(request(message, &[])).await
    });
    // The looping call holds the only slot until its deadline.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let response = rpc(&mut server, "echo").await;
    assert_eq!(
        response.error,
        Some(pb::Error {
            code: 111,
            message: "too many requests".into(),
            temporary: true,
        })
    );
    let looped = looping
        .await
        .expect("the task")
        .expect("an OK response")
        .into_inner();
    assert_eq!(looped.error, internal_error());
    // The slot is free again.
    assert!(rpc(&mut server, "echo").await.result.is_some());
}

#[tokio::test]
async fn replies_with_codes_a_proxy_may_not_use_fail_closed() {
    let mut server = TestServer::start("[handlers]\nconnect = \"test-mirror.wasm\"").await;
    for data in ["bad-code", "bad-disconnect"] {
        let message = pb::ConnectRequest {
            data: data.as_bytes().to_vec(),
            ..Default::default()
        };
        let response = server
            .client
            .connect(request(message, &[]))
            .await
            .expect("an OK response")
            .into_inner();
        assert_eq!(response.error, internal_error(), "{data}");
        assert!(response.disconnect.is_none(), "{data}");
    }
}
