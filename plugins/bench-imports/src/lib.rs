//! Benchmark fixture: each RPC makes N calls of one host import, so the
//! benchmark can take the cost of one call as the difference between an RPC
//! with N calls and one with none, divided by N.
//!
//! The call's data is N, a decimal number (a JSON number, as Centrifugo
//! sends it). The method picks the import:
//!
//! - `none`: no import;
//! - `kv-set`: `kv::set` of a 16-byte value at [`VALUE_KEY`];
//! - `kv-get`: `kv::get` of [`VALUE_KEY`] (set it first, with `kv-set`);
//! - `kv-incr`: `kv::increment` of the counter at [`COUNTER_KEY`] by 1;
//! - `api-publish`: `centrifugo-api` publish of a small JSON object into
//!   [`CHANNEL`] (the host allows 16 API calls per proxy call).
//!
//! The answer is the number of calls that did what was asked, as the same
//! decimal number: it equals the call's data when every call succeeded (and,
//! for `kv-get`, found the value). A failing import refuses the call with
//! error `100` and the import's error as the message. Any other method is
//! refused with `104 method not found`, data that is not a number with
//! `107 bad request`.
//!
//! Reads no config keys.

use rotor_sdk::api::{self, PublishOptions};
use rotor_sdk::{Denial, Rpc, RpcRequest, RpcResult, kv};

/// The key `kv-set` writes and `kv-get` reads.
pub const VALUE_KEY: &str = "bench:value";
/// The counter `kv-incr` adds to.
pub const COUNTER_KEY: &str = "bench:counter";
/// The channel `api-publish` publishes into.
pub const CHANNEL: &str = "bench:imports";
/// The value `kv-set` stores: small, like a flag or a counter.
const VALUE: &[u8] = b"0123456789abcdef";
/// What `api-publish` publishes: a small JSON object.
const PUBLICATION: &[u8] = br#"{"bench":"imports"}"#;

/// The component's RPC handler.
struct BenchImports;

rotor_sdk::export_rpc!(BenchImports);

impl Rpc for BenchImports {
    fn rpc(request: RpcRequest) -> Result<RpcResult, Denial> {
        let calls = count(&request.data)?;
        let done = run(&request.method, calls)?;
        Ok(RpcResult::data(done.to_string()))
    }
}

/// N from the call's data: a decimal number, blanks around it allowed.
pub fn count(data: &[u8]) -> Result<u32, Denial> {
    std::str::from_utf8(data)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| Denial::bad_request().with_message("the data must be a decimal count"))
}

/// The methods this component answers.
pub const METHODS: [&str; 5] = ["none", "kv-set", "kv-get", "kv-incr", "api-publish"];

/// Makes `calls` calls of the import `method` names; how many did what was
/// asked.
pub fn run(method: &str, calls: u32) -> Result<u32, Denial> {
    let once: fn() -> Result<bool, Denial> = match method {
        "none" => || Ok(true),
        "kv-set" => || {
            kv::set(VALUE_KEY, VALUE, None)
                .map(|()| true)
                .map_err(failed)
        },
        "kv-get" => || {
            kv::get(VALUE_KEY)
                .map(|value| value.is_some())
                .map_err(failed)
        },
        "kv-incr" => || {
            kv::increment(COUNTER_KEY, 1, None)
                .map(|_| true)
                .map_err(failed)
        },
        "api-publish" => || {
            api::publish(CHANNEL, PUBLICATION, &PublishOptions::default())
                .map(|_| true)
                .map_err(failed)
        },
        _ => return Err(Denial::method_not_found()),
    };
    let mut done = 0;
    for _ in 0..calls {
        done += u32::from(once()?);
    }
    Ok(done)
}

/// A failed import as a refusal that says what failed.
fn failed(error: impl std::fmt::Debug) -> Denial {
    Denial::internal().with_message(format!("{error:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_is_a_decimal_number() {
        assert_eq!(count(b"16").ok(), Some(16));
        assert_eq!(count(b" 0\n").ok(), Some(0));
        assert!(count(b"-1").is_err());
        assert!(count(b"{}").is_err());
        assert!(count(b"").is_err());
    }

    #[test]
    fn no_calls_answer_zero_and_unknown_methods_are_refused() {
        for method in METHODS {
            assert_eq!(run(method, 0).ok(), Some(0), "{method}");
        }
        assert_eq!(run("none", 3).ok(), Some(3));
        assert!(matches!(run("kv-delete", 0), Err(Denial::Error(e)) if e.code == 104));
    }

    #[test]
    fn natively_the_imports_fail_with_their_error() {
        // Outside a component there is no host: the first call refuses.
        for method in ["kv-set", "kv-get", "kv-incr", "api-publish"] {
            assert!(matches!(run(method, 1), Err(Denial::Error(e)) if e.code == 100));
        }
    }
}
