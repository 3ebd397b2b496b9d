//! Binary payloads through the real Centrifugo: a client on Centrifugo's
//! protobuf protocol, `binary_encoding` on every proxy (payloads travel as
//! base64 in `b64data`), and bytes that are not UTF-8 coming back byte for
//! byte.

use serde_json::json;

use super::{
    Centrifugo, Client, RotorProcess, SECRET, all_proxies, bytes, from_bytes, tools, user_token,
};

/// Bytes that are not UTF-8 (a lone continuation byte, an invalid lead, a
/// NUL and an overlong form), around a JSON-looking part.
const PAYLOAD: &[u8] = b"\xff\xfe\x00{\"not\":\"json\"}\x80\xc0\xaf\x00";

#[test]
fn non_utf8_payloads_round_trip_on_the_protobuf_protocol() {
    let Some(tools) = tools() else { return };
    let rotor = RotorProcess::start(&format!(
        r#"
[handlers]
connect = "connect-jwt.wasm"
rpc = "rpc-router.wasm"
publish = "test-mirror.wasm"

[handlers.subscribe]
default = "subscribe-acl.wasm"

[settings."connect-jwt.wasm"]
secret = "{SECRET}"

[settings."subscribe-acl.wasm"]
public_namespaces = "bin"
"#
    ));
    let centrifugo = Centrifugo::start(
        tools,
        all_proxies(
            &rotor.endpoint(),
            &["bin"],
            json!({ "binary_encoding": true }),
        ),
    );
    let mut client = Client::start(tools);
    let url = centrifugo.ws_url();
    // On the protobuf protocol connect data is bytes too: the token's JSON.
    let login = |user: &str| {
        let data = json!({ "token": user_token(user, 600) }).to_string();
        json!({ "protocol": "protobuf", "data": bytes(data.as_bytes()) })
    };
    client.connected("alice", &url, login("alice"));
    client.connected("bob", &url, login("bob"));

    // RPC: the router's echo answers the call's data as it is.
    let echoed = client
        .rpc("alice", "echo", bytes(PAYLOAD))
        .expect("echo answers");
    assert_eq!(from_bytes(&echoed), PAYLOAD, "the RPC reply, byte for byte");

    // Publish: the mirror wraps the data, `{"wrapped":` + data + `}`, and
    // the subscriber receives exactly that.
    let outcome = client.subscription("bob", "bin:raw", json!({}));
    assert_eq!(outcome["event"], "subscribed", "{outcome}");
    client
        .publish("alice", "bin:raw", bytes(PAYLOAD))
        .expect("the mirror accepts");
    let received = client.event("bob", "publication", Some("bin:raw"));
    let mut wrapped = b"{\"wrapped\":".to_vec();
    wrapped.extend_from_slice(PAYLOAD);
    wrapped.push(b'}');
    assert_eq!(
        from_bytes(&received["data"]),
        wrapped,
        "the publication, byte for byte"
    );
}
