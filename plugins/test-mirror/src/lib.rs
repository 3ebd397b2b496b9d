//! Test fixture: exports all six handler interfaces and reflects each request
//! into its reply, so end-to-end tests can check every field of the
//! protobuf ⇄ WIT mapping in both directions. Reads no config keys.
//!
//! The replies are deterministic; tests may rely on exactly this. "JSON" below
//! means a JSON object serialized with `serde_json` (keys sorted; parse it,
//! do not compare bytes). A `headers`/`labels` object maps each key to its
//! value, the last pair winning if a key repeats. "UTF-8" means the bytes
//! decoded lossily (invalid sequences become U+FFFD).
//!
//! **connect**
//! - `data` == `reject` → reject `{code 1001, message "rejected", temporary true}`;
//! - `data` == `disconnect` → disconnect `{code 4501, reason "bye"}`;
//! - `data` == `bad-code` → reject with code 4001 and `bad-disconnect` →
//!   disconnect with code 3000: replies Rotor must refuse (invalid codes);
//! - otherwise accept:
//!   - `user` = `conn.client`, `expire_at` = 1_700_000_000, `info` = `data` as is;
//!   - `data` = JSON `{"transport", "protocol", "encoding", "name", "version",
//!     "headers": {k: v}, "channels": [..]}` from the request;
//!   - `channels` = the request's `channels`;
//!   - `subs` = one entry `("mirror:sub", options)` with options `expire_at`
//!     1_700_000_001, `info` `{"i":1}`, `data` `{"d":1}`, `cache_recover` true,
//!     `overrides` all set: presence true, join_leave false, force_recovery
//!     true, force_positioning false, force_push_join_leave true;
//!     `server_tags_filter` three nodes: 0 = `{op "and", children [1, 2]}`,
//!     1 = `{op "", key "k1", cmp "eq", val "v1"}`, 2 = `{op "", key "k2",
//!     cmp "in", vals ["a", "b"]}` (fields not named are empty);
//!   - `meta` = `{"m":1}`;
//!   - `caps` = one capability: channels `["news"]`, allow `["sub", "hst"]`,
//!     match wildcard;
//!   - `labels` = the request's `headers`, pairs in the order given.
//!
//! **refresh**
//! - `user` == `expire` → expire;
//! - `user` == `grant:<channel>` → extend with `expire_at` 1_700_000_100 and
//!   one capability: channels `[<channel>]`, allow `["sub"]`, match exact;
//! - otherwise extend: `expire_at` 1_700_000_100, `info` = the request's
//!   `meta`, `meta` = `{"refreshed":true}`, `caps` = one capability: channels
//!   `["a", "b"]`, allow `["pub"]`, match exact.
//!
//! **subscribe**
//! - `channel` == `deny` → reject `{103, "permission denied", false}`;
//! - `channel` == `kick` → disconnect `{4502, "kicked"}`;
//! - `channel` == `shared-filter` → accept with a `server_tags_filter` of
//!   [`SHARED_FILTER_LEVELS`] + 1 nodes where node `i` has children `[i + 1,
//!   i + 1]`: a few hundred bytes that, if two edges to one node were
//!   followed, would stand for 2^levels leaves; Rotor must refuse it;
//! - otherwise accept: `expire_at` 1_700_000_200, `info` = JSON `{"user",
//!   "token", "meta": <meta as UTF-8>, "labels": {k: v}}`, `data` = `data` as
//!   is, `overrides` = presence false and the rest unset, `allow` = `["pub",
//!   "prs"]`, `server_tags_filter` = one node `{op "", key "tag", cmp "eq",
//!   val <channel>}`.
//!
//! **publish**
//! - `channel` == `deny` → reject `{1003, "bad publication", false}`;
//! - `channel` == `keep` → accept with the default result (`data` unset: the
//!   client's data goes out as is);
//! - otherwise accept: `data` = the bytes `{"wrapped":` + `data` + `}`,
//!   `skip_history` true, `tags` = `[("user", user), ("channel", channel)]`,
//!   `idempotency_key` = `idem-` + `conn.client`, `delta` true, `version` 7,
//!   `version_epoch` `ep`.
//!
//! **rpc**
//! - `method` == `fail` → reject `{1004, "rpc failed", true}`;
//! - `method` == `bye` → disconnect `{4503, "rpc bye"}`;
//! - otherwise accept: `data` = JSON `{"method", "user", "data": <data as
//!   UTF-8>, "meta": <meta as UTF-8>, "labels": {k: v}, "headers": {k: v},
//!   "transport", "protocol", "encoding"}`.
//!
//! **sub-refresh**
//! - `channel` == `expire` → expire;
//! - otherwise extend: `expire_at` 1_700_000_300, `info` = JSON `{"channel",
//!   "user"}`.

use rotor_sdk::{
    ChannelMatch, ChannelsCapability, Connect, ConnectRequest, ConnectResult, Denial, FilterNode,
    Publish, PublishRequest, PublishResult, Refresh, RefreshReply, RefreshRequest, RefreshResult,
    Rpc, RpcRequest, RpcResult, SubRefresh, SubRefreshReply, SubRefreshRequest, SubRefreshResult,
    Subscribe, SubscribeOptions, SubscribeOverrides, SubscribeRequest, SubscribeResult,
};
use serde_json::{Map, Value, json};

/// Levels of the `shared-filter` answer: a reply of a few hundred bytes
/// that, expanded, is 2^16 leaves, still small enough (under 1 MiB) to pass
/// a size check made only after building.
pub const SHARED_FILTER_LEVELS: u32 = 16;

/// The component: one type answers every handler kind.
struct Mirror;

rotor_sdk::export_connect!(Mirror);
rotor_sdk::export_refresh!(Mirror);
rotor_sdk::export_subscribe!(Mirror);
rotor_sdk::export_publish!(Mirror);
rotor_sdk::export_rpc!(Mirror);
rotor_sdk::export_sub_refresh!(Mirror);

/// A list of pairs as a JSON object; a repeated key keeps its last value.
fn pairs_object(pairs: &[(String, String)]) -> Value {
    let object: Map<String, Value> = pairs
        .iter()
        .map(|(key, value)| (key.clone(), Value::String(value.clone())))
        .collect();
    Value::Object(object)
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_string()).collect()
}

/// A filter node with only the given fields set.
fn leaf(key: &str, cmp: &str) -> FilterNode {
    FilterNode {
        op: String::new(),
        key: key.to_string(),
        cmp: cmp.to_string(),
        val: String::new(),
        vals: Vec::new(),
        children: Vec::new(),
    }
}

impl Connect for Mirror {
    fn connect(request: ConnectRequest) -> Result<ConnectResult, Denial> {
        match request.data.as_slice() {
            b"reject" => return Err(Denial::temporary(1001, "rejected")),
            b"disconnect" => return Err(Denial::disconnect(4501, "bye")),
            // Invalid on purpose: codes outside what a proxy may return.
            b"bad-code" => return Err(Denial::error(4001, "not a proxy error code")),
            b"bad-disconnect" => return Err(Denial::disconnect(3000, "reserved code")),
            _ => {}
        }
        let data = json!({
            "transport": request.conn.transport,
            "protocol": request.conn.protocol,
            "encoding": request.conn.encoding,
            "name": request.name,
            "version": request.version,
            "headers": pairs_object(&request.headers),
            "channels": request.channels,
        });
        let options = SubscribeOptions {
            expire_at: 1_700_000_001,
            info: br#"{"i":1}"#.to_vec(),
            data: br#"{"d":1}"#.to_vec(),
            overrides: Some(SubscribeOverrides {
                presence: Some(true),
                join_leave: Some(false),
                force_recovery: Some(true),
                force_positioning: Some(false),
                force_push_join_leave: Some(true),
            }),
            server_tags_filter: Some(vec![
                FilterNode {
                    op: "and".to_string(),
                    children: vec![1, 2],
                    ..leaf("", "")
                },
                FilterNode {
                    val: "v1".to_string(),
                    ..leaf("k1", "eq")
                },
                FilterNode {
                    vals: strings(&["a", "b"]),
                    ..leaf("k2", "in")
                },
            ]),
            cache_recover: true,
        };
        Ok(ConnectResult {
            user: request.conn.client,
            expire_at: 1_700_000_000,
            info: request.data,
            data: data.to_string().into_bytes(),
            channels: request.channels,
            subs: vec![("mirror:sub".to_string(), options)],
            meta: br#"{"m":1}"#.to_vec(),
            caps: vec![ChannelsCapability {
                channels: strings(&["news"]),
                allow: strings(&["sub", "hst"]),
                match_: ChannelMatch::Wildcard,
            }],
            labels: request.headers,
        })
    }
}

impl Refresh for Mirror {
    fn refresh(request: RefreshRequest) -> RefreshReply {
        if request.user == "expire" {
            return RefreshReply::Expire;
        }
        if let Some(channel) = request.user.strip_prefix("grant:") {
            return RefreshReply::Extend(RefreshResult {
                expire_at: 1_700_000_100,
                info: Vec::new(),
                meta: Vec::new(),
                caps: vec![ChannelsCapability {
                    channels: vec![channel.to_string()],
                    allow: strings(&["sub"]),
                    match_: ChannelMatch::Exact,
                }],
            });
        }
        RefreshReply::Extend(RefreshResult {
            expire_at: 1_700_000_100,
            info: request.meta,
            meta: br#"{"refreshed":true}"#.to_vec(),
            caps: vec![ChannelsCapability {
                channels: strings(&["a", "b"]),
                allow: strings(&["pub"]),
                match_: ChannelMatch::Exact,
            }],
        })
    }
}

impl Subscribe for Mirror {
    fn subscribe(request: SubscribeRequest) -> Result<SubscribeResult, Denial> {
        match request.channel.as_str() {
            "deny" => return Err(Denial::permission_denied()),
            "kick" => return Err(Denial::disconnect(4502, "kicked")),
            "shared-filter" => {
                let nodes = (0..SHARED_FILTER_LEVELS)
                    .map(|i| FilterNode {
                        op: "and".to_string(),
                        children: vec![i + 1, i + 1],
                        ..leaf("", "")
                    })
                    .chain([leaf("k", "eq")])
                    .collect();
                return Ok(SubscribeResult {
                    server_tags_filter: Some(nodes),
                    ..SubscribeResult::default()
                });
            }
            _ => {}
        }
        let info = json!({
            "user": request.user,
            "token": request.token,
            "meta": utf8(&request.meta),
            "labels": pairs_object(&request.labels),
        });
        Ok(SubscribeResult {
            expire_at: 1_700_000_200,
            info: info.to_string().into_bytes(),
            data: request.data,
            overrides: Some(SubscribeOverrides {
                presence: Some(false),
                ..SubscribeOverrides::default()
            }),
            allow: strings(&["pub", "prs"]),
            server_tags_filter: Some(vec![FilterNode {
                val: request.channel,
                ..leaf("tag", "eq")
            }]),
        })
    }
}

impl Publish for Mirror {
    fn publish(request: PublishRequest) -> Result<PublishResult, Denial> {
        match request.channel.as_str() {
            "deny" => return Err(Denial::error(1003, "bad publication")),
            "keep" => return Ok(PublishResult::default()),
            _ => {}
        }
        let mut wrapped = br#"{"wrapped":"#.to_vec();
        wrapped.extend_from_slice(&request.data);
        wrapped.push(b'}');
        Ok(PublishResult {
            data: Some(wrapped),
            skip_history: true,
            tags: vec![
                ("user".to_string(), request.user),
                ("channel".to_string(), request.channel),
            ],
            idempotency_key: format!("idem-{}", request.conn.client),
            delta: true,
            version: 7,
            version_epoch: "ep".to_string(),
        })
    }
}

impl Rpc for Mirror {
    fn rpc(request: RpcRequest) -> Result<RpcResult, Denial> {
        match request.method.as_str() {
            "fail" => return Err(Denial::temporary(1004, "rpc failed")),
            "bye" => return Err(Denial::disconnect(4503, "rpc bye")),
            _ => {}
        }
        let data = json!({
            "method": request.method,
            "user": request.user,
            "data": utf8(&request.data),
            "meta": utf8(&request.meta),
            "labels": pairs_object(&request.labels),
            "headers": pairs_object(&request.headers),
            "transport": request.conn.transport,
            "protocol": request.conn.protocol,
            "encoding": request.conn.encoding,
        });
        Ok(RpcResult::data(data.to_string()))
    }
}

impl SubRefresh for Mirror {
    fn sub_refresh(request: SubRefreshRequest) -> SubRefreshReply {
        if request.channel == "expire" {
            return SubRefreshReply::Expire;
        }
        let info = json!({ "channel": request.channel, "user": request.user });
        SubRefreshReply::Extend(SubRefreshResult {
            expire_at: 1_700_000_300,
            info: info.to_string().into_bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use rotor_sdk::Connection;

    use super::*;

    fn conn() -> Connection {
        Connection {
            client: "c1".to_string(),
            transport: "websocket".to_string(),
            protocol: "json".to_string(),
            encoding: "json".to_string(),
        }
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
            .collect()
    }

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("valid JSON")
    }

    fn connect_request(data: &[u8]) -> ConnectRequest {
        ConnectRequest {
            conn: conn(),
            headers: pairs(&[("x-a", "1"), ("x-b", "2")]),
            name: "js".to_string(),
            version: "5.0".to_string(),
            data: data.to_vec(),
            channels: strings(&["news", "chat"]),
        }
    }

    #[test]
    fn connect_reflects_the_request() {
        let result = Mirror::connect(connect_request(br#"{"t":1}"#)).expect("accepted");
        assert_eq!(result.user, "c1");
        assert_eq!(result.expire_at, 1_700_000_000);
        assert_eq!(result.info, br#"{"t":1}"#);
        assert_eq!(
            parse(&result.data),
            json!({
                "transport": "websocket", "protocol": "json", "encoding": "json",
                "name": "js", "version": "5.0",
                "headers": {"x-a": "1", "x-b": "2"},
                "channels": ["news", "chat"],
            })
        );
        assert_eq!(result.channels, strings(&["news", "chat"]));
        assert_eq!(result.labels, pairs(&[("x-a", "1"), ("x-b", "2")]));
        assert_eq!(result.meta, br#"{"m":1}"#);
        let (channel, options) = &result.subs[0];
        assert_eq!(channel, "mirror:sub");
        assert_eq!(options.expire_at, 1_700_000_001);
        assert!(options.cache_recover);
        let filter = options.server_tags_filter.as_ref().expect("filter");
        assert_eq!(filter.len(), 3);
        assert_eq!(filter[0].children, vec![1, 2]);
        assert_eq!(filter[2].vals, strings(&["a", "b"]));
        assert_eq!(result.caps[0].match_, ChannelMatch::Wildcard);
    }

    #[test]
    fn connect_rejects_and_disconnects_on_request() {
        assert_eq!(
            Mirror::connect(connect_request(b"reject")),
            Err(Denial::temporary(1001, "rejected"))
        );
        assert_eq!(
            Mirror::connect(connect_request(b"disconnect")),
            Err(Denial::disconnect(4501, "bye"))
        );
    }

    fn refresh_request(user: &str) -> RefreshRequest {
        RefreshRequest {
            conn: conn(),
            headers: Vec::new(),
            user: user.to_string(),
            meta: br#"{"k":"v"}"#.to_vec(),
            labels: Vec::new(),
        }
    }

    #[test]
    fn refresh_extends_or_expires() {
        assert_eq!(
            Mirror::refresh(refresh_request("expire")),
            RefreshReply::Expire
        );
        let RefreshReply::Extend(result) = Mirror::refresh(refresh_request("u1")) else {
            panic!("expected extend");
        };
        assert_eq!(result.expire_at, 1_700_000_100);
        assert_eq!(result.info, br#"{"k":"v"}"#);
        assert_eq!(result.meta, br#"{"refreshed":true}"#);
        assert_eq!(result.caps[0].match_, ChannelMatch::Exact);
    }

    fn subscribe_request(channel: &str) -> SubscribeRequest {
        SubscribeRequest {
            conn: conn(),
            headers: Vec::new(),
            user: "u1".to_string(),
            channel: channel.to_string(),
            token: "tok".to_string(),
            meta: b"m".to_vec(),
            data: b"d".to_vec(),
            labels: pairs(&[("l", "1")]),
        }
    }

    #[test]
    fn subscribe_reflects_the_request() {
        let result = Mirror::subscribe(subscribe_request("room")).expect("accepted");
        assert_eq!(
            parse(&result.info),
            json!({"user": "u1", "token": "tok", "meta": "m", "labels": {"l": "1"}})
        );
        assert_eq!(result.data, b"d");
        assert_eq!(result.overrides.and_then(|o| o.presence), Some(false));
        let filter = result.server_tags_filter.expect("filter");
        assert_eq!(filter[0].val, "room");
        assert_eq!(
            Mirror::subscribe(subscribe_request("deny")),
            Err(Denial::permission_denied())
        );
        assert_eq!(
            Mirror::subscribe(subscribe_request("kick")),
            Err(Denial::disconnect(4502, "kicked"))
        );
    }

    fn publish_request(channel: &str) -> PublishRequest {
        PublishRequest {
            conn: conn(),
            headers: Vec::new(),
            user: "u1".to_string(),
            channel: channel.to_string(),
            data: br#"{"x":1}"#.to_vec(),
            meta: Vec::new(),
            labels: Vec::new(),
        }
    }

    #[test]
    fn publish_wraps_keeps_or_rejects() {
        let result = Mirror::publish(publish_request("room")).expect("accepted");
        assert_eq!(result.data.as_deref(), Some(&br#"{"wrapped":{"x":1}}"#[..]));
        assert_eq!(result.tags, pairs(&[("user", "u1"), ("channel", "room")]));
        assert_eq!(result.idempotency_key, "idem-c1");
        assert!(result.skip_history && result.delta);
        assert_eq!((result.version, result.version_epoch.as_str()), (7, "ep"));
        assert_eq!(
            Mirror::publish(publish_request("keep")),
            Ok(PublishResult::default())
        );
        assert_eq!(
            Mirror::publish(publish_request("deny")),
            Err(Denial::error(1003, "bad publication"))
        );
    }

    fn rpc_request(method: &str) -> RpcRequest {
        RpcRequest {
            conn: conn(),
            headers: pairs(&[("h", "1")]),
            user: "u1".to_string(),
            method: method.to_string(),
            data: b"payload".to_vec(),
            meta: b"meta".to_vec(),
            labels: pairs(&[("l", "2")]),
        }
    }

    #[test]
    fn rpc_reflects_the_request() {
        let result = Mirror::rpc(rpc_request("echo")).expect("accepted");
        assert_eq!(
            parse(&result.data),
            json!({
                "method": "echo", "user": "u1", "data": "payload", "meta": "meta",
                "labels": {"l": "2"}, "headers": {"h": "1"},
                "transport": "websocket", "protocol": "json", "encoding": "json",
            })
        );
        assert_eq!(
            Mirror::rpc(rpc_request("fail")),
            Err(Denial::temporary(1004, "rpc failed"))
        );
        assert_eq!(
            Mirror::rpc(rpc_request("bye")),
            Err(Denial::disconnect(4503, "rpc bye"))
        );
    }

    #[test]
    fn sub_refresh_extends_or_expires() {
        let request = |channel: &str| SubRefreshRequest {
            conn: conn(),
            headers: Vec::new(),
            user: "u1".to_string(),
            channel: channel.to_string(),
            meta: Vec::new(),
            labels: Vec::new(),
        };
        assert_eq!(
            Mirror::sub_refresh(request("expire")),
            SubRefreshReply::Expire
        );
        let SubRefreshReply::Extend(result) = Mirror::sub_refresh(request("room")) else {
            panic!("expected extend");
        };
        assert_eq!(result.expire_at, 1_700_000_300);
        assert_eq!(
            parse(&result.info),
            json!({"channel": "room", "user": "u1"})
        );
    }
}
