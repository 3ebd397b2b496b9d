//! Tenants and `[auth]` through the real Centrifugo: two Centrifugos, told
//! apart by the `grpc.static_metadata` of their proxies, share one Rotor
//! that requires the `grpc.credentials_key` / `grpc.credentials_value` pair;
//! a third Centrifugo without the credentials is refused, and its clients
//! see Centrifugo's internal error.

use serde_json::json;

use super::{Centrifugo, Client, RotorProcess, SECRET, all_proxies, token_data, tools, user_token};

/// The credentials header and value the Centrifugos send.
const KEY: &str = "x-proxy-secret";
const VALUE: &str = "e2e-proxy-secret-value";

/// A Centrifugo config for `tenant`, with the credentials if `credentials`.
fn for_tenant(endpoint: &str, tenant: &str, credentials: bool) -> serde_json::Value {
    let mut grpc = json!({ "static_metadata": { "x-rotor-tenant": tenant } });
    if credentials {
        grpc["credentials_key"] = json!(KEY);
        grpc["credentials_value"] = json!(VALUE);
    }
    all_proxies(endpoint, &[], json!({ "grpc": grpc }))
}

#[test]
fn tenants_are_told_apart_by_static_metadata_and_calls_without_credentials_are_refused() {
    let Some(tools) = tools() else { return };
    // Both tenants authenticate with the same plugin and key; `red` routes
    // RPC to the router, `blue` to the mirror, which shows what it was sent.
    let rotor = RotorProcess::start_with_env(
        &format!(
            r#"
[auth]
key = "{KEY}"
value_env = "E2E_PROXY_SECRET"

[tenancy]
by = "metadata"
key = "x-rotor-tenant"

[tenants.red]
dir = "."
handlers = {{ connect = "connect-jwt.wasm", rpc = "rpc-router.wasm" }}
settings = {{ "connect-jwt.wasm" = {{ secret = "{SECRET}" }} }}

[tenants.blue]
dir = "."
handlers = {{ connect = "connect-jwt.wasm", rpc = "test-mirror.wasm" }}
settings = {{ "connect-jwt.wasm" = {{ secret = "{SECRET}" }} }}
"#
        ),
        &[("E2E_PROXY_SECRET", VALUE)],
    );
    let endpoint = rotor.endpoint();
    let red = Centrifugo::start(tools, for_tenant(&endpoint, "red", true));
    let blue = Centrifugo::start(tools, for_tenant(&endpoint, "blue", true));
    let stranger = Centrifugo::start(tools, for_tenant(&endpoint, "red", false));
    let mut client = Client::start(tools);
    let data = json!({ "data": token_data(&user_token("alice", 600)) });

    client.connected("red", &red.ws_url(), data.clone());
    let answer = client.rpc("red", "whoami", json!({})).expect("red answers");
    assert_eq!(answer["user"], "alice", "the router answered: {answer}");

    client.connected("blue", &blue.ws_url(), data.clone());
    let answer = client
        .rpc("blue", "whoami", json!({}))
        .expect("blue answers");
    assert_eq!(answer["method"], "whoami", "the mirror answered: {answer}");
    assert_eq!(answer["user"], "alice", "{answer}");
    assert_eq!(answer["headers"]["x-rotor-tenant"], "blue", "{answer}");
    // The credentials are for Rotor, never for the guest.
    assert!(
        answer["headers"].get(KEY).is_none(),
        "the guest saw the credentials: {answer}"
    );

    // Without the credentials Rotor refuses the connect proxy call
    // (UNAUTHENTICATED); Centrifugo turns any such failure into 100
    // internal server error, temporary, so the SDK keeps trying.
    client.connect("stranger", &stranger.ws_url(), data);
    let error = client.event("stranger", "error", None);
    assert_eq!(error["type"], "connect", "{error}");
    assert_eq!(error["error"]["code"], 100, "{error}");
    assert_eq!(
        error["error"]["message"], "internal server error",
        "{error}"
    );
    assert_eq!(error["error"]["temporary"], true, "{error}");
    assert_eq!(client.state("stranger")["state"], "connecting");
    assert!(
        stranger.log.contains("Unauthenticated"),
        "Centrifugo logs why: {}",
        stranger.log.text()
    );
}
