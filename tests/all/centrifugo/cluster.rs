//! Past one machine, on loopback: two Centrifugo nodes sharing a Redis
//! engine, two `rotor serve` replicas sharing the Redis `kv` backend, and
//! clients spread over both nodes.
//!
//! Centrifugo v6 takes one `endpoint` per proxy, so each node here points
//! its proxies at one replica: node one at replica A, node two at replica B
//! (see "Replicas and load balancing" in the README). Fifty clients race for
//! twenty seats; then replica A is killed while calls are in flight, and
//! node two's clients must not notice.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use super::{
    API_KEY, Centrifugo, Client, ClientError, Ports, RedisServer, RotorProcess, SECRET,
    all_proxies, free_port, token_data, tools, user_token,
};
use crate::support::{ScratchDir, plugin_dir};

/// The seats of the show: four rows of five.
fn seats() -> Vec<String> {
    ["A", "B", "C", "D"]
        .iter()
        .flat_map(|row| (1..=5).map(move |n| format!("{row}{n}")))
        .collect()
}

/// How many clients race, half on each node.
const CLIENTS: usize = 50;

/// A replica's complete config: listening on `port`, bookings in Redis,
/// seat maps published through the server API of the node at `api`.
fn replica_config(port: u16, redis: &RedisServer, api: Ports) -> String {
    format!(
        r#"
listen = "127.0.0.1:{port}"

[plugins]
dir = {dir:?}

[handlers]
connect = "connect-jwt.wasm"

[handlers.subscribe]
default = "subscribe-acl.wasm"

[handlers.rpc]
methods = {{ "booking:" = "ticket-booking.wasm" }}

# Generous: the machine running the tests may be busy, and a call that
# times out after its booking stood would look like a lost booking.
[limits]
timeout = "5s"

[kv]
backend = "redis"
url = "{kv}"
prefix = "rotor:"

[centrifugo]
api = "{api}"
api_key_env = "E2E_CENTRIFUGO_API_KEY"
timeout = "2s"
namespaces = ["event"]

[settings."connect-jwt.wasm"]
secret = "{SECRET}"

[settings."subscribe-acl.wasm"]
public_namespaces = "event"
"#,
        dir = plugin_dir().display().to_string(),
        kv = redis.url(1),
        api = api.api_url(),
    )
}

/// Starts a replica on `port`.
fn replica(port: u16, redis: &RedisServer, api: Ports) -> RotorProcess {
    RotorProcess::start_in(
        ScratchDir::new(),
        &replica_config(port, redis, api),
        &[("E2E_CENTRIFUGO_API_KEY", API_KEY)],
    )
}

/// A Centrifugo node on `ports` with the Redis engine, every proxy pointing
/// at the replica on `replica_port`.
fn node(tools: super::Tools, ports: Ports, replica_port: u16, redis: &RedisServer) -> Centrifugo {
    let mut config = all_proxies(
        &format!("grpc://127.0.0.1:{replica_port}"),
        &["event"],
        json!({}),
    );
    config["rpc"]["namespaces"] = json!([{ "name": "booking", "proxy_enabled": true }]);
    // As generous as the replicas' own limit (see replica_config).
    for path in [
        "/client/proxy/connect",
        "/client/proxy/refresh",
        "/channel/proxy/subscribe",
        "/channel/proxy/publish",
        "/channel/proxy/sub_refresh",
        "/rpc/proxy",
    ] {
        config.pointer_mut(path).expect("a proxy object")["timeout"] = json!("5s");
    }
    config["engine"] = json!({ "type": "redis", "redis": { "address": redis.url(0) } });
    Centrifugo::start_on(tools, ports, config)
}

/// Connects the clients `names` of `client` to `url` and subscribes each to
/// `channel`, all at once; fails the test if any of them is refused.
fn join(client: &mut Client, names: &[String], url: &str, channel: &str) {
    for name in names {
        let login = json!({ "data": token_data(&user_token(name, 600)) });
        client.connect(name, url, login);
        // The SDK sends the subscription once the connection is up.
        client.subscribe(name, channel, json!({}));
    }
    for name in names {
        let line = client.wait_for(&format!("{name} subscribed"), super::WAIT, |line| {
            line["client"] == name.as_str()
                && line["channel"] == channel
                && (line["event"] == "subscribed" || line["event"] == "unsubscribed")
        });
        assert_eq!(line["event"], "subscribed", "{name}: {line}");
    }
    // The `connecting` and `subscribing` that the commands themselves
    // cause are no news.
    client.discard(|line| {
        (line["event"] == "connecting" || line["event"] == "subscribing") && line["code"] == 0
    });
}

/// Sends one RPC per `(client, data)` of `calls` without waiting, then
/// collects the answers in the same order.
fn rpcs(
    client: &mut Client,
    method: &str,
    calls: &[(String, Json)],
) -> Vec<Result<Json, ClientError>> {
    let ids: Vec<u64> = calls
        .iter()
        .map(|(name, data)| {
            client.send(
                "rpc",
                json!({ "client": name, "method": method, "data": data }),
            )
        })
        .collect();
    ids.into_iter()
        .map(|id| client.answer(id).map(|reply| reply["data"].clone()))
        .collect()
}

/// Events of `client` that mean a connection or subscription was
/// disturbed: anything but staying connected and subscribed.
fn disturbed(line: &Json) -> bool {
    let event = line["event"].as_str().unwrap_or_default();
    [
        "disconnected",
        "connecting",
        "error",
        "unsubscribed",
        "subscribing",
    ]
    .contains(&event)
}

#[test]
fn fifty_clients_on_two_nodes_book_twenty_seats_and_a_killed_replica_is_survived() {
    let Some(tools) = tools() else { return };
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (ports_one, ports_two) = (Ports::free(), Ports::free());
    let (port_a, port_b) = (free_port(), free_port());
    let replica_a = replica(port_a, &redis, ports_one);
    let replica_b = replica(port_b, &redis, ports_two);
    let node_one = node(tools, ports_one, port_a, &redis);
    let node_two = node(tools, ports_two, port_b, &redis);

    // Even clients on node one, odd ones on node two; one driver process
    // per node, so each node's clients can be checked apart.
    let names: Vec<String> = (0..CLIENTS).map(|i| format!("u{i:02}")).collect();
    let (on_one, on_two): (Vec<String>, Vec<String>) = names
        .iter()
        .cloned()
        .partition(|name| name[1..].parse::<usize>().unwrap_or(0) % 2 == 0);
    let mut one = Client::start(tools);
    let mut two = Client::start(tools);
    join(&mut one, &on_one, &node_one.ws_url(), "event:show");
    join(&mut two, &on_two, &node_two.ws_url(), "event:show");

    // Every client tries two seats, so each seat has five contenders, all
    // sent before any answer is read.
    let seats = seats();
    let attempts = |group: &[String]| -> Vec<(String, Json)> {
        group
            .iter()
            .flat_map(|name| {
                let i: usize = name[1..].parse().expect("a client number");
                [i % seats.len(), (i + 7) % seats.len()].map(|seat| {
                    (
                        name.clone(),
                        json!({ "event": "show", "seat": seats[seat] }),
                    )
                })
            })
            .collect()
    };
    let (tries_one, tries_two) = (attempts(&on_one), attempts(&on_two));
    let started = Instant::now();
    let ids_one: Vec<u64> = send_all(&mut one, &tries_one);
    let ids_two: Vec<u64> = send_all(&mut two, &tries_two);
    let mut booked: BTreeMap<String, String> = BTreeMap::new();
    for (client, ids, tries) in [
        (&mut one, ids_one, &tries_one),
        (&mut two, ids_two, &tries_two),
    ] {
        for (id, (name, data)) in ids.into_iter().zip(tries) {
            let seat = data["seat"].as_str().expect("a seat").to_owned();
            match client.answer(id) {
                Ok(reply) => {
                    let reply = &reply["data"];
                    assert_eq!(
                        *reply,
                        json!({ "event": "show", "seat": seat, "published": true }),
                        "{name}"
                    );
                    let earlier = booked.insert(seat.clone(), name.clone());
                    assert!(earlier.is_none(), "{seat} booked by {earlier:?} and {name}");
                }
                Err(error) => assert_eq!(
                    (error.code, error.message.as_str()),
                    (1409, "seat is taken"),
                    "{name} booking {seat}: {error:?}"
                ),
            }
        }
    }
    eprintln!(
        "{} booking attempts over two nodes answered in {:?}",
        tries_one.len() + tries_two.len(),
        started.elapsed()
    );
    assert_eq!(
        booked.len(),
        seats.len(),
        "exactly one booking per seat: {booked:?}"
    );
    let full = json!({ "event": "show", "booked": booked });

    // Every client, on either node, received the complete map (published
    // once, by the booking that completed it) and reads the same map.
    for (client, group) in [(&mut one, &on_one), (&mut two, &on_two)] {
        for name in group {
            client.wait_for(&format!("the full map at {name}"), super::WAIT, |line| {
                line["event"] == "publication"
                    && line["client"] == name.as_str()
                    && line["data"] == full
            });
        }
        let reads: Vec<(String, Json)> = group
            .iter()
            .map(|name| (name.clone(), json!({ "event": "show" })))
            .collect();
        for (answer, name) in rpcs(client, "booking:seats", &reads).into_iter().zip(group) {
            assert_eq!(answer.as_ref().ok(), Some(&full), "{name}: {answer:?}");
        }
    }
    // No publication contradicts the final map: each is a part of it.
    for (client, group) in [(&mut one, &on_one), (&mut two, &on_two)] {
        let maps = client.events_during(Duration::from_millis(200), |line| {
            line["event"] == "publication"
        });
        for map in maps {
            for (seat, user) in map["data"]["booked"].as_object().into_iter().flatten() {
                assert_eq!(full["booked"][seat], *user, "{map}");
            }
        }
        for name in group {
            let state = client.state(name);
            assert_eq!(state["state"], "connected", "{name}: {state}");
        }
    }

    // Replica A dies (SIGKILL) while both nodes' clients have bookings in
    // flight. Each node's clients book seats of an event of their own, so
    // that no more bookings race for one seat map than the plugin allows.
    let late = |group: &[String], event: &str| -> Vec<(String, Json)> {
        group
            .iter()
            .map(|name| {
                (
                    name.clone(),
                    json!({ "event": event, "seat": format!("S{name}") }),
                )
            })
            .collect()
    };
    let (late_one, late_two) = (late(&on_one, "late1"), late(&on_two, "late2"));
    let ids_one = send_all(&mut one, &late_one);
    let ids_two = send_all(&mut two, &late_two);
    drop(replica_a);
    let killed = Instant::now();
    for (id, (name, _)) in ids_one.into_iter().zip(&late_one) {
        // Answered before the kill, or Centrifugo's temporary error.
        if let Err(error) = one.answer(id) {
            assert_eq!(
                (error.code, error.message.as_str(), error.temporary),
                (100, "internal server error", true),
                "{name}"
            );
        }
    }
    for (id, (name, data)) in ids_two.into_iter().zip(&late_two) {
        let reply = two
            .answer(id)
            .unwrap_or_else(|error| panic!("{name} on the surviving replica failed: {error:?}"));
        assert_eq!(reply["data"]["seat"], data["seat"], "{name}");
        assert_eq!(reply["data"]["published"], true, "{name}");
    }
    // After the kill, every call through node one fails as temporary, and
    // every call through node two is answered.
    let reads = |group: &[String]| -> Vec<(String, Json)> {
        group
            .iter()
            .map(|name| (name.clone(), json!({ "event": "show" })))
            .collect()
    };
    for (answer, name) in rpcs(&mut one, "booking:seats", &reads(&on_one))
        .into_iter()
        .zip(&on_one)
    {
        let error = answer.expect_err("replica A is gone");
        assert_eq!(
            (error.code, error.temporary),
            (100, true),
            "{name}: {error:?}"
        );
    }
    for (answer, name) in rpcs(&mut two, "booking:seats", &reads(&on_two))
        .into_iter()
        .zip(&on_two)
    {
        assert_eq!(answer.as_ref().ok(), Some(&full), "{name}: {answer:?}");
    }
    // Node two's clients saw nothing of it, and node one's stay connected
    // to Centrifugo: only their proxy calls fail.
    let noticed = two.events_during(Duration::from_millis(300), disturbed);
    assert!(
        noticed.is_empty(),
        "node two's clients were disturbed: {noticed:#?}"
    );
    let noticed = one.events_during(Duration::ZERO, disturbed);
    assert!(
        noticed.is_empty(),
        "node one's clients were disconnected: {noticed:#?}"
    );

    // A replica started again on the same address is found again: node
    // one reconnects with gRPC's backoff, and its calls are answered.
    let replica_a = replica(port_a, &redis, ports_one);
    let first = on_one[0].clone();
    let deadline = Instant::now() + super::WAIT;
    loop {
        match one.rpc(&first, "booking:seats", json!({ "event": "show" })) {
            Ok(map) => {
                assert_eq!(map, full);
                break;
            }
            Err(error) => {
                assert_eq!((error.code, error.temporary), (100, true), "{error:?}");
                assert!(
                    Instant::now() < deadline,
                    "node one did not reach the restarted replica:\n{}",
                    node_one.log.text()
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    eprintln!(
        "node one answered again {:?} after the kill",
        killed.elapsed()
    );
    drop((replica_a, replica_b));
}

/// Sends `booking:book` for each of `calls` without waiting; their ids.
fn send_all(client: &mut Client, calls: &[(String, Json)]) -> Vec<u64> {
    calls
        .iter()
        .map(|(name, data)| {
            client.send(
                "rpc",
                json!({ "client": name, "method": "booking:book", "data": data }),
            )
        })
        .collect()
}
