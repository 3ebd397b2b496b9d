//! Answers Centrifugo's RPC calls: method `hello` answers
//! `{"hello": <user>}`, any other method `104 method not found`.

use rotor_sdk::{Denial, Rpc, RpcRequest, RpcResult};

struct Router;

impl Rpc for Router {
    fn rpc(request: RpcRequest) -> Result<RpcResult, Denial> {
        match request.method.as_str() {
            "hello" => {
                rotor_sdk::log::info(format!("hello from {}", request.user));
                let answer = serde_json::json!({ "hello": request.user });
                Ok(RpcResult::data(answer.to_string()))
            }
            _ => Err(Denial::method_not_found()),
        }
    }
}

rotor_sdk::export_rpc!(Router);
