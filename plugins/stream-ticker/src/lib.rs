//! A subscription stream that sends a tick every `interval_ms` milliseconds
//! (setting; default 1000) and, on the bidirectional form, echoes what the
//! client publishes. Anonymous clients are refused.
//!
//! Each tick is `{"tick":N,"channel":"..."}` with N counting from 1; an
//! echo is `{"echo":DATA}`, where DATA is the client's JSON publication.
//! One instance serves one stream, so the count lives in a static.

use std::sync::Mutex;
use std::time::Duration;

use rotor_sdk::{Denial, SubscribeRequest, SubscribeResult, SubscribeStream, config, stream};

/// The interval when the `interval_ms` setting is missing or not a number.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// The stream's state between callbacks.
struct Ticks {
    channel: String,
    count: u64,
}

static TICKS: Mutex<Ticks> = Mutex::new(Ticks {
    channel: String::new(),
    count: 0,
});

fn interval() -> Duration {
    config::get("interval_ms")
        .and_then(|ms| ms.parse().ok())
        .map_or(DEFAULT_INTERVAL, Duration::from_millis)
}

fn ticks() -> std::sync::MutexGuard<'static, Ticks> {
    TICKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The ticker.
pub struct Ticker;

impl SubscribeStream for Ticker {
    fn open(request: SubscribeRequest) -> Result<SubscribeResult, Denial> {
        if request.user.is_empty() {
            return Err(Denial::permission_denied());
        }
        ticks().channel = request.channel;
        stream::wake_after(interval());
        Ok(SubscribeResult::default())
    }

    fn on_wake() {
        let tick = {
            let mut ticks = ticks();
            ticks.count += 1;
            format!(
                r#"{{"tick":{},"channel":"{}"}}"#,
                ticks.count,
                ticks.channel.escape_default()
            )
        };
        if stream::publish(tick.as_bytes()).is_ok() {
            stream::wake_after(interval());
        }
    }

    fn on_client_data(data: Vec<u8>) {
        let mut echo = br#"{"echo":"#.to_vec();
        echo.extend_from_slice(&data);
        echo.push(b'}');
        let _ = stream::publish(&echo);
    }
}

rotor_sdk::export_subscribe_stream!(Ticker);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_clients_are_refused() {
        let request = SubscribeRequest {
            conn: rotor_sdk::Connection {
                client: "c".into(),
                transport: "websocket".into(),
                protocol: "json".into(),
                encoding: "json".into(),
            },
            headers: Vec::new(),
            user: String::new(),
            channel: "ticks:a".into(),
            token: String::new(),
            meta: Vec::new(),
            data: Vec::new(),
            labels: Vec::new(),
        };
        assert!(Ticker::open(request).is_err());
    }
}
