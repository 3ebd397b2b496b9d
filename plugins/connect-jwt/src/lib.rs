//! Authenticates connections with an HS256 JSON Web Token.
//!
//! The token comes from the connect command's data, `{"token": "<jwt>"}`, or
//! else from an `authorization: Bearer <jwt>` header. The plugin checks that
//! the token's `alg` is `HS256` and its signature matches (in constant time),
//! then takes the claims:
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

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use rotor_sdk::{Connect, ConnectRequest, ConnectResult, Denial};
use serde_json::{Map, Value};
use sha2::Sha256;

/// The config key holding the HMAC secret.
const SECRET_KEY: &str = "secret";

/// The only signing algorithm accepted: the plugin holds one shared secret,
/// so any other `alg` (`none` above all) is an attack or a mistake.
const ALGORITHM: &str = "HS256";

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

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Neither the data nor the `authorization` header carries a token.
    Missing,
    /// The token is not three base64url parts of JSON.
    Malformed,
    /// The header names an algorithm other than HS256.
    Algorithm(String),
    /// The signature does not match.
    Signature,
    /// A claim is missing or has the wrong type.
    Claim(&'static str),
    /// `exp` has passed.
    Expired,
}

impl Rejection {
    /// What the client is told: an expired token is worth refreshing, any
    /// other failure is not.
    pub fn denial(&self) -> Denial {
        match self {
            Self::Expired => Denial::token_expired(),
            _ => Denial::unauthorized(),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("no token"),
            Self::Malformed => f.write_str("malformed token"),
            Self::Algorithm(alg) => write!(f, "algorithm {alg:?} is not {ALGORITHM}"),
            Self::Signature => f.write_str("bad signature"),
            Self::Claim(claim) => write!(f, "claim `{claim}` is missing or invalid"),
            Self::Expired => f.write_str("token expired"),
        }
    }
}

/// Checks the request's token against `secret` at time `now` (Unix seconds)
/// and turns its claims into the accepted connection.
pub fn authenticate(
    request: &ConnectRequest,
    secret: &[u8],
    now: i64,
) -> Result<ConnectResult, Rejection> {
    let token = token_of(request).ok_or(Rejection::Missing)?;
    let claims = verify(&token, secret)?;
    connection_from(&claims, now)
}

/// The token in the connect data (`{"token": …}`), else in the
/// `authorization: Bearer …` header.
fn token_of(request: &ConnectRequest) -> Option<String> {
    let from_data = serde_json::from_slice::<Value>(&request.data)
        .ok()
        .and_then(|data| data.get("token")?.as_str().map(str::to_owned));
    from_data.or_else(|| {
        let value = rotor_sdk::header(&request.headers, "authorization")?;
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    })
}

/// Checks the algorithm and signature and returns the claims.
fn verify(token: &str, secret: &[u8]) -> Result<Map<String, Value>, Rejection> {
    let mut parts = token.split('.');
    let (Some(header_part), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Malformed);
    };

    let header: Map<String, Value> = decode_json(header_part)?;
    match header.get("alg").and_then(Value::as_str) {
        Some(ALGORITHM) => {}
        other => return Err(Rejection::Algorithm(other.unwrap_or_default().to_owned())),
    }

    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Rejection::Malformed)?;
    // The signature covers the first two parts as sent, dot included.
    let signed = &token[..header_part.len() + 1 + payload.len()];
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| Rejection::Signature)?;
    mac.update(signed.as_bytes());
    // `verify_slice` compares in constant time.
    mac.verify_slice(&signature)
        .map_err(|_| Rejection::Signature)?;

    decode_json(payload)
}

fn decode_json(part: &str) -> Result<Map<String, Value>, Rejection> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Rejection::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| Rejection::Malformed)
}

/// The accepted connection for verified `claims` at time `now`.
fn connection_from(claims: &Map<String, Value>, now: i64) -> Result<ConnectResult, Rejection> {
    let user = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| !sub.is_empty())
        .ok_or(Rejection::Claim("sub"))?;

    let expire_at = match claims.get("exp") {
        None => 0,
        Some(exp) => {
            let exp = exp
                .as_i64()
                // NumericDate may have a fraction; the second it falls in counts.
                .or_else(|| exp.as_f64().map(|secs| secs.floor() as i64))
                .ok_or(Rejection::Claim("exp"))?;
            if exp <= now {
                return Err(Rejection::Expired);
            }
            exp
        }
    };

    let info = match claims.get("info") {
        None => Vec::new(),
        Some(info) => serde_json::to_vec(info).map_err(|_| Rejection::Claim("info"))?,
    };

    let channels = match claims.get("channels") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(Rejection::Claim("channels"))?,
        Some(_) => return Err(Rejection::Claim("channels")),
    };

    Ok(ConnectResult {
        expire_at,
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

    fn encode(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn sign_with(header: &Value, claims: &Value, secret: &[u8]) -> String {
        let signed = format!("{}.{}", encode(header), encode(claims));
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signed}.{signature}")
    }

    fn sign(claims: &Value) -> String {
        sign_with(&json!({"alg": "HS256", "typ": "JWT"}), claims, SECRET)
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

    fn check(token: &str) -> Result<ConnectResult, Rejection> {
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
            Err(Rejection::Missing)
        );
        let basic = request(b"", &[("authorization", "Basic dXNlcjpwYXNz")]);
        assert_eq!(authenticate(&basic, SECRET, NOW), Err(Rejection::Missing));
        assert_eq!(Rejection::Missing.denial(), Denial::unauthorized());
    }

    #[test]
    fn refuses_a_wrong_signature() {
        let token = sign_with(&json!({"alg": "HS256"}), &json!({"sub": "42"}), b"other");
        assert_eq!(check(&token), Err(Rejection::Signature));

        let token = sign(&json!({"sub": "42"}));
        let (signed, _) = token.rsplit_once('.').expect("three parts");
        let forged = format!("{}.{}", signed, URL_SAFE_NO_PAD.encode([0u8; 32]));
        assert_eq!(check(&forged), Err(Rejection::Signature));

        let tampered_claims = format!(
            "{}.{}.{}",
            encode(&json!({"alg": "HS256"})),
            encode(&json!({"sub": "admin"})),
            token.rsplit('.').next().expect("signature")
        );
        assert_eq!(check(&tampered_claims), Err(Rejection::Signature));
    }

    #[test]
    fn refuses_other_algorithms() {
        let unsigned = format!(
            "{}.{}.",
            encode(&json!({"alg": "none"})),
            encode(&json!({"sub": "42"}))
        );
        assert_eq!(
            check(&unsigned),
            Err(Rejection::Algorithm("none".to_string()))
        );

        let token = sign_with(&json!({"alg": "HS512"}), &json!({"sub": "42"}), SECRET);
        assert_eq!(
            check(&token),
            Err(Rejection::Algorithm("HS512".to_string()))
        );

        let token = sign_with(&json!({"typ": "JWT"}), &json!({"sub": "42"}), SECRET);
        assert_eq!(check(&token), Err(Rejection::Algorithm(String::new())));
    }

    #[test]
    fn refuses_malformed_tokens() {
        let token = sign(&json!({"sub": "42"}));
        for bad in [
            "",
            "abc",
            "a.b",
            "!!.??.**",
            &format!("{token}.extra"),
            &format!(
                "{}.{}.{}",
                encode(&json!({"alg": "HS256"})),
                "bm90IGpzb24",
                "c2ln"
            ),
        ] {
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
        assert_eq!(check(&token), Err(Rejection::Expired));
        assert_eq!(Rejection::Expired.denial(), Denial::token_expired());

        let token = sign(&json!({"sub": "42", "exp": NOW as f64 + 0.5}));
        assert_eq!(check(&token), Err(Rejection::Expired));
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
                Err(Rejection::Claim(claim)),
                "{claims}"
            );
        }
        let not_an_object = sign_with(&json!({"alg": "HS256"}), &json!(["sub"]), SECRET);
        assert_eq!(check(&not_an_object), Err(Rejection::Malformed));
    }
}
