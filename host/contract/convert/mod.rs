//! Protobuf ⇄ WIT: the edge where Centrifugo's messages become the records
//! guests see, and guest replies become Centrifugo's messages.
//!
//! Payloads are decoded from `data` or base64 `b64data` into bytes; replies
//! are encoded the way the request came in (`encoding: "binary"` → `b64*`
//! fields). Replies are checked against what Centrifugo accepts, so a guest
//! cannot make Rotor send a malformed answer.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::contract::kind::RequestKind;
use crate::contract::proto::proxy as pb;
use crate::contract::wit::types as wit;

mod channel_calls;
mod client_calls;
mod reply_size;

pub use self::reply_size::reply_bytes;

/// Application disconnect codes a proxy (or a guest through the server
/// API) may send: 4000–4499 let the client reconnect, 4500–4999 are terminal.
pub const DISCONNECT_CODES: std::ops::RangeInclusive<u32> = 4000..=4999;
/// Error codes a proxy may return: Centrifugo's built-in client errors from
/// 100 and application codes up to 1999.
const ERROR_CODES: std::ops::RangeInclusive<u32> = 100..=1999;
/// Centrifugo keeps disconnect reasons short: they travel in WebSocket close frames.
const MAX_REASON_BYTES: usize = 123;
/// Deepest server tags filter accepted from a guest.
const MAX_FILTER_DEPTH: usize = 32;

/// A guest reply Centrifugo would not accept, and why: the call fails as
/// the guest's fault (see `GuestFault::InvalidReply`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reply: {0}")]
pub struct InvalidReply(pub String);

/// What the reply conversion needs to know about the request.
#[derive(Debug, Clone, Default)]
pub struct ReplyContext {
    /// Whether payloads go back base64-encoded in `b64*` fields.
    pub binary: bool,
    /// The publication data of a publish, kept when the guest does not replace it.
    pub original_data: Vec<u8>,
}

impl ReplyContext {
    /// The context of a request whose payloads came in `encoding`.
    pub fn for_encoding(encoding: &str) -> Self {
        Self {
            binary: is_binary(encoding),
            ..Self::default()
        }
    }
}

/// A Centrifugo proxy request message and its response message.
pub trait ProxyCall: prost::Message + Sized {
    /// The response message.
    type Response: prost::Message;
    /// The request kind.
    const KIND: RequestKind;

    /// Converts the message into the guest's request record.
    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest>;

    /// Converts the guest's reply into the response message.
    fn response(reply: wit::Reply, context: &ReplyContext) -> Result<Self::Response, InvalidReply>;

    /// A response carrying a Centrifugo error; `None` for kinds where
    /// Centrifugo ignores errors (refreshes).
    fn error_response(error: pb::Error) -> Option<Self::Response>;
}

/// A request Rotor cannot decode.
#[derive(Debug, thiserror::Error)]
#[error("bad request: {0}")]
pub struct BadRequest(pub String);

pub(crate) fn payload(data: Vec<u8>, b64: &str, field: &str) -> Result<Vec<u8>, BadRequest> {
    if !data.is_empty() || b64.is_empty() {
        return Ok(data);
    }
    BASE64
        .decode(b64)
        .map_err(|error| BadRequest(format!("`b64{field}` is not valid base64: {error}")))
}

pub(crate) fn connection(
    client: String,
    transport: String,
    protocol: String,
    encoding: String,
) -> wit::Connection {
    wit::Connection {
        client,
        transport,
        protocol,
        encoding,
    }
}

pub(crate) fn pairs(map: HashMap<String, String>) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = map.into_iter().collect();
    pairs.sort();
    pairs
}

pub(crate) fn is_binary(encoding: &str) -> bool {
    encoding == "binary"
}

/// Puts a payload in the bytes field or, for binary encoding, the base64 field.
pub(crate) fn encode(bytes: Vec<u8>, binary: bool) -> (Vec<u8>, String) {
    if binary && !bytes.is_empty() {
        (Vec::new(), BASE64.encode(bytes))
    } else {
        (bytes, String::new())
    }
}

pub(crate) fn mismatch(expected: RequestKind) -> InvalidReply {
    InvalidReply(format!(
        "a reply of another request type to a {expected} request"
    ))
}

pub(crate) fn error(error: wit::CentrifugoError) -> Result<pb::Error, InvalidReply> {
    if !ERROR_CODES.contains(&error.code) {
        return Err(InvalidReply(format!(
            "error code {} is outside {}–{}",
            error.code,
            ERROR_CODES.start(),
            ERROR_CODES.end()
        )));
    }
    Ok(pb::Error {
        code: error.code,
        message: error.message,
        temporary: error.temporary,
    })
}

pub(crate) fn disconnect(disconnect: wit::Disconnect) -> Result<pb::Disconnect, InvalidReply> {
    if !DISCONNECT_CODES.contains(&disconnect.code) {
        return Err(InvalidReply(format!(
            "disconnect code {} is outside {}–{}",
            disconnect.code,
            DISCONNECT_CODES.start(),
            DISCONNECT_CODES.end()
        )));
    }
    if disconnect.reason.len() > MAX_REASON_BYTES {
        return Err(InvalidReply(format!(
            "disconnect reason is {} bytes, at most {MAX_REASON_BYTES} fit",
            disconnect.reason.len()
        )));
    }
    Ok(pb::Disconnect {
        code: disconnect.code,
        reason: disconnect.reason,
    })
}

/// A response that can carry a Centrifugo error in place of its result.
pub(crate) trait Refusable: Default {
    /// The response that fails the client's command with `error`.
    fn refused(error: pb::Error) -> Self;
}

/// A response that can end the client's connection in place of its result.
pub(crate) trait Disconnecting: Default {
    /// The response that disconnects the client.
    fn disconnecting(disconnect: pb::Disconnect) -> Self;
}

/// Implements [`Refusable`] (and with `+ disconnect`, [`Disconnecting`])
/// for responses with `error` (and `disconnect`) fields.
macro_rules! response_fields {
    ($($response:ident $(+ $disconnect:ident)?),* $(,)?) => {$(
        impl Refusable for pb::$response {
            fn refused(error: pb::Error) -> Self {
                Self { error: Some(error), ..Self::default() }
            }
        }
        $(response_fields!(@$disconnect $response);)?
    )*};
    (@disconnect $response:ident) => {
        impl Disconnecting for pb::$response {
            fn disconnecting(disconnect: pb::Disconnect) -> Self {
                Self { disconnect: Some(disconnect), ..Self::default() }
            }
        }
    };
}

response_fields!(
    ConnectResponse + disconnect,
    SubscribeResponse + disconnect,
    PublishResponse + disconnect,
    RpcResponse + disconnect,
    MapPublishResponse + disconnect,
    MapRemoveResponse + disconnect,
    SharedPollRefreshResponse,
    NotifyChannelStateResponse,
);

/// The guest's refusal as a response, once its code is checked.
pub(crate) fn refusal<R: Refusable>(reply: wit::CentrifugoError) -> Result<R, InvalidReply> {
    Ok(R::refused(error(reply)?))
}

/// The guest's disconnect as a response, once its code and reason are checked.
pub(crate) fn disconnection<R: Disconnecting>(reply: wit::Disconnect) -> Result<R, InvalidReply> {
    Ok(R::disconnecting(disconnect(reply)?))
}

/// Decodes a request of `kind` from Centrifugo's proxy JSON (what `rotor
/// call` and canaries take).
pub fn request_from_json(
    kind: RequestKind,
    json: &str,
) -> Result<(wit::Request, ReplyContext), String> {
    fn decode<C: ProxyCall + serde::de::DeserializeOwned>(
        json: &str,
    ) -> Result<(wit::Request, ReplyContext), String> {
        let message: C = serde_json::from_str(json)
            .map_err(|error| format!("not a valid {} request: {error}", C::KIND))?;
        message
            .into_request(Vec::new())
            .map_err(|error| error.to_string())
    }
    match kind {
        RequestKind::Connect => decode::<pb::ConnectRequest>(json),
        RequestKind::Refresh => decode::<pb::RefreshRequest>(json),
        RequestKind::Subscribe => decode::<pb::SubscribeRequest>(json),
        RequestKind::Publish => decode::<pb::PublishRequest>(json),
        RequestKind::Rpc => decode::<pb::RpcRequest>(json),
        RequestKind::SubRefresh => decode::<pb::SubRefreshRequest>(json),
        RequestKind::MapPublish => decode::<pb::MapPublishRequest>(json),
        RequestKind::MapRemove => decode::<pb::MapRemoveRequest>(json),
        RequestKind::SharedPollRefresh => decode::<pb::SharedPollRefreshRequest>(json),
        RequestKind::NotifyCacheEmpty => decode::<pb::NotifyCacheEmptyRequest>(json),
        RequestKind::NotifyChannelState => decode::<pb::NotifyChannelStateRequest>(json),
        RequestKind::SubscribeStream => Err(
            "a subscription stream is not one request and reply: it has no JSON request form"
                .into(),
        ),
    }
}

/// Checks that `reply` is one Centrifugo accepts for a `kind` request.
pub fn check_reply(
    kind: RequestKind,
    reply: wit::Reply,
    context: &ReplyContext,
) -> Result<(), InvalidReply> {
    match kind {
        RequestKind::Connect => pb::ConnectRequest::response(reply, context).map(drop),
        RequestKind::Refresh => pb::RefreshRequest::response(reply, context).map(drop),
        // A stream's `open` answers as a subscribe does.
        RequestKind::Subscribe | RequestKind::SubscribeStream => {
            pb::SubscribeRequest::response(reply, context).map(drop)
        }
        RequestKind::Publish => pb::PublishRequest::response(reply, context).map(drop),
        RequestKind::Rpc => pb::RpcRequest::response(reply, context).map(drop),
        RequestKind::SubRefresh => pb::SubRefreshRequest::response(reply, context).map(drop),
        RequestKind::MapPublish => pb::MapPublishRequest::response(reply, context).map(drop),
        RequestKind::MapRemove => pb::MapRemoveRequest::response(reply, context).map(drop),
        RequestKind::SharedPollRefresh => {
            pb::SharedPollRefreshRequest::response(reply, context).map(drop)
        }
        RequestKind::NotifyCacheEmpty => {
            pb::NotifyCacheEmptyRequest::response(reply, context).map(drop)
        }
        RequestKind::NotifyChannelState => {
            pb::NotifyChannelStateRequest::response(reply, context).map(drop)
        }
    }
}

#[cfg(test)]
mod tests;
