//! Test fixture: a subscription stream whose behaviour the subscribe data
//! picks, as `mode` or `mode:N`:
//! - `tick:N` ticks every N ms with `tick-1`, `tick-2`, …;
//! - `close:N` ticks every 20 ms and closes the stream after N ticks;
//! - `trap:N` ticks every 20 ms and traps on wake N + 1;
//! - `silent` accepts and does nothing (no timer, no publications);
//! - `reject` refuses with error 403, `disconnect` with disconnect 4403;
//! - `open-publish` publishes `hello` from `open` and nothing more.
//!
//! Every mode echoes client data back as `echo:` and the data. A client
//! publication `trap` makes the guest trap.

use std::sync::Mutex;
use std::time::Duration;

use rotor_sdk::{Denial, SubscribeRequest, SubscribeResult, SubscribeStream, stream};

struct State {
    mode: String,
    limit: u64,
    count: u64,
    every: Duration,
}

static STATE: Mutex<State> = Mutex::new(State {
    mode: String::new(),
    limit: 0,
    count: 0,
    every: Duration::from_millis(20),
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The fixture.
pub struct Fixture;

impl SubscribeStream for Fixture {
    fn open(request: SubscribeRequest) -> Result<SubscribeResult, Denial> {
        let text = String::from_utf8_lossy(&request.data).into_owned();
        let (mode, number) = text.split_once(':').unwrap_or((text.as_str(), "0"));
        let number: u64 = number.parse().unwrap_or(0);
        let mut state = state();
        state.mode = mode.to_owned();
        match mode {
            "reject" => return Err(Denial::error(403, "not for you")),
            "disconnect" => return Err(Denial::disconnect(4403, "go away")),
            "silent" => {}
            "open-publish" => {
                let _ = stream::publish(b"hello");
            }
            "tick" => {
                state.every = Duration::from_millis(number);
                stream::wake_after(state.every);
            }
            _ => {
                state.limit = number;
                stream::wake_after(state.every);
            }
        }
        Ok(SubscribeResult {
            data: format!("opened {}", request.channel).into_bytes(),
            ..SubscribeResult::default()
        })
    }

    fn on_wake() {
        let mut state = state();
        state.count += 1;
        if state.mode == "trap" && state.count > state.limit {
            panic!("trap on wake {}", state.count);
        }
        let tick = format!("tick-{}", state.count);
        let tags = [("n".to_string(), state.count.to_string())];
        let _ = stream::publish_with_tags(tick.as_bytes(), &tags);
        if state.mode == "close" && state.count >= state.limit {
            stream::close();
            return;
        }
        stream::wake_after(state.every);
    }

    fn on_client_data(data: Vec<u8>) {
        if data == b"trap" {
            panic!("asked to trap");
        }
        let mut echo = b"echo:".to_vec();
        echo.extend_from_slice(&data);
        let _ = stream::publish(&echo);
    }
}

rotor_sdk::export_subscribe_stream!(Fixture);
