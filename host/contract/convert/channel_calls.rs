//! Protobuf ⇄ WIT for the calls about channel features: map publish and
//! remove, shared poll refresh, and the cache-empty and channel-state
//! notices. The rules each follows are Centrifugo's (v6.9.1); see
//! `docs/centrifugo-facts.md`.

use super::{
    BadRequest, InvalidReply, ProxyCall, Refusable, ReplyContext, connection, disconnection,
    encode, mismatch, pairs, payload, refusal,
};
use crate::contract::kind::RequestKind;
use crate::contract::proto::proxy as pb;
use crate::contract::wit::types as wit;

impl ProxyCall for pb::MapPublishRequest {
    type Response = pb::MapPublishResponse;
    const KIND: RequestKind = RequestKind::MapPublish;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let data = payload(self.data, &self.b64data, "data")?;
        let context = ReplyContext::for_encoding(&self.encoding);
        let request = wit::MapPublishRequest {
            conn: connection(self.client, self.transport, self.protocol, self.encoding),
            headers,
            user: self.user,
            channel: self.channel,
            key: self.key,
            data,
            meta: self.meta,
            labels: pairs(self.labels),
        };
        Ok((wit::Request::MapPublish(request), context))
    }

    fn response(reply: wit::Reply, context: &ReplyContext) -> Result<Self::Response, InvalidReply> {
        let wit::Reply::MapPublish(reply) = reply else {
            return Err(mismatch(Self::KIND));
        };
        Ok(match reply {
            wit::MapPublishReply::Accept(r) => {
                // Centrifugo keeps the client's key for an empty one and
                // the client's data for empty data, so an unchanged result
                // is simply a sparse one.
                let (data, b64data) = encode(r.data.unwrap_or_default(), context.binary);
                let (stream_data, b64stream_data) = encode(r.stream_data, context.binary);
                pb::MapPublishResponse {
                    result: Some(pb::MapPublishResult {
                        key: r.key,
                        data,
                        b64data,
                        tags: r.tags.into_iter().collect(),
                        score: r.score,
                        key_mode: key_mode(r.key_mode)?,
                        stream_data,
                        b64stream_data,
                        idempotency_key: r.idempotency_key,
                        delta: r.delta,
                        version: r.version,
                        version_epoch: r.version_epoch,
                    }),
                    ..Default::default()
                }
            }
            wit::MapPublishReply::Reject(e) => refusal(e)?,
            wit::MapPublishReply::Disconnect(d) => disconnection(d)?,
        })
    }

    fn error_response(error: pb::Error) -> Option<Self::Response> {
        Some(Refusable::refused(error))
    }
}

/// The key modes Centrifugo's map broker knows: replace (empty), `if_new`,
/// `if_exists`. Another value would fail the publication inside
/// Centrifugo after Rotor answered, so it is the plugin's fault here.
fn key_mode(mode: String) -> Result<String, InvalidReply> {
    match mode.as_str() {
        "" | "if_new" | "if_exists" => Ok(mode),
        _ => Err(InvalidReply(format!(
            "key mode `{}` is none of \"\", \"if_new\", \"if_exists\"",
            mode.escape_debug()
        ))),
    }
}

impl ProxyCall for pb::MapRemoveRequest {
    type Response = pb::MapRemoveResponse;
    const KIND: RequestKind = RequestKind::MapRemove;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let context = ReplyContext::for_encoding(&self.encoding);
        let request = wit::MapRemoveRequest {
            conn: connection(self.client, self.transport, self.protocol, self.encoding),
            headers,
            user: self.user,
            channel: self.channel,
            key: self.key,
            meta: self.meta,
            labels: pairs(self.labels),
        };
        Ok((wit::Request::MapRemove(request), context))
    }

    fn response(reply: wit::Reply, _: &ReplyContext) -> Result<Self::Response, InvalidReply> {
        let wit::Reply::MapRemove(reply) = reply else {
            return Err(mismatch(Self::KIND));
        };
        Ok(match reply {
            wit::MapRemoveReply::Accept(r) => pb::MapRemoveResponse {
                result: Some(pb::MapRemoveResult {
                    key: r.key,
                    tags: r.tags.into_iter().collect(),
                    idempotency_key: r.idempotency_key,
                }),
                ..Default::default()
            },
            wit::MapRemoveReply::Reject(e) => refusal(e)?,
            wit::MapRemoveReply::Disconnect(d) => disconnection(d)?,
        })
    }

    fn error_response(error: pb::Error) -> Option<Self::Response> {
        Some(Refusable::refused(error))
    }
}

impl ProxyCall for pb::SharedPollRefreshRequest {
    type Response = pb::SharedPollRefreshResponse;
    const KIND: RequestKind = RequestKind::SharedPollRefresh;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let request = wit::SharedPollRefreshRequest {
            headers,
            channel: self.channel,
            items: self
                .items
                .into_iter()
                .map(|item| wit::SharedPollItem {
                    key: item.key,
                    version: item.version,
                })
                .collect(),
        };
        Ok((
            wit::Request::SharedPollRefresh(request),
            ReplyContext::default(),
        ))
    }

    fn response(reply: wit::Reply, _: &ReplyContext) -> Result<Self::Response, InvalidReply> {
        let wit::Reply::SharedPollRefresh(reply) = reply else {
            return Err(mismatch(Self::KIND));
        };
        Ok(match reply {
            wit::SharedPollRefreshReply::Accept(r) => pb::SharedPollRefreshResponse {
                result: Some(pb::SharedPollRefreshResult {
                    items: r
                        .items
                        .into_iter()
                        .map(|item| pb::SharedPollRefreshResultItem {
                            key: item.key,
                            data: item.data,
                            version: item.version,
                            removed: item.removed,
                            prev_data: item.prev_data,
                        })
                        .collect(),
                    epoch: r.epoch,
                }),
                error: None,
            },
            wit::SharedPollRefreshReply::Reject(e) => refusal(e)?,
        })
    }

    fn error_response(error: pb::Error) -> Option<Self::Response> {
        Some(Refusable::refused(error))
    }
}

impl ProxyCall for pb::NotifyCacheEmptyRequest {
    type Response = pb::NotifyCacheEmptyResponse;
    const KIND: RequestKind = RequestKind::NotifyCacheEmpty;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let request = wit::NotifyCacheEmptyRequest {
            headers,
            channel: self.channel,
        };
        Ok((
            wit::Request::NotifyCacheEmpty(request),
            ReplyContext::default(),
        ))
    }

    fn response(reply: wit::Reply, _: &ReplyContext) -> Result<Self::Response, InvalidReply> {
        let wit::Reply::NotifyCacheEmpty(reply) = reply else {
            return Err(mismatch(Self::KIND));
        };
        Ok(pb::NotifyCacheEmptyResponse {
            result: Some(pb::NotifyCacheEmptyResult {
                populated: reply.populated,
            }),
        })
    }

    /// The response has no error field: a failure is a gRPC status.
    fn error_response(_: pb::Error) -> Option<Self::Response> {
        None
    }
}

impl ProxyCall for pb::NotifyChannelStateRequest {
    type Response = pb::NotifyChannelStateResponse;
    const KIND: RequestKind = RequestKind::NotifyChannelState;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let request = wit::NotifyChannelStateRequest {
            headers,
            events: self
                .events
                .into_iter()
                .map(|event| wit::ChannelEvent {
                    time_ms: event.time_ms,
                    channel: event.channel,
                    type_: event.r#type,
                })
                .collect(),
        };
        Ok((
            wit::Request::NotifyChannelState(request),
            ReplyContext::default(),
        ))
    }

    fn response(reply: wit::Reply, _: &ReplyContext) -> Result<Self::Response, InvalidReply> {
        let wit::Reply::NotifyChannelState(reply) = reply else {
            return Err(mismatch(Self::KIND));
        };
        Ok(match reply {
            wit::NotifyChannelStateReply::Accept => pb::NotifyChannelStateResponse {
                result: Some(pb::NotifyChannelStateResult {}),
                error: None,
            },
            wit::NotifyChannelStateReply::Reject(e) => refusal(e)?,
        })
    }

    fn error_response(error: pb::Error) -> Option<Self::Response> {
        Some(Refusable::refused(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_publish_result() -> wit::MapPublishResult {
        wit::MapPublishResult {
            key: String::new(),
            data: None,
            tags: Vec::new(),
            score: 0,
            key_mode: String::new(),
            stream_data: Vec::new(),
            idempotency_key: String::new(),
            delta: false,
            version: 0,
            version_epoch: String::new(),
        }
    }

    #[test]
    fn map_publish_binary_replies_use_base64() {
        let reply = wit::Reply::MapPublish(wit::MapPublishReply::Accept(wit::MapPublishResult {
            key: "k2".into(),
            data: Some(b"hi".to_vec()),
            ..map_publish_result()
        }));
        let binary = ReplyContext {
            binary: true,
            ..ReplyContext::default()
        };
        let result = pb::MapPublishRequest::response(reply, &binary)
            .unwrap()
            .result
            .unwrap();
        assert_eq!(result.key, "k2");
        assert!(result.data.is_empty());
        assert_eq!(result.b64data, "aGk=");
    }

    #[test]
    fn map_publish_refuses_unknown_key_modes() {
        let reply = |mode: &str| {
            wit::Reply::MapPublish(wit::MapPublishReply::Accept(wit::MapPublishResult {
                key_mode: mode.into(),
                ..map_publish_result()
            }))
        };
        let context = ReplyContext::default();
        assert!(pb::MapPublishRequest::response(reply("if_new"), &context).is_ok());
        let error = pb::MapPublishRequest::response(reply("sometimes"), &context).unwrap_err();
        assert!(error.to_string().contains("sometimes"), "{error}");
    }

    #[test]
    fn map_publish_request_decodes_base64_data() {
        let request = pb::MapPublishRequest {
            encoding: "binary".into(),
            channel: "scores:game".into(),
            key: "alice".into(),
            b64data: "eyJ4IjoxfQ==".into(),
            ..Default::default()
        };
        let (request, context) = request.into_request(Vec::new()).unwrap();
        assert!(context.binary);
        let wit::Request::MapPublish(request) = request else {
            panic!("a map publish");
        };
        assert_eq!(request.data, br#"{"x":1}"#);
        assert_eq!(request.key, "alice");
    }

    #[test]
    fn cache_empty_has_no_error_response() {
        assert!(pb::NotifyCacheEmptyRequest::error_response(pb::Error::default()).is_none());
        assert!(pb::SharedPollRefreshRequest::error_response(pb::Error::default()).is_some());
    }

    #[test]
    fn replies_of_another_kind_are_refused() {
        let reply = wit::Reply::NotifyCacheEmpty(wit::NotifyCacheEmptyReply { populated: true });
        let context = ReplyContext::default();
        assert!(pb::NotifyChannelStateRequest::response(reply.clone(), &context).is_err());
        assert!(pb::NotifyCacheEmptyRequest::response(reply, &context).is_ok());
    }
}
