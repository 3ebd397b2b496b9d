//! Refresh and sub-refresh through the real Centrifugo: a connection and a
//! subscription with an expiry of two seconds outlive it because Rotor's
//! plugins extend them, and an `expire` answer ends them the way Centrifugo
//! defines (disconnect 3005, unsubscribe 2501).

use std::time::Duration;

use serde_json::json;

use super::{
    Centrifugo, Client, RotorProcess, SECRET, all_proxies, now, token, token_data, tools,
    user_token,
};

/// Rotor that extends connections and subscriptions by an hour, except
/// `mallory`'s connections and subscriptions to `news:old`; telemetry logs
/// each refresh.
fn refreshing() -> String {
    format!(
        r#"
[handlers]
connect = "connect-jwt.wasm"
refresh = "refresh.wasm"
sub_refresh = "sub-refresh.wasm"
rpc = "rpc-router.wasm"

[interceptors]
"*" = ["telemetry.wasm"]

[settings."connect-jwt.wasm"]
secret = "{SECRET}"

[settings."refresh.wasm"]
extend_seconds = "3600"
revoked_users = "mallory"

[settings."sub-refresh.wasm"]
extend_seconds = "3600"
revoked_channels = "news:old"
"#
    )
}

#[test]
fn a_refreshed_connection_outlives_its_expiry_and_an_expired_one_ends_with_3005() {
    let Some(tools) = tools() else { return };
    let rotor = RotorProcess::start(&refreshing());
    let centrifugo = Centrifugo::start(tools, all_proxies(&rotor.endpoint(), &[], json!({})));
    let url = centrifugo.ws_url();
    let mut client = Client::start(tools);

    // connect-jwt makes the token's `exp` the connection's expiry.
    client.connected(
        "alice",
        &url,
        json!({ "data": token_data(&user_token("alice", 2)) }),
    );
    client.connected(
        "mallory",
        &url,
        json!({ "data": token_data(&user_token("mallory", 2)) }),
    );

    // Centrifugo asks Rotor when the expiry comes: mallory's connection is
    // closed with 3005 connection expired, which the SDK reconnects after.
    let expired = client.wait_for(
        "mallory's connection to expire",
        Duration::from_secs(10),
        |line| {
            line["client"] == "mallory"
                && (line["event"] == "connecting" || line["event"] == "disconnected")
        },
    );
    assert_eq!(expired["event"], "connecting", "{expired}");
    assert_eq!(expired["code"], 3005, "{expired}");
    assert_eq!(expired["reason"], "connection expired", "{expired}");

    // Alice's was extended: two seconds past her expiry she is still
    // connected, without a single state change, and her calls work.
    std::thread::sleep(Duration::from_secs(2));
    let changes = client.events_during(Duration::from_millis(200), |line| {
        line["client"] == "alice" && line["event"] != "connected" && line["code"] != 0
    });
    assert!(
        changes.is_empty(),
        "alice's connection changed: {changes:?}"
    );
    let whoami = client
        .rpc("alice", "whoami", json!({}))
        .expect("still connected");
    assert_eq!(whoami["user"], "alice");
    assert!(
        rotor
            .log
            .shows("refresh user=alice outcome=extend", Duration::from_secs(15)),
        "Centrifugo asked Rotor to refresh alice:\n{}",
        rotor.log.text()
    );
    assert!(rotor.log.shows(
        "refresh user=mallory outcome=expire",
        Duration::from_secs(15)
    ));
}

#[test]
fn a_refreshed_subscription_outlives_its_expiry_and_an_expired_one_ends_with_2501() {
    let Some(tools) = tools() else { return };
    let rotor = RotorProcess::start(&refreshing());
    let mut config = all_proxies(&rotor.endpoint(), &["news"], json!({}));
    // Subscriptions with an expiry come from subscription tokens, which
    // Centrifugo verifies itself; it asks the sub-refresh proxy when they
    // expire. It looks for expired subscriptions only every
    // presence_update_interval, and only once expired_sub_close_delay has
    // passed (25 s and 27 s by default): both are shortened here.
    config["client"]["token"] = json!({ "hmac_secret_key": SECRET });
    config["client"]["presence_update_interval"] = json!("500ms");
    config["client"]["expired_sub_close_delay"] = json!("1ms");
    let centrifugo = Centrifugo::start(tools, config);
    let mut client = Client::start(tools);
    client.connected(
        "alice",
        &centrifugo.ws_url(),
        json!({ "data": token_data(&user_token("alice", 600)) }),
    );
    for channel in ["news:today", "news:old"] {
        let claims = json!({ "sub": "alice", "channel": channel, "exp": now() + 2 });
        let outcome =
            client.subscription("alice", channel, json!({ "token": token(&claims, SECRET) }));
        assert_eq!(outcome["event"], "subscribed", "{channel}: {outcome}");
    }

    // news:old is not extended: Centrifugo unsubscribes with 2501, which the
    // SDK answers by subscribing again.
    let expired = client.wait_for("news:old to expire", Duration::from_secs(10), |line| {
        line["client"] == "alice"
            && line["channel"] == "news:old"
            && (line["event"] == "subscribing" || line["event"] == "unsubscribed")
            && line["code"] != 0
    });
    assert_eq!(expired["event"], "subscribing", "{expired}");
    assert_eq!(expired["code"], 2501, "{expired}");
    assert_eq!(expired["reason"], "subscription expired", "{expired}");

    // news:today was extended and stays subscribed.
    std::thread::sleep(Duration::from_secs(2));
    let changes = client.events_during(Duration::from_millis(200), |line| {
        line["channel"] == "news:today" && line["event"] != "subscribed" && line["code"] != 0
    });
    assert!(changes.is_empty(), "news:today changed: {changes:?}");
    assert_eq!(client.state("alice")["subs"]["news:today"], "subscribed");
    assert!(
        rotor.log.shows(
            "sub-refresh channel=news:today user=alice outcome=extend",
            Duration::from_secs(15)
        ),
        "Centrifugo asked Rotor to refresh news:today:\n{}",
        rotor.log.text()
    );
}
