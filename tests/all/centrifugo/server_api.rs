//! The `centrifugo-api` import against the real Centrifugo's gRPC server
//! API: the ticket-booking RPC books a seat and publishes the seat map, and a
//! second client subscribed to `event:<id>` receives it. A guest that
//! publishes outside its tenant's namespaces fails for itself only.

use std::time::Duration;

use serde_json::json;

use super::{
    API_KEY, Centrifugo, Client, Ports, RotorProcess, SECRET, WAIT, all_proxies, token_data, tools,
    user_token,
};

#[test]
fn a_booking_reaches_subscribers_and_a_forbidden_publish_fails_for_the_guest_only() {
    let Some(tools) = tools() else { return };
    // Rotor names Centrifugo's API before Centrifugo starts (it connects on
    // first use), and Centrifugo names Rotor's proxy address.
    let shows_ports = Ports::free();
    let rotor = RotorProcess::start_with_env(
        &format!(
            r#"
[centrifugo]
api = "{api}"
api_key_env = "E2E_CENTRIFUGO_API_KEY"
timeout = "500ms"

[tenancy]
by = "metadata"
key = "x-rotor-tenant"

# Publishes seat maps to event:<id>, which it may touch.
[tenants.shows]
dir = "."
grants = ["log", "config", "kv", "centrifugo-api"]
api_namespaces = ["event"]
handlers = {{ connect = "connect-jwt.wasm", subscribe = "subscribe-acl.wasm", rpc = {{ methods = {{ "booking:" = "ticket-booking.wasm" }} }} }}
settings = {{ "connect-jwt.wasm" = {{ secret = "{SECRET}" }}, "subscribe-acl.wasm" = {{ public_namespaces = "event" }}, "ticket-booking.wasm" = {{ channel_prefix = "event:" }} }}

# The same plugin, set to publish to vip:<id>, which its tenant may not.
[tenants.rogue]
dir = "."
grants = ["log", "config", "kv", "centrifugo-api"]
api_namespaces = ["event"]
handlers = {{ connect = "connect-jwt.wasm", rpc = {{ methods = {{ "booking:" = "ticket-booking.wasm" }} }} }}
settings = {{ "connect-jwt.wasm" = {{ secret = "{SECRET}" }}, "ticket-booking.wasm" = {{ channel_prefix = "vip:" }} }}
"#,
            api = shows_ports.api_url()
        ),
        &[("E2E_CENTRIFUGO_API_KEY", API_KEY)],
    );
    let endpoint = rotor.endpoint();
    let tenant = |name: &str| {
        let mut config = all_proxies(
            &endpoint,
            &["event", "vip"],
            json!({ "grpc": { "static_metadata": { "x-rotor-tenant": name } } }),
        );
        config["rpc"]["namespaces"] = json!([{ "name": "booking", "proxy_enabled": true }]);
        config
    };
    let shows = Centrifugo::start_on(tools, shows_ports, tenant("shows"));
    let rogue = Centrifugo::start(tools, tenant("rogue"));
    let mut client = Client::start(tools);
    let login = |user: &str| json!({ "data": token_data(&user_token(user, 600)) });

    client.connected("alice", &shows.ws_url(), login("alice"));
    client.connected("bob", &shows.ws_url(), login("bob"));
    let outcome = client.subscription("bob", "event:e1", json!({}));
    assert_eq!(outcome["event"], "subscribed", "{outcome}");

    let booked = client
        .rpc(
            "alice",
            "booking:book",
            json!({ "event": "e1", "seat": "A1" }),
        )
        .expect("the seat is free");
    assert_eq!(
        booked,
        json!({ "event": "e1", "seat": "A1", "published": true })
    );
    let map = client.event("bob", "publication", Some("event:e1"));
    assert_eq!(
        map["data"],
        json!({ "event": "e1", "booked": { "A1": "alice" } }),
        "{map}"
    );

    let error = client
        .rpc(
            "bob",
            "booking:book",
            json!({ "event": "e1", "seat": "A1" }),
        )
        .expect_err("the seat is taken");
    assert_eq!(
        (error.code, error.message.as_str()),
        (1409, "seat is taken")
    );

    // The rogue tenant's guest publishes to vip:e1: Rotor refuses that API
    // call (the guest gets `denied`), the booking stands, and the client
    // gets the plugin's answer.
    client.connected("carol", &rogue.ws_url(), login("carol"));
    let booked = client
        .rpc(
            "carol",
            "booking:book",
            json!({ "event": "e1", "seat": "B2" }),
        )
        .expect("the rogue's booking stands");
    assert_eq!(
        booked,
        json!({ "event": "e1", "seat": "B2", "published": false })
    );
    assert!(
        rotor.log.shows("not published to vip:e1", WAIT),
        "the guest logged the refusal:\n{}",
        rotor.log.text()
    );

    // Nothing reached event:e1 from the rogue, and the shows tenant still
    // publishes.
    let stray = client.events_during(Duration::from_millis(300), |line| {
        line["event"] == "publication" && line["client"] == "bob"
    });
    assert!(stray.is_empty(), "{stray:?}");
    let booked = client
        .rpc(
            "bob",
            "booking:book",
            json!({ "event": "e1", "seat": "A2" }),
        )
        .expect("another seat");
    assert_eq!(booked["published"], true);
    let map = client.event("bob", "publication", Some("event:e1"));
    assert_eq!(
        map["data"],
        json!({ "event": "e1", "booked": { "A1": "alice", "A2": "bob" } }),
        "{map}"
    );
    let seats = client
        .rpc("alice", "booking:seats", json!({ "event": "e1" }))
        .expect("the seat map");
    assert_eq!(seats, map["data"]);
}
