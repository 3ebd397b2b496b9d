//! Versioned state of shared poll channels, kept in `kv`.
//!
//! Centrifugo's shared poll channels let many clients track keys (an item's
//! price, a match score) while Centrifugo asks the backend, on a timer, for
//! what changed. This plugin is that backend:
//!
//! - `SharedPollRefresh`: for each key Centrifugo asks about, it reads the
//!   key's entry from `kv` and answers the keys whose version is newer than
//!   the one Centrifugo holds (with their data), or that were removed. Keys
//!   without an entry, or not newer, are left out: unchanged. The answer's
//!   epoch is the channel's epoch from `kv` (see below).
//! - `RPC` method `shared_poll.put` (data `{"channel", "key", "data"}`,
//!   `data` any JSON value, or `null` to remove the key): writes a key's new
//!   state and bumps its version, with compare-and-set so concurrent writers
//!   never lose an update. Only users listed in `writers` may call it
//!   (`103 permission denied` otherwise); it answers `{"version": N}`.
//!
//! Entries live under kv keys `poll:<channel>:<key>` as `<version> set\n<data>`
//! or `<version> removed\n`. A channel's epoch lives under
//! `poll-epoch:<channel>`: the first write into a channel sets it, so a
//! store that lost its entries (and restarts versions at 1) starts a new
//! epoch, and Centrifugo drops what it held instead of missing updates.
//!
//! Config keys:
//! - `writers`: comma-separated user ids allowed to call `shared_poll.put`;
//!   unset, nobody may.
//!
//! A `kv` failure during a refresh answers an error (Centrifugo logs it and
//! asks again at the next interval); during a write, `100 internal server
//! error`.

use rotor_sdk::{
    CentrifugoError, Denial, Rpc, RpcRequest, RpcResult, SharedPollEntry, SharedPollRefresh,
    SharedPollRefreshRequest, SharedPollRefreshResult, kv,
};
use serde_json::{Value, json};

/// The RPC method that writes a key's state.
pub const PUT_METHOD: &str = "shared_poll.put";
/// Compare-and-set attempts before a write gives up: only concurrent writers
/// of the same key make one fail.
const PUT_ATTEMPTS: usize = 8;

/// The component's handlers.
struct SharedPollState;

rotor_sdk::export_shared_poll_refresh!(SharedPollState);
rotor_sdk::export_rpc!(SharedPollState);

impl SharedPollRefresh for SharedPollState {
    fn shared_poll_refresh(
        request: SharedPollRefreshRequest,
    ) -> Result<SharedPollRefreshResult, CentrifugoError> {
        let failed = |what: &str, error: kv::KvError| {
            rotor_sdk::log::error(format!("shared-poll-state: {what}: {error:?}"));
            CentrifugoError {
                code: 100,
                message: format!("shared-poll-state cannot read {what}"),
                temporary: true,
            }
        };
        let epoch = kv::get(&epoch_key(&request.channel))
            .map_err(|error| failed("the channel's epoch", error))?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        let mut items = Vec::new();
        for item in request.items {
            let stored = kv::get(&entry_key(&request.channel, &item.key))
                .map_err(|error| failed("an entry", error))?;
            let Some(entry) = stored.as_deref().and_then(Entry::decode) else {
                continue;
            };
            if let Some(changed) = entry.newer_than(item.key, item.version) {
                items.push(changed);
            }
        }
        Ok(SharedPollRefreshResult { items, epoch })
    }
}

impl Rpc for SharedPollState {
    fn rpc(request: RpcRequest) -> Result<RpcResult, Denial> {
        if request.method != PUT_METHOD {
            return Err(Denial::method_not_found());
        }
        let writers = rotor_sdk::config::get("writers").unwrap_or_default();
        if !may_write(&writers, &request.user) {
            return Err(Denial::permission_denied());
        }
        let put = Put::parse(&request.data)?;
        let version = put.write().map_err(|error| {
            rotor_sdk::log::error(format!("shared-poll-state: writing failed: {error:?}"));
            Denial::internal()
        })?;
        Ok(RpcResult::data(json!({ "version": version }).to_string()))
    }
}

/// Whether `user` is one of the comma-separated `writers`.
pub fn may_write(writers: &str, user: &str) -> bool {
    !user.is_empty() && writers.split(',').any(|writer| writer.trim() == user)
}

/// The kv key of a channel key's entry.
pub fn entry_key(channel: &str, key: &str) -> String {
    format!("poll:{channel}:{key}")
}

/// The kv key of a channel's epoch.
pub fn epoch_key(channel: &str) -> String {
    format!("poll-epoch:{channel}")
}

/// One key's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Bumped by every write; starts at 1.
    pub version: u64,
    /// The state; `None` once removed.
    pub data: Option<Vec<u8>>,
}

impl Entry {
    /// The stored form: a header line, then the data.
    pub fn encode(&self) -> Vec<u8> {
        match &self.data {
            Some(data) => {
                let mut bytes = format!("{} set\n", self.version).into_bytes();
                bytes.extend_from_slice(data);
                bytes
            }
            None => format!("{} removed\n", self.version).into_bytes(),
        }
    }

    /// Reads the stored form; `None` for bytes this plugin did not write.
    pub fn decode(bytes: &[u8]) -> Option<Entry> {
        let newline = bytes.iter().position(|&b| b == b'\n')?;
        let header = std::str::from_utf8(&bytes[..newline]).ok()?;
        let (version, state) = header.split_once(' ')?;
        let version = version.parse().ok()?;
        let data = match state {
            "set" => Some(bytes[newline + 1..].to_vec()),
            "removed" => None,
            _ => return None,
        };
        Some(Entry { version, data })
    }

    /// What Centrifugo is told about `key` when it holds `known`: `None`
    /// when this entry is not newer.
    pub fn newer_than(self, key: String, known: u64) -> Option<SharedPollEntry> {
        if self.version <= known {
            return None;
        }
        Some(SharedPollEntry {
            key,
            removed: self.data.is_none(),
            data: self.data.unwrap_or_default(),
            version: self.version,
            prev_data: Vec::new(),
        })
    }
}

/// A parsed `shared_poll.put` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    /// The shared poll channel.
    pub channel: String,
    /// The key in it.
    pub key: String,
    /// The new state as JSON bytes; `None` removes the key.
    pub data: Option<Vec<u8>>,
}

impl Put {
    /// Reads the call's data: `{"channel", "key", "data"}`.
    pub fn parse(data: &[u8]) -> Result<Put, Denial> {
        let bad = |message: &str| Denial::bad_request().with_message(message.to_owned());
        let input: Value =
            serde_json::from_slice(data).map_err(|_| bad("the data is not valid JSON"))?;
        let text = |field: &str| {
            input
                .get(field)
                .and_then(Value::as_str)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let channel = text("channel").ok_or_else(|| bad("`channel` must be a non-empty string"))?;
        let key = text("key").ok_or_else(|| bad("`key` must be a non-empty string"))?;
        let data = match input.get("data") {
            None => return Err(bad("`data` is missing: a JSON value, or null to remove")),
            Some(Value::Null) => None,
            Some(value) => Some(value.to_string().into_bytes()),
        };
        Ok(Put { channel, key, data })
    }

    /// Stores the new state with the next version, and sets the channel's
    /// epoch if it has none; returns the version written.
    pub fn write(self) -> Result<u64, kv::KvError> {
        let epoch = format!("{}", rotor_sdk::unix_now());
        // Only the first write into a channel sets it.
        kv::compare_and_set(&epoch_key(&self.channel), None, epoch.as_bytes(), None)?;
        let key = entry_key(&self.channel, &self.key);
        for _ in 0..PUT_ATTEMPTS {
            let current = kv::get(&key)?;
            let version = current
                .as_deref()
                .and_then(Entry::decode)
                .map_or(0, |entry| entry.version)
                + 1;
            let next = Entry {
                version,
                data: self.data.clone(),
            };
            if kv::compare_and_set(&key, current.as_deref(), &next.encode(), None)? {
                return Ok(version);
            }
        }
        Err(kv::KvError::Unavailable(
            "the key kept changing under concurrent writers".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let set = Entry {
            version: 7,
            data: Some(br#"{"price":3}"#.to_vec()),
        };
        assert_eq!(Entry::decode(&set.encode()), Some(set));
        let removed = Entry {
            version: 8,
            data: None,
        };
        assert_eq!(Entry::decode(&removed.encode()), Some(removed));
        assert_eq!(Entry::decode(b"garbage"), None);
        assert_eq!(Entry::decode(b"x set\n{}"), None);
    }

    #[test]
    fn only_newer_entries_are_answered() {
        let entry = Entry {
            version: 3,
            data: Some(b"{}".to_vec()),
        };
        assert_eq!(entry.clone().newer_than("k".into(), 3), None);
        let changed = entry.newer_than("k".into(), 2).unwrap();
        assert_eq!((changed.version, changed.removed), (3, false));
        let gone = Entry {
            version: 4,
            data: None,
        }
        .newer_than("k".into(), 3)
        .unwrap();
        assert!(gone.removed && gone.data.is_empty());
    }

    #[test]
    fn puts_are_parsed_strictly() {
        let put = Put::parse(br#"{"channel":"prices","key":"a","data":{"p":1}}"#).unwrap();
        assert_eq!(put.data.as_deref(), Some(&br#"{"p":1}"#[..]));
        let removal = Put::parse(br#"{"channel":"prices","key":"a","data":null}"#).unwrap();
        assert_eq!(removal.data, None);
        assert!(Put::parse(br#"{"channel":"prices","key":"a"}"#).is_err());
        assert!(Put::parse(br#"{"channel":"","key":"a","data":1}"#).is_err());
        assert!(Put::parse(b"nope").is_err());
    }

    #[test]
    fn writers_are_listed_users() {
        assert!(may_write("ops, 42", "42"));
        assert!(!may_write("ops, 42", "43"));
        assert!(!may_write("", ""));
    }
}
