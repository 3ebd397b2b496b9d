//! What a subscription stream's handler may do besides answering its
//! callbacks: publish to its subscriber, ask to be woken, end the stream.
//!
//! Each call lands when the current callback returns: publications go out
//! in order after it, a timer replaces the one asked for before, and a
//! closed stream gets no more callbacks. Outside a component (in native
//! unit tests) there is no subscriber: `publish` fails and the rest does
//! nothing.

use std::time::Duration;

/// Sends `data` to the subscriber, with `tags`. Fails once the stream is
/// closing, past the host's publications per callback (64), or when the
/// publication is larger than the tenant's `max_reply`.
pub fn publish_with_tags(data: &[u8], tags: &[(String, String)]) -> Result<(), String> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::subscribe_stream::rotor::centrifugo::stream::publish(data, tags);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (data, tags);
        Err("not in a component: there is no subscriber".into())
    }
}

/// Sends `data` to the subscriber (see [`publish_with_tags`]).
pub fn publish(data: &[u8]) -> Result<(), String> {
    publish_with_tags(data, &[])
}

/// Asks for `on_wake` after `after` (at least 10 ms; longer than
/// `u32::MAX` milliseconds is cut to that), replacing an earlier request.
pub fn wake_after(after: Duration) {
    let ms = u32::try_from(after.as_millis()).unwrap_or(u32::MAX);
    #[cfg(target_arch = "wasm32")]
    crate::bindings::subscribe_stream::rotor::centrifugo::stream::wake_after(ms);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = ms;
}

/// Ends the stream once this callback returns: Centrifugo unsubscribes the
/// client for good ("server unsubscribe").
pub fn close() {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::subscribe_stream::rotor::centrifugo::stream::close();
}
