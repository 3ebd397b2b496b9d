//! Guest faults through the real Centrifugo: a guest that loops forever
//! gives the client Centrifugo's internal error within the proxy timeout,
//! and the next call works.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{Centrifugo, Client, RotorProcess, SECRET, all_proxies, token_data, tools, user_token};

#[test]
fn a_looping_guest_gives_an_internal_error_within_the_proxy_timeout() {
    let Some(tools) = tools() else { return };
    // Rotor's own limit is far above Centrifugo's 1 s proxy timeout, so the
    // deadline Centrifugo sends is the one that stops the guest.
    let rotor = RotorProcess::start(&format!(
        r#"
[handlers]
connect = "connect-jwt.wasm"
rpc = "test-faulty.wasm"

[limits]
timeout = "10s"

[settings."connect-jwt.wasm"]
secret = "{SECRET}"
"#
    ));
    let centrifugo = Centrifugo::start(tools, all_proxies(&rotor.endpoint(), &[], json!({})));
    let mut client = Client::start(tools);
    client.connected(
        "alice",
        &centrifugo.ws_url(),
        json!({ "data": token_data(&user_token("alice", 600)) }),
    );

    for method in ["loop", "trap", "loop"] {
        let started = Instant::now();
        let error = client
            .rpc("alice", method, json!({}))
            .expect_err("the guest fails");
        let took = started.elapsed();
        assert_eq!(
            (error.code, error.message.as_str(), error.temporary),
            (100, "internal server error", true),
            "{method}"
        );
        // Centrifugo's proxy timeout is 1 s; allow for a busy machine.
        assert!(took < Duration::from_millis(2500), "{method} took {took:?}");

        // The next call is served by a fresh instance.
        let echo = client
            .rpc("alice", "echo", json!({ "after": method }))
            .expect("the next call works");
        assert_eq!(echo, json!({ "after": method }));
    }
    assert_eq!(client.state("alice")["state"], "connected");
    assert!(
        rotor.log.shows("deadline", Duration::from_secs(15)),
        "Rotor logged the deadline fault:\n{}",
        rotor.log.text()
    );
}
