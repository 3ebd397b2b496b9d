//! Interceptors through the real Centrifugo: `telemetry`, `auth` and
//! `rate-limit` in front of the RPC router, and the rate limit's error
//! reaching the client of Centrifugo's SDK with its code and its
//! `temporary` flag.

use std::time::Duration;

use serde_json::json;

use super::{Centrifugo, Client, RotorProcess, SECRET, all_proxies, token_data, tools, user_token};

#[test]
fn telemetry_auth_and_rate_limit_in_front_of_rpc() {
    let Some(tools) = tools() else { return };
    let rotor = RotorProcess::start(&format!(
        r#"
[handlers]
connect = "connect-jwt.wasm"
rpc = "rpc-router.wasm"

[interceptors]
"*" = ["telemetry.wasm"]
connect = ["auth.wasm"]
rpc = ["auth.wasm", {{ plugin = "rate-limit.wasm", settings = {{ limit = "3", window_ms = "60000" }} }}]

[settings."auth.wasm"]
secret = "{SECRET}"

[settings."connect-jwt.wasm"]
secret = "{SECRET}"
"#
    ));
    let centrifugo = Centrifugo::start(tools, all_proxies(&rotor.endpoint(), &[], json!({})));
    let url = centrifugo.ws_url();
    let mut client = Client::start(tools);

    // auth refuses a bad token before the handler.
    client.connect(
        "mallory",
        &url,
        json!({ "data": token_data("not.a.token") }),
    );
    let ended = client.event("mallory", "disconnected", None);
    assert_eq!(ended["code"], 101, "{ended}");

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

    // Three calls a minute per user; the fourth is refused with 111, and
    // the SDK sees that it is temporary.
    for n in 1..=3 {
        let echo = client
            .rpc("alice", "echo", json!({ "n": n }))
            .unwrap_or_else(|error| panic!("call {n}: {error:?}"));
        assert_eq!(echo, json!({ "n": n }));
    }
    let error = client
        .rpc("alice", "echo", json!({ "n": 4 }))
        .expect_err("over the limit");
    assert_eq!(error.code, 111, "{error:?}");
    assert_eq!(error.message, "too many requests");
    assert!(error.temporary, "{error:?}");

    // Counted per user: bob is not limited by alice's calls, and alice's
    // connection is not ended by the refusal.
    assert_eq!(
        client
            .rpc("bob", "echo", json!({}))
            .expect("bob's first call"),
        json!({})
    );
    assert_eq!(client.state("alice")["state"], "connected");

    // telemetry, first in the chain, logged each call with its outcome,
    // the refused one included (the log is read by a thread of its own, so
    // the last line may come after the answer).
    rotor
        .log
        .shows("outcome=reject code=101", Duration::from_secs(15));
    let log = rotor.log.text();
    assert_eq!(
        log.matches("rpc method=echo user=alice outcome=accept")
            .count(),
        3,
        "{log}"
    );
    assert!(
        log.contains("rpc method=echo user=alice outcome=reject code=111"),
        "{log}"
    );
    assert!(
        log.contains("outcome=reject code=101"),
        "the refused connect: {log}"
    );
}
