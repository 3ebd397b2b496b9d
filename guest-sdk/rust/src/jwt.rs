//! HS256 JSON Web Tokens: verify the tokens clients connect with, and sign
//! tokens (for tests, or to hand out subscription tokens).
//!
//! Available with the crate's `jwt` feature. Only HS256 is accepted: a plugin
//! holds one shared secret, so any other `alg` (`none` above all) is an
//! attack or a mistake. The signature is compared in constant time, and `exp`
//! is checked before any claim is handed out.
//!
//! ```
//! use rotor_sdk::jwt;
//! use serde_json::json;
//!
//! let token = jwt::sign_hs256(&json!({"sub": "42", "exp": 2_000}), b"secret");
//! let claims = jwt::verify_hs256(&token, b"secret", 1_000).expect("valid");
//! assert_eq!(claims.subject(), Ok("42"));
//! assert_eq!(claims.expires_at(), Some(2_000));
//!
//! assert_eq!(jwt::verify_hs256(&token, b"other", 1_000), Err(jwt::JwtError::Signature));
//! assert_eq!(jwt::verify_hs256(&token, b"secret", 2_000), Err(jwt::JwtError::Expired));
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::{ConnectRequest, Denial};

/// The one signing algorithm accepted.
const ALGORITHM: &str = "HS256";

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// No token was found where one was looked for.
    Missing,
    /// The token is not three base64url parts of JSON objects.
    Malformed,
    /// The header names an algorithm other than HS256 (empty if none).
    Algorithm(String),
    /// The signature does not match.
    Signature,
    /// A claim is missing or has the wrong type.
    Claim(&'static str),
    /// `exp` has passed.
    Expired,
}

impl JwtError {
    /// What the client is told: an expired token is worth replacing
    /// (`109 token expired`), any other failure is not (`101 unauthorized`).
    pub fn denial(&self) -> Denial {
        match self {
            Self::Expired => Denial::token_expired(),
            _ => Denial::unauthorized(),
        }
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

impl std::error::Error for JwtError {}

/// The claims of a verified token.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    all: Map<String, Value>,
    expires_at: Option<i64>,
}

impl Claims {
    /// `sub`, the user id: a non-empty string, or [`JwtError::Claim`].
    pub fn subject(&self) -> Result<&str, JwtError> {
        self.all
            .get("sub")
            .and_then(Value::as_str)
            .filter(|sub| !sub.is_empty())
            .ok_or(JwtError::Claim("sub"))
    }

    /// `exp` in whole Unix seconds, if the token has one; verification has
    /// checked it is in the future.
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }

    /// The claim `name`, as decoded.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.all.get(name)
    }

    /// Every claim, as decoded.
    pub fn into_map(self) -> Map<String, Value> {
        self.all
    }
}

/// Verifies `token` against `secret` at `now` (Unix seconds) and returns its
/// claims.
///
/// Checks, in order: the token's shape, `alg` = HS256, the signature
/// (constant time), that the claims are a JSON object, and that `exp`, if
/// present, is a number past `now` (a fraction counts as the second it falls
/// in). A token without `exp` never expires.
pub fn verify_hs256(token: &str, secret: &[u8], now: i64) -> Result<Claims, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };

    match decode_object(header)?.get("alg").and_then(Value::as_str) {
        Some(ALGORITHM) => {}
        other => return Err(JwtError::Algorithm(other.unwrap_or_default().to_owned())),
    }

    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwtError::Malformed)?;
    // The signature covers the first two parts as sent, dot included.
    let signed = &token[..header.len() + 1 + payload.len()];
    // `verify_slice` compares in constant time.
    mac(secret, signed)
        .verify_slice(&signature)
        .map_err(|_| JwtError::Signature)?;

    let all = decode_object(payload)?;
    let expires_at = match all.get("exp") {
        None => None,
        Some(exp) => {
            let exp = exp
                .as_i64()
                .or_else(|| exp.as_f64().map(|secs| secs.floor() as i64))
                .ok_or(JwtError::Claim("exp"))?;
            if exp <= now {
                return Err(JwtError::Expired);
            }
            Some(exp)
        }
    };
    Ok(Claims { all, expires_at })
}

/// Signs `claims` (normally a JSON object) with HS256 under `secret`.
pub fn sign_hs256(claims: &Value, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, &signed).finalize().into_bytes());
    format!("{signed}.{signature}")
}

/// The token a client connects with: `{"token": "<jwt>"}` in the connect
/// command's data, or else an `authorization: Bearer <jwt>` header (the
/// scheme in any case).
pub fn connect_token(request: &ConnectRequest) -> Option<String> {
    let from_data = serde_json::from_slice::<Value>(&request.data)
        .ok()
        .and_then(|data| data.get("token")?.as_str().map(str::to_owned));
    from_data.or_else(|| {
        let value = crate::header(&request.headers, "authorization")?;
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    })
}

/// HMAC-SHA256 of `message` under `secret`.
fn mac(secret: &[u8], message: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length: longer keys are hashed, shorter padded.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    mac
}

fn decode_object(part: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Connection;

    const SECRET: &[u8] = b"test-secret";
    const NOW: i64 = 1_700_000_000;

    fn encode(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    /// A token of any two first parts, signed under `secret`.
    fn sign_parts(header: &str, payload: &str, secret: &[u8]) -> String {
        let signed = format!("{header}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(mac(secret, &signed).finalize().into_bytes());
        format!("{signed}.{signature}")
    }

    /// A token with any header, signed under `secret`.
    fn sign_with(header: &Value, claims: &Value, secret: &[u8]) -> String {
        sign_parts(&encode(header), &encode(claims), secret)
    }

    fn verify(token: &str) -> Result<Claims, JwtError> {
        verify_hs256(token, SECRET, NOW)
    }

    #[test]
    fn signs_and_verifies_a_round_trip() {
        let token = sign_hs256(
            &json!({"sub": "42", "exp": NOW + 60, "info": {"name": "Ada"}}),
            SECRET,
        );
        let claims = verify(&token).expect("valid");
        assert_eq!(claims.subject(), Ok("42"));
        assert_eq!(claims.expires_at(), Some(NOW + 60));
        assert_eq!(claims.get("info"), Some(&json!({"name": "Ada"})));
        assert_eq!(claims.into_map().len(), 3);
    }

    #[test]
    fn matches_a_token_signed_elsewhere() {
        // The example token of RFC 7515, appendix A.1 (HS256, a JWK key).
        let key = URL_SAFE_NO_PAD
            .decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
            .expect("base64url");
        let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9\
            .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
            .dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let claims = verify_hs256(token, &key, 1_300_000_000).expect("valid");
        assert_eq!(claims.get("iss"), Some(&json!("joe")));
        assert_eq!(claims.expires_at(), Some(1_300_819_380));
        assert_eq!(claims.subject(), Err(JwtError::Claim("sub")));
    }

    #[test]
    fn refuses_a_wrong_signature() {
        let token = sign_hs256(&json!({"sub": "42"}), b"other");
        assert_eq!(verify(&token), Err(JwtError::Signature));

        let token = sign_hs256(&json!({"sub": "42"}), SECRET);
        let (signed, signature) = token.rsplit_once('.').expect("three parts");
        let forged = format!("{signed}.{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
        assert_eq!(verify(&forged), Err(JwtError::Signature));

        let tampered = format!(
            "{}.{}.{signature}",
            encode(&json!({"alg": "HS256"})),
            encode(&json!({"sub": "admin"}))
        );
        assert_eq!(verify(&tampered), Err(JwtError::Signature));
    }

    #[test]
    fn refuses_other_algorithms() {
        let unsigned = format!(
            "{}.{}.",
            encode(&json!({"alg": "none"})),
            encode(&json!({"sub": "42"}))
        );
        assert_eq!(
            verify(&unsigned),
            Err(JwtError::Algorithm("none".to_string()))
        );
        let token = sign_with(&json!({"alg": "HS512"}), &json!({"sub": "42"}), SECRET);
        assert_eq!(
            verify(&token),
            Err(JwtError::Algorithm("HS512".to_string()))
        );
        let token = sign_with(&json!({"typ": "JWT"}), &json!({"sub": "42"}), SECRET);
        assert_eq!(verify(&token), Err(JwtError::Algorithm(String::new())));
    }

    #[test]
    fn refuses_malformed_tokens() {
        let token = sign_hs256(&json!({"sub": "42"}), SECRET);
        let header = encode(&json!({"alg": "HS256"}));
        let not_json = sign_parts(&header, &URL_SAFE_NO_PAD.encode("not json"), SECRET);
        let not_base64 = sign_parts(&header, "!!", SECRET);
        let bad_signature_encoding = format!("{}.!!", token.rsplit_once('.').expect("parts").0);
        for bad in [
            "",
            "abc",
            "a.b",
            "!!.??.**",
            &format!("{token}.extra"),
            &not_json,
            &not_base64,
            &bad_signature_encoding,
        ] {
            assert_eq!(verify(bad).map(|_| ()), Err(JwtError::Malformed), "{bad}");
        }
        let not_an_object = sign_hs256(&json!(["sub"]), SECRET);
        assert_eq!(verify(&not_an_object), Err(JwtError::Malformed));
    }

    #[test]
    fn checks_expiry() {
        let at_now = sign_hs256(&json!({"sub": "42", "exp": NOW}), SECRET);
        assert_eq!(verify(&at_now), Err(JwtError::Expired));
        let fraction = sign_hs256(&json!({"sub": "42", "exp": NOW as f64 + 0.5}), SECRET);
        assert_eq!(verify(&fraction), Err(JwtError::Expired));
        let later = sign_hs256(&json!({"sub": "42", "exp": NOW as f64 + 1.5}), SECRET);
        assert_eq!(verify(&later).map(|c| c.expires_at()), Ok(Some(NOW + 1)));
        let text = sign_hs256(&json!({"sub": "42", "exp": "tomorrow"}), SECRET);
        assert_eq!(verify(&text), Err(JwtError::Claim("exp")));
        let never = sign_hs256(&json!({"sub": "42"}), SECRET);
        assert_eq!(verify(&never).map(|c| c.expires_at()), Ok(None));
    }

    #[test]
    fn the_subject_is_a_non_empty_string() {
        for claims in [json!({}), json!({"sub": ""}), json!({"sub": 42})] {
            let verified = verify(&sign_hs256(&claims, SECRET)).expect("valid");
            assert_eq!(verified.subject(), Err(JwtError::Claim("sub")), "{claims}");
        }
    }

    #[test]
    fn only_an_expired_token_is_worth_replacing() {
        assert_eq!(JwtError::Expired.denial(), Denial::token_expired());
        for error in [
            JwtError::Missing,
            JwtError::Malformed,
            JwtError::Algorithm("none".to_string()),
            JwtError::Signature,
            JwtError::Claim("sub"),
        ] {
            assert_eq!(error.denial(), Denial::unauthorized(), "{error}");
        }
    }

    fn connect(data: &[u8], headers: &[(&str, &str)]) -> ConnectRequest {
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

    #[test]
    fn finds_the_token_in_data_then_in_the_authorization_header() {
        let from_data = connect(
            br#"{"token":"a.b.c"}"#,
            &[("authorization", "Bearer x.y.z")],
        );
        assert_eq!(connect_token(&from_data).as_deref(), Some("a.b.c"));
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let header = format!("{scheme}  x.y.z ");
            let request = connect(br#"{"other":1}"#, &[("Authorization", &header)]);
            assert_eq!(
                connect_token(&request).as_deref(),
                Some("x.y.z"),
                "{header}"
            );
        }
        assert_eq!(connect_token(&connect(b"", &[])), None);
        let basic = connect(b"", &[("authorization", "Basic dXNlcjpwYXNz")]);
        assert_eq!(connect_token(&basic), None);
        let not_a_string = connect(br#"{"token":1}"#, &[]);
        assert_eq!(connect_token(&not_a_string), None);
    }
}
