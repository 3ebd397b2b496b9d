//! Fuzz harnesses: the code that turns untrusted bytes into something Rotor
//! acts on, driven by arbitrary input. Each harness must return for every
//! input without panicking, and checks what must hold of its output.
//!
//! - [`decode_request`]: a proxy request as Centrifugo's gRPC sends it, the
//!   protobuf decoded and converted into the record a guest sees;
//! - [`convert_reply`]: a reply as a guest returns it, built from the bytes,
//!   measured against `max_reply` and converted into Centrifugo's response,
//!   whose size must stay linear in what the guest sent;
//! - [`parse_config`]: a configuration file.
//!
//! `cargo fuzz` runs them from `fuzz/` (built with `--cfg fuzzing`), and the
//! unit tests below run each over its seed corpus in `fuzz/corpus/` and a
//! bounded number of mutations of it, so every test run fuzzes a little.

use std::path::Path;

use prost::Message as _;

use crate::config::Config;
use crate::contract::convert::{ProxyCall, ReplyContext, reply_bytes};
use crate::contract::proto::proxy as pb;
use crate::contract::wit::types as wit;

/// Decodes `data` as a proxy request: its first byte picks the request type,
/// the rest is the protobuf message. Never panics.
pub fn decode_request(data: &[u8]) -> bool {
    fn decode<C: ProxyCall + Default>(message: &[u8]) -> bool {
        let Ok(request) = C::decode(message) else {
            return false;
        };
        request.into_request(Vec::new()).is_ok()
    }
    let Some((&kind, message)) = data.split_first() else {
        return false;
    };
    match kind % 11 {
        0 => decode::<pb::ConnectRequest>(message),
        1 => decode::<pb::RefreshRequest>(message),
        2 => decode::<pb::SubscribeRequest>(message),
        3 => decode::<pb::PublishRequest>(message),
        4 => decode::<pb::RpcRequest>(message),
        5 => decode::<pb::SubRefreshRequest>(message),
        6 => decode::<pb::MapPublishRequest>(message),
        7 => decode::<pb::MapRemoveRequest>(message),
        8 => decode::<pb::SharedPollRefreshRequest>(message),
        9 => decode::<pb::NotifyCacheEmptyRequest>(message),
        _ => decode::<pb::NotifyChannelStateRequest>(message),
    }
}

/// Builds a guest reply from `data`, and converts it as Rotor does with
/// one: refused over `max_reply` (1 MiB, the default) before anything is
/// built, else converted into the response of its request type, in text
/// and in binary encoding. Panics if a response is larger than linear in
/// the bytes the reply carries: the reply conversion must not amplify.
pub fn convert_reply(data: &[u8]) -> bool {
    let mut input = Input(data);
    let reply = input.reply();
    let carried = reply_bytes(&reply);
    if carried > crate::config::DEFAULT_MAX_MESSAGE {
        return false;
    }
    let mut converted = false;
    for binary in [false, true] {
        let context = ReplyContext {
            binary,
            original_data: b"original".to_vec(),
        };
        let encoded = match reply.clone() {
            reply @ wit::Reply::Connect(_) => encoded::<pb::ConnectRequest>(reply, &context),
            reply @ wit::Reply::Refresh(_) => encoded::<pb::RefreshRequest>(reply, &context),
            reply @ wit::Reply::Subscribe(_) => encoded::<pb::SubscribeRequest>(reply, &context),
            reply @ wit::Reply::Publish(_) => encoded::<pb::PublishRequest>(reply, &context),
            reply @ wit::Reply::Rpc(_) => encoded::<pb::RpcRequest>(reply, &context),
            reply @ wit::Reply::SubRefresh(_) => encoded::<pb::SubRefreshRequest>(reply, &context),
            reply @ wit::Reply::MapPublish(_) => encoded::<pb::MapPublishRequest>(reply, &context),
            reply @ wit::Reply::MapRemove(_) => encoded::<pb::MapRemoveRequest>(reply, &context),
            reply @ wit::Reply::SharedPollRefresh(_) => {
                encoded::<pb::SharedPollRefreshRequest>(reply, &context)
            }
            reply @ wit::Reply::NotifyCacheEmpty(_) => {
                encoded::<pb::NotifyCacheEmptyRequest>(reply, &context)
            }
            reply @ wit::Reply::NotifyChannelState(_) => {
                encoded::<pb::NotifyChannelStateRequest>(reply, &context)
            }
        };
        let Some(encoded) = encoded else { continue };
        converted = true;
        // Base64 adds a third, framing a few bytes per item, and each item
        // took at least one byte of `data`; the original publication data
        // may be carried over once.
        let input = u64::try_from(data.len()).unwrap_or(u64::MAX);
        let bound = carried * 2 + input * 32 + 1024;
        assert!(
            encoded <= bound,
            "a reply carrying {carried} bytes (from {input} input bytes) became {encoded} bytes"
        );
    }
    converted
}

/// The encoded size of the response `reply` converts into, if it converts.
fn encoded<C: ProxyCall>(reply: wit::Reply, context: &ReplyContext) -> Option<u64> {
    let response = C::response(reply, context).ok()?;
    u64::try_from(response.encoded_len()).ok()
}

/// Parses `data` as a configuration file (lossily decoded as UTF-8),
/// relative paths against the system's temporary directory. Never panics.
pub fn parse_config(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    Config::parse(&text, &std::env::temp_dir()).is_ok()
}

/// The bytes a reply is built from, read front to back; past the end every
/// read gives zero or empty.
struct Input<'a>(&'a [u8]);

/// Items in one generated list, at most: enough for shared children and
/// deep filters, few enough that each costs input.
const MAX_ITEMS: u8 = 16;

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&first, rest)) => {
                self.0 = rest;
                first
            }
            None => 0,
        }
    }

    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }

    fn s64(&mut self) -> i64 {
        i64::from_le_bytes(self.u64().to_le_bytes())
    }

    /// A length byte and that many bytes (fewer at the end of the input).
    fn bytes(&mut self) -> Vec<u8> {
        let len = usize::from(self.byte()).min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        taken.to_vec()
    }

    fn string(&mut self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let count = self.byte() % (MAX_ITEMS + 1);
        (0..count).map(|_| item(self)).collect()
    }

    fn option<T>(&mut self, item: impl FnOnce(&mut Self) -> T) -> Option<T> {
        self.flag().then(|| item(self))
    }

    fn pairs(&mut self) -> Vec<(String, String)> {
        self.list(|input| (input.string(), input.string()))
    }

    fn error(&mut self) -> wit::CentrifugoError {
        wit::CentrifugoError {
            code: self.u32() % 5000,
            message: self.string(),
            temporary: self.flag(),
        }
    }

    fn disconnect(&mut self) -> wit::Disconnect {
        wit::Disconnect {
            code: self.u32() % 6000,
            reason: self.string(),
        }
    }

    fn caps(&mut self) -> Vec<wit::ChannelsCapability> {
        self.list(|input| wit::ChannelsCapability {
            channels: input.list(Input::string),
            allow: input.list(Input::string),
            match_: if input.flag() {
                wit::ChannelMatch::Wildcard
            } else {
                wit::ChannelMatch::Exact
            },
        })
    }

    fn overrides(&mut self) -> Option<wit::SubscribeOverrides> {
        self.option(|input| wit::SubscribeOverrides {
            presence: input.option(Input::flag),
            join_leave: input.option(Input::flag),
            force_recovery: input.option(Input::flag),
            force_positioning: input.option(Input::flag),
            force_push_join_leave: input.option(Input::flag),
        })
    }

    /// A filter whose children indices point anywhere, shared, cyclic or
    /// out of range: what a hostile guest may send.
    fn filter(&mut self) -> Option<wit::Filter> {
        self.option(|input| {
            input.list(|input| wit::FilterNode {
                op: input.string(),
                key: input.string(),
                cmp: input.string(),
                val: input.string(),
                vals: input.list(Input::string),
                children: input.list(|input| u32::from(input.byte() % (MAX_ITEMS + 2))),
            })
        })
    }

    fn subscribe_options(&mut self) -> wit::SubscribeOptions {
        wit::SubscribeOptions {
            expire_at: self.s64(),
            info: self.bytes(),
            data: self.bytes(),
            overrides: self.overrides(),
            server_tags_filter: self.filter(),
            cache_recover: self.flag(),
        }
    }

    fn reply(&mut self) -> wit::Reply {
        let case = self.byte();
        match (case % 11, case / 11 % 3) {
            (0, 0) => wit::Reply::Connect(wit::ConnectReply::Accept(wit::ConnectResult {
                user: self.string(),
                expire_at: self.s64(),
                info: self.bytes(),
                data: self.bytes(),
                channels: self.list(Input::string),
                subs: self.list(|input| (input.string(), input.subscribe_options())),
                meta: self.bytes(),
                caps: self.caps(),
                labels: self.pairs(),
            })),
            (0, 1) => wit::Reply::Connect(wit::ConnectReply::Reject(self.error())),
            (0, _) => wit::Reply::Connect(wit::ConnectReply::Disconnect(self.disconnect())),
            (1, 0) => wit::Reply::Refresh(wit::RefreshReply::Extend(wit::RefreshResult {
                expire_at: self.s64(),
                info: self.bytes(),
                meta: self.bytes(),
                caps: self.caps(),
            })),
            (1, _) => wit::Reply::Refresh(wit::RefreshReply::Expire),
            (2, 0) => wit::Reply::Subscribe(wit::SubscribeReply::Accept(wit::SubscribeResult {
                expire_at: self.s64(),
                info: self.bytes(),
                data: self.bytes(),
                overrides: self.overrides(),
                allow: self.list(Input::string),
                server_tags_filter: self.filter(),
            })),
            (2, 1) => wit::Reply::Subscribe(wit::SubscribeReply::Reject(self.error())),
            (2, _) => wit::Reply::Subscribe(wit::SubscribeReply::Disconnect(self.disconnect())),
            (3, 0) => wit::Reply::Publish(wit::PublishReply::Accept(wit::PublishResult {
                data: self.option(Input::bytes),
                skip_history: self.flag(),
                tags: self.pairs(),
                idempotency_key: self.string(),
                delta: self.flag(),
                version: self.u64(),
                version_epoch: self.string(),
            })),
            (3, 1) => wit::Reply::Publish(wit::PublishReply::Reject(self.error())),
            (3, _) => wit::Reply::Publish(wit::PublishReply::Disconnect(self.disconnect())),
            (4, 0) => wit::Reply::Rpc(wit::RpcReply::Accept(wit::RpcResult { data: self.bytes() })),
            (4, 1) => wit::Reply::Rpc(wit::RpcReply::Reject(self.error())),
            (4, _) => wit::Reply::Rpc(wit::RpcReply::Disconnect(self.disconnect())),
            (5, 0) => wit::Reply::SubRefresh(wit::SubRefreshReply::Extend(wit::SubRefreshResult {
                expire_at: self.s64(),
                info: self.bytes(),
            })),
            (5, _) => wit::Reply::SubRefresh(wit::SubRefreshReply::Expire),
            (6, 0) => wit::Reply::MapPublish(wit::MapPublishReply::Accept(wit::MapPublishResult {
                key: self.string(),
                data: self.option(Input::bytes),
                tags: self.pairs(),
                score: self.s64(),
                key_mode: self.string(),
                stream_data: self.bytes(),
                idempotency_key: self.string(),
                delta: self.flag(),
                version: self.u64(),
                version_epoch: self.string(),
            })),
            (6, 1) => wit::Reply::MapPublish(wit::MapPublishReply::Reject(self.error())),
            (6, _) => wit::Reply::MapPublish(wit::MapPublishReply::Disconnect(self.disconnect())),
            (7, 0) => wit::Reply::MapRemove(wit::MapRemoveReply::Accept(wit::MapRemoveResult {
                key: self.string(),
                tags: self.pairs(),
                idempotency_key: self.string(),
            })),
            (7, 1) => wit::Reply::MapRemove(wit::MapRemoveReply::Reject(self.error())),
            (7, _) => wit::Reply::MapRemove(wit::MapRemoveReply::Disconnect(self.disconnect())),
            (8, 0) => wit::Reply::SharedPollRefresh(wit::SharedPollRefreshReply::Accept(
                wit::SharedPollRefreshResult {
                    items: self.list(|input| wit::SharedPollEntry {
                        key: input.string(),
                        data: input.bytes(),
                        version: input.u64(),
                        removed: input.flag(),
                        prev_data: input.bytes(),
                    }),
                    epoch: self.string(),
                },
            )),
            (8, _) => {
                wit::Reply::SharedPollRefresh(wit::SharedPollRefreshReply::Reject(self.error()))
            }
            (9, _) => wit::Reply::NotifyCacheEmpty(wit::NotifyCacheEmptyReply {
                populated: self.flag(),
            }),
            (_, 0) => wit::Reply::NotifyChannelState(wit::NotifyChannelStateReply::Accept),
            (_, _) => {
                wit::Reply::NotifyChannelState(wit::NotifyChannelStateReply::Reject(self.error()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use super::*;

    /// Mutated inputs tried per harness on every test run, at most.
    const MUTATIONS: usize = 3000;
    /// Time one harness may take on every test run, at most.
    const BUDGET: Duration = Duration::from_secs(3);

    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("the seed corpus {}: {error}", dir.display()))
            .map(|entry| entry.expect("a corpus entry").path())
            .collect();
        files.sort();
        let seeds: Vec<Vec<u8>> = files
            .iter()
            .map(|file| std::fs::read(file).expect("a seed"))
            .collect();
        assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
        seeds
    }

    /// A small deterministic generator (xorshift64*), so a failure repeats.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, bound: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(bound.max(1)).unwrap_or(1)).unwrap_or(0)
        }
    }

    /// `seed` changed the way fuzzers change inputs: bytes flipped, set to
    /// edge values, inserted, removed, duplicated, or spliced from `other`.
    fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
        let mut data = seed.to_vec();
        for _ in 0..=rng.below(4) {
            let at = rng.below(data.len() + 1);
            match rng.below(6) {
                0 if at < data.len() => data[at] ^= 1 << rng.below(8),
                1 if at < data.len() => {
                    data[at] = [0, 1, 0x7f, 0x80, 0xff][rng.below(5)];
                }
                2 => data.insert(at, u8::try_from(rng.below(256)).unwrap_or(0)),
                3 if at < data.len() => {
                    let end = (at + rng.below(8)).min(data.len());
                    data.drain(at..end);
                }
                4 => {
                    let end = (at + rng.below(16)).min(data.len());
                    let copy = data[at..end].to_vec();
                    data.splice(at..at, copy);
                }
                _ => {
                    let from = rng.below(other.len() + 1);
                    let end = (from + rng.below(32)).min(other.len());
                    data.splice(at..at, other[from..end].iter().copied());
                }
            }
        }
        data
    }

    /// Runs `harness` on every seed of `target` (asserting that `accepted`
    /// of them convert), then on mutations of them until the budget is used.
    fn fuzz(target: &str, harness: fn(&[u8]) -> bool, accepted: usize) {
        let seeds = corpus(target);
        let converted = seeds.iter().filter(|seed| harness(seed)).count();
        assert!(
            converted >= accepted,
            "only {converted} of {} seeds of {target} were accepted",
            seeds.len()
        );
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ target.len() as u64);
        let start = Instant::now();
        for _ in 0..MUTATIONS {
            if start.elapsed() > BUDGET {
                break;
            }
            let seed = &seeds[rng.below(seeds.len())];
            let other = &seeds[rng.below(seeds.len())];
            harness(&mutate(&mut rng, seed, other));
        }
    }

    #[test]
    fn the_request_decoder_survives_its_corpus_and_mutations() {
        fuzz("decode_request", decode_request, 6);
    }

    #[test]
    fn the_reply_conversion_stays_linear_on_its_corpus_and_mutations() {
        fuzz("convert_reply", convert_reply, 6);
    }

    #[test]
    fn the_config_parser_survives_its_corpus_and_mutations() {
        fuzz("parse_config", parse_config, 3);
    }
}
