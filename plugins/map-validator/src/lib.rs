//! Validates what clients write into map channels.
//!
//! A map channel holds one state per key (a player's score, a cursor, a
//! presence record). Clients publish a key's state with `MapPublish` and
//! remove a key with `MapRemove`; this plugin answers both:
//!
//! - a key must be 1 to `max_key_bytes` bytes of ASCII letters, digits and
//!   `_ - . :`; otherwise `107 bad request`;
//! - a published state must be a JSON object of at most `max_bytes` bytes:
//!   larger is `106 limit exceeded` (checked before parsing), anything else
//!   `107 bad request`;
//! - with `own_keys = "true"`, a user may publish and remove only the key
//!   that equals their user id (`103 permission denied` otherwise, and for
//!   anonymous clients);
//! - accepted publications go out unchanged: the client's key and data.
//!
//! Config keys (all optional):
//! - `max_bytes`: the largest state, default 4096;
//! - `max_key_bytes`: the longest key, default 128;
//! - `own_keys`: `"true"` to let users write only their own key.
//!
//! A setting that is not a whole number (or `true`/`false`) fails every call
//! with `100 internal server error` and an error log line.

use rotor_sdk::{
    Denial, MapPublish, MapPublishRequest, MapPublishResult, MapRemove, MapRemoveRequest,
    MapRemoveResult,
};
use serde_json::Value;

/// 4 KiB: ample for a key's state, small enough that one client cannot make
/// every subscriber download large frames.
const DEFAULT_MAX_BYTES: usize = 4096;
/// Keys name things (users, items); 128 bytes is plenty.
const DEFAULT_MAX_KEY_BYTES: usize = 128;

/// The component's map handlers.
struct MapValidator;

rotor_sdk::export_map_publish!(MapValidator);
rotor_sdk::export_map_remove!(MapValidator);

impl MapPublish for MapValidator {
    fn map_publish(request: MapPublishRequest) -> Result<MapPublishResult, Denial> {
        let rules = Rules::from_config().map_err(config_failure)?;
        rules.check_key(&request.key, &request.user)?;
        rules.check_state(&request.data)?;
        Ok(MapPublishResult::default())
    }
}

impl MapRemove for MapValidator {
    fn map_remove(request: MapRemoveRequest) -> Result<MapRemoveResult, Denial> {
        let rules = Rules::from_config().map_err(config_failure)?;
        rules.check_key(&request.key, &request.user)?;
        Ok(MapRemoveResult::default())
    }
}

fn config_failure(problem: String) -> Denial {
    rotor_sdk::log::error(format!("map-validator: {problem}"));
    Denial::internal()
}

/// The checks, from the plugin's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The largest state in bytes.
    pub max_bytes: usize,
    /// The longest key in bytes.
    pub max_key_bytes: usize,
    /// Whether users may write only the key that equals their id.
    pub own_keys: bool,
}

impl Rules {
    fn from_config() -> Result<Rules, String> {
        let get = rotor_sdk::config::get;
        Rules::parse(
            get("max_bytes").as_deref(),
            get("max_key_bytes").as_deref(),
            get("own_keys").as_deref(),
        )
    }

    /// The rules from the three settings' values (`None`: unset).
    pub fn parse(
        max_bytes: Option<&str>,
        max_key_bytes: Option<&str>,
        own_keys: Option<&str>,
    ) -> Result<Rules, String> {
        let number = |key: &str, value: Option<&str>, default: usize| match value {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|_| format!("config key `{key}` is not a whole number: {value:?}")),
        };
        let own_keys = match own_keys.map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format!(
                    "config key `own_keys` is neither true nor false: {other:?}"
                ));
            }
        };
        Ok(Rules {
            max_bytes: number("max_bytes", max_bytes, DEFAULT_MAX_BYTES)?,
            max_key_bytes: number("max_key_bytes", max_key_bytes, DEFAULT_MAX_KEY_BYTES)?,
            own_keys,
        })
    }

    /// Accepts `key` written by `user`, or says why not.
    pub fn check_key(&self, key: &str, user: &str) -> Result<(), Denial> {
        if key.is_empty() || key.len() > self.max_key_bytes {
            return Err(Denial::bad_request()
                .with_message(format!("a key is 1 to {} bytes long", self.max_key_bytes)));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
        if !key.chars().all(allowed) {
            return Err(
                Denial::bad_request().with_message("a key is made of letters, digits and _ - . :")
            );
        }
        if self.own_keys && (user.is_empty() || key != user) {
            return Err(Denial::permission_denied());
        }
        Ok(())
    }

    /// Accepts a key's new state, or says why not.
    pub fn check_state(&self, data: &[u8]) -> Result<(), Denial> {
        if data.len() > self.max_bytes {
            return Err(Denial::limit_exceeded().with_message(format!(
                "the state is {} bytes, at most {} allowed",
                data.len(),
                self.max_bytes
            )));
        }
        match serde_json::from_slice::<Value>(data) {
            Ok(Value::Object(_)) => Ok(()),
            Ok(_) => Err(Denial::bad_request().with_message("the state must be a JSON object")),
            Err(_) => Err(Denial::bad_request().with_message("the state is not valid JSON")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(outcome: Result<(), Denial>) -> u32 {
        match outcome {
            Err(Denial::Error(error)) => error.code,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_bad_settings() {
        let rules = Rules::parse(None, None, None).unwrap();
        assert_eq!(rules.max_bytes, DEFAULT_MAX_BYTES);
        assert_eq!(rules.max_key_bytes, DEFAULT_MAX_KEY_BYTES);
        assert!(!rules.own_keys);
        assert!(Rules::parse(Some("lots"), None, None).is_err());
        assert!(Rules::parse(None, None, Some("yes")).is_err());
        assert!(Rules::parse(None, None, Some("true")).unwrap().own_keys);
    }

    #[test]
    fn keys_have_a_shape() {
        let rules = Rules::parse(None, Some("8"), None).unwrap();
        assert_eq!(rules.check_key("alice", ""), Ok(()));
        assert_eq!(rules.check_key("a.b:c-d", ""), Ok(()));
        assert_eq!(code(rules.check_key("", "u")), 107);
        assert_eq!(code(rules.check_key("too-long-key", "u")), 107);
        assert_eq!(code(rules.check_key("sp ace", "u")), 107);
    }

    #[test]
    fn own_keys_only_when_asked() {
        let rules = Rules::parse(None, None, Some("true")).unwrap();
        assert_eq!(rules.check_key("42", "42"), Ok(()));
        assert_eq!(code(rules.check_key("43", "42")), 103);
        assert_eq!(code(rules.check_key("42", "")), 103);
    }

    #[test]
    fn states_are_small_json_objects() {
        let rules = Rules::parse(Some("16"), None, None).unwrap();
        assert_eq!(rules.check_state(br#"{"score":1}"#), Ok(()));
        assert_eq!(code(rules.check_state(b"[1]")), 107);
        assert_eq!(code(rules.check_state(b"{")), 107);
        assert_eq!(code(rules.check_state(br#"{"score":1234567890}"#)), 106);
    }
}
