//! Test fixture: a guest that calls the `kv` and `centrifugo-api` imports
//! as often as it is asked, so tests can check the host's budgets and
//! quotas on them. Reads no config keys.
//!
//! Exports `rpc-handler`. The call's data is a JSON object; `count` is how
//! many operations to make (default 1). Each method stops at the first
//! failed operation and answers `{"done": <operations that succeeded>,
//! "error": <the failure, as debug text, or null>}`:
//!
//! - `kv-fill`: sets keys `<prefix><n>` (`prefix` default `k`) for `n` in
//!   `0..count` to `size` zero bytes (default 1024);
//! - `kv-delete`: deletes the keys `kv-fill` sets (`prefix`, `count`);
//! - `kv-get`: gets the key `probe` `count` times;
//! - `kv-once`: claims the key `once` with compare-and-set, and **traps**
//!   when it is already claimed: a store that kept state from an earlier
//!   call (or another tenant's) fails a canary that calls it;
//! - `api-batch`: `repeat` times (default 1), a `batch` of `count` publish
//!   commands into channels `test:<n>`; `done` counts commands Centrifugo
//!   accepted;
//! - `api-broadcast`: `repeat` times, a `broadcast` into `count` channels
//!   `test:<n>`; `done` counts channels Centrifugo accepted.
//!
//! Other methods are refused with `104 method not found`, data that is not
//! a JSON object with `107 bad request`.

use rotor_sdk::api::{self, Command, PublishCommand, PublishOptions};
use rotor_sdk::{Denial, Rpc, RpcRequest, RpcResult, kv};
use serde_json::{Value, json};

/// The component's RPC handler.
struct HostCalls;

rotor_sdk::export_rpc!(HostCalls);

impl Rpc for HostCalls {
    fn rpc(request: RpcRequest) -> Result<RpcResult, Denial> {
        let input: Value = serde_json::from_slice(&request.data)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| Denial::bad_request().with_message("the data must be a JSON object"))?;
        let (done, error) = run(&request.method, &input)?;
        let answer = json!({ "done": done, "error": error });
        Ok(RpcResult::data(answer.to_string()))
    }
}

/// A number field of the input, or its default.
fn number(input: &Value, field: &str, default: u64) -> u64 {
    input.get(field).and_then(Value::as_u64).unwrap_or(default)
}

/// Runs `method`: the operations that succeeded, and the first failure.
pub fn run(method: &str, input: &Value) -> Result<(u64, Option<String>), Denial> {
    let count = number(input, "count", 1);
    let prefix = input.get("prefix").and_then(Value::as_str).unwrap_or("k");
    let result = match method {
        "kv-fill" => {
            let value = vec![0u8; usize::try_from(number(input, "size", 1024)).unwrap_or(0)];
            repeat(count, |n| {
                kv::set(&format!("{prefix}{n}"), &value, None)
                    .map(|()| 1)
                    .map_err(|e| format!("{e:?}"))
            })
        }
        "kv-delete" => repeat(count, |n| {
            kv::delete(&format!("{prefix}{n}"))
                .map(|_| 1)
                .map_err(|e| format!("{e:?}"))
        }),
        "kv-get" => repeat(count, |_| {
            kv::get("probe").map(|_| 1).map_err(|e| format!("{e:?}"))
        }),
        "kv-once" => match kv::compare_and_set("once", None, b"claimed", None) {
            Ok(true) => (1, None),
            Ok(false) => panic!("test-host-calls: `once` was already claimed"),
            Err(error) => (0, Some(format!("{error:?}"))),
        },
        "api-batch" => repeat(number(input, "repeat", 1), |_| {
            let commands: Vec<Command> = (0..count)
                .map(|n| {
                    Command::Publish(PublishCommand {
                        channel: format!("test:{n}"),
                        data: b"{}".to_vec(),
                        options: PublishOptions::default(),
                    })
                })
                .collect();
            api::batch(&commands, false)
                .map(|results| results.iter().filter(|r| r.is_ok()).count() as u64)
                .map_err(|e| format!("{e:?}"))
        }),
        "api-broadcast" => repeat(number(input, "repeat", 1), |_| {
            let channels: Vec<String> = (0..count).map(|n| format!("test:{n}")).collect();
            api::broadcast(&channels, b"{}", &PublishOptions::default())
                .map(|results| results.iter().filter(|r| r.is_ok()).count() as u64)
                .map_err(|e| format!("{e:?}"))
        }),
        _ => return Err(Denial::method_not_found()),
    };
    Ok(result)
}

/// Runs `operation` for `0..times`, adding what each did, until one fails.
fn repeat(
    times: u64,
    mut operation: impl FnMut(u64) -> Result<u64, String>,
) -> (u64, Option<String>) {
    let mut done = 0;
    for n in 0..times {
        match operation(n) {
            Ok(did) => done += did,
            Err(error) => return (done, Some(error)),
        }
    }
    (done, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_component_the_first_operation_fails() {
        let (done, error) = run("kv-fill", &json!({ "count": 3 })).unwrap();
        assert_eq!(done, 0);
        assert!(error.unwrap().contains("Unavailable"));
        let (done, error) = run("api-batch", &json!({ "count": 3 })).unwrap();
        assert_eq!(done, 0);
        assert!(error.is_some());
    }

    #[test]
    fn nothing_asked_is_nothing_done() {
        for method in [
            "kv-fill",
            "kv-delete",
            "kv-get",
            "api-batch",
            "api-broadcast",
        ] {
            let (done, error) = run(method, &json!({ "count": 0, "repeat": 0 })).unwrap();
            assert_eq!((done, error), (0, None), "{method}");
        }
        assert!(matches!(run("other", &json!({})), Err(Denial::Error(e)) if e.code == 104));
    }
}
