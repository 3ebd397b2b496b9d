//! Serde for protobuf `bytes` payloads in the shape of Centrifugo's HTTP
//! proxy JSON: a payload is embedded as the raw JSON value it holds.
//!
//! Used by the generated proxy messages (see `build.rs`), so `rotor call`
//! reads and prints the JSON Centrifugo users already know.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Writes a payload as the JSON value it holds, or as a string when it is
/// not JSON (a binary payload cannot reach a JSON client anyway).
pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    match serde_json::from_slice::<&serde_json::value::RawValue>(bytes) {
        Ok(raw) => raw.serialize(serializer),
        Err(_) => String::from_utf8_lossy(bytes).serialize(serializer),
    }
}

/// Reads any JSON value as the payload's bytes.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
    Ok(raw.get().as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use crate::contract::proto::proxy::ConnectRequest;

    #[test]
    fn payloads_are_raw_json() {
        let request: ConnectRequest =
            serde_json::from_str(r#"{"client":"c1","data":{"token":"t"}}"#).expect("parse");
        assert_eq!(request.client, "c1");
        assert_eq!(request.data, br#"{"token":"t"}"#);
        let text = serde_json::to_string(&request).expect("print");
        assert!(text.contains(r#""data":{"token":"t"}"#), "{text}");
        let empty = serde_json::to_string(&ConnectRequest::default()).expect("print");
        assert!(!empty.contains(r#""data""#), "{empty}");
    }
}
