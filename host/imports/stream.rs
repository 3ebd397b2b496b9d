//! The `stream` import: a subscription stream's guest queues publications,
//! asks for a timer and ends its stream. Everything lands in the store's
//! [`StreamOutbox`](crate::runtime::outbox::StreamOutbox), which the stream's
//! task reads once the callback returns; outside a stream, `publish` fails
//! and the rest does nothing.

use crate::contract::wit::stream::Host;
use crate::runtime::store::CallState;

impl Host for CallState {
    fn publish(&mut self, data: Vec<u8>, tags: Vec<(String, String)>) -> Result<(), String> {
        match &mut self.stream {
            Some(outbox) => outbox.publish(data, tags),
            None => Err("not a subscription stream: there is no subscriber to publish to".into()),
        }
    }

    fn wake_after(&mut self, ms: u32) {
        if let Some(outbox) = &mut self.stream {
            outbox.wake_after(ms);
        }
    }

    fn close(&mut self) {
        if let Some(outbox) = &mut self.stream {
            outbox.close();
        }
    }
}
