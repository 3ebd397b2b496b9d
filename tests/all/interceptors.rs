//! Interceptor chains end to end: ordering, rewrites, short-circuits, after
//! hooks, refusals and faults, with the `test-interceptor` fixture (driven by
//! its per-entry settings) in front of the `test-mirror` handler.

use rotor::proto::proxy as pb;

use crate::support::{TestServer, internal_error, json, request};

/// A chain entry of the fixture with a tag and settings.
fn step(tag: &str, extra: &str) -> String {
    format!(r#"{{ plugin = "test-interceptor.wasm", settings = {{ tag = "{tag}"{extra} }} }}"#)
}

async fn with_chains(chains: &str) -> TestServer {
    TestServer::start(&format!(
        "[handlers]\nrpc = \"test-mirror.wasm\"\nrefresh = \"test-mirror.wasm\"\nconnect = \"test-mirror.wasm\"\n[interceptors]\n{chains}"
    ))
    .await
}

async fn rpc(server: &mut TestServer) -> pb::RpcResponse {
    let message = pb::RpcRequest {
        user: "42".into(),
        method: "ping".into(),
        data: b"{}".to_vec(),
        ..Default::default()
    };
    server
        .client
        .rpc(request(message, &[]))
        .await
        .expect("an OK response")
        .into_inner()
}

#[tokio::test]
async fn star_chain_runs_first_and_rewrites_reach_the_handler() {
    let mut server = with_chains(&format!(
        "\"*\" = [{}, {}]\nrpc = [{}]",
        step("A", r#", before = "rewrite""#),
        step("B", r#", before = "rewrite""#),
        step("C", r#", before = "rewrite""#),
    ))
    .await;
    let data = rpc(&mut server).await.result.expect("a result").data;
    // The mirror reflects the headers the handler saw.
    assert_eq!(json(&data)["headers"]["x-chain"], "ABC");
}

#[tokio::test]
async fn after_hooks_run_innermost_first() {
    let mut server = with_chains(&format!(
        "rpc = [{}, {}]",
        step("A", r#", after = "tag""#),
        step("B", r#", after = "tag""#),
    ))
    .await;
    let data = rpc(&mut server).await.result.expect("a result").data;
    let text = String::from_utf8(data).expect("UTF-8");
    assert!(text.ends_with("|after:B|after:A"), "{text}");
}

#[tokio::test]
async fn an_answer_short_circuits_the_rest_but_outer_after_hooks_run() {
    let mut server = with_chains(&format!(
        "rpc = [{}, {}, {}]",
        step("A", r#", after = "tag""#),
        step("B", r#", before = "answer", after = "tag""#),
        step("C", r#", before = "trap""#),
    ))
    .await;
    let data = rpc(&mut server).await.result.expect("a result").data;
    let text = String::from_utf8(data).expect("UTF-8");
    // B answered: C (which would trap) and the handler never ran, B's own
    // after hook did not run, A's did.
    assert_eq!(text, r#"{"answered_by":"B"}|after:A"#);
}

#[tokio::test]
async fn reject_and_disconnect() {
    let mut server = with_chains(&format!("rpc = [{}]", step("R", r#", before = "reject""#))).await;
    let response = rpc(&mut server).await;
    assert_eq!(
        response.error,
        Some(pb::Error {
            code: 1403,
            message: "rejected by R".into(),
            temporary: false
        })
    );
    assert!(response.result.is_none());

    let mut server = with_chains(&format!(
        "rpc = [{}]",
        step("D", r#", before = "disconnect""#)
    ))
    .await;
    let response = rpc(&mut server).await;
    assert_eq!(
        response.disconnect,
        Some(pb::Disconnect {
            code: 4403,
            reason: "D".into()
        })
    );
}

#[tokio::test]
async fn a_refusal_expires_a_refresh() {
    let mut server = with_chains(&format!(
        "refresh = [{}]",
        step("R", r#", before = "reject""#)
    ))
    .await;
    let message = pb::RefreshRequest {
        user: "42".into(),
        ..Default::default()
    };
    let response = server
        .client
        .refresh(request(message, &[]))
        .await
        .expect("OK")
        .into_inner();
    assert!(response.result.expect("a result").expired);
}

#[tokio::test]
async fn a_trapping_interceptor_fails_the_call_unless_fail_open() {
    let mut server = with_chains(&format!("rpc = [{}]", step("T", r#", before = "trap""#))).await;
    assert_eq!(rpc(&mut server).await.error, internal_error());

    let mut server = with_chains(&format!(
        "rpc = [{{ plugin = \"test-interceptor.wasm\", fail_open = true, settings = {{ tag = \"T\", before = \"trap\" }} }}, {}]",
        step("A", r#", before = "rewrite""#)
    ))
    .await;
    let data = rpc(&mut server)
        .await
        .result
        .expect("fail_open lets the call through")
        .data;
    assert_eq!(json(&data)["headers"]["x-chain"], "A");

    let mut server = with_chains(&format!("rpc = [{}]", step("T", r#", after = "trap""#))).await;
    assert_eq!(rpc(&mut server).await.error, internal_error());
}

#[tokio::test]
async fn replies_and_rewrites_of_the_wrong_type_are_guest_faults() {
    for settings in [
        r#", before = "wrong-kind""#,
        r#", before = "rewrite-wrong-kind""#,
        r#", after = "wrong-kind""#,
    ] {
        let mut server = with_chains(&format!("rpc = [{}]", step("W", settings))).await;
        assert_eq!(rpc(&mut server).await.error, internal_error(), "{settings}");

        // The same interceptor with fail_open is skipped: the handler answers.
        let mut server = with_chains(&format!(
            "rpc = [{{ plugin = \"test-interceptor.wasm\", fail_open = true, settings = {{ tag = \"W\"{settings} }} }}]"
        ))
        .await;
        let response = rpc(&mut server).await;
        assert!(response.error.is_none(), "{settings}: {response:?}");
        assert_eq!(
            json(&response.result.expect("a result").data)["method"],
            "ping",
            "{settings}"
        );
    }
}

#[tokio::test]
async fn the_same_interceptor_serves_every_type() {
    let mut server = with_chains(&format!(
        "\"*\" = [{}]",
        step("S", r#", before = "rewrite""#)
    ))
    .await;
    let message = pb::ConnectRequest {
        client: "c".into(),
        ..Default::default()
    };
    let result = server
        .client
        .connect(request(message, &[]))
        .await
        .expect("OK")
        .into_inner()
        .result
        .expect("a result");
    assert_eq!(json(&result.data)["headers"]["x-chain"], "S");
    let data = rpc(&mut server).await.result.expect("a result").data;
    assert_eq!(json(&data)["headers"]["x-chain"], "S");
}

/// Finding 8 of the hardening review: an interceptor rewrote a publication's
/// data, the handler accepted it as it is, and Centrifugo published the
/// client's original bytes, because the reply carried no data.
#[tokio::test]
async fn a_rewritten_publication_is_what_gets_published() {
    let server = TestServer::start(&format!(
        "[handlers]\npublish = \"test-mirror.wasm\"\n[interceptors]\npublish = [{}]",
        step("P", r#", before = "rewrite-data""#)
    ))
    .await;
    let publish = |channel: &str| pb::PublishRequest {
        channel: channel.into(),
        data: br#"{"from":"client"}"#.to_vec(),
        ..Default::default()
    };
    // The mirror accepts `keep` as it is: the rewritten data goes out.
    let response = server
        .client
        .clone()
        .publish(request(publish("keep"), &[]))
        .await
        .expect("OK")
        .into_inner();
    let result = response.result.expect("a result that carries the data");
    assert_eq!(json(&result.data), json(br#"{"rewritten_by":"P"}"#));
    // A handler that replaces the data still wins over the rewrite.
    let response = server
        .client
        .clone()
        .publish(request(publish("room"), &[]))
        .await
        .expect("OK")
        .into_inner();
    let data = response.result.expect("a result").data;
    assert_eq!(json(&data)["wrapped"], json(br#"{"rewritten_by":"P"}"#));

    // Without a rewrite, accepting as it is still sends no result: the
    // client's bytes go out unchanged, as before.
    let server = TestServer::start("[handlers]\npublish = \"test-mirror.wasm\"\n").await;
    let response = server
        .client
        .clone()
        .publish(request(publish("keep"), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert!(response.result.is_none(), "{response:?}");
}
