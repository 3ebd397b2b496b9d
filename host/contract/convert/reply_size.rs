//! What a guest's reply weighs before the host converts it, so an oversized
//! reply is refused before anything is built from it.

use crate::contract::wit::types as wit;

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
        wit::Reply::MapPublish(_)
        | wit::Reply::MapRemove(_)
        | wit::Reply::SharedPollRefresh(_)
        | wit::Reply::NotifyCacheEmpty(_)
        | wit::Reply::NotifyChannelState(_) => {
            vec![channel_reply_bytes(reply).unwrap_or(0)]
        }
    };
    parts.iter().copied().fold(0u64, u64::saturating_add)
}

/// The bytes a reply of the calls about channel features (map, shared poll,
/// notices) carries, as [`reply_bytes`] counts them; `None` for other kinds.
pub(super) fn channel_reply_bytes(reply: &wit::Reply) -> Option<u64> {
    fn len(bytes: impl AsRef<[u8]>) -> u64 {
        u64::try_from(bytes.as_ref().len()).unwrap_or(u64::MAX)
    }
    fn pairs(pairs: &[(String, String)]) -> u64 {
        pairs.iter().fold(0u64, |total, (key, value)| {
            total.saturating_add(len(key).saturating_add(len(value)))
        })
    }
    let parts = match reply {
        wit::Reply::MapPublish(wit::MapPublishReply::Accept(r)) => vec![
            len(&r.key),
            r.data.as_ref().map_or(0, len),
            pairs(&r.tags),
            len(&r.key_mode),
            len(&r.stream_data),
            len(&r.idempotency_key),
            len(&r.version_epoch),
        ],
        wit::Reply::MapRemove(wit::MapRemoveReply::Accept(r)) => {
            vec![len(&r.key), pairs(&r.tags), len(&r.idempotency_key)]
        }
        wit::Reply::SharedPollRefresh(wit::SharedPollRefreshReply::Accept(r)) => {
            let items = r.items.iter().fold(0u64, |total, item| {
                total
                    .saturating_add(len(&item.key))
                    .saturating_add(len(&item.data))
                    .saturating_add(len(&item.prev_data))
            });
            vec![items, len(&r.epoch)]
        }
        wit::Reply::MapPublish(wit::MapPublishReply::Reject(e))
        | wit::Reply::MapRemove(wit::MapRemoveReply::Reject(e))
        | wit::Reply::SharedPollRefresh(wit::SharedPollRefreshReply::Reject(e))
        | wit::Reply::NotifyChannelState(wit::NotifyChannelStateReply::Reject(e)) => {
            vec![len(&e.message)]
        }
        wit::Reply::MapPublish(wit::MapPublishReply::Disconnect(d))
        | wit::Reply::MapRemove(wit::MapRemoveReply::Disconnect(d)) => vec![len(&d.reason)],
        wit::Reply::NotifyCacheEmpty(_)
        | wit::Reply::NotifyChannelState(wit::NotifyChannelStateReply::Accept) => vec![],
        wit::Reply::Connect(_)
        | wit::Reply::Refresh(_)
        | wit::Reply::Subscribe(_)
        | wit::Reply::Publish(_)
        | wit::Reply::Rpc(_)
        | wit::Reply::SubRefresh(_) => return None,
    };
    Some(parts.into_iter().fold(0u64, u64::saturating_add))
}
