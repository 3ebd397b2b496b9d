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

fn payload(data: Vec<u8>, b64: &str, field: &str) -> Result<Vec<u8>, BadRequest> {
    if !data.is_empty() || b64.is_empty() {
        return Ok(data);
    }
    BASE64
        .decode(b64)
        .map_err(|error| BadRequest(format!("`b64{field}` is not valid base64: {error}")))
}

fn connection(
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

fn pairs(map: HashMap<String, String>) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = map.into_iter().collect();
    pairs.sort();
    pairs
}

fn is_binary(encoding: &str) -> bool {
    encoding == "binary"
}

/// Puts a payload in the bytes field or, for binary encoding, the base64 field.
fn encode(bytes: Vec<u8>, binary: bool) -> (Vec<u8>, String) {
    if binary && !bytes.is_empty() {
        (Vec::new(), BASE64.encode(bytes))
    } else {
        (bytes, String::new())
    }
}

fn mismatch(expected: RequestKind) -> InvalidReply {
    InvalidReply(format!(
        "a reply of another request type to a {expected} request"
    ))
}

fn error(error: wit::CentrifugoError) -> Result<pb::Error, InvalidReply> {
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

fn disconnect(disconnect: wit::Disconnect) -> Result<pb::Disconnect, InvalidReply> {
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

fn caps(caps: Vec<wit::ChannelsCapability>) -> Vec<pb::ChannelsCapability> {
    caps.into_iter()
        .map(|cap| pb::ChannelsCapability {
            channels: cap.channels,
            allow: cap.allow,
            r#match: match cap.match_ {
                wit::ChannelMatch::Exact => String::new(),
                wit::ChannelMatch::Wildcard => "wildcard".into(),
            },
        })
        .collect()
}

fn overrides(overrides: Option<wit::SubscribeOverrides>) -> Option<pb::SubscribeOptionOverride> {
    let o = overrides?;
    let value = |v: Option<bool>| v.map(|value| pb::BoolValue { value });
    Some(pb::SubscribeOptionOverride {
        presence: value(o.presence),
        join_leave: value(o.join_leave),
        force_recovery: value(o.force_recovery),
        force_positioning: value(o.force_positioning),
        force_push_join_leave: value(o.force_push_join_leave),
    })
}

/// Rebuilds a filter tree from its flattened nodes.
///
/// The nodes must form one tree rooted at node 0: every other node is the
/// child of exactly one node that comes before it, and the tree nests at most
/// [`MAX_FILTER_DEPTH`] deep. The shape is checked before anything is built,
/// and building moves each node once, so the host never builds more nodes or
/// bytes than the guest sent. (Were two parents allowed to share a child, a
/// few hundred bytes could stand for a tree of billions of nodes.)
fn filter(nodes: Option<wit::Filter>) -> Result<Option<pb::FilterNode>, InvalidReply> {
    let Some(nodes) = nodes.filter(|nodes| !nodes.is_empty()) else {
        return Ok(None);
    };
    let invalid = |message: String| Err(InvalidReply(message));
    let mut has_parent = vec![false; nodes.len()];
    let mut depth = vec![0usize; nodes.len()];
    for (index, node) in nodes.iter().enumerate() {
        for &child in &node.children {
            let child = usize::try_from(child).unwrap_or(usize::MAX);
            if child <= index || child >= nodes.len() {
                return invalid(format!(
                    "filter node {index} has child {child}: children must come after their parent"
                ));
            }
            if std::mem::replace(&mut has_parent[child], true) {
                return invalid(format!(
                    "filter node {child} has more than one parent: a filter is a tree"
                ));
            }
            // The parent comes first, so its depth is known.
            depth[child] = depth[index] + 1;
            if depth[child] > MAX_FILTER_DEPTH {
                return invalid("server tags filter nests too deep".into());
            }
        }
    }
    if let Some(orphan) = (1..nodes.len()).find(|&index| !has_parent[index]) {
        return invalid(format!(
            "filter node {orphan} is no node's child: every node but the first must be in the tree"
        ));
    }
    // Children come after their parents: build from the last node back,
    // moving each finished subtree into its one parent.
    let mut built: Vec<Option<pb::FilterNode>> =
        std::iter::repeat_with(|| None).take(nodes.len()).collect();
    for (index, node) in nodes.into_iter().enumerate().rev() {
        let children = node
            .children
            .iter()
            .map(|&child| {
                usize::try_from(child)
                    .ok()
                    .and_then(|child| built.get_mut(child))
                    .and_then(Option::take)
            })
            .collect::<Option<Vec<_>>>();
        let Some(children) = children else {
            return invalid(format!("filter node {index} lost a child"));
        };
        built[index] = Some(pb::FilterNode {
            op: node.op,
            key: node.key,
            cmp: node.cmp,
            val: node.val,
            vals: node.vals,
            nodes: children,
        });
    }
    Ok(built.swap_remove(0))
}

fn subscribe_options(
    options: wit::SubscribeOptions,
    binary: bool,
) -> Result<pb::SubscribeOptions, InvalidReply> {
    let (info, b64info) = encode(options.info, binary);
    let (data, b64data) = encode(options.data, binary);
    Ok(pb::SubscribeOptions {
        expire_at: options.expire_at,
        info,
        b64info,
        data,
        b64data,
        r#override: overrides(options.overrides),
        server_tags_filter: filter(options.server_tags_filter)?,
        cache_recover: options.cache_recover,
    })
}

impl ProxyCall for pb::ConnectRequest {
    type Response = pb::ConnectResponse;
    const KIND: RequestKind = RequestKind::Connect;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let context = ReplyContext {
            binary: is_binary(&self.encoding),
            ..ReplyContext::default()
        };
        let request = wit::ConnectRequest {
            data: payload(self.data, &self.b64data, "data")?,
            conn: connection(self.client, self.transport, self.protocol, self.encoding),
            headers,
            name: self.name,
            version: self.version,
            channels: self.channels,
        };
        Ok((wit::Request::Connect(request), context))
    }

    fn response(reply: wit::Reply, context: &ReplyContext) -> Result<Self::Response, InvalidReply> {
        let wit::Reply::Connect(reply) = reply else {
            return Err(mismatch(Self::KIND));
        };
        Ok(match reply {
            wit::ConnectReply::Accept(r) => {
                let (info, b64info) = encode(r.info, context.binary);
                let (data, b64data) = encode(r.data, context.binary);
                let subs = r
                    .subs
                    .into_iter()
                    .map(|(channel, options)| {
                        Ok((channel, subscribe_options(options, context.binary)?))
                    })
                    .collect::<Result<_, InvalidReply>>()?;
                pb::ConnectResponse {
                    result: Some(pb::ConnectResult {
                        user: r.user,
                        expire_at: r.expire_at,
                        info,
                        b64info,
                        data,
                        b64data,
                        channels: r.channels,
                        subs,
                        meta: r.meta,
                        caps: caps(r.caps),
                        labels: r.labels.into_iter().collect(),
                    }),
                    ..Default::default()
                }
            }
            wit::ConnectReply::Reject(e) => pb::ConnectResponse {
                error: Some(error(e)?),
                ..Default::default()
            },
            wit::ConnectReply::Disconnect(d) => pb::ConnectResponse {
                disconnect: Some(disconnect(d)?),
                ..Default::default()
            },
        })
    }

    fn error_response(error: pb::Error) -> Option<Self::Response> {
        Some(pb::ConnectResponse {
            error: Some(error),
            ..Default::default()
        })
    }
}

impl ProxyCall for pb::RefreshRequest {
    type Response = pb::RefreshResponse;
    const KIND: RequestKind = RequestKind::Refresh;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let context = ReplyContext {
            binary: is_binary(&self.encoding),
            ..ReplyContext::default()
        };
        let request = wit::RefreshRequest {
            conn: connection(self.client, self.transport, self.protocol, self.encoding),
            headers,
            user: self.user,
            meta: self.meta,
            labels: pairs(self.labels),
        };
        Ok((wit::Request::Refresh(request), context))
    }

    fn response(reply: wit::Reply, context: &ReplyContext) -> Result<Self::Response, InvalidReply> {
        let wit::Reply::Refresh(reply) = reply else {
            return Err(mismatch(Self::KIND));
        };
        let result = match reply {
            wit::RefreshReply::Extend(r) => {
                let (info, b64info) = encode(r.info, context.binary);
                pb::RefreshResult {
                    expired: false,
                    expire_at: r.expire_at,
                    info,
                    b64info,
                    meta: r.meta,
                    caps: caps(r.caps),
                }
            }
            wit::RefreshReply::Expire => pb::RefreshResult {
                expired: true,
                ..Default::default()
            },
        };
        Ok(pb::RefreshResponse {
            result: Some(result),
            ..Default::default()
        })
    }

    fn error_response(_: pb::Error) -> Option<Self::Response> {
        None
    }
}

impl ProxyCall for pb::SubscribeRequest {
    type Response = pb::SubscribeResponse;
    const KIND: RequestKind = RequestKind::Subscribe;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let context = ReplyContext {
            binary: is_binary(&self.encoding),
            ..ReplyContext::default()
        };
        let request = wit::SubscribeRequest {
            data: payload(self.data, &self.b64data, "data")?,
            conn: connection(self.client, self.transport, self.protocol, self.encoding),
            headers,
            user: self.user,
            channel: self.channel,
            token: self.token,
            meta: self.meta,
            labels: pairs(self.labels),
        };
        Ok((wit::Request::Subscribe(request), context))
    }

    fn response(reply: wit::Reply, context: &ReplyContext) -> Result<Self::Response, InvalidReply> {
        let wit::Reply::Subscribe(reply) = reply else {
            return Err(mismatch(Self::KIND));
        };
        Ok(match reply {
            wit::SubscribeReply::Accept(r) => {
                let (info, b64info) = encode(r.info, context.binary);
                let (data, b64data) = encode(r.data, context.binary);
                pb::SubscribeResponse {
                    result: Some(pb::SubscribeResult {
                        expire_at: r.expire_at,
                        info,
                        b64info,
                        data,
                        b64data,
                        r#override: overrides(r.overrides),
                        allow: r.allow,
                        server_tags_filter: filter(r.server_tags_filter)?,
                    }),
                    ..Default::default()
                }
            }
            wit::SubscribeReply::Reject(e) => pb::SubscribeResponse {
                error: Some(error(e)?),
                ..Default::default()
            },
            wit::SubscribeReply::Disconnect(d) => pb::SubscribeResponse {
                disconnect: Some(disconnect(d)?),
                ..Default::default()
            },
        })
    }

    fn error_response(error: pb::Error) -> Option<Self::Response> {
        Some(pb::SubscribeResponse {
            error: Some(error),
            ..Default::default()
        })
    }
}

impl ProxyCall for pb::PublishRequest {
    type Response = pb::PublishResponse;
    const KIND: RequestKind = RequestKind::Publish;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let data = payload(self.data, &self.b64data, "data")?;
        let context = ReplyContext {
            binary: is_binary(&self.encoding),
            original_data: data.clone(),
        };
        let request = wit::PublishRequest {
            conn: connection(self.client, self.transport, self.protocol, self.encoding),
            headers,
            user: self.user,
            channel: self.channel,
            data,
            meta: self.meta,
            labels: pairs(self.labels),
        };
        Ok((wit::Request::Publish(request), context))
    }

    fn response(reply: wit::Reply, context: &ReplyContext) -> Result<Self::Response, InvalidReply> {
        let wit::Reply::Publish(reply) = reply else {
            return Err(mismatch(Self::KIND));
        };
        Ok(match reply {
            wit::PublishReply::Accept(r) => {
                let unchanged = r.data.is_none()
                    && !r.skip_history
                    && r.tags.is_empty()
                    && r.idempotency_key.is_empty()
                    && !r.delta
                    && r.version == 0
                    && r.version_epoch.is_empty();
                // No result publishes the client's data as it is; a result
                // carries the data explicitly, the original if not replaced.
                let result = (!unchanged).then(|| {
                    let data = r.data.unwrap_or_else(|| context.original_data.clone());
                    let (data, b64data) = encode(data, context.binary);
                    pb::PublishResult {
                        data,
                        b64data,
                        skip_history: r.skip_history,
                        tags: r.tags.into_iter().collect(),
                        idempotency_key: r.idempotency_key,
                        delta: r.delta,
                        version: r.version,
                        version_epoch: r.version_epoch,
                    }
                });
                pb::PublishResponse {
                    result,
                    ..Default::default()
                }
            }
            wit::PublishReply::Reject(e) => pb::PublishResponse {
                error: Some(error(e)?),
                ..Default::default()
            },
            wit::PublishReply::Disconnect(d) => pb::PublishResponse {
                disconnect: Some(disconnect(d)?),
                ..Default::default()
            },
        })
    }

    fn error_response(error: pb::Error) -> Option<Self::Response> {
        Some(pb::PublishResponse {
            error: Some(error),
            ..Default::default()
        })
    }
}

impl ProxyCall for pb::RpcRequest {
    type Response = pb::RpcResponse;
    const KIND: RequestKind = RequestKind::Rpc;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let context = ReplyContext {
            binary: is_binary(&self.encoding),
            ..ReplyContext::default()
        };
        let request = wit::RpcRequest {
            data: payload(self.data, &self.b64data, "data")?,
            conn: connection(self.client, self.transport, self.protocol, self.encoding),
            headers,
            user: self.user,
            method: self.method,
            meta: self.meta,
            labels: pairs(self.labels),
        };
        Ok((wit::Request::Rpc(request), context))
    }

    fn response(reply: wit::Reply, context: &ReplyContext) -> Result<Self::Response, InvalidReply> {
        let wit::Reply::Rpc(reply) = reply else {
            return Err(mismatch(Self::KIND));
        };
        Ok(match reply {
            wit::RpcReply::Accept(r) => {
                let (data, b64data) = encode(r.data, context.binary);
                pb::RpcResponse {
                    result: Some(pb::RpcResult { data, b64data }),
                    ..Default::default()
                }
            }
            wit::RpcReply::Reject(e) => pb::RpcResponse {
                error: Some(error(e)?),
                ..Default::default()
            },
            wit::RpcReply::Disconnect(d) => pb::RpcResponse {
                disconnect: Some(disconnect(d)?),
                ..Default::default()
            },
        })
    }

    fn error_response(error: pb::Error) -> Option<Self::Response> {
        Some(pb::RpcResponse {
            error: Some(error),
            ..Default::default()
        })
    }
}

impl ProxyCall for pb::SubRefreshRequest {
    type Response = pb::SubRefreshResponse;
    const KIND: RequestKind = RequestKind::SubRefresh;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let context = ReplyContext {
            binary: is_binary(&self.encoding),
            ..ReplyContext::default()
        };
        let request = wit::SubRefreshRequest {
            conn: connection(self.client, self.transport, self.protocol, self.encoding),
            headers,
            user: self.user,
            channel: self.channel,
            meta: self.meta,
            labels: pairs(self.labels),
        };
        Ok((wit::Request::SubRefresh(request), context))
    }

    fn response(reply: wit::Reply, context: &ReplyContext) -> Result<Self::Response, InvalidReply> {
        let wit::Reply::SubRefresh(reply) = reply else {
            return Err(mismatch(Self::KIND));
        };
        let result = match reply {
            wit::SubRefreshReply::Extend(r) => {
                let (info, b64info) = encode(r.info, context.binary);
                pb::SubRefreshResult {
                    expired: false,
                    expire_at: r.expire_at,
                    info,
                    b64info,
                }
            }
            wit::SubRefreshReply::Expire => pb::SubRefreshResult {
                expired: true,
                ..Default::default()
            },
        };
        Ok(pb::SubRefreshResponse {
            result: Some(result),
            ..Default::default()
        })
    }

    fn error_response(_: pb::Error) -> Option<Self::Response> {
        None
    }
}

/// The bytes a guest's reply carries: its strings and byte strings, each
/// counted once, as the guest sent them. The reply Rotor encodes from it is
/// no smaller (base64 and protobuf framing only add), apart from repeated
/// map keys, which collapse. Checking this against `max_reply` refuses an
/// oversized reply before the host builds anything from it.
pub fn reply_bytes(reply: &wit::Reply) -> u64 {
    fn len(bytes: impl AsRef<[u8]>) -> u64 {
        u64::try_from(bytes.as_ref().len()).unwrap_or(u64::MAX)
    }
    fn sum<T>(items: &[T], size: impl Fn(&T) -> u64) -> u64 {
        items
            .iter()
            .fold(0u64, |total, item| total.saturating_add(size(item)))
    }
    fn pairs(pairs: &[(String, String)]) -> u64 {
        sum(pairs, |(key, value)| len(key).saturating_add(len(value)))
    }
    fn strings(strings: &[String]) -> u64 {
        sum(strings, |string| len(string))
    }
    fn caps(caps: &[wit::ChannelsCapability]) -> u64 {
        sum(caps, |cap| {
            strings(&cap.channels).saturating_add(strings(&cap.allow))
        })
    }
    fn filter(filter: Option<&wit::Filter>) -> u64 {
        filter.map_or(0, |nodes| {
            sum(nodes, |node| {
                [
                    len(&node.op),
                    len(&node.key),
                    len(&node.cmp),
                    len(&node.val),
                    strings(&node.vals),
                    // Each child index takes at least a byte on the wire.
                    u64::try_from(node.children.len()).unwrap_or(u64::MAX),
                ]
                .into_iter()
                .fold(0u64, u64::saturating_add)
            })
        })
    }
    fn error(error: &wit::CentrifugoError) -> u64 {
        len(&error.message)
    }
    fn disconnect(disconnect: &wit::Disconnect) -> u64 {
        len(&disconnect.reason)
    }
    let parts: &[u64] = &match reply {
        wit::Reply::Connect(wit::ConnectReply::Accept(r)) => vec![
            len(&r.user),
            len(&r.info),
            len(&r.data),
            strings(&r.channels),
            sum(&r.subs, |(channel, options)| {
                [
                    len(channel),
                    len(&options.info),
                    len(&options.data),
                    filter(options.server_tags_filter.as_ref()),
                ]
                .into_iter()
                .fold(0u64, u64::saturating_add)
            }),
            len(&r.meta),
            caps(&r.caps),
            pairs(&r.labels),
        ],
        wit::Reply::Connect(wit::ConnectReply::Reject(e))
        | wit::Reply::Subscribe(wit::SubscribeReply::Reject(e))
        | wit::Reply::Publish(wit::PublishReply::Reject(e))
        | wit::Reply::Rpc(wit::RpcReply::Reject(e)) => vec![error(e)],
        wit::Reply::Connect(wit::ConnectReply::Disconnect(d))
        | wit::Reply::Subscribe(wit::SubscribeReply::Disconnect(d))
        | wit::Reply::Publish(wit::PublishReply::Disconnect(d))
        | wit::Reply::Rpc(wit::RpcReply::Disconnect(d)) => vec![disconnect(d)],
        wit::Reply::Refresh(wit::RefreshReply::Extend(r)) => {
            vec![len(&r.info), len(&r.meta), caps(&r.caps)]
        }
        wit::Reply::Refresh(wit::RefreshReply::Expire)
        | wit::Reply::SubRefresh(wit::SubRefreshReply::Expire) => vec![],
        wit::Reply::Subscribe(wit::SubscribeReply::Accept(r)) => vec![
            len(&r.info),
            len(&r.data),
            strings(&r.allow),
            filter(r.server_tags_filter.as_ref()),
        ],
        wit::Reply::Publish(wit::PublishReply::Accept(r)) => vec![
            r.data.as_ref().map_or(0, len),
            pairs(&r.tags),
            len(&r.idempotency_key),
            len(&r.version_epoch),
        ],
        wit::Reply::Rpc(wit::RpcReply::Accept(r)) => vec![len(&r.data)],
        wit::Reply::SubRefresh(wit::SubRefreshReply::Extend(r)) => vec![len(&r.info)],
    };
    parts.iter().copied().fold(0u64, u64::saturating_add)
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
        RequestKind::Subscribe => pb::SubscribeRequest::response(reply, context).map(drop),
        RequestKind::Publish => pb::PublishRequest::response(reply, context).map(drop),
        RequestKind::Rpc => pb::RpcRequest::response(reply, context).map(drop),
        RequestKind::SubRefresh => pb::SubRefreshRequest::response(reply, context).map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str, children: Vec<u32>) -> wit::FilterNode {
        wit::FilterNode {
            op: op.into(),
            key: String::new(),
            cmp: String::new(),
            val: String::new(),
            vals: Vec::new(),
            children,
        }
    }

    #[test]
    fn payload_prefers_bytes_then_base64() {
        assert_eq!(payload(b"x".to_vec(), "eQ==", "data").unwrap(), b"x");
        assert_eq!(payload(Vec::new(), "eQ==", "data").unwrap(), b"y");
        assert!(payload(Vec::new(), "not base64!", "data").is_err());
    }

    #[test]
    fn binary_replies_use_base64_fields() {
        assert_eq!(
            encode(b"hi".to_vec(), true),
            (Vec::new(), "aGk=".to_string())
        );
        assert_eq!(
            encode(b"hi".to_vec(), false),
            (b"hi".to_vec(), String::new())
        );
        assert_eq!(encode(Vec::new(), true), (Vec::new(), String::new()));
    }

    #[test]
    fn filters_rebuild_and_reject_cycles() {
        let tree = filter(Some(vec![
            node("and", vec![1, 2]),
            node("", vec![]),
            node("", vec![]),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(tree.nodes.len(), 2);
        assert!(filter(Some(vec![node("and", vec![0])])).is_err());
        assert!(filter(Some(vec![node("and", vec![5])])).is_err());
        let deep: Vec<_> = (0..40)
            .map(|i| node("not", vec![i + 1]))
            .chain([node("", vec![])])
            .collect();
        assert!(filter(Some(deep)).is_err());
    }

    /// Finding 1 of the hardening review: nodes that share children made
    /// the host expand a small reply into an exponential tree. Eighteen
    /// levels of two edges to one child are a few hundred bytes that stood
    /// for 2^18 leaves.
    #[test]
    fn reply_conversion_is_bounded_by_the_reply() {
        let levels = 18u32;
        let shared: Vec<_> = (0..levels)
            .map(|i| node("and", vec![i + 1, i + 1]))
            .chain([node("", vec![])])
            .collect();
        let started = std::time::Instant::now();
        let error = filter(Some(shared)).expect_err("shared children are refused");
        assert!(
            error.to_string().contains("more than one parent"),
            "{error}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_millis(100),
            "refused in {:?}: it was expanded first",
            started.elapsed()
        );
        // A node outside the tree is refused too: nodes out = nodes in.
        let orphan = vec![node("and", vec![1]), node("", vec![]), node("", vec![])];
        assert!(filter(Some(orphan)).is_err());
        // A proper tree keeps every node, in order.
        let tree = filter(Some(vec![
            node("and", vec![1, 3]),
            node("or", vec![2]),
            node("a", vec![]),
            node("b", vec![]),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(tree.nodes.len(), 2);
        assert_eq!(tree.nodes[0].op, "or");
        assert_eq!(tree.nodes[0].nodes[0].op, "a");
        assert_eq!(tree.nodes[1].op, "b");
    }

    #[test]
    fn reply_bytes_count_what_the_guest_sent() {
        let reply = wit::Reply::Rpc(wit::RpcReply::Accept(wit::RpcResult {
            data: vec![0; 1000],
        }));
        assert_eq!(reply_bytes(&reply), 1000);
        let filter_nodes = vec![node("and", vec![1]), node("", vec![])];
        let reply = wit::Reply::Subscribe(wit::SubscribeReply::Accept(wit::SubscribeResult {
            expire_at: 0,
            info: b"ii".to_vec(),
            data: b"ddd".to_vec(),
            overrides: None,
            allow: vec!["pub".into()],
            server_tags_filter: Some(filter_nodes),
        }));
        // 2 + 3 + 3, then the filter: "and" and one child index.
        assert_eq!(reply_bytes(&reply), 2 + 3 + 3 + 3 + 1);
        let context = ReplyContext::default();
        let encoded = prost::Message::encoded_len(
            &pb::SubscribeRequest::response(reply.clone(), &context).unwrap(),
        );
        assert!(reply_bytes(&reply) <= encoded as u64);
    }

    #[test]
    fn codes_outside_the_proxy_ranges_are_refused() {
        let e = |code| wit::CentrifugoError {
            code,
            message: String::new(),
            temporary: false,
        };
        assert!(error(e(0)).is_err());
        assert!(error(e(103)).is_ok());
        assert!(error(e(4000)).is_err());
        let d = |code, reason: &str| wit::Disconnect {
            code,
            reason: reason.into(),
        };
        assert!(disconnect(d(3000, "x")).is_err());
        assert!(disconnect(d(4500, "x")).is_ok());
        assert!(disconnect(d(4500, &"x".repeat(200))).is_err());
    }

    #[test]
    fn publish_without_changes_sends_no_result() {
        let accept = |data| {
            wit::Reply::Publish(wit::PublishReply::Accept(wit::PublishResult {
                data,
                skip_history: false,
                tags: Vec::new(),
                idempotency_key: String::new(),
                delta: false,
                version: 0,
                version_epoch: String::new(),
            }))
        };
        let context = ReplyContext {
            binary: false,
            original_data: b"{}".to_vec(),
        };
        let response = pb::PublishRequest::response(accept(None), &context).unwrap();
        assert!(response.result.is_none());
        let response =
            pb::PublishRequest::response(accept(Some(b"[]".to_vec())), &context).unwrap();
        assert_eq!(response.result.unwrap().data, b"[]");
    }
}
