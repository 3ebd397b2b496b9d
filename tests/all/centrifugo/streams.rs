//! Subscription streams through the real Centrifugo: a client of its
//! JavaScript SDK subscribes to a channel of a namespace with
//! `subscribe_stream_proxy_enabled`, and receives the ticks of the
//! `stream-ticker` plugin (and of its JavaScript and Python twins); on the
//! bidirectional form its publications come back echoed; unsubscribing
//! closes the stream in Rotor.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{
    Centrifugo, Client, RotorProcess, SECRET, WAIT, free_port, http_get, proxy, token_data, tools,
    user_token,
};
use crate::languages::guest_dir;

#[test]
fn a_client_receives_the_ticks_of_a_wasm_stream_and_its_echoes() {
    ticks_and_echoes_of("stream-ticker.wasm");
}

#[test]
fn a_client_receives_the_ticks_of_a_javascript_stream_and_its_echoes() {
    if guest_dir().is_some() {
        ticks_and_echoes_of("js-stream-ticker.wasm");
    }
}

#[test]
fn a_client_receives_the_ticks_of_a_python_stream_and_its_echoes() {
    if guest_dir().is_some() {
        ticks_and_echoes_of("py-stream-ticker.wasm");
    }
}

/// A client subscribes to a stream `ticker` answers and gets its ticks in
/// order, then its echoes on the bidirectional form; leaving closes the
/// stream in Rotor.
fn ticks_and_echoes_of(ticker: &str) {
    let Some(tools) = tools() else { return };
    let admin = free_port();
    let rotor = RotorProcess::start(&format!(
        r#"
[admin]
listen = "127.0.0.1:{admin}"

[handlers]
connect = "connect-jwt.wasm"
subscribe_stream = "{ticker}"

[settings."connect-jwt.wasm"]
secret = "{SECRET}"

[settings."{ticker}"]
interval_ms = "100"
"#
    ));
    let endpoint = rotor.endpoint();
    let mut connect = proxy(&endpoint);
    connect["enabled"] = json!(true);
    // The keys that turn streams on, as Centrifugo v6.9.1 reads them
    // (`internal/configtypes`): the default `subscribe_stream` proxy, and
    // per namespace `subscribe_stream_proxy_enabled` and, for the
    // bidirectional form, `subscribe_stream_proxy_bidirectional`.
    let centrifugo = Centrifugo::start(
        tools,
        json!({
            "client": { "proxy": { "connect": connect } },
            "channel": {
                "proxy": { "subscribe_stream": proxy(&endpoint) },
                "namespaces": [
                    { "name": "ticks", "subscribe_stream_proxy_enabled": true },
                    {
                        "name": "echo",
                        "subscribe_stream_proxy_enabled": true,
                        "subscribe_stream_proxy_bidirectional": true,
                    },
                ],
            },
        }),
    );
    let mut client = Client::start(tools);
    client.connected(
        "alice",
        &centrifugo.ws_url(),
        json!({ "data": token_data(&user_token("alice", 600)) }),
    );

    let outcome = client.subscription("alice", "ticks:clock", json!({}));
    assert_eq!(outcome["event"], "subscribed", "{outcome}");
    for n in 1..=3 {
        let received = client.event("alice", "publication", Some("ticks:clock"));
        assert_eq!(
            received["data"],
            json!({ "tick": n, "channel": "ticks:clock" }),
            "{received}"
        );
    }

    // Bidirectional: the client's publication goes down the stream and
    // comes back from the guest.
    let outcome = client.subscription("alice", "echo:room", json!({}));
    assert_eq!(outcome["event"], "subscribed", "{outcome}");
    client
        .publish("alice", "echo:room", json!({ "text": "hi" }))
        .expect("the publish goes down the stream");
    let echoed = client.wait_for("the echo", WAIT, |line| {
        line["event"] == "publication"
            && line["channel"] == "echo:room"
            && line["data"].get("echo").is_some()
    });
    assert_eq!(
        echoed["data"],
        json!({ "echo": { "text": "hi" } }),
        "{echoed}"
    );

    // Unsubscribing cancels the stream: Rotor drops its instance.
    client
        .command(
            "unsubscribe",
            json!({ "client": "alice", "channel": "ticks:clock" }),
        )
        .expect("the driver unsubscribes");
    let deadline = Instant::now() + WAIT;
    loop {
        let metrics = http_get(admin, "/metrics").unwrap_or_default();
        if metrics.contains("rotor_streams_open{tenant=\"default\"} 1")
            && metrics.contains("event=\"client_left\"} 1")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stream never closed:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
