//! Test fixture: exports the handler interfaces of the calls about channel
//! features (map publish and remove, shared poll refresh, cache-empty and
//! channel-state notices) and reflects each request into its reply, so
//! end-to-end tests can check the protobuf ⇄ WIT mapping both ways and the
//! host's handling of refusals and faults. Reads no config keys.
//!
//! "JSON" means a JSON object serialized with `serde_json` (parse it, do
//! not compare bytes); `headers`/`labels` objects map each key to its value.
//!
//! **map publish**, by `key`:
//! - `reject` → reject `{1001, "rejected", true}`; `disconnect` →
//!   disconnect `{4501, "bye"}`; `trap` → panics; `keep`, or any key that
//!   ends in `keep`, → the default result (the client's key and data);
//! - otherwise accept: `key` = `key` + `!`, `data` = JSON `{"transport",
//!   "protocol", "encoding", "user", "channel", "data": <UTF-8>, "meta":
//!   <UTF-8>, "headers", "labels"}`, `tags` = `[("user", user)]`, `score` 7,
//!   `key_mode` `if_new`, `stream_data` `s`, `idempotency_key` `ik`,
//!   `delta` true, `version` 3, `version_epoch` `ep`.
//!
//! **map remove**, by `key`: `reject` → reject `{1002, "no removal",
//! false}`; `disconnect` → disconnect `{4502, "gone"}`; otherwise accept
//! with `key` = `key` + `!`, `tags` = `[("channel", channel)]`,
//! `idempotency_key` = `user`.
//!
//! **shared poll refresh**, by `channel`: `reject` → reject `{1003,
//! "no state", true}`; `trap` → panics; otherwise accept: for each item an
//! entry with the item's `key`, `data` = JSON `{"channel", "known":
//! version, "headers"}`, `version` = item version + 1, `removed` = the key
//! starts with `gone`, `prev_data` `p`; `epoch` = `e-` + channel.
//!
//! **cache empty**, by `channel`: `trap` → panics; otherwise `populated` =
//! the channel starts with `full`.
//!
//! **channel state**: an event of type `trap` → panics; an event of type
//! `reject` → reject `{1004, <the call's channels joined by ",">, false}`;
//! otherwise accept.

use rotor_sdk::{
    CentrifugoError, Denial, MapPublish, MapPublishRequest, MapPublishResult, MapRemove,
    MapRemoveRequest, MapRemoveResult, NotifyCacheEmpty, NotifyCacheEmptyRequest,
    NotifyChannelState, NotifyChannelStateRequest, SharedPollEntry, SharedPollRefresh,
    SharedPollRefreshRequest, SharedPollRefreshResult,
};
use serde_json::{Map, Value, json};

/// The component: one type answers every kind.
struct ChannelCalls;

rotor_sdk::export_map_publish!(ChannelCalls);
rotor_sdk::export_map_remove!(ChannelCalls);
rotor_sdk::export_shared_poll_refresh!(ChannelCalls);
rotor_sdk::export_notify_cache_empty!(ChannelCalls);
rotor_sdk::export_notify_channel_state!(ChannelCalls);

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

impl MapPublish for ChannelCalls {
    fn map_publish(request: MapPublishRequest) -> Result<MapPublishResult, Denial> {
        match request.key.as_str() {
            "reject" => return Err(Denial::temporary(1001, "rejected")),
            "disconnect" => return Err(Denial::disconnect(4501, "bye")),
            "trap" => panic!("test-channel-calls: trap requested"),
            key if key.ends_with("keep") => return Ok(MapPublishResult::default()),
            _ => {}
        }
        let data = json!({
            "transport": request.conn.transport,
            "protocol": request.conn.protocol,
            "encoding": request.conn.encoding,
            "user": request.user,
            "channel": request.channel,
            "data": utf8(&request.data),
            "meta": utf8(&request.meta),
            "headers": pairs_object(&request.headers),
            "labels": pairs_object(&request.labels),
        });
        Ok(MapPublishResult {
            key: format!("{}!", request.key),
            data: Some(data.to_string().into_bytes()),
            tags: vec![("user".into(), request.user)],
            score: 7,
            key_mode: "if_new".into(),
            stream_data: b"s".to_vec(),
            idempotency_key: "ik".into(),
            delta: true,
            version: 3,
            version_epoch: "ep".into(),
        })
    }
}

impl MapRemove for ChannelCalls {
    fn map_remove(request: MapRemoveRequest) -> Result<MapRemoveResult, Denial> {
        match request.key.as_str() {
            "reject" => Err(Denial::error(1002, "no removal")),
            "disconnect" => Err(Denial::disconnect(4502, "gone")),
            _ => Ok(MapRemoveResult {
                key: format!("{}!", request.key),
                tags: vec![("channel".into(), request.channel)],
                idempotency_key: request.user,
            }),
        }
    }
}

impl SharedPollRefresh for ChannelCalls {
    fn shared_poll_refresh(
        request: SharedPollRefreshRequest,
    ) -> Result<SharedPollRefreshResult, CentrifugoError> {
        match request.channel.as_str() {
            "reject" => {
                return Err(CentrifugoError {
                    code: 1003,
                    message: "no state".into(),
                    temporary: true,
                });
            }
            "trap" => panic!("test-channel-calls: trap requested"),
            _ => {}
        }
        let headers = pairs_object(&request.headers);
        let items = request
            .items
            .into_iter()
            .map(|item| SharedPollEntry {
                data: json!({
                    "channel": request.channel,
                    "known": item.version,
                    "headers": headers,
                })
                .to_string()
                .into_bytes(),
                version: item.version + 1,
                removed: item.key.starts_with("gone"),
                prev_data: b"p".to_vec(),
                key: item.key,
            })
            .collect();
        Ok(SharedPollRefreshResult {
            items,
            epoch: format!("e-{}", request.channel),
        })
    }
}

impl NotifyCacheEmpty for ChannelCalls {
    fn notify_cache_empty(request: NotifyCacheEmptyRequest) -> bool {
        if request.channel == "trap" {
            panic!("test-channel-calls: trap requested");
        }
        request.channel.starts_with("full")
    }
}

impl NotifyChannelState for ChannelCalls {
    fn notify_channel_state(request: NotifyChannelStateRequest) -> Result<(), CentrifugoError> {
        if request.events.iter().any(|event| event.type_ == "trap") {
            panic!("test-channel-calls: trap requested");
        }
        if request.events.iter().any(|event| event.type_ == "reject") {
            let channels: Vec<&str> = request
                .events
                .iter()
                .map(|event| event.channel.as_str())
                .collect();
            return Err(CentrifugoError {
                code: 1004,
                message: channels.join(","),
                temporary: false,
            });
        }
        Ok(())
    }
}
