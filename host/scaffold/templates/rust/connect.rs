//! Answers Centrifugo's connect calls: accepts the user that the gateway in
//! front of Centrifugo names in the `x-user-id` header, and refuses a client
//! without one with `101 unauthorized`.

use rotor_sdk::{Connect, ConnectRequest, ConnectResult, Denial};

struct Auth;

impl Connect for Auth {
    fn connect(request: ConnectRequest) -> Result<ConnectResult, Denial> {
        match rotor_sdk::header(&request.headers, "x-user-id") {
            Some(user) if !user.is_empty() => Ok(ConnectResult::user(user)),
            _ => Err(Denial::unauthorized()),
        }
    }
}

rotor_sdk::export_connect!(Auth);
