//! Validates publications: only JSON objects of at most `max_bytes` bytes go
//! out, unchanged unless `sender_field` is set.
//!
//! - Larger payloads are refused with `106 limit exceeded` (checked first, so
//!   a huge payload is never parsed).
//! - Payloads that are not JSON, or JSON but not an object, are refused with
//!   `107 bad request` and a message saying which.
//! - With `sender_field`, the object goes out with that field set to the
//!   publisher's user id, replacing whatever the client put there: readers
//!   can trust who sent a message, because no client can forge the field.
//!
//! Config keys:
//! - `max_bytes` (optional): the largest payload accepted, in bytes, default
//!   4096. A value that is not a whole number fails every publish with
//!   `100 internal server error` and an error log line.
//! - `sender_field` (optional): the name of the field that carries the
//!   publisher's user id; unset (the default) publishes objects unchanged.

use rotor_sdk::{Denial, Publish, PublishRequest, PublishResult};
use serde_json::Value;

/// The config key of the size limit.
const MAX_BYTES_KEY: &str = "max_bytes";

/// The config key of the field stamped with the publisher's user id.
const SENDER_FIELD_KEY: &str = "sender_field";

/// 4 KiB: ample for chat messages and state updates, small enough that one
/// client cannot flood every subscriber with large frames.
const DEFAULT_MAX_BYTES: usize = 4096;

/// The component's publish handler.
struct PublishValidator;

rotor_sdk::export_publish!(PublishValidator);

impl Publish for PublishValidator {
    fn publish(request: PublishRequest) -> Result<PublishResult, Denial> {
        let configured = rotor_sdk::config::get(MAX_BYTES_KEY);
        let max_bytes = max_bytes(configured.as_deref()).map_err(|problem| {
            rotor_sdk::log::error(format!("publish-validator: {problem}"));
            Denial::internal()
        })?;
        let accepted = validate(&request.data, max_bytes)?;
        match rotor_sdk::config::get(SENDER_FIELD_KEY) {
            Some(field) if !field.is_empty() => stamp(&request.data, &field, &request.user),
            _ => Ok(accepted),
        }
    }
}

/// The object in `data` (already validated) with `field` set to `user`.
pub fn stamp(data: &[u8], field: &str, user: &str) -> Result<PublishResult, Denial> {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(data) else {
        return Err(Denial::bad_request().with_message("publication must be a JSON object"));
    };
    object.insert(field.to_owned(), Value::String(user.to_owned()));
    let data = serde_json::to_vec(&object).map_err(|_| Denial::internal())?;
    Ok(PublishResult {
        data: Some(data),
        ..PublishResult::default()
    })
}

/// The size limit from the config value, or the default when unset.
pub fn max_bytes(value: Option<&str>) -> Result<usize, String> {
    match value {
        None => Ok(DEFAULT_MAX_BYTES),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|_| format!("config key `{MAX_BYTES_KEY}` is not a whole number: {value:?}")),
    }
}

/// Accepts `data` as it is if it is a JSON object of at most `max_bytes`.
pub fn validate(data: &[u8], max_bytes: usize) -> Result<PublishResult, Denial> {
    if data.len() > max_bytes {
        return Err(Denial::limit_exceeded().with_message(format!(
            "publication is {} bytes, at most {max_bytes} allowed",
            data.len()
        )));
    }
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(_)) => Ok(PublishResult::default()),
        Ok(_) => Err(Denial::bad_request().with_message("publication must be a JSON object")),
        Err(_) => Err(Denial::bad_request().with_message("publication is not valid JSON")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(outcome: Result<PublishResult, Denial>) -> u32 {
        match outcome {
            Err(Denial::Error(error)) => error.code,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn accepts_json_objects_unchanged() {
        let accepted = validate(br#" {"text": "hi", "n": [1, 2]} "#, DEFAULT_MAX_BYTES);
        assert_eq!(accepted, Ok(PublishResult::default()));
        assert_eq!(validate(b"{}", 2), Ok(PublishResult::default()));
    }

    #[test]
    fn refuses_other_json_and_garbage_with_bad_request() {
        for data in [
            &b"[1,2]"[..],
            b"\"text\"",
            b"42",
            b"null",
            b"",
            b"{",
            b"hello",
            b"{}x",
        ] {
            assert_eq!(code(validate(data, DEFAULT_MAX_BYTES)), 107, "{data:?}");
        }
        assert_eq!(
            validate(b"[]", DEFAULT_MAX_BYTES),
            Err(Denial::error(107, "publication must be a JSON object"))
        );
    }

    #[test]
    fn refuses_large_payloads_with_limit_exceeded() {
        let mut data = br#"{"pad":""#.to_vec();
        data.resize(DEFAULT_MAX_BYTES - 2, b'x');
        data.extend_from_slice(br#""}"#);
        assert_eq!(data.len(), DEFAULT_MAX_BYTES);
        assert!(validate(&data, DEFAULT_MAX_BYTES).is_ok());

        data.insert(8, b'x');
        assert_eq!(code(validate(&data, DEFAULT_MAX_BYTES)), 106);
        assert_eq!(code(validate(b"not even json", 3)), 106);
    }

    #[test]
    fn stamping_sets_the_sender_and_overrides_a_forged_one() {
        let stamped =
            stamp(br#"{"text":"hi","from":"admin"}"#, "from", "42").expect("an object is stamped");
        let data: Value =
            serde_json::from_slice(&stamped.data.expect("replacement data")).expect("JSON out");
        assert_eq!(data, serde_json::json!({"text": "hi", "from": "42"}));
        let stamped = stamp(b"{}", "sender", "").expect("anonymous too");
        assert_eq!(stamped.data.as_deref(), Some(&br#"{"sender":""}"#[..]));
        assert_eq!(code(stamp(b"[1]", "from", "42")), 107);
    }

    #[test]
    fn reads_the_limit_from_config() {
        assert_eq!(max_bytes(None), Ok(DEFAULT_MAX_BYTES));
        assert_eq!(max_bytes(Some(" 100 ")), Ok(100));
        assert!(max_bytes(Some("4k")).is_err());
        assert!(max_bytes(Some("-1")).is_err());
    }
}
