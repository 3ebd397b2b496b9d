//! A subscription stream: anonymous users are refused (`103 permission
//! denied`); others get `{"count":N}` every second, and on the
//! bidirectional form their own publications back as `{"echo":DATA}`.
//! One instance serves one stream, so the count lives in a static.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rotor_sdk::{Denial, SubscribeRequest, SubscribeResult, SubscribeStream, stream};

const EVERY: Duration = Duration::from_secs(1);

static COUNT: AtomicU64 = AtomicU64::new(0);

struct Counter;

impl SubscribeStream for Counter {
    fn open(request: SubscribeRequest) -> Result<SubscribeResult, Denial> {
        if request.user.is_empty() {
            return Err(Denial::permission_denied());
        }
        stream::wake_after(EVERY);
        Ok(SubscribeResult::default())
    }

    fn on_wake() {
        let count = COUNT.fetch_add(1, Ordering::Relaxed) + 1;
        // An error means the stream is closing: ask for no more ticks.
        let tick = serde_json::json!({ "count": count }).to_string();
        if stream::publish(tick.as_bytes()).is_ok() {
            stream::wake_after(EVERY);
        }
    }

    fn on_client_data(data: Vec<u8>) {
        let mut echo = br#"{"echo":"#.to_vec();
        echo.extend_from_slice(&data);
        echo.push(b'}');
        let _ = stream::publish(&echo);
    }
}

rotor_sdk::export_subscribe_stream!(Counter);
