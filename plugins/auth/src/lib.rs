//! An interceptor that authenticates connections in front of the connect
//! handler, so the handler deals with who the user is, not with tokens.
//!
//! On connect it takes the client's token from the connect command's data,
//! `{"token": "<jwt>"}`, or else from an `authorization: Bearer <jwt>`
//! header, and verifies it with [`rotor_sdk::jwt`] (HS256 only, signature
//! compared in constant time, `exp` checked):
//!
//! - a valid token with a non-empty string `sub` → the connect request goes on
//!   with header `x-user-id: <sub>`. Every `x-user-id` header that came with
//!   the call (in any case) is dropped first: Centrifugo forwards headers from
//!   the client, so the handler can trust this one only because nobody but
//!   this interceptor can have set it;
//! - an expired token → `109 token expired`, so the client gets a fresh one;
//! - no token, or a malformed, badly signed or `sub`-less one →
//!   `101 unauthorized`. The handler does not run.
//!
//! The handler decides everything else about the connection; in particular
//! the token's `exp` is not handed on, so a connection lives as long as the
//! handler's `expire_at` says. Other request kinds pass unchanged: for them
//! Centrifugo fills the request's `user` from the connection.
//!
//! Config keys:
//! - `secret` (required): the HMAC key, as text. Without it every connect is
//!   refused with `100 internal server error` and an error log line (fail
//!   closed: a missing secret must not let everyone in).
//!
//! ```toml
//! [interceptors]
//! connect = ["auth.wasm"]
//! [settings."auth.wasm"]
//! secret = { env = "ROTOR_JWT_SECRET" }
//! ```

use rotor_sdk::jwt::{self, JwtError};
use rotor_sdk::{CallContext, ConnectRequest, Decision, Denial, Headers, Interceptor, Request};

/// The config key holding the HMAC secret.
const SECRET_KEY: &str = "secret";

/// The header that carries the verified user id to the handler.
pub const USER_HEADER: &str = "x-user-id";

/// The component's interceptor.
struct Auth;

rotor_sdk::export_interceptor!(Auth);

impl Interceptor for Auth {
    fn before(_context: &CallContext, request: Request) -> Decision {
        let Request::Connect(request) = request else {
            return Decision::Pass;
        };
        let Some(secret) = rotor_sdk::config::get(SECRET_KEY).filter(|secret| !secret.is_empty())
        else {
            rotor_sdk::log::error(format!("auth: config key `{SECRET_KEY}` is not set"));
            return Denial::internal().into();
        };
        match authenticate(request, secret.as_bytes(), rotor_sdk::unix_now()) {
            Ok(request) => Decision::Rewrite(Request::Connect(request)),
            Err(rejection) => {
                rotor_sdk::log::debug(format!("auth: refused: {rejection}"));
                rejection.denial().into()
            }
        }
    }
}

/// Verifies the token of `request` against `secret` at `now` (Unix seconds)
/// and returns the request with the user id in [`USER_HEADER`].
pub fn authenticate(
    mut request: ConnectRequest,
    secret: &[u8],
    now: i64,
) -> Result<ConnectRequest, JwtError> {
    let token = jwt::connect_token(&request).ok_or(JwtError::Missing)?;
    let claims = jwt::verify_hs256(&token, secret, now)?;
    set_user(&mut request.headers, claims.subject()?);
    Ok(request)
}

/// Makes `user` the one value of [`USER_HEADER`] in `headers`.
fn set_user(headers: &mut Headers, user: &str) {
    headers.retain(|(key, _)| !key.eq_ignore_ascii_case(USER_HEADER));
    headers.push((USER_HEADER.to_owned(), user.to_owned()));
}

#[cfg(test)]
mod tests {
    use rotor_sdk::Connection;
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"test-secret";
    const NOW: i64 = 1_700_000_000;

    fn request(data: &[u8], headers: &[(&str, &str)]) -> ConnectRequest {
        ConnectRequest {
            conn: Connection {
                client: "c1".to_owned(),
                transport: "websocket".to_owned(),
                protocol: "json".to_owned(),
                encoding: "json".to_owned(),
            },
            headers: headers
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
            name: String::new(),
            version: String::new(),
            data: data.to_vec(),
            channels: Vec::new(),
        }
    }

    fn with_token(token: &str, headers: &[(&str, &str)]) -> ConnectRequest {
        request(json!({ "token": token }).to_string().as_bytes(), headers)
    }

    fn users(request: &ConnectRequest) -> Vec<&str> {
        request
            .headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(USER_HEADER))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    #[test]
    fn a_valid_token_sets_the_user_header_and_keeps_the_rest() {
        let token = jwt::sign_hs256(&json!({"sub": "42", "exp": NOW + 60}), SECRET);
        let original = with_token(&token, &[("x-other", "1")]);
        let passed = authenticate(original.clone(), SECRET, NOW).expect("accepted");
        assert_eq!(users(&passed), ["42"]);
        assert_eq!(rotor_sdk::header(&passed.headers, "x-other"), Some("1"));
        assert_eq!((passed.conn, passed.data), (original.conn, original.data));
    }

    #[test]
    fn forged_user_headers_are_replaced() {
        let token = jwt::sign_hs256(&json!({"sub": "42"}), SECRET);
        let forged = with_token(&token, &[("x-user-id", "admin"), ("X-User-Id", "root")]);
        let passed = authenticate(forged, SECRET, NOW).expect("accepted");
        assert_eq!(users(&passed), ["42"]);
    }

    #[test]
    fn a_bearer_header_works_too() {
        let token = jwt::sign_hs256(&json!({"sub": "7"}), SECRET);
        let header = format!("Bearer {token}");
        let passed = authenticate(request(b"", &[("authorization", &header)]), SECRET, NOW)
            .expect("accepted");
        assert_eq!(users(&passed), ["7"]);
    }

    #[test]
    fn refusals() {
        let refused = |request: ConnectRequest| {
            authenticate(request, SECRET, NOW)
                .expect_err("refused")
                .denial()
        };
        let forged_only = request(b"", &[("x-user-id", "admin")]);
        assert_eq!(refused(forged_only), Denial::unauthorized());

        let other_secret = jwt::sign_hs256(&json!({"sub": "42"}), b"other");
        assert_eq!(
            refused(with_token(&other_secret, &[])),
            Denial::unauthorized()
        );

        let no_subject = jwt::sign_hs256(&json!({"name": "Ada"}), SECRET);
        assert_eq!(
            refused(with_token(&no_subject, &[])),
            Denial::unauthorized()
        );

        let expired = jwt::sign_hs256(&json!({"sub": "42", "exp": NOW - 1}), SECRET);
        assert_eq!(refused(with_token(&expired, &[])), Denial::token_expired());
    }
}
