//! Routes RPC calls by method name.
//!
//! - `echo`: answers with the call's data as it is.
//! - `whoami`: answers `{"user": <user id>, "client": <connection id>}`.
//! - `sum`: takes `{"numbers": [..]}` and answers `{"sum": <total>}`; the
//!   total is an integer when every number is one. Anything else, or an
//!   integer total that overflows, is refused with `107 bad request`.
//! - any other method is refused with `104 method not found`.
//!
//! Reads no config keys.

use rotor_sdk::{Denial, Rpc, RpcRequest, RpcResult};
use serde_json::{Value, json};

/// The component's RPC handler.
struct RpcRouter;

rotor_sdk::export_rpc!(RpcRouter);

impl Rpc for RpcRouter {
    fn rpc(request: RpcRequest) -> Result<RpcResult, Denial> {
        route(request)
    }
}

/// Answers `request` by its method.
pub fn route(request: RpcRequest) -> Result<RpcResult, Denial> {
    match request.method.as_str() {
        "echo" => Ok(RpcResult::data(request.data)),
        "whoami" => {
            let answer = json!({ "user": request.user, "client": request.conn.client });
            Ok(RpcResult::data(answer.to_string()))
        }
        "sum" => {
            sum(&request.data).map(|total| RpcResult::data(json!({ "sum": total }).to_string()))
        }
        _ => Err(Denial::method_not_found()),
    }
}

/// The total of `{"numbers": [..]}`: exact for integers, floating point as
/// soon as one number has a fraction.
fn sum(data: &[u8]) -> Result<Value, Denial> {
    let invalid = || Denial::bad_request().with_message(r#"expected {"numbers": [<number>, ...]}"#);
    let input: Value = serde_json::from_slice(data).map_err(|_| invalid())?;
    let numbers = input
        .get("numbers")
        .and_then(Value::as_array)
        .ok_or_else(invalid)?;

    let integers: Option<Vec<i64>> = numbers.iter().map(Value::as_i64).collect();
    if let Some(integers) = integers {
        let total = integers
            .into_iter()
            .try_fold(0i64, i64::checked_add)
            .ok_or_else(|| Denial::bad_request().with_message("sum overflows"))?;
        return Ok(Value::from(total));
    }

    let floats: Option<Vec<f64>> = numbers.iter().map(Value::as_f64).collect();
    let total: f64 = floats.ok_or_else(invalid)?.into_iter().sum();
    // JSON has no infinity: a total past f64's range is refused, not sent as null.
    serde_json::Number::from_f64(total)
        .map(Value::Number)
        .ok_or_else(|| Denial::bad_request().with_message("sum overflows"))
}

#[cfg(test)]
mod tests {
    use rotor_sdk::Connection;

    use super::*;

    fn call(method: &str, data: &[u8]) -> Result<RpcResult, Denial> {
        route(RpcRequest {
            conn: Connection {
                client: "client-1".to_string(),
                transport: "websocket".to_string(),
                protocol: "json".to_string(),
                encoding: "json".to_string(),
            },
            headers: Vec::new(),
            user: "42".to_string(),
            method: method.to_string(),
            data: data.to_vec(),
            meta: Vec::new(),
            labels: Vec::new(),
        })
    }

    fn json_of(outcome: Result<RpcResult, Denial>) -> Value {
        let result = outcome.expect("accepted");
        serde_json::from_slice(&result.data).expect("JSON answer")
    }

    fn code(outcome: Result<RpcResult, Denial>) -> u32 {
        match outcome {
            Err(Denial::Error(error)) => error.code,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn echo_returns_the_data_as_is() {
        assert_eq!(
            call("echo", b"\x00not json\xff"),
            Ok(RpcResult::data(b"\x00not json\xff".to_vec()))
        );
        assert_eq!(call("echo", b""), Ok(RpcResult::default()));
    }

    #[test]
    fn whoami_names_user_and_client() {
        assert_eq!(
            json_of(call("whoami", b"")),
            json!({"user": "42", "client": "client-1"})
        );
    }

    #[test]
    fn sum_adds_integers_exactly_and_floats_otherwise() {
        assert_eq!(
            json_of(call("sum", br#"{"numbers":[1,2,3]}"#)),
            json!({"sum": 6})
        );
        assert_eq!(
            json_of(call("sum", br#"{"numbers":[]}"#)),
            json!({"sum": 0})
        );
        assert_eq!(
            json_of(call("sum", br#"{"numbers":[-5, 2]}"#)),
            json!({"sum": -3})
        );
        assert_eq!(
            json_of(call("sum", br#"{"numbers":[1, 0.5]}"#)),
            json!({"sum": 1.5})
        );
    }

    #[test]
    fn sum_refuses_bad_input() {
        for data in [
            &b""[..],
            b"[1,2]",
            br#"{"numbers":"1,2"}"#,
            br#"{"numbers":[1,"2"]}"#,
            br#"{"values":[1]}"#,
            br#"{"numbers":[9223372036854775807, 1]}"#,
            br#"{"numbers":[1e308, 1e308]}"#,
        ] {
            assert_eq!(
                code(call("sum", data)),
                107,
                "{}",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[test]
    fn unknown_methods_are_not_found() {
        assert_eq!(call("nope", b""), Err(Denial::method_not_found()));
        assert_eq!(call("", b""), Err(Denial::method_not_found()));
        assert_eq!(call("Echo", b""), Err(Denial::method_not_found()));
    }
}
