//! Hot reload behind the real Centrifugo: the RPC handler's file is
//! replaced between two calls, the answer changes, and no client sees an
//! error, a disconnect or an unsubscribe.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{Centrifugo, Client, RotorProcess, SECRET, all_proxies, token_data, tools, user_token};
use crate::support::{ScratchDir, plugin, plugin_copies};

#[test]
fn a_plugin_swapped_between_two_calls_changes_the_answer_and_no_client_notices() {
    let Some(tools) = tools() else { return };
    let dir = ScratchDir::new();
    let plugins = plugin_copies(
        dir.path(),
        &[
            ("connect-jwt", "connect-jwt.wasm"),
            ("subscribe-acl", "subscribe-acl.wasm"),
            ("rpc-router", "router.wasm"),
        ],
    );
    let config = format!(
        r#"
listen = "127.0.0.1:0"

[plugins]
dir = "plugins"
watch = true

[handlers]
connect = "connect-jwt.wasm"
subscribe = "subscribe-acl.wasm"
rpc = "router.wasm"

[settings."connect-jwt.wasm"]
secret = "{SECRET}"

[settings."subscribe-acl.wasm"]
public_namespaces = "public"
"#
    );
    let rotor = RotorProcess::start_in(dir, &config, &[]);
    let centrifugo = Centrifugo::start(
        tools,
        all_proxies(&rotor.endpoint(), &["public"], json!({})),
    );
    let mut client = Client::start(tools);
    let url = centrifugo.ws_url();
    for user in ["alice", "bob"] {
        client.connected(
            user,
            &url,
            json!({ "data": token_data(&user_token(user, 600)) }),
        );
        let outcome = client.subscription(user, "public:lobby", json!({}));
        assert_eq!(outcome["event"], "subscribed", "{outcome}");
    }
    let before = client
        .rpc("alice", "echo", json!({ "n": 1 }))
        .expect("the router");
    assert_eq!(before, json!({ "n": 1 }));

    // Deploy the mirror under the router's name: written beside it, renamed
    // into place.
    let staged = plugins.join(".router.wasm.tmp");
    std::fs::copy(plugin("test-mirror"), &staged).expect("staging the new version");
    std::fs::rename(&staged, plugins.join("router.wasm")).expect("renaming into place");

    // Calls go on while the reload happens; each one is answered, by the
    // router until the swap and by the mirror after it.
    let started = Instant::now();
    let mut users = ["alice", "bob"].into_iter().cycle();
    let after = loop {
        let user = users.next().expect("an endless cycle");
        let answer = client
            .rpc(user, "echo", json!({ "n": 2 }))
            .unwrap_or_else(|error| panic!("a call during the reload failed: {error:?}"));
        if answer != json!({ "n": 2 }) {
            break answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the new version never answered:\n{}",
            rotor.log.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(after["method"], "echo", "the mirror answered: {after}");

    let troubles = client.events_during(Duration::from_millis(300), |line| {
        [
            "error",
            "disconnected",
            "connecting",
            "unsubscribed",
            "subscribing",
        ]
        .contains(&line["event"].as_str().unwrap_or_default())
    });
    assert!(
        troubles.is_empty(),
        "a client noticed the reload: {troubles:?}"
    );
    for user in ["alice", "bob"] {
        let state = client.state(user);
        assert_eq!(state["state"], "connected", "{state}");
        assert_eq!(state["subs"]["public:lobby"], "subscribed", "{state}");
    }
}
