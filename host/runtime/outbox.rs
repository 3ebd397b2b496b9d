//! What a stream's guest asked for during one callback (`stream` import):
//! publications to send, a timer, the end of the stream. The host reads it
//! after the callback returns, so a callback's effects go out only if the
//! callback succeeded.

use std::time::Duration;

/// Publications one callback may make; `publish` fails past it, so a guest
/// cannot fill the host's memory in a single callback.
pub const PUBLICATIONS_PER_CALLBACK: usize = 64;
/// The shortest timer a guest gets: a shorter `wake-after` is raised to it,
/// so a stream cannot spin the host.
pub const MIN_WAKE: Duration = Duration::from_millis(10);

/// One publication for the subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The payload.
    pub data: Vec<u8>,
    /// Its tags.
    pub tags: Vec<(String, String)>,
}

/// What one stream's guest asked for since the host last looked.
#[derive(Debug)]
pub struct StreamOutbox {
    publications: Vec<Publication>,
    wake: Option<Duration>,
    close: bool,
    /// The largest publication, data and tags together, in bytes: the
    /// tenant's `max_reply`.
    max_bytes: u64,
}

/// What a callback asked for, taken out of the outbox.
#[derive(Debug, Default)]
pub struct Requests {
    /// Publications, in the order made.
    pub publications: Vec<Publication>,
    /// A new timer, if one was asked for.
    pub wake: Option<Duration>,
    /// Whether the guest ended the stream.
    pub close: bool,
}

impl StreamOutbox {
    /// An empty outbox whose publications are at most `max_bytes` each.
    pub fn new(max_bytes: u64) -> StreamOutbox {
        StreamOutbox {
            publications: Vec::new(),
            wake: None,
            close: false,
            max_bytes,
        }
    }

    /// Queues a publication, or says why not.
    pub fn publish(&mut self, data: Vec<u8>, tags: Vec<(String, String)>) -> Result<(), String> {
        if self.close {
            return Err("the stream is closing".into());
        }
        if self.publications.len() >= PUBLICATIONS_PER_CALLBACK {
            return Err(format!(
                "at most {PUBLICATIONS_PER_CALLBACK} publications per callback"
            ));
        }
        let bytes = data.len()
            + tags
                .iter()
                .map(|(key, value)| key.len() + value.len())
                .sum::<usize>();
        if u64::try_from(bytes).unwrap_or(u64::MAX) > self.max_bytes {
            return Err(format!(
                "the publication is {bytes} bytes, over the tenant's max_reply of {}",
                self.max_bytes
            ));
        }
        self.publications.push(Publication { data, tags });
        Ok(())
    }

    /// Asks for a wake-up after `ms` milliseconds (at least [`MIN_WAKE`]),
    /// replacing an earlier request.
    pub fn wake_after(&mut self, ms: u32) {
        self.wake = Some(Duration::from_millis(u64::from(ms)).max(MIN_WAKE));
    }

    /// Ends the stream once the callback returns.
    pub fn close(&mut self) {
        self.close = true;
    }

    /// What the guest asked for since the last time; the outbox is empty
    /// afterwards (a close stays).
    pub fn take(&mut self) -> Requests {
        Requests {
            publications: std::mem::take(&mut self.publications),
            wake: self.wake.take(),
            close: self.close,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publications_are_bounded_in_count_and_size() {
        let mut outbox = StreamOutbox::new(8);
        assert!(outbox.publish(b"12345678".to_vec(), Vec::new()).is_ok());
        let tagged = vec![("k".to_string(), "v".to_string())];
        assert!(outbox.publish(b"1234567".to_vec(), tagged).is_err());
        for _ in 1..PUBLICATIONS_PER_CALLBACK {
            assert!(outbox.publish(b"x".to_vec(), Vec::new()).is_ok());
        }
        assert!(outbox.publish(b"x".to_vec(), Vec::new()).is_err());
        let taken = outbox.take();
        assert_eq!(taken.publications.len(), PUBLICATIONS_PER_CALLBACK);
        assert!(outbox.publish(b"x".to_vec(), Vec::new()).is_ok());
    }

    #[test]
    fn timers_have_a_floor_and_close_refuses_more() {
        let mut outbox = StreamOutbox::new(64);
        outbox.wake_after(1);
        outbox.wake_after(0);
        assert_eq!(outbox.take().wake, Some(MIN_WAKE));
        assert_eq!(outbox.take().wake, None);
        outbox.wake_after(250);
        assert_eq!(outbox.take().wake, Some(Duration::from_millis(250)));
        outbox.close();
        assert!(outbox.publish(b"x".to_vec(), Vec::new()).is_err());
        assert!(outbox.take().close);
    }
}
