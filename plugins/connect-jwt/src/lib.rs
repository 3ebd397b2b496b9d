//! Authenticates connections with an HS256 JSON Web Token.
//!
//! The token comes from the connect command's data, `{"token": "<jwt>"}`, or
//! else from an `authorization: Bearer <jwt>` header. The plugin verifies it
//! with [`rotor_sdk::jwt`] (`alg` must be `HS256`, the signature is compared
//! in constant time, `exp` is checked), then takes the claims:
//!
//! - `sub` (required, non-empty string): the user id;
//! - `exp` (optional, Unix seconds): the connection's expiry; a token past it
//!   is refused with `109 token expired`, so the client fetches a new one;
//! - `info` (optional, any JSON): the connection info, as JSON bytes;
//! - `channels` (optional, array of strings): server-side subscriptions.
//!
//! A missing, malformed or badly signed token is refused with
//! `101 unauthorized`.
//!
//! Config keys:
//! - `secret` (required): the HMAC key, as text. Without it every connect
//!   fails with `100 internal server error` and an error log line.

use rotor_sdk::jwt::{self, JwtError};
use rotor_sdk::{Connect, ConnectRequest, ConnectResult, Denial};
use serde_json::Value;

/// The config key holding the HMAC secret.
const SECRET_KEY: &str = "secret";

/// The component's connect handler.
struct JwtAuth;

rotor_sdk::export_connect!(JwtAuth);

impl Connect for JwtAuth {
    fn connect(request: ConnectRequest) -> Result<ConnectResult, Denial> {
        let Some(secret) = rotor_sdk::config::get(SECRET_KEY).filter(|secret| !secret.is_empty())
        else {
            rotor_sdk::log::error(format!("connect-jwt: config key `{SECRET_KEY}` is not set"));
            return Err(Denial::internal());
        };
        authenticate(&request, secret.as_bytes(), rotor_sdk::unix_now()).map_err(|rejection| {
            rotor_sdk::log::debug(format!("connect-jwt: refused: {rejection}"));
            rejection.denial()
        })
    }
}

/// Checks the request's token against `secret` at time `now` (Unix seconds)
/// and turns its claims into the accepted connection.
pub fn authenticate(
    request: &ConnectRequest,
    secret: &[u8],
    now: i64,
) -> Result<ConnectResult, JwtError> {
    let token = jwt::connect_token(request).ok_or(JwtError::Missing)?;
    let claims = jwt::verify_hs256(&token, secret, now)?;
    connection_from(&claims)
}

/// The accepted connection for verified `claims`.
fn connection_from(claims: &jwt::Claims) -> Result<ConnectResult, JwtError> {
    let user = claims.subject()?;

    let info = match claims.get("info") {
        None => Vec::new(),
        Some(info) => serde_json::to_vec(info).map_err(|_| JwtError::Claim("info"))?,
    };

    let channels = match claims.get("channels") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(JwtError::Claim("channels"))?,
        Some(_) => return Err(JwtError::Claim("channels")),
    };

    Ok(ConnectResult {
        expire_at: claims.expires_at().unwrap_or(0),
        info,
        channels,
        ..ConnectResult::user(user)
    })
}

#[cfg(test)]
mod tests {
    use rotor_sdk::Connection;
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"test-secret";
    const NOW: i64 = 1_700_000_000;

    fn sign(claims: &Value) -> String {
        jwt::sign_hs256(claims, SECRET)
    }

    fn request(data: &[u8], headers: &[(&str, &str)]) -> ConnectRequest {
        ConnectRequest {
            conn: Connection {
                client: "c1".to_string(),
                transport: "websocket".to_string(),
                protocol: "json".to_string(),
                encoding: "json".to_string(),
            },
            headers: headers
                .iter()
                .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
                .collect(),
            name: String::new(),
            version: String::new(),
            data: data.to_vec(),
            channels: Vec::new(),
        }
    }

    fn with_token_in_data(token: &str) -> ConnectRequest {
        request(json!({ "token": token }).to_string().as_bytes(), &[])
    }

    fn check(token: &str) -> Result<ConnectResult, JwtError> {
        authenticate(&with_token_in_data(token), SECRET, NOW)
    }

    #[test]
    fn accepts_a_token_from_data_with_all_claims() {
        let token = sign(&json!({
            "sub": "42",
            "exp": NOW + 60,
            "info": {"name": "Ada"},
            "channels": ["news", "user:42"],
        }));
        let result = check(&token).expect("accepted");
        assert_eq!(result.user, "42");
        assert_eq!(result.expire_at, NOW + 60);
        assert_eq!(
            serde_json::from_slice::<Value>(&result.info).expect("json"),
            json!({"name": "Ada"})
        );
        assert_eq!(result.channels, vec!["news", "user:42"]);
    }

    #[test]
    fn accepts_a_bearer_token_from_the_header() {
        let token = sign(&json!({"sub": "7"}));
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let header = format!("{scheme} {token}");
            let request = request(b"", &[("authorization", &header)]);
            let result = authenticate(&request, SECRET, NOW).expect("accepted");
            assert_eq!(result.user, "7");
            assert_eq!(result.expire_at, 0, "no exp, no expiry");
            assert!(result.info.is_empty() && result.channels.is_empty());
        }
    }

    #[test]
    fn data_without_a_token_falls_back_to_the_header() {
        let token = sign(&json!({"sub": "7"}));
        let header = format!("Bearer {token}");
        let request = request(br#"{"other":1}"#, &[("Authorization", &header)]);
        assert_eq!(
            authenticate(&request, SECRET, NOW).expect("accepted").user,
            "7"
        );
    }

    #[test]
    fn refuses_a_missing_token() {
        assert_eq!(
            authenticate(&request(b"", &[]), SECRET, NOW),
            Err(JwtError::Missing)
        );
        let basic = request(b"", &[("authorization", "Basic dXNlcjpwYXNz")]);
        assert_eq!(authenticate(&basic, SECRET, NOW), Err(JwtError::Missing));
        assert_eq!(JwtError::Missing.denial(), Denial::unauthorized());
    }

    #[test]
    fn refuses_a_token_signed_with_another_secret() {
        let token = jwt::sign_hs256(&json!({"sub": "42"}), b"other");
        assert_eq!(check(&token), Err(JwtError::Signature));
        assert_eq!(JwtError::Signature.denial(), Denial::unauthorized());
    }

    #[test]
    fn refuses_malformed_tokens() {
        let token = sign(&json!({"sub": "42"}));
        for bad in ["", "abc", "a.b", "!!.??.**", &format!("{token}.extra")] {
            let rejection = check(bad).expect_err(bad);
            assert_eq!(
                rejection.denial(),
                Denial::unauthorized(),
                "{bad}: {rejection}"
            );
        }
    }

    #[test]
    fn refuses_expired_tokens_with_token_expired() {
        let token = sign(&json!({"sub": "42", "exp": NOW}));
        assert_eq!(check(&token), Err(JwtError::Expired));
        assert_eq!(JwtError::Expired.denial(), Denial::token_expired());
    }

    #[test]
    fn refuses_bad_claims() {
        for (claims, claim) in [
            (json!({}), "sub"),
            (json!({"sub": ""}), "sub"),
            (json!({"sub": 42}), "sub"),
            (json!({"sub": "42", "exp": "tomorrow"}), "exp"),
            (json!({"sub": "42", "channels": "news"}), "channels"),
            (json!({"sub": "42", "channels": ["news", 1]}), "channels"),
        ] {
            assert_eq!(
                check(&sign(&claims)),
                Err(JwtError::Claim(claim)),
                "{claims}"
            );
        }
        assert_eq!(check(&sign(&json!(["sub"]))), Err(JwtError::Malformed));
    }
}
