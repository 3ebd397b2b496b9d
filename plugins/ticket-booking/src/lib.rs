//! Ticket booking, the classic Centrifugo demo: users book seats of an event
//! over RPC, and everyone watching the event's channel sees the seat map
//! change in real time.
//!
//! - `booking:book` with `{"event": "e1", "seat": "A1"}`: books the seat for
//!   the calling user. The seat is claimed atomically with the `kv` import's
//!   compare-and-set, so two users racing for a seat cannot both get it: the
//!   loser gets error `1409 seat is taken`. Then the event's seat map is
//!   updated and published to the channel `<channel_prefix><event>` through
//!   Centrifugo's server API. Answers `{"event", "seat", "published"}`;
//!   `published` is false when the API failed (the booking stands).
//! - `booking:seats` with `{"event": "e1"}`: answers the seat map
//!   `{"event", "booked": {seat: user}}`.
//! - Anonymous users are refused with `101 unauthorized`; bad input with
//!   `107 bad request`; other methods with `104 method not found`.
//!
//! Config keys: `channel_prefix` (default `event:`).

use std::collections::BTreeMap;

use rotor_sdk::api::{self, PublishOptions};
use rotor_sdk::{Denial, Rpc, RpcRequest, RpcResult, kv};
use serde_json::{Value, json};

/// Where seat maps are published unless configured: Centrifugo namespace `event`.
const DEFAULT_CHANNEL_PREFIX: &str = "event:";
/// Attempts to update the seat map when other bookings race with this one.
/// Each failed attempt means another booking of the event updated the map
/// in between, so this bounds how many bookings of one event may race
/// (50 concurrent clients over 20 seats race 20). Each attempt costs two
/// `kv` operations, well inside the default of 128 per call.
const MAP_UPDATE_ATTEMPTS: usize = 48;
/// Application error code: the seat was booked by someone else.
const SEAT_TAKEN: u32 = 1409;

/// The component's RPC handler.
struct TicketBooking;

rotor_sdk::export_rpc!(TicketBooking);

impl Rpc for TicketBooking {
    fn rpc(request: RpcRequest) -> Result<RpcResult, Denial> {
        if request.user.is_empty() {
            return Err(Denial::unauthorized());
        }
        let input = parse(&request.data)?;
        let event = field(&input, "event")?;
        match request.method.as_str() {
            "booking:book" => book(&request.user, event, field(&input, "seat")?),
            "booking:seats" => {
                let booked = seat_map(event)?;
                Ok(RpcResult::data(map_json(event, &booked).to_string()))
            }
            _ => Err(Denial::method_not_found()),
        }
    }
}

fn book(user: &str, event: &str, seat: &str) -> Result<RpcResult, Denial> {
    let claimed = kv::compare_and_set(&seat_key(event, seat), None, user.as_bytes(), None)
        .map_err(store_down)?;
    if !claimed {
        return Err(Denial::error(SEAT_TAKEN, "seat is taken"));
    }
    let booked = add_to_map(event, seat, user)?;
    let prefix =
        rotor_sdk::config::get("channel_prefix").unwrap_or_else(|| DEFAULT_CHANNEL_PREFIX.into());
    let channel = format!("{prefix}{event}");
    let published = api::publish(
        &channel,
        map_json(event, &booked).to_string().as_bytes(),
        &PublishOptions::default(),
    );
    if let Err(error) = &published {
        rotor_sdk::log::warn(format!(
            "seat map of {event} not published to {channel}: {error:?}"
        ));
    }
    let answer = json!({ "event": event, "seat": seat, "published": published.is_ok() });
    Ok(RpcResult::data(answer.to_string()))
}

/// Adds a booking to the event's seat map, retrying when another booking
/// changed the map in between.
fn add_to_map(event: &str, seat: &str, user: &str) -> Result<BTreeMap<String, String>, Denial> {
    let key = map_key(event);
    for _ in 0..MAP_UPDATE_ATTEMPTS {
        let current = kv::get(&key).map_err(store_down)?;
        let mut booked = decode_map(current.as_deref());
        booked.insert(seat.to_owned(), user.to_owned());
        let encoded = serde_json::to_vec(&booked).map_err(|_| Denial::internal())?;
        if kv::compare_and_set(&key, current.as_deref(), &encoded, None).map_err(store_down)? {
            return Ok(booked);
        }
    }
    rotor_sdk::log::error(format!(
        "seat map of {event} kept changing; booking of {seat} stands"
    ));
    Err(Denial::temporary(100, "internal server error"))
}

fn seat_map(event: &str) -> Result<BTreeMap<String, String>, Denial> {
    let current = kv::get(&map_key(event)).map_err(store_down)?;
    Ok(decode_map(current.as_deref()))
}

/// The store key of one seat.
pub fn seat_key(event: &str, seat: &str) -> String {
    format!("booking:{event}:seat:{seat}")
}

/// The store key of an event's seat map.
pub fn map_key(event: &str) -> String {
    format!("booking:{event}:map")
}

/// A stored seat map; a missing or unreadable one is empty.
pub fn decode_map(bytes: Option<&[u8]>) -> BTreeMap<String, String> {
    bytes
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
        .unwrap_or_default()
}

/// The seat map as clients see it.
pub fn map_json(event: &str, booked: &BTreeMap<String, String>) -> Value {
    json!({ "event": event, "booked": booked })
}

fn parse(data: &[u8]) -> Result<Value, Denial> {
    serde_json::from_slice(data).map_err(|_| Denial::bad_request())
}

/// A non-empty string field without `:` (it is part of store keys and channels).
pub fn field<'a>(input: &'a Value, name: &str) -> Result<&'a str, Denial> {
    match input.get(name).and_then(Value::as_str) {
        Some(value) if !value.is_empty() && !value.contains(':') && value.len() <= 64 => Ok(value),
        _ => Err(Denial::bad_request()),
    }
}

fn store_down(error: kv::KvError) -> Denial {
    rotor_sdk::log::error(format!("booking store: {error:?}"));
    Denial::temporary(100, "internal server error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_must_be_plain_names() {
        let input = json!({"event": "e1", "seat": "A:1", "empty": "", "n": 5});
        assert_eq!(field(&input, "event").ok(), Some("e1"));
        assert!(field(&input, "seat").is_err());
        assert!(field(&input, "empty").is_err());
        assert!(field(&input, "n").is_err());
        assert!(field(&input, "missing").is_err());
    }

    #[test]
    fn seat_maps_round_trip() {
        let mut booked = BTreeMap::new();
        booked.insert("A1".to_string(), "42".to_string());
        let bytes = serde_json::to_vec(&booked).unwrap();
        assert_eq!(decode_map(Some(&bytes)), booked);
        assert!(decode_map(None).is_empty());
        assert!(decode_map(Some(b"garbage")).is_empty());
        assert_eq!(
            map_json("e1", &booked),
            json!({"event": "e1", "booked": {"A1": "42"}})
        );
    }

    #[test]
    fn keys_are_per_event_and_seat() {
        assert_ne!(seat_key("e1", "A1"), seat_key("e2", "A1"));
        assert_ne!(seat_key("e1", "A1"), map_key("e1"));
    }
}
