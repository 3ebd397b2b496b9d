//! Answers Centrifugo's publish calls: accepts a JSON object whose `text` is
//! a non-empty string of at most 1000 bytes, and refuses anything else with
//! `107 bad request`.

use rotor_sdk::{Denial, Publish, PublishRequest, PublishResult};

struct Validator;

impl Publish for Validator {
    fn publish(request: PublishRequest) -> Result<PublishResult, Denial> {
        let message: serde_json::Value = serde_json::from_slice(&request.data)
            .map_err(|_| Denial::bad_request().with_message("data must be JSON"))?;
        match message.get("text").and_then(serde_json::Value::as_str) {
            Some(text) if !text.trim().is_empty() && text.len() <= 1000 => {
                Ok(PublishResult::default())
            }
            _ => Err(Denial::bad_request().with_message("`text` must be 1 to 1000 bytes")),
        }
    }
}

rotor_sdk::export_publish!(Validator);
