//! Connect, subscribe, publish and RPC through the real Centrifugo, answered
//! by the example plugins, as a client of Centrifugo's JavaScript SDK sees
//! them.

use std::time::Duration;

use serde_json::json;

use super::{
    Centrifugo, Client, RotorProcess, SECRET, all_proxies, now, token, token_data, tools,
    user_token,
};

/// Rotor with the example plugins on every proxy type; publications are
/// stamped with their sender in `from`.
fn examples() -> String {
    format!(
        r#"
[handlers]
connect = "connect-jwt.wasm"
refresh = "refresh.wasm"
publish = "publish-validator.wasm"
rpc = "rpc-router.wasm"
sub_refresh = "sub-refresh.wasm"

[handlers.subscribe]
default = "subscribe-acl.wasm"

[settings."connect-jwt.wasm"]
secret = "{SECRET}"

[settings."subscribe-acl.wasm"]
public_namespaces = "public"

[settings."publish-validator.wasm"]
max_bytes = "256"
sender_field = "from"
"#
    )
}

/// Rotor with the examples, and a Centrifugo that sends it every proxy call
/// for the `user` and `public` namespaces.
fn stack() -> Option<(RotorProcess, Centrifugo, Client)> {
    let tools = tools()?;
    let rotor = RotorProcess::start(&examples());
    let centrifugo = Centrifugo::start(
        tools,
        all_proxies(&rotor.endpoint(), &["user", "public"], json!({})),
    );
    Some((rotor, centrifugo, Client::start(tools)))
}

#[test]
fn connect_jwt_accepts_a_valid_token_and_refuses_a_bad_one() {
    let Some((_rotor, centrifugo, mut client)) = stack() else {
        return;
    };
    let url = centrifugo.ws_url();

    let info = json!({ "name": "Alice" });
    let good = token(
        &json!({ "sub": "alice", "exp": now() + 600, "info": info }),
        SECRET,
    );
    client.connected("alice", &url, json!({ "data": token_data(&good) }));
    let whoami = client
        .rpc("alice", "whoami", json!({}))
        .expect("whoami answers");
    assert_eq!(whoami["user"], "alice", "the token's sub is the user");

    // A token signed with another key: 101 unauthorized, which the SDK
    // treats as final (no reconnect).
    let forged = token(
        &json!({ "sub": "mallory", "exp": now() + 600 }),
        "another key",
    );
    client.connect("mallory", &url, json!({ "data": token_data(&forged) }));
    let ended = client.event("mallory", "disconnected", None);
    assert_eq!(ended["code"], 101, "{ended}");
    assert_eq!(ended["reason"], "unauthorized", "{ended}");

    // No token at all: the same.
    client.connect("nobody", &url, json!({ "data": {} }));
    let ended = client.event("nobody", "disconnected", None);
    assert_eq!(ended["code"], 101, "{ended}");

    // An expired token: 109 token expired. The SDK takes it as a reason to
    // fetch a new token and try again, so it stays connecting and reports
    // the error.
    let expired = user_token("late", -60);
    client.connect("late", &url, json!({ "data": token_data(&expired) }));
    let error = client.event("late", "error", None);
    assert_eq!(error["error"]["code"], 109, "{error}");
    assert_eq!(error["type"], "connect", "{error}");
}

#[test]
fn the_acl_allows_and_denies_subscriptions() {
    let Some((_rotor, centrifugo, mut client)) = stack() else {
        return;
    };
    let url = centrifugo.ws_url();
    client.connected(
        "alice",
        &url,
        json!({ "data": token_data(&user_token("alice", 600)) }),
    );

    for channel in ["user:alice", "public:lobby"] {
        let outcome = client.subscription("alice", channel, json!({}));
        assert_eq!(outcome["event"], "subscribed", "{channel}: {outcome}");
    }
    // Another user's channel, and one without a namespace: 103 permission
    // denied, final for the SDK.
    for channel in ["user:bob", "plans"] {
        let outcome = client.subscription("alice", channel, json!({}));
        assert_eq!(outcome["event"], "unsubscribed", "{channel}: {outcome}");
        assert_eq!(outcome["code"], 103, "{channel}: {outcome}");
        assert_eq!(
            outcome["reason"], "permission denied",
            "{channel}: {outcome}"
        );
    }
    // A namespace Centrifugo's config does not declare never reaches Rotor:
    // Centrifugo itself answers 102 unknown channel.
    let outcome = client.subscription("alice", "secret:plans", json!({}));
    assert_eq!(
        (&outcome["event"], &outcome["code"]),
        (&json!("unsubscribed"), &json!(102)),
        "{outcome}"
    );
    let state = client.state("alice");
    assert_eq!(state["state"], "connected", "{state}");
    assert_eq!(state["subs"]["user:alice"], "subscribed", "{state}");
    assert_eq!(state["subs"]["user:bob"], "unsubscribed", "{state}");
}

#[test]
fn publications_are_accepted_rejected_and_rewritten_as_the_validator_says() {
    let Some((_rotor, centrifugo, mut client)) = stack() else {
        return;
    };
    let url = centrifugo.ws_url();
    client.connected(
        "alice",
        &url,
        json!({ "data": token_data(&user_token("alice", 600)) }),
    );
    client.connected(
        "bob",
        &url,
        json!({ "data": token_data(&user_token("bob", 600)) }),
    );
    let outcome = client.subscription("bob", "public:chat", json!({}));
    assert_eq!(outcome["event"], "subscribed", "{outcome}");

    // Accepted: the object goes out with the sender stamped in, and a `from`
    // the client forged is replaced.
    client
        .publish(
            "alice",
            "public:chat",
            json!({ "text": "hi", "from": "admin" }),
        )
        .expect("a JSON object is accepted");
    let received = client.event("bob", "publication", Some("public:chat"));
    assert_eq!(
        received["data"],
        json!({ "text": "hi", "from": "alice" }),
        "{received}"
    );
    assert_eq!(received["info"]["user"], "alice", "{received}");

    // Rejected: the publisher gets the plugin's error, nobody receives it.
    let error = client
        .publish("alice", "public:chat", json!([1, 2, 3]))
        .expect_err("an array is refused");
    assert_eq!(
        (error.code, error.message.as_str()),
        (107, "publication must be a JSON object")
    );
    let error = client
        .publish("alice", "public:chat", json!({ "pad": "x".repeat(300) }))
        .expect_err("a large object is refused");
    assert_eq!(error.code, 106, "{error:?}");
    assert!(!error.temporary, "{error:?}");
    let stray = client.events_during(Duration::from_millis(500), |line| {
        line["event"] == "publication" && line["client"] == "bob"
    });
    assert!(stray.is_empty(), "refused publications went out: {stray:?}");

    // And the next good one goes out.
    client
        .publish("alice", "public:chat", json!({ "text": "again" }))
        .expect("accepted");
    let received = client.event("bob", "publication", Some("public:chat"));
    assert_eq!(
        received["data"],
        json!({ "text": "again", "from": "alice" })
    );
}

#[test]
fn the_router_answers_rpc_calls() {
    let Some((_rotor, centrifugo, mut client)) = stack() else {
        return;
    };
    client.connected(
        "alice",
        &centrifugo.ws_url(),
        json!({ "data": token_data(&user_token("alice", 600)) }),
    );
    let sum = client
        .rpc("alice", "sum", json!({ "numbers": [1, 2, 3.5] }))
        .expect("sum answers");
    assert_eq!(sum, json!({ "sum": 6.5 }));
    let echo = client
        .rpc(
            "alice",
            "echo",
            json!({ "nested": { "list": [true, null] } }),
        )
        .expect("echo answers");
    assert_eq!(echo, json!({ "nested": { "list": [true, null] } }));

    let error = client
        .rpc("alice", "nope", json!({}))
        .expect_err("an unknown method");
    assert_eq!(
        (error.code, error.message.as_str()),
        (104, "method not found")
    );
    let error = client
        .rpc("alice", "sum", json!({ "numbers": "many" }))
        .expect_err("bad input");
    assert_eq!(error.code, 107, "{error:?}");
    // Errors end the call, not the connection.
    assert_eq!(client.state("alice")["state"], "connected");
}

/// Finding 7 of the hardening review, behind Centrifugo itself: Centrifugo
/// strips the private prefix before it finds a channel's namespace, so a
/// publication into `$public:chat` comes through namespace `public`'s
/// publish proxy, and Rotor must route it to `public`'s handler.
#[test]
fn a_private_channel_is_routed_by_its_namespace() {
    let Some(tools) = tools() else {
        return;
    };
    let rotor = RotorProcess::start(&format!(
        r#"
[handlers]
connect = "connect-jwt.wasm"

[handlers.publish]
namespaces = {{ public = "publish-validator.wasm" }}

[settings."connect-jwt.wasm"]
secret = "{SECRET}"
"#
    ));
    let centrifugo = Centrifugo::start(
        tools,
        all_proxies(&rotor.endpoint(), &["public"], json!({})),
    );
    let mut client = Client::start(tools);
    client.connected(
        "alice",
        &centrifugo.ws_url(),
        json!({ "data": token_data(&user_token("alice", 600)) }),
    );
    // `public`'s validator answers: an object goes out, an array is refused
    // with the validator's own code.
    client
        .publish("alice", "$public:chat", json!({ "text": "hi" }))
        .expect("accepted by public's validator");
    let error = client
        .publish("alice", "$public:chat", json!([1, 2, 3]))
        .expect_err("refused by public's validator");
    assert_eq!(error.code, 107, "{error:?}");
}
