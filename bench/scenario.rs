//! The scenarios: what each one sends, what a correct answer looks like, and
//! the Rotor configuration that answers it. The native and Python backends
//! implement the same logic by scenario name.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use hmac_sha2::Sha256;
use prost::Message as _;
use rotor::proto::proxy as pb;
use rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient;
use tonic::transport::Channel;

use crate::server::{Guest, Isolation};

/// The metadata key that names a call's tenant in the noisy-neighbour run.
pub const TENANT_KEY: &str = "x-tenant";
/// The HMAC key every system verifies tokens with.
pub const SECRET: &str = "rotor-bench-hs256-secret-0123456789";
/// The user id in the benchmark's token.
pub const USER: &str = "42";
/// The largest publication accepted, as in the publish-validator plugin.
pub const MAX_PUBLISH_BYTES: usize = 4096;
/// Interceptors in front of the handler in the interceptor scenario.
pub const CHAIN_LENGTH: usize = 3;
/// The RPC payload of the echo scenarios.
const ECHO_DATA: &[u8] = br#"{"text":"hello, world","n":1}"#;
/// A chat message as a client would publish it: about 300 bytes of JSON.
const PUBLICATION: &str = r#"{"type":"message","room":"general","id":"01HF3M7Q2W8K5T9XJ4N6R0BZCY","author":{"id":"42","name":"Ada Lovelace"},"text":"The engine might compose elaborate and scientific pieces of music of any degree of complexity.","mentions":["7","19"],"reply_to":null,"sent_at":1700000000123,"attachments":[]}"#;

/// One benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// RPC `echo`: the cost of the path itself.
    Noop,
    /// Connect with an HS256 token in the data.
    ConnectHs256,
    /// Publish a JSON object through a validator.
    PublishJson,
    /// RPC `echo` behind three pass-through interceptors.
    NoopInterceptors,
}

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: [Scenario; 4] = [
        Scenario::Noop,
        Scenario::ConnectHs256,
        Scenario::PublishJson,
        Scenario::NoopInterceptors,
    ];

    /// The name used on the command line, in the table and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Noop => "noop",
            Scenario::ConnectHs256 => "connect-hs256",
            Scenario::PublishJson => "publish-json",
            Scenario::NoopInterceptors => "noop-3-interceptors",
        }
    }

    /// The scenario called `name`.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Interceptors in front of the handler.
    pub fn chain_length(self) -> usize {
        match self {
            Scenario::NoopInterceptors => CHAIN_LENGTH,
            _ => 0,
        }
    }

    /// Whether one handler answers alone (the p99 target applies).
    pub fn single_handler(self) -> bool {
        self.chain_length() == 0
    }

    /// Whether `guest` has a plugin for this scenario: the examples in
    /// other languages than Rust are RPC routers, so they answer `noop` only.
    pub fn has_plugin(self, guest: Guest) -> bool {
        guest == Guest::Rust || self == Scenario::Noop
    }

    /// The plugins that answer this scenario: the handler, then the
    /// interceptor (once, however often it is chained).
    pub fn plugins(self, guest: Guest) -> Vec<&'static str> {
        let handler = match self {
            Scenario::Noop | Scenario::NoopInterceptors => guest.rpc_router(),
            Scenario::ConnectHs256 => "connect-jwt.wasm",
            Scenario::PublishJson => "publish-validator.wasm",
        };
        let mut plugins = vec![handler];
        if self.chain_length() > 0 {
            plugins.push("test-interceptor.wasm");
        }
        plugins
    }

    /// Rotor's configuration for this scenario with `guest`'s plugin, with
    /// default limits: what a user would deploy. With
    /// [`Isolation::Reuse`], every plugin of the call (handler and
    /// interceptor) reuses warm instances, with the default `max_calls`,
    /// `max_age` and `max_idle`.
    pub fn rotor_config(
        self,
        listen: Option<&str>,
        plugin_dir: &Path,
        guest: Guest,
        isolation: Isolation,
    ) -> String {
        let mut text = String::new();
        if let Some(listen) = listen {
            let _ = writeln!(text, "listen = {listen:?}");
        }
        let _ = writeln!(
            text,
            "[plugins]\ndir = {:?}\n[handlers]",
            plugin_dir.display().to_string()
        );
        let plugins = self.plugins(guest);
        let kind = match self {
            Scenario::Noop | Scenario::NoopInterceptors => "rpc",
            Scenario::ConnectHs256 => "connect",
            Scenario::PublishJson => "publish",
        };
        let _ = writeln!(text, "{kind} = {:?}", plugins[0]);
        if self.chain_length() > 0 {
            let chain = vec!["\"test-interceptor.wasm\""; self.chain_length()].join(", ");
            let _ = writeln!(text, "[interceptors]\nrpc = [{chain}]");
        }
        if self == Scenario::ConnectHs256 {
            let _ = writeln!(text, "[settings.\"connect-jwt.wasm\"]\nsecret = {SECRET:?}");
        }
        if isolation == Isolation::Reuse {
            for plugin in plugins {
                let _ = writeln!(text, "[isolation.{plugin:?}]\nmode = \"reuse\"");
            }
        }
        text
    }

    /// The call every request of this scenario makes.
    pub fn call(self) -> Call {
        match self {
            Scenario::Noop | Scenario::NoopInterceptors => {
                Call::of(Message::Rpc(Arc::new(rpc_echo())))
            }
            Scenario::ConnectHs256 => {
                let expires = unix_now() + 24 * 3600;
                Call::of(Message::Connect(
                    Arc::new(connect_with_token(expires)),
                    expires,
                ))
            }
            Scenario::PublishJson => Call::of(Message::Publish(Arc::new(publish_json()))),
        }
    }
}

/// What a request came back as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The answer the logic prescribes.
    Ok,
    /// An answer, but not the right one, or a non-OK gRPC status.
    Error,
    /// A busy refusal (`111`): the tenant was at its concurrency limit.
    /// Counted as an error too, and apart so a row can say why it failed.
    Busy,
    /// No answer within the deadline.
    Timeout,
}

/// One scenario's request and the check of its answer, sent as one tenant's
/// call when `tenant` is set.
#[derive(Clone)]
pub struct Call {
    /// What is sent and how its answer is checked.
    pub message: Message,
    /// The tenant named in the call's metadata ([`TENANT_KEY`]), if any.
    pub tenant: Option<&'static str>,
}

/// A request and what its answer must be.
#[derive(Clone)]
pub enum Message {
    /// An RPC `echo`: the answer must carry the same data.
    Rpc(Arc<pb::RpcRequest>),
    /// A connect: the answer must accept user [`USER`] until the given time.
    Connect(Arc<pb::ConnectRequest>, i64),
    /// A publish: the answer must accept the data unchanged.
    Publish(Arc<pb::PublishRequest>),
}

impl Call {
    fn of(message: Message) -> Call {
        Call {
            message,
            tenant: None,
        }
    }

    /// The same call, as a call of `tenant`.
    pub fn for_tenant(self, tenant: &'static str) -> Call {
        Call {
            tenant: Some(tenant),
            ..self
        }
    }

    /// The method of `CentrifugoProxy` the call goes to, as in its path.
    pub fn grpc_method(&self) -> &'static str {
        match &self.message {
            Message::Rpc(_) => "RPC",
            Message::Connect(..) => "Connect",
            Message::Publish(_) => "Publish",
        }
    }

    /// The request as protobuf bytes, as the tonic client sends it.
    pub fn request_bytes(&self) -> Vec<u8> {
        match &self.message {
            Message::Rpc(message) => message.encode_to_vec(),
            Message::Connect(message, _) => message.encode_to_vec(),
            Message::Publish(message) => message.encode_to_vec(),
        }
    }

    /// Sends the request on `client` with `deadline` as its gRPC timeout,
    /// as Centrifugo does, and checks the answer.
    pub async fn send(
        &self,
        client: &mut CentrifugoProxyClient<Channel>,
        deadline: Duration,
    ) -> Outcome {
        self.exchange(client, deadline, false).await.0
    }

    /// Sends the request once, as [`Call::send`] does, and returns the size
    /// of the right answer's protobuf message, or what the call came back
    /// as if it was not right.
    pub async fn answer_size(
        &self,
        client: &mut CentrifugoProxyClient<Channel>,
        deadline: Duration,
    ) -> Result<usize, Outcome> {
        match self.exchange(client, deadline, true).await {
            (Outcome::Ok, Some(size)) => Ok(size),
            (Outcome::Ok, None) => Err(Outcome::Error),
            (outcome, _) => Err(outcome),
        }
    }

    /// The call's outcome, and with `sized` the size of the answer's
    /// message.
    async fn exchange(
        &self,
        client: &mut CentrifugoProxyClient<Channel>,
        deadline: Duration,
        sized: bool,
    ) -> (Outcome, Option<usize>) {
        // The gRPC timeout is enforced by the server and the client; this
        // bound only guards the benchmark against a transport that hangs.
        let hard_stop = deadline + Duration::from_millis(250);
        let tenant = self.tenant;
        let result = tokio::time::timeout(hard_stop, async {
            match &self.message {
                Message::Rpc(message) => {
                    let reply = client.rpc(request(message, deadline, tenant)).await;
                    let size = size_of(&reply, sized);
                    let outcome = outcome(reply, |r: &pb::RpcResponse| {
                        r.result
                            .as_ref()
                            .is_some_and(|result| result.data == message.data)
                    });
                    (outcome, size)
                }
                Message::Connect(message, expires) => {
                    let reply = client.connect(request(message, deadline, tenant)).await;
                    let size = size_of(&reply, sized);
                    let outcome = outcome(reply, |r: &pb::ConnectResponse| {
                        r.result.as_ref().is_some_and(|result| {
                            result.user == USER && result.expire_at == *expires
                        })
                    });
                    (outcome, size)
                }
                Message::Publish(message) => {
                    let reply = client.publish(request(message, deadline, tenant)).await;
                    let size = size_of(&reply, sized);
                    // Any publish neither refused nor disconnecting is right.
                    (outcome(reply, |_: &pb::PublishResponse| true), size)
                }
            }
        })
        .await;
        result.unwrap_or((Outcome::Timeout, None))
    }
}

/// With `sized`, the size of `reply`'s message as protobuf bytes, if it has
/// one.
fn size_of<M: prost::Message>(
    reply: &Result<tonic::Response<M>, tonic::Status>,
    sized: bool,
) -> Option<usize> {
    reply
        .as_ref()
        .ok()
        .filter(|_| sized)
        .map(|response| response.get_ref().encoded_len())
}

/// What a call to a misbehaving guest came back as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flood {
    /// An answer: an error reply, as the guest is meant to fail.
    Answered,
    /// Refused at once: the tenant was at its concurrency limit (`111`).
    Refused,
    /// A non-OK gRPC status, or no answer.
    Failed,
}

/// Centrifugo's error code for a temporary refusal.
const TOO_MANY_REQUESTS: u32 = 111;

/// Sends `message`, an RPC to a misbehaving guest, as a call of `tenant`.
pub async fn send_unchecked(
    client: &mut CentrifugoProxyClient<Channel>,
    message: &Arc<pb::RpcRequest>,
    tenant: &'static str,
    deadline: Duration,
) -> Flood {
    let hard_stop = deadline + Duration::from_millis(250);
    let reply = tokio::time::timeout(
        hard_stop,
        client.rpc(request(message, deadline, Some(tenant))),
    )
    .await;
    match reply {
        Ok(Ok(reply)) => match reply.get_ref().error.as_ref() {
            Some(error) if error.code == TOO_MANY_REQUESTS => Flood::Refused,
            _ => Flood::Answered,
        },
        _ => Flood::Failed,
    }
}

fn request<M: Clone>(
    message: &Arc<M>,
    deadline: Duration,
    tenant: Option<&'static str>,
) -> tonic::Request<M> {
    let mut request = tonic::Request::new(M::clone(message));
    request.set_timeout(deadline);
    if let Some(tenant) = tenant {
        request.metadata_mut().insert(
            TENANT_KEY,
            tonic::metadata::MetadataValue::from_static(tenant),
        );
    }
    request
}

/// The fields of a proxy response that replace its result.
trait Refusal {
    /// The Centrifugo error the call was answered with, if any.
    fn error(&self) -> Option<&pb::Error>;
    /// Whether the answer disconnects the client.
    fn disconnects(&self) -> bool;
}

macro_rules! refusal {
    ($($response:ident),*) => {$(
        impl Refusal for pb::$response {
            fn error(&self) -> Option<&pb::Error> {
                self.error.as_ref()
            }
            fn disconnects(&self) -> bool {
                self.disconnect.is_some()
            }
        }
    )*};
}

refusal!(RpcResponse, ConnectResponse, PublishResponse);

/// What `reply` came back as: a busy refusal, any other error or a
/// disconnect, or an answer whose result `correct` checks.
fn outcome<R: Refusal>(
    reply: Result<tonic::Response<R>, tonic::Status>,
    correct: impl FnOnce(&R) -> bool,
) -> Outcome {
    match reply {
        Ok(response) => {
            let response = response.get_ref();
            match response.error() {
                Some(error) if error.code == TOO_MANY_REQUESTS => Outcome::Busy,
                Some(_) => Outcome::Error,
                None if !response.disconnects() && correct(response) => Outcome::Ok,
                None => Outcome::Error,
            }
        }
        Err(status) => match status.code() {
            // tonic's client reports its own expired timer as `Cancelled`.
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => Outcome::Timeout,
            _ => Outcome::Error,
        },
    }
}

fn rpc_echo() -> pb::RpcRequest {
    pb::RpcRequest {
        client: "7f6e3c1a-3b8e-4a4f-9a51-2a0f1c9b7d01".into(),
        transport: "websocket".into(),
        protocol: "json".into(),
        encoding: "json".into(),
        user: USER.into(),
        method: "echo".into(),
        data: ECHO_DATA.to_vec(),
        ..Default::default()
    }
}

fn connect_with_token(expires: i64) -> pb::ConnectRequest {
    let claims = serde_json::json!({ "sub": USER, "exp": expires, "info": { "name": "Ada" } });
    let data = serde_json::json!({ "token": sign_hs256(&claims, SECRET.as_bytes()) });
    pb::ConnectRequest {
        client: "7f6e3c1a-3b8e-4a4f-9a51-2a0f1c9b7d01".into(),
        transport: "websocket".into(),
        protocol: "json".into(),
        encoding: "json".into(),
        name: "js".into(),
        version: "5.2.0".into(),
        data: data.to_string().into_bytes(),
        ..Default::default()
    }
}

fn publish_json() -> pb::PublishRequest {
    pb::PublishRequest {
        client: "7f6e3c1a-3b8e-4a4f-9a51-2a0f1c9b7d01".into(),
        transport: "websocket".into(),
        protocol: "json".into(),
        encoding: "json".into(),
        user: USER.into(),
        channel: "chat:general".into(),
        data: PUBLICATION.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// A compact HS256 JSON Web Token for `claims`.
pub fn sign_hs256(claims: &serde_json::Value, secret: &[u8]) -> String {
    let header = serde_json::json!({ "alg": "HS256", "typ": "JWT" });
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(signed.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signed}.{signature}")
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}
