//! The example plugins end to end: each configured as a user would, driven
//! over gRPC, with both the path that lets a call through and the one that
//! refuses it.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use rotor::proto::proxy as pb;
use serde_json::{Value, json};

use crate::support::{TestServer, json, request};

/// The HMAC secret the JWT plugins are configured with.
const SECRET: &str = "e2e-secret";

fn now() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970");
    i64::try_from(elapsed.as_secs()).expect("seconds fit in i64")
}

/// An HS256 token of `claims` signed with `secret`, built independently of
/// the plugins' own code.
fn token(claims: &Value, secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let mut mac = Hmac::<hmac_sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(signed.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signed}.{signature}")
}

/// The connect data that carries `token`.
fn token_data(token: &str) -> Vec<u8> {
    json!({ "token": token }).to_string().into_bytes()
}

fn error(code: u32, message: &str, temporary: bool) -> Option<pb::Error> {
    Some(pb::Error {
        code,
        message: message.into(),
        temporary,
    })
}

async fn connect(
    server: &mut TestServer,
    data: Vec<u8>,
    metadata: &[(&'static str, &str)],
) -> pb::ConnectResponse {
    let message = pb::ConnectRequest {
        client: "c1".into(),
        transport: "websocket".into(),
        protocol: "json".into(),
        encoding: "json".into(),
        data,
        ..Default::default()
    };
    server
        .client
        .connect(request(message, metadata))
        .await
        .expect("an OK response")
        .into_inner()
}

async fn subscribe(server: &mut TestServer, user: &str, channel: &str) -> pb::SubscribeResponse {
    let message = pb::SubscribeRequest {
        client: "c1".into(),
        user: user.into(),
        channel: channel.into(),
        ..Default::default()
    };
    server
        .client
        .subscribe(request(message, &[]))
        .await
        .expect("an OK response")
        .into_inner()
}

async fn publish(server: &mut TestServer, data: &[u8]) -> pb::PublishResponse {
    let message = pb::PublishRequest {
        client: "c1".into(),
        user: "42".into(),
        channel: "chat:1".into(),
        data: data.to_vec(),
        ..Default::default()
    };
    server
        .client
        .publish(request(message, &[]))
        .await
        .expect("an OK response")
        .into_inner()
}

async fn rpc(server: &mut TestServer, user: &str) -> pb::RpcResponse {
    let message = pb::RpcRequest {
        client: format!("client-of-{user}"),
        user: user.into(),
        method: "ping".into(),
        data: b"{}".to_vec(),
        ..Default::default()
    };
    server
        .client
        .rpc(request(message, &[]))
        .await
        .expect("an OK response")
        .into_inner()
}

const CONNECT_JWT: &str = r#"
[handlers]
connect = "connect-jwt.wasm"
[settings."connect-jwt.wasm"]
secret = "e2e-secret"
"#;

#[tokio::test]
async fn connect_jwt_accepts_a_valid_token_with_its_claims() {
    let mut server = TestServer::start(CONNECT_JWT).await;
    let exp = now() + 3600;
    let valid = token(
        &json!({"sub": "42", "exp": exp, "info": {"name": "Ada"}, "channels": ["news"]}),
        SECRET,
    );
    let response = connect(&mut server, token_data(&valid), &[]).await;
    assert_eq!((response.error, response.disconnect), (None, None));
    let result = response.result.expect("a result");
    assert_eq!(result.user, "42");
    assert_eq!(result.expire_at, exp);
    assert_eq!(json(&result.info), json!({"name": "Ada"}));
    assert_eq!(result.channels, ["news"]);
}

#[tokio::test]
async fn connect_jwt_reads_a_bearer_token_from_metadata() {
    let mut server = TestServer::start(CONNECT_JWT).await;
    let bearer = format!("Bearer {}", token(&json!({"sub": "7"}), SECRET));
    let response = connect(&mut server, Vec::new(), &[("authorization", &bearer)]).await;
    let result = response.result.expect("a result");
    assert_eq!(result.user, "7");
    assert_eq!(result.expire_at, 0, "no exp, no expiry");
}

#[tokio::test]
async fn connect_jwt_refuses_bad_signatures_and_expired_tokens() {
    let mut server = TestServer::start(CONNECT_JWT).await;

    let forged = token(&json!({"sub": "42"}), "another-secret");
    let response = connect(&mut server, token_data(&forged), &[]).await;
    assert_eq!(response.error, error(101, "unauthorized", false));
    assert_eq!((response.result, response.disconnect), (None, None));

    let response = connect(&mut server, Vec::new(), &[]).await;
    assert_eq!(
        response.error,
        error(101, "unauthorized", false),
        "no token"
    );

    let expired = token(&json!({"sub": "42", "exp": now() - 10}), SECRET);
    let response = connect(&mut server, token_data(&expired), &[]).await;
    assert_eq!(response.error, error(109, "token expired", false));
    assert_eq!(response.result, None);
}

#[tokio::test]
async fn subscribe_acl_opens_own_and_public_channels_only() {
    let mut server = TestServer::start(
        r#"
[handlers]
subscribe = "subscribe-acl.wasm"
[settings."subscribe-acl.wasm"]
public_namespaces = "news"
"#,
    )
    .await;
    for (user, channel) in [("42", "user:42"), ("", "news:today")] {
        let response = subscribe(&mut server, user, channel).await;
        assert_eq!(
            (response.error, response.disconnect),
            (None, None),
            "{channel}"
        );
        assert!(response.result.is_some(), "{channel}");
    }
    for (user, channel) in [("42", "user:43"), ("", "user:"), ("42", "chat:1")] {
        let response = subscribe(&mut server, user, channel).await;
        assert_eq!(
            response.error,
            error(103, "permission denied", false),
            "{user} {channel}"
        );
        assert_eq!(response.result, None);
    }
}

#[tokio::test]
async fn publish_validator_lets_small_objects_through() {
    let mut server = TestServer::start(
        r#"
[handlers]
publish = "publish-validator.wasm"
[settings."publish-validator.wasm"]
max_bytes = "32"
"#,
    )
    .await;
    // Accepted as it is: no result, so Centrifugo publishes the client's data.
    let response = publish(&mut server, br#"{"text":"hi"}"#).await;
    assert_eq!(response, pb::PublishResponse::default());

    let response = publish(&mut server, b"[1, 2]").await;
    assert_eq!(
        response.error,
        error(107, "publication must be a JSON object", false)
    );
    assert_eq!(response.result, None);

    let response = publish(&mut server, br#"{"text":"far more than thirty-two bytes"}"#).await;
    assert_eq!(
        response.error,
        error(106, "publication is 41 bytes, at most 32 allowed", false)
    );
}

#[tokio::test]
async fn refresh_extends_unless_the_user_is_revoked() {
    let mut server = TestServer::start(
        r#"
[handlers]
refresh = "refresh.wasm"
[settings."refresh.wasm"]
extend_seconds = "600"
revoked_users = "13, 666"
"#,
    )
    .await;
    let refresh = |user: &str| pb::RefreshRequest {
        client: "c1".into(),
        user: user.into(),
        ..Default::default()
    };

    let before = now();
    let response = server
        .client
        .refresh(request(refresh("42"), &[]))
        .await
        .expect("OK")
        .into_inner();
    let result = response.result.expect("a result");
    assert!(!result.expired);
    assert!(
        (before + 600..=now() + 600).contains(&result.expire_at),
        "{}",
        result.expire_at
    );

    let response = server
        .client
        .refresh(request(refresh("666"), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert!(response.result.expect("a result").expired);
}

#[tokio::test]
async fn sub_refresh_extends_unless_the_channel_is_revoked() {
    let mut server = TestServer::start(
        r#"
[handlers]
sub_refresh = "sub-refresh.wasm"
[settings."sub-refresh.wasm"]
extend_seconds = "60"
revoked_channels = "news:old"
"#,
    )
    .await;
    let sub_refresh = |channel: &str| pb::SubRefreshRequest {
        client: "c1".into(),
        user: "42".into(),
        channel: channel.into(),
        ..Default::default()
    };

    let before = now();
    let response = server
        .client
        .sub_refresh(request(sub_refresh("news:today"), &[]))
        .await
        .expect("OK")
        .into_inner();
    let result = response.result.expect("a result");
    assert!(!result.expired);
    assert!(
        (before + 60..=now() + 60).contains(&result.expire_at),
        "{}",
        result.expire_at
    );

    let response = server
        .client
        .sub_refresh(request(sub_refresh("news:old"), &[]))
        .await
        .expect("OK")
        .into_inner();
    assert!(response.result.expect("a result").expired);
}

const AUTH_IN_FRONT_OF_MIRROR: &str = r#"
[handlers]
connect = "test-mirror.wasm"
[interceptors]
connect = ["auth.wasm"]
[settings."auth.wasm"]
secret = "e2e-secret"
"#;

#[tokio::test]
async fn auth_hands_the_verified_user_to_the_handler() {
    let mut server = TestServer::start(AUTH_IN_FRONT_OF_MIRROR).await;
    let valid = token(&json!({"sub": "42", "exp": now() + 60}), SECRET);

    let response = connect(&mut server, token_data(&valid), &[]).await;
    let result = response.result.expect("the mirror accepts");
    assert_eq!(json(&result.data)["headers"]["x-user-id"], "42");

    // A client that forwards its own x-user-id does not get to pick the user:
    // the interceptor's value replaces it.
    let response = connect(&mut server, token_data(&valid), &[("x-user-id", "admin")]).await;
    let result = response.result.expect("the mirror accepts");
    assert_eq!(json(&result.data)["headers"]["x-user-id"], "42");
    assert_eq!(
        result.labels.get("x-user-id").map(String::as_str),
        Some("42")
    );

    // The bearer header works too.
    let bearer = format!("Bearer {}", token(&json!({"sub": "7"}), SECRET));
    let response = connect(&mut server, Vec::new(), &[("authorization", &bearer)]).await;
    let result = response.result.expect("the mirror accepts");
    assert_eq!(json(&result.data)["headers"]["x-user-id"], "7");
}

#[tokio::test]
async fn auth_refuses_before_the_handler_runs() {
    let mut server = TestServer::start(AUTH_IN_FRONT_OF_MIRROR).await;

    // The mirror would accept anything (and echo the forged header), so a
    // refusal shows it never ran.
    let forged = token(&json!({"sub": "42"}), "another-secret");
    let response = connect(&mut server, token_data(&forged), &[("x-user-id", "admin")]).await;
    assert_eq!(response.error, error(101, "unauthorized", false));
    assert_eq!((response.result, response.disconnect), (None, None));

    let response = connect(&mut server, Vec::new(), &[("x-user-id", "admin")]).await;
    assert_eq!(
        response.error,
        error(101, "unauthorized", false),
        "no token"
    );

    let expired = token(&json!({"sub": "42", "exp": now() - 10}), SECRET);
    let response = connect(&mut server, token_data(&expired), &[]).await;
    assert_eq!(response.error, error(109, "token expired", false));
}

#[tokio::test]
async fn rate_limit_refuses_calls_over_the_limit_per_user() {
    let mut server = TestServer::start(
        r#"
[handlers]
rpc = "test-mirror.wasm"
[interceptors]
rpc = [{ plugin = "rate-limit.wasm", settings = { limit = "2", window_ms = "60000" } }]
"#,
    )
    .await;
    for call in 1..=2 {
        let response = rpc(&mut server, "42").await;
        let result = response.result.expect("under the limit");
        assert_eq!(json(&result.data)["user"], "42", "call {call}");
    }

    let response = rpc(&mut server, "42").await;
    assert_eq!(response.error, error(111, "too many requests", true));
    assert_eq!((response.result, response.disconnect), (None, None));

    // Another user has a budget of their own, and so has an anonymous client.
    let response = rpc(&mut server, "43").await;
    assert_eq!(json(&response.result.expect("a result").data)["user"], "43");
    for _ in 1..=2 {
        assert!(rpc(&mut server, "").await.result.is_some());
    }
    assert_eq!(
        rpc(&mut server, "").await.error,
        error(111, "too many requests", true)
    );
}

#[tokio::test]
async fn channel_rewrite_renames_the_channel_the_handler_sees() {
    let mut server = TestServer::start(
        r#"
[handlers]
subscribe = "test-mirror.wasm"
[interceptors]
subscribe = [
    { plugin = "channel-rewrite.wasm", settings = { aliases = "news=public:news", lowercase = "true" } },
]
"#,
    )
    .await;
    // The mirror answers with a tags filter on the channel it saw.
    let seen = |response: pb::SubscribeResponse| {
        let result = response.result.expect("the mirror accepts");
        result.server_tags_filter.expect("a filter").val
    };
    assert_eq!(
        seen(subscribe(&mut server, "42", "news").await),
        "public:news"
    );
    assert_eq!(
        seen(subscribe(&mut server, "42", "NEWS").await),
        "public:news"
    );
    assert_eq!(seen(subscribe(&mut server, "42", "Room:1").await), "room:1");
    assert_eq!(seen(subscribe(&mut server, "42", "room:2").await), "room:2");
}

#[tokio::test]
async fn telemetry_observes_without_changing_replies() {
    const MIRROR: &str =
        "[handlers]\nrpc = \"test-mirror.wasm\"\nsubscribe = \"test-mirror.wasm\"\n";
    let mut plain = TestServer::start(MIRROR).await;
    let mut observed = TestServer::start(&format!(
        "{MIRROR}[interceptors]\n\"*\" = [\"telemetry.wasm\"]\n"
    ))
    .await;

    let expected = rpc(&mut plain, "42").await;
    assert!(expected.result.is_some());
    assert_eq!(rpc(&mut observed, "42").await, expected);

    for channel in ["room:1", "deny", "kick"] {
        let expected = subscribe(&mut plain, "42", channel).await;
        assert_eq!(
            subscribe(&mut observed, "42", channel).await,
            expected,
            "{channel}"
        );
    }
}
