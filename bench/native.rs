//! The native baseline: the logic of the plugins the benchmark runs, written
//! in plain Rust against the protobuf types and served by the same tonic
//! stack and runtime defaults as `rotor serve`. No sandbox, no conversion to
//! WIT: the speed limit of this stack.
//!
//! It runs as a process of its own (the benchmark binary started with
//! `--serve-native`), so it competes with the load generator exactly as
//! Rotor and the Python backend do, and its memory is its own.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use hmac_sha2::Sha256;
use rotor::proto::proxy as pb;
use rotor::proto::proxy::centrifugo_proxy_server::{CentrifugoProxy, CentrifugoProxyServer};
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

use crate::scenario::{MAX_PUBLISH_BYTES, SECRET, Scenario, unix_now};

/// The message size limit Rotor's proxy service sets.
const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// Serves `scenario` on `address` until standard input closes (the
/// benchmark holds it open while it needs the server).
pub fn serve(address: &str, scenario: Scenario) -> ExitCode {
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        std::process::exit(0);
    });
    // The same runtime `rotor serve` builds: one worker thread per core.
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let listener = TcpListener::bind(address).await.expect("binding loopback");
        let service = NativeProxy {
            secret: SECRET.as_bytes().to_vec(),
            chain: (0..scenario.chain_length())
                .map(|_| PassThrough::new(BTreeMap::new()))
                .collect(),
        };
        tonic::transport::Server::builder()
            .add_service(
                CentrifugoProxyServer::new(service)
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            )
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .expect("the native server runs");
    });
    ExitCode::SUCCESS
}

/// The native handlers: connect-jwt, publish-validator and rpc-router's
/// `echo`, with an optional chain of pass-through interceptors on RPC.
struct NativeProxy {
    secret: Vec<u8>,
    chain: Vec<PassThrough>,
}

#[tonic::async_trait]
impl CentrifugoProxy for NativeProxy {
    async fn connect(
        &self,
        request: Request<pb::ConnectRequest>,
    ) -> Result<Response<pb::ConnectResponse>, Status> {
        let bearer = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let request = request.into_inner();
        let response =
            match authenticate(&request.data, bearer.as_deref(), &self.secret, unix_now()) {
                Ok(result) => pb::ConnectResponse {
                    result: Some(result),
                    ..Default::default()
                },
                Err(error) => pb::ConnectResponse {
                    error: Some(error),
                    ..Default::default()
                },
            };
        Ok(Response::new(response))
    }

    async fn publish(
        &self,
        request: Request<pb::PublishRequest>,
    ) -> Result<Response<pb::PublishResponse>, Status> {
        let request = request.into_inner();
        let response = match validate_publication(&request.data) {
            // No result: Centrifugo publishes the client's data as it is.
            Ok(()) => pb::PublishResponse::default(),
            Err(error) => pb::PublishResponse {
                error: Some(error),
                ..Default::default()
            },
        };
        Ok(Response::new(response))
    }

    async fn rpc(
        &self,
        request: Request<pb::RpcRequest>,
    ) -> Result<Response<pb::RpcResponse>, Status> {
        let request = request.into_inner();
        for step in &self.chain {
            step.before(&request);
        }
        let mut response = echo(request);
        for step in self.chain.iter().rev() {
            if let Some(replaced) = step.after(&response) {
                response = replaced;
            }
        }
        Ok(Response::new(response))
    }
}

/// rpc-router: `echo` answers with the data; other methods are not found.
fn echo(request: pb::RpcRequest) -> pb::RpcResponse {
    if request.method == "echo" {
        pb::RpcResponse {
            result: Some(pb::RpcResult {
                data: request.data,
                b64data: String::new(),
            }),
            ..Default::default()
        }
    } else {
        pb::RpcResponse {
            error: Some(error(104, "method not found")),
            ..Default::default()
        }
    }
}

/// The native counterpart of `test-interceptor` with default settings: it
/// reads its settings on each hook, as the component does, and passes.
struct PassThrough {
    settings: BTreeMap<String, String>,
}

impl PassThrough {
    fn new(settings: BTreeMap<String, String>) -> PassThrough {
        PassThrough { settings }
    }

    fn before(&self, _request: &pb::RpcRequest) {
        let action = self.settings.get("before").map_or("pass", String::as_str);
        assert_eq!(
            action, "pass",
            "the benchmark configures pass-through steps only"
        );
    }

    fn after(&self, _reply: &pb::RpcResponse) -> Option<pb::RpcResponse> {
        let action = self.settings.get("after").map_or("none", String::as_str);
        assert_eq!(
            action, "none",
            "the benchmark configures pass-through steps only"
        );
        None
    }
}

/// publish-validator: a JSON object of at most [`MAX_PUBLISH_BYTES`].
fn validate_publication(data: &[u8]) -> Result<(), pb::Error> {
    if data.len() > MAX_PUBLISH_BYTES {
        return Err(error(
            106,
            &format!(
                "publication is {} bytes, at most {MAX_PUBLISH_BYTES} allowed",
                data.len()
            ),
        ));
    }
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(_)) => Ok(()),
        Ok(_) => Err(error(107, "publication must be a JSON object")),
        Err(_) => Err(error(107, "publication is not valid JSON")),
    }
}

/// connect-jwt: the token from the data (`{"token": …}`) or an
/// `authorization: Bearer …` header, checked for HS256 and its signature
/// (in constant time), then its claims: `sub` required, `exp` in the future,
/// `info` and `channels` optional.
fn authenticate(
    data: &[u8],
    authorization: Option<&str>,
    secret: &[u8],
    now: i64,
) -> Result<pb::ConnectResult, pb::Error> {
    let unauthorized = || error(101, "unauthorized");
    let from_data = serde_json::from_slice::<Value>(data)
        .ok()
        .and_then(|data| data.get("token")?.as_str().map(str::to_owned));
    let token = from_data
        .or_else(|| {
            let (scheme, token) = authorization?.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        })
        .ok_or_else(unauthorized)?;
    let claims = verify(&token, secret).ok_or_else(unauthorized)?;

    let user = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| !sub.is_empty())
        .ok_or_else(unauthorized)?;
    let expire_at = match claims.get("exp") {
        None => 0,
        Some(exp) => {
            let exp = exp
                .as_i64()
                .or_else(|| exp.as_f64().map(|secs| secs.floor() as i64))
                .ok_or_else(unauthorized)?;
            if exp <= now {
                return Err(error(109, "token expired"));
            }
            exp
        }
    };
    let info = match claims.get("info") {
        None => Vec::new(),
        Some(info) => serde_json::to_vec(info).map_err(|_| unauthorized())?,
    };
    let channels = match claims.get("channels") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(unauthorized)?,
        Some(_) => return Err(unauthorized()),
    };
    Ok(pb::ConnectResult {
        user: user.to_owned(),
        expire_at,
        info,
        channels,
        ..Default::default()
    })
}

/// The claims of `token` if its algorithm is HS256 and its signature
/// matches `secret`.
fn verify(token: &str, secret: &[u8]) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let algorithm = decode_object(header)?;
    if algorithm.get("alg").and_then(Value::as_str) != Some("HS256") {
        return None;
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    // The signature covers the first two parts as sent, dot included.
    let signed = &token[..header.len() + 1 + payload.len()];
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(signed.as_bytes());
    // `verify_slice` compares in constant time.
    mac.verify_slice(&signature).ok()?;
    decode_object(payload)
}

fn decode_object(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn error(code: u32, message: &str) -> pb::Error {
    pb::Error {
        code,
        message: message.to_owned(),
        temporary: false,
    }
}
