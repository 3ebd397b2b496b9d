//! Map channels and shared poll channels through the real Centrifugo: a
//! client of its JavaScript SDK writes keys into a map channel, which
//! Centrifugo's map publish and map remove proxies send to the
//! `map-validator` example; another tracks keys of a shared poll channel,
//! whose refreshes the `shared-poll-state` example answers from `kv`.
//!
//! The cache-empty and channel-state notices are not here: Centrifugo's
//! open-source server never sends them (see `docs/centrifugo-facts.md`), so
//! only Rotor's own gRPC client tests them (`tests/all/channel_calls.rs`).

use std::time::Duration;

use serde_json::{Value as Json, json};

use super::{
    Centrifugo, Client, ClientError, RotorProcess, SECRET, Tools, now, proxy, token_data, tools,
    user_token,
};
use crate::languages::guest_dir;
use crate::support::{ScratchDir, plugin, plugin_copies};

/// The HMAC key Centrifugo checks shared poll track signatures with.
const POLL_SECRET: &str = "e2e-poll-secret-of-a-decent-length";

/// How long the tests watch for something that must not happen: several
/// of the shared poll refresh intervals below, and ample for a publication
/// on loopback.
const QUIET: Duration = Duration::from_millis(1500);

/// What a client's successful map publish or remove gets from Centrifugo
/// v6.9.1 when the namespace's proxy is on: its proxy handler applies the
/// change itself but hands the client library a reply without the key, and
/// the library answers the command `107 bad request` (see "Map publish and
/// map remove" in `docs/centrifugo-facts.md`). The change is made all the
/// same; the tests check it where subscribers see it.
fn applied_but_answered_bad_request(outcome: Result<Json, ClientError>, what: &str) {
    let error = outcome.expect_err(
        "Centrifugo v6.9.1 answers a proxied map write 107; if a newer release answers \
         success, update this test and docs/centrifugo-facts.md",
    );
    assert_eq!(
        (error.code, error.message.as_str()),
        (107, "bad request"),
        "{what}: {error:?}"
    );
}

/// The error a refused command got.
fn refused(outcome: Result<Json, ClientError>, what: &str) -> ClientError {
    match outcome {
        Ok(answer) => panic!("{what} was accepted: {answer}"),
        Err(error) => error,
    }
}

/// A client's map publish of `data` under `key`.
fn map_publish(
    client: &mut Client,
    user: &str,
    channel: &str,
    key: &str,
    data: Json,
) -> Result<Json, ClientError> {
    client.command(
        "mapPublish",
        json!({ "client": user, "channel": channel, "key": key, "data": data }),
    )
}

/// A client's map remove of `key`.
fn map_remove(
    client: &mut Client,
    user: &str,
    channel: &str,
    key: &str,
) -> Result<Json, ClientError> {
    client.command(
        "mapRemove",
        json!({ "client": user, "channel": channel, "key": key }),
    )
}

/// Subscribes `user` to the map `channel` and returns the `sync` event
/// that carries the map's state.
fn subscribe_to_map(client: &mut Client, user: &str, channel: &str) -> Json {
    let outcome = client.subscription(user, channel, json!({ "type": "map" }));
    assert_eq!(outcome["event"], "subscribed", "{outcome}");
    client.event(user, "sync", Some(channel))
}

/// Has `user` track `key` of the shared poll `channel` from version 0,
/// with a signature made out to `signer`.
fn track(client: &mut Client, user: &str, channel: &str, key: &str, signer: &str) {
    client
        .command(
            "track",
            json!({
                "client": user,
                "channel": channel,
                "items": [{ "key": key, "version": 0 }],
                "signature": track_signature(signer, channel, &[key]),
            }),
        )
        .expect("the driver tracks");
}

/// Connect data for `user`, as the connect-jwt example reads it.
fn login(user: &str) -> Json {
    json!({ "data": token_data(&user_token(user, 600)) })
}

/// Centrifugo's connect proxy pointing at `endpoint`.
fn connect_proxy(endpoint: &str) -> Json {
    let mut connect = proxy(endpoint);
    connect["enabled"] = json!(true);
    connect
}

/// A Centrifugo whose namespace `scores` is a map channel namespace with
/// both map proxies on, pointing at `rotor`; namespace `notes` is a map
/// namespace with both proxies off.
fn map_centrifugo(rotor: &RotorProcess) -> Option<Centrifugo> {
    let tools = tools()?;
    let endpoint = rotor.endpoint();
    // The keys, as Centrifugo v6.9.1 reads them (`internal/configtypes`):
    // `subscription_type: "map"` needs `map.mode`; a persistent map keeps
    // keys without a TTL. Subscribing is left to Centrifugo's own
    // permission, so the proxies under test are the only ones called after
    // connect.
    Some(Centrifugo::start(
        tools,
        json!({
            "client": { "proxy": { "connect": connect_proxy(&endpoint) } },
            "channel": {
                "proxy": {
                    "map_publish": proxy(&endpoint),
                    "map_remove": proxy(&endpoint),
                },
                "namespaces": [
                    {
                        "name": "scores",
                        "subscription_type": "map",
                        "allow_subscribe_for_client": true,
                        "map": {
                            "mode": "persistent",
                            "publish_proxy_enabled": true,
                            "remove_proxy_enabled": true,
                        },
                    },
                    {
                        "name": "notes",
                        "subscription_type": "map",
                        "allow_subscribe_for_client": true,
                        "map": { "mode": "persistent" },
                    },
                ],
            },
        }),
    ))
}

/// Map `update` events of `client` on `channel` seen within [`QUIET`].
fn updates_during(client: &mut Client, user: &str, channel: &str) -> Vec<Json> {
    client.events_during(QUIET, |line| {
        line["client"] == user && line["channel"] == channel && line["event"] == "update"
    })
}

/// The messages a map validator refuses malformed keys with.
struct KeyMessages {
    /// For a key with a space in it.
    bad: &'static str,
    /// For an empty key.
    empty: &'static str,
}

#[test]
fn map_writes_go_through_the_map_validator_and_its_refusals_reach_the_client() {
    map_writes_through(
        "map-validator.wasm",
        &KeyMessages {
            bad: "a key is made of letters, digits and _ - . :",
            empty: "a key is 1 to 128 bytes long",
        },
    );
}

#[test]
fn map_writes_go_through_the_javascript_map_validator() {
    if guest_dir().is_none() {
        return;
    }
    let shape = "a key is 1 to 128 bytes of letters, digits and _ - . :";
    map_writes_through(
        "js-map-validator.wasm",
        &KeyMessages {
            bad: shape,
            empty: shape,
        },
    );
}

/// Clients write into a map channel whose map proxies Rotor answers with
/// `validator` (the Rust or JavaScript example, the same rules), and
/// subscribers see the accepted writes only.
fn map_writes_through(validator: &str, keys: &KeyMessages) {
    let Some(tools) = tools() else { return };
    let rotor = RotorProcess::start(&format!(
        r#"
[handlers]
connect = "connect-jwt.wasm"
map_publish = "{validator}"
map_remove = "{validator}"

[settings."connect-jwt.wasm"]
secret = "{SECRET}"

[settings."{validator}"]
max_bytes = "64"
own_keys = "true"
"#
    ));
    let Some(centrifugo) = map_centrifugo(&rotor) else {
        return;
    };
    let url = centrifugo.ws_url();
    let mut client = Client::start(tools);
    let channel = "scores:game";
    for user in ["alice", "bob"] {
        client.connected(user, &url, login(user));
    }
    let sync = subscribe_to_map(&mut client, "alice", channel);
    assert_eq!(sync["entries"], json!([]), "an empty map: {sync}");

    // Bob's own key with a small JSON object: the validator accepts, and
    // the subscriber receives the key's new state as bob wrote it.
    applied_but_answered_bad_request(
        map_publish(&mut client, "bob", channel, "bob", json!({ "score": 1 })),
        "bob's publish",
    );
    let update = client.event("alice", "update", Some(channel));
    assert_eq!(update["key"], "bob", "{update}");
    assert_eq!(update["data"], json!({ "score": 1 }), "{update}");
    assert_eq!(update["info"]["user"], "bob", "{update}");

    // The validator's refusals reach bob with its codes and messages, and
    // nothing is published.
    let large = json!({ "note": "x".repeat(80) });
    let too_large = format!(
        "the state is {} bytes, at most 64 allowed",
        large.to_string().len()
    );
    for (key, data, code, message) in [
        ("bob", json!([1, 2]), 107, "the state must be a JSON object"),
        ("bob", large, 106, too_large.as_str()),
        ("b o b", json!({}), 107, keys.bad),
        ("alice", json!({ "score": 99 }), 103, "permission denied"),
    ] {
        let error = refused(
            map_publish(&mut client, "bob", channel, key, data.clone()),
            &format!("publishing {data} under {key}"),
        );
        assert_eq!(
            (error.code, error.message.as_str()),
            (code, message),
            "publishing {data} under {key}: {error:?}"
        );
        assert!(!error.temporary, "{error:?}");
    }
    let leaked = updates_during(&mut client, "alice", channel);
    assert!(
        leaked.is_empty(),
        "a refused write was published: {leaked:?}"
    );

    // A client subscribing later reads the map's state: bob's key alone.
    client.connected("carol", &url, login("carol"));
    let sync = subscribe_to_map(&mut client, "carol", channel);
    let entries = sync["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{sync}");
    assert_eq!(entries[0]["key"], "bob", "{sync}");
    assert_eq!(entries[0]["data"], json!({ "score": 1 }), "{sync}");

    // Removals: another user's key and a malformed key are refused; bob's
    // own goes, and both subscribers see it go.
    let error = refused(
        map_remove(&mut client, "alice", channel, "bob"),
        "alice removing bob's key",
    );
    assert_eq!(
        (error.code, error.message.as_str()),
        (103, "permission denied")
    );
    let error = refused(
        map_remove(&mut client, "bob", channel, ""),
        "removing an empty key",
    );
    assert_eq!(error.code, 107, "{error:?}");
    assert_eq!(error.message, keys.empty, "{error:?}");
    let leaked = updates_during(&mut client, "alice", channel);
    assert!(
        leaked.is_empty(),
        "a refused removal was applied: {leaked:?}"
    );
    applied_but_answered_bad_request(
        map_remove(&mut client, "bob", channel, "bob"),
        "bob's removal",
    );
    for user in ["alice", "carol"] {
        let update = client.event(user, "update", Some(channel));
        assert_eq!(update["key"], "bob", "{update}");
        assert_eq!(update["removed"], true, "{update}");
    }

    // A map namespace whose proxies are off: Centrifugo falls back to its
    // own permissions, which allow no client writes here, and refuses with
    // 103 (the validator would accept bob's own key).
    for outcome in [
        map_publish(&mut client, "bob", "notes:x", "bob", json!({ "n": 1 })),
        map_remove(&mut client, "bob", "notes:x", "bob"),
    ] {
        let error = outcome.expect_err("a write into a map without proxy or permission");
        assert_eq!(error.code, 103, "{error:?}");
    }
}

#[test]
fn a_map_publish_rewritten_by_an_interceptor_is_what_subscribers_see() {
    let Some(tools) = tools() else { return };
    // The interceptor's `rewrite-data` turns the key into `key-<tag>` and the
    // data into `{"rewritten_by": "<tag>"}`, both of which the validator
    // then accepts.
    let rotor = RotorProcess::start(&format!(
        r#"
[handlers]
connect = "connect-jwt.wasm"
map_publish = "map-validator.wasm"
map_remove = "map-validator.wasm"

[interceptors]
map_publish = [{{ plugin = "test-interceptor.wasm", settings = {{ tag = "ic", before = "rewrite-data" }} }}]

[settings."connect-jwt.wasm"]
secret = "{SECRET}"
"#
    ));
    let Some(centrifugo) = map_centrifugo(&rotor) else {
        return;
    };
    let url = centrifugo.ws_url();
    let mut client = Client::start(tools);
    let channel = "scores:rewrites";
    for user in ["alice", "bob"] {
        client.connected(user, &url, login(user));
    }
    subscribe_to_map(&mut client, "alice", channel);

    applied_but_answered_bad_request(
        map_publish(&mut client, "bob", channel, "bob", json!({ "score": 5 })),
        "bob's publish",
    );
    let update = client.event("alice", "update", Some(channel));
    assert_eq!(update["key"], "key-ic", "the rewritten key: {update}");
    assert_eq!(
        update["data"],
        json!({ "rewritten_by": "ic" }),
        "the rewritten data: {update}"
    );
    let others = updates_during(&mut client, "alice", channel);
    assert!(
        others.is_empty(),
        "the client's own key went out too: {others:?}"
    );
}

/// A signature for tracking `keys` of `channel` as `user`, valid for ten
/// minutes, made as Centrifugo v6.9.1 checks it
/// (`internal/client/track_signature.go`): `<iat>:<exp>:<hex HMAC-SHA256>`
/// over iat, exp, user, channel and the hex SHA-256 of the keys, each
/// joined by a NUL byte.
fn track_signature(user: &str, channel: &str, keys: &[&str]) -> String {
    use hmac::{Hmac, KeyInit as _, Mac as _};
    use hmac_sha2::{Digest as _, Sha256};
    let hex = |bytes: &[u8]| -> String { bytes.iter().map(|byte| format!("{byte:02x}")).collect() };
    let issued = now();
    let expires = issued + 600;
    let keys_hash = hex(&Sha256::digest(keys.join("\0").as_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(POLL_SECRET.as_bytes()).expect("any key");
    mac.update(format!("{issued}\0{expires}\0{user}\0{channel}\0{keys_hash}").as_bytes());
    format!("{issued}:{expires}:{}", hex(&mac.finalize().into_bytes()))
}

/// `ops` writes `data` under `key` of `channel` through the plugin's RPC;
/// the key's new version.
fn put(client: &mut Client, channel: &str, key: &str, data: Json) -> u64 {
    let reply = client
        .rpc(
            "ops",
            "shared_poll.put",
            json!({ "channel": channel, "key": key, "data": data }),
        )
        .expect("ops may write");
    reply["version"].as_u64().expect("a version")
}

#[test]
fn tracked_keys_follow_kv_on_refresh_and_a_failing_plugin_changes_nothing() {
    let Some(tools) = tools() else { return };
    // The refresh handler lives in a file of its own, so that the test can
    // replace it while the writer (the same example, as the RPC handler)
    // stays. Its replacement, the `test-channel-calls` fixture, panics on
    // every refresh of a channel named `trap`, so that is the channel.
    let dir = ScratchDir::new();
    let plugins = plugin_copies(
        dir.path(),
        &[
            ("connect-jwt", "connect-jwt.wasm"),
            ("shared-poll-state", "poll-writer.wasm"),
            ("shared-poll-state", "poll-state.wasm"),
        ],
    );
    let rotor = RotorProcess::start_in(
        dir,
        &format!(
            r#"
listen = "127.0.0.1:0"

[plugins]
dir = "plugins"
watch = true

[handlers]
connect = "connect-jwt.wasm"
rpc = "poll-writer.wasm"
shared_poll_refresh = "poll-state.wasm"

[settings."connect-jwt.wasm"]
secret = "{SECRET}"

[settings."poll-writer.wasm"]
writers = "ops"
"#
        ),
        &[],
    );
    let centrifugo = poll_centrifugo(tools, &rotor);
    let mut client = Client::start(tools);
    let channel = "trap";
    tracked_keys_follow_kv(&mut client, &centrifugo, channel);

    // The refresh handler is replaced by one that panics: every refresh
    // fails, Centrifugo logs the error's message (which names the plugin),
    // and alice keeps what she has.
    let staged = plugins.join(".poll-state.wasm.tmp");
    std::fs::copy(plugin("test-channel-calls"), &staged).expect("staging the faulty plugin");
    std::fs::rename(&staged, plugins.join("poll-state.wasm")).expect("renaming into place");
    assert!(
        centrifugo.log.shows(
            "plugin poll-state.wasm failed (trap); Rotor's log has the details",
            Duration::from_secs(30)
        ),
        "Centrifugo logged no failed refresh naming the plugin:\n{}\n\nRotor:\n{}",
        centrifugo.log.text(),
        rotor.log.text()
    );
    assert!(
        centrifugo.log.contains("shared poll refresh error"),
        "{}",
        centrifugo.log.text()
    );
    assert_eq!(put(&mut client, channel, "gold", json!({ "price": 3 })), 3);
    let noticed = client.events_during(QUIET, |line| {
        line["client"] == "alice"
            && [
                "update",
                "error",
                "unsubscribed",
                "subscribing",
                "disconnected",
            ]
            .contains(&line["event"].as_str().unwrap_or_default())
    });
    assert!(
        noticed.is_empty(),
        "alice noticed the failures: {noticed:?}"
    );
    let state = client.state("alice");
    assert_eq!(state["state"], "connected", "{state}");
    assert_eq!(state["subs"][channel], "subscribed", "{state}");
}

#[test]
fn tracked_keys_follow_kv_with_the_python_refresher() {
    if guest_dir().is_none() {
        return;
    }
    let Some(tools) = tools() else { return };
    // The Python example reads the entries the Rust one writes, from the
    // same tenant's kv.
    let rotor = RotorProcess::start(&format!(
        r#"
[handlers]
connect = "connect-jwt.wasm"
rpc = "shared-poll-state.wasm"
shared_poll_refresh = "py-shared-poll-state.wasm"

[settings."connect-jwt.wasm"]
secret = "{SECRET}"

[settings."shared-poll-state.wasm"]
writers = "ops"
"#
    ));
    let centrifugo = poll_centrifugo(tools, &rotor);
    let mut client = Client::start(tools);
    tracked_keys_follow_kv(&mut client, &centrifugo, "prices");
}

/// A Centrifugo whose channels without a namespace are shared poll
/// channels refreshed by `rotor`, with its connect and RPC proxies too.
fn poll_centrifugo(tools: Tools, rotor: &RotorProcess) -> Centrifugo {
    let endpoint = rotor.endpoint();
    // The keys, as Centrifugo v6.9.1 reads them: `subscription_type:
    // "shared_poll"` needs `shared_poll.hmac_secret_key` (track
    // signatures) and the default `shared_poll_refresh` proxy; `versioned`
    // makes Centrifugo send the versions it holds, which the plugin
    // compares with those in kv. A short interval keeps the test short.
    Centrifugo::start(
        tools,
        json!({
            "client": { "proxy": { "connect": connect_proxy(&endpoint) } },
            "shared_poll": { "hmac_secret_key": POLL_SECRET },
            "channel": {
                "proxy": { "shared_poll_refresh": proxy(&endpoint) },
                "without_namespace": {
                    "subscription_type": "shared_poll",
                    "allow_subscribe_for_client": true,
                    "shared_poll": { "mode": "versioned", "refresh_interval": "200ms" },
                },
            },
            "rpc": {
                "proxy": proxy(&endpoint),
                "without_namespace": { "proxy_enabled": true },
            },
        }),
    )
}

/// `alice` tracks key `gold` of shared poll channel `channel`, which `ops`
/// writes through the plugin's RPC: each version written reaches her on a
/// later refresh; a track with a forged signature is refused.
fn tracked_keys_follow_kv(client: &mut Client, centrifugo: &Centrifugo, channel: &str) {
    let url = centrifugo.ws_url();
    for user in ["alice", "ops"] {
        client.connected(user, &url, login(user));
    }
    assert_eq!(put(client, channel, "gold", json!({ "price": 1 })), 1);

    let outcome = client.subscription("alice", channel, json!({ "type": "shared_poll" }));
    assert_eq!(outcome["event"], "subscribed", "{outcome}");
    // A forged signature: Centrifugo refuses the track, 103.
    track(client, "alice", channel, "silver", "mallory");
    let error = client.event("alice", "error", Some(channel));
    assert_eq!(error["type"], "track", "{error}");
    assert_eq!(error["error"]["code"], 103, "{error}");
    // The SDK then drops the key, reporting it removed.
    let dropped = client.event("alice", "update", Some(channel));
    assert_eq!(dropped["key"], "silver", "{dropped}");
    assert_eq!(dropped["removed"], true, "{dropped}");

    track(client, "alice", channel, "gold", "alice");
    let update = client.event("alice", "update", Some(channel));
    assert_eq!(update["key"], "gold", "{update}");
    assert_eq!(update["version"], 1, "{update}");
    assert_eq!(update["data"], json!({ "price": 1 }), "{update}");
    // Centrifugo's state of a channel starts without an epoch; the first
    // refresh brings the plugin's, and Centrifugo treats the change as a
    // reset: it unsubscribes alice with "insufficient state" (2500) once,
    // and the SDK subscribes again and tracks the key again.
    let reset = client.event("alice", "subscribing", Some(channel));
    assert_eq!(reset["code"], 2500, "{reset}");

    // A new version in kv reaches alice on a later refresh.
    assert_eq!(put(client, channel, "gold", json!({ "price": 2 })), 2);
    let update = client.event("alice", "update", Some(channel));
    assert_eq!(update["version"], 2, "{update}");
    assert_eq!(update["data"], json!({ "price": 2 }), "{update}");
}
