//! Protobuf ⇄ WIT for the six calls of a client's life: connect, refresh,
//! subscribe, publish, RPC and subscription refresh.

use super::*;

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
pub(super) fn filter(nodes: Option<wit::Filter>) -> Result<Option<pb::FilterNode>, InvalidReply> {
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
        let context = ReplyContext::for_encoding(&self.encoding);
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
            wit::ConnectReply::Reject(e) => refusal(e)?,
            wit::ConnectReply::Disconnect(d) => disconnection(d)?,
        })
    }

    fn error_response(error: pb::Error) -> Option<Self::Response> {
        Some(Refusable::refused(error))
    }
}

impl ProxyCall for pb::RefreshRequest {
    type Response = pb::RefreshResponse;
    const KIND: RequestKind = RequestKind::Refresh;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let context = ReplyContext::for_encoding(&self.encoding);
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
        let context = ReplyContext::for_encoding(&self.encoding);
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
            wit::SubscribeReply::Reject(e) => refusal(e)?,
            wit::SubscribeReply::Disconnect(d) => disconnection(d)?,
        })
    }

    fn error_response(error: pb::Error) -> Option<Self::Response> {
        Some(Refusable::refused(error))
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
            wit::PublishReply::Reject(e) => refusal(e)?,
            wit::PublishReply::Disconnect(d) => disconnection(d)?,
        })
    }

    fn error_response(error: pb::Error) -> Option<Self::Response> {
        Some(Refusable::refused(error))
    }
}

impl ProxyCall for pb::RpcRequest {
    type Response = pb::RpcResponse;
    const KIND: RequestKind = RequestKind::Rpc;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let context = ReplyContext::for_encoding(&self.encoding);
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
            wit::RpcReply::Reject(e) => refusal(e)?,
            wit::RpcReply::Disconnect(d) => disconnection(d)?,
        })
    }

    fn error_response(error: pb::Error) -> Option<Self::Response> {
        Some(Refusable::refused(error))
    }
}

impl ProxyCall for pb::SubRefreshRequest {
    type Response = pb::SubRefreshResponse;
    const KIND: RequestKind = RequestKind::SubRefresh;

    fn into_request(
        self,
        headers: wit::Headers,
    ) -> Result<(wit::Request, ReplyContext), BadRequest> {
        let context = ReplyContext::for_encoding(&self.encoding);
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
