//! The replies the chain makes itself: an interceptor's refusal as the
//! reply of each kind, and an interceptor's rewrite carried into the reply
//! Centrifugo acts on.

use crate::contract::kind::RequestKind;
use crate::contract::wit::types::{
    CentrifugoError, ConnectReply, Disconnect, MapPublishReply, MapRemoveReply,
    NotifyCacheEmptyReply, NotifyChannelStateReply, PublishReply, RefreshReply, Reply, Request,
    RpcReply, SharedPollRefreshReply, SubRefreshReply, SubscribeReply,
};

/// An interceptor's refusal.
pub(super) enum Refusal {
    Error(CentrifugoError),
    Disconnect(Disconnect),
}

/// The reply that carries a refusal for `kind`. Centrifugo ignores errors
/// on refreshes, so there a refusal ends the connection or subscription. A
/// cache-empty notice has no error to answer with: a refusal says the cache
/// was not filled. Calls no client is on have no connection to close: a
/// disconnect there answers as an error 100 with the reason as message.
pub(super) fn refusal(kind: RequestKind, refusal: Refusal) -> Reply {
    let as_error = |refusal: Refusal| match refusal {
        Refusal::Error(e) => e,
        Refusal::Disconnect(d) => CentrifugoError {
            code: crate::error::INTERNAL_ERROR,
            message: d.reason,
            temporary: true,
        },
    };
    match (kind, refusal) {
        (RequestKind::Refresh, _) => Reply::Refresh(RefreshReply::Expire),
        (RequestKind::SubRefresh, _) => Reply::SubRefresh(SubRefreshReply::Expire),
        (RequestKind::NotifyCacheEmpty, _) => {
            Reply::NotifyCacheEmpty(NotifyCacheEmptyReply { populated: false })
        }
        (RequestKind::SharedPollRefresh, refusal) => {
            Reply::SharedPollRefresh(SharedPollRefreshReply::Reject(as_error(refusal)))
        }
        (RequestKind::NotifyChannelState, refusal) => {
            Reply::NotifyChannelState(NotifyChannelStateReply::Reject(as_error(refusal)))
        }
        (RequestKind::Connect, Refusal::Error(e)) => Reply::Connect(ConnectReply::Reject(e)),
        (RequestKind::Connect, Refusal::Disconnect(d)) => {
            Reply::Connect(ConnectReply::Disconnect(d))
        }
        // A stream's `open` is refused as a subscribe is.
        (RequestKind::Subscribe | RequestKind::SubscribeStream, Refusal::Error(e)) => {
            Reply::Subscribe(SubscribeReply::Reject(e))
        }
        (RequestKind::Subscribe | RequestKind::SubscribeStream, Refusal::Disconnect(d)) => {
            Reply::Subscribe(SubscribeReply::Disconnect(d))
        }
        (RequestKind::Publish, Refusal::Error(e)) => Reply::Publish(PublishReply::Reject(e)),
        (RequestKind::Publish, Refusal::Disconnect(d)) => {
            Reply::Publish(PublishReply::Disconnect(d))
        }
        (RequestKind::Rpc, Refusal::Error(e)) => Reply::Rpc(RpcReply::Reject(e)),
        (RequestKind::Rpc, Refusal::Disconnect(d)) => Reply::Rpc(RpcReply::Disconnect(d)),
        (RequestKind::MapPublish, Refusal::Error(e)) => {
            Reply::MapPublish(MapPublishReply::Reject(e))
        }
        (RequestKind::MapPublish, Refusal::Disconnect(d)) => {
            Reply::MapPublish(MapPublishReply::Disconnect(d))
        }
        (RequestKind::MapRemove, Refusal::Error(e)) => Reply::MapRemove(MapRemoveReply::Reject(e)),
        (RequestKind::MapRemove, Refusal::Disconnect(d)) => {
            Reply::MapRemove(MapRemoveReply::Disconnect(d))
        }
    }
}

/// What the chain decided a publication carries: the data of a publish or
/// map publish, and the key of a map publish or remove. Centrifugo publishes
/// the client's own data and key unless the reply names others, so a
/// rewrite by an interceptor must travel in the reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Decided {
    pub(super) data: Option<Vec<u8>>,
    pub(super) key: Option<String>,
}

impl Decided {
    pub(super) fn is_empty(&self) -> bool {
        self.data.is_none() && self.key.is_none()
    }
}

/// The data and key of a request, as a rewrite decided them.
pub(super) fn request_decided(request: &Request) -> Option<Decided> {
    let decided = match request {
        Request::Publish(r) => Decided {
            data: Some(r.data.clone()),
            key: None,
        },
        Request::MapPublish(r) => Decided {
            data: Some(r.data.clone()),
            key: Some(r.key.clone()),
        },
        Request::MapRemove(r) => Decided {
            data: None,
            key: Some(r.key.clone()),
        },
        _ => return None,
    };
    Some(decided)
}

/// The data and key an accepted reply names.
pub(super) fn reply_decided(reply: &Reply) -> Option<Decided> {
    let decided = match reply {
        Reply::Publish(PublishReply::Accept(r)) => Decided {
            data: r.data.clone(),
            key: None,
        },
        Reply::MapPublish(MapPublishReply::Accept(r)) => Decided {
            data: r.data.clone().filter(|data| !data.is_empty()),
            key: Some(r.key.clone()).filter(|key| !key.is_empty()),
        },
        Reply::MapRemove(MapRemoveReply::Accept(r)) => Decided {
            data: None,
            key: Some(r.key.clone()).filter(|key| !key.is_empty()),
        },
        _ => return None,
    };
    Some(decided).filter(|decided| !decided.is_empty())
}

/// Makes an accepted reply that keeps the data (or key) "as it is" carry
/// what the chain last decided (`decided`: an interceptor's rewrite, or an
/// earlier reply's), since Centrifugo would otherwise publish the client's
/// original bytes and key. Other replies are left as they are.
pub(super) fn settle(reply: &mut Reply, decided: Option<&Decided>) {
    let Some(decided) = decided else {
        return;
    };
    match reply {
        Reply::Publish(PublishReply::Accept(r)) if r.data.is_none() => {
            r.data.clone_from(&decided.data);
        }
        Reply::MapPublish(MapPublishReply::Accept(r)) => {
            if r.data.as_ref().is_none_or(Vec::is_empty) && decided.data.is_some() {
                r.data.clone_from(&decided.data);
            }
            if let (true, Some(key)) = (r.key.is_empty(), &decided.key) {
                r.key.clone_from(key);
            }
        }
        Reply::MapRemove(MapRemoveReply::Accept(r)) => {
            if let (true, Some(key)) = (r.key.is_empty(), &decided.key) {
                r.key.clone_from(key);
            }
        }
        _ => {}
    }
}

/// The request kind a reply answers.
pub(super) fn reply_kind(reply: &Reply) -> RequestKind {
    match reply {
        Reply::Connect(_) => RequestKind::Connect,
        Reply::Refresh(_) => RequestKind::Refresh,
        Reply::Subscribe(_) => RequestKind::Subscribe,
        Reply::Publish(_) => RequestKind::Publish,
        Reply::Rpc(_) => RequestKind::Rpc,
        Reply::SubRefresh(_) => RequestKind::SubRefresh,
        Reply::MapPublish(_) => RequestKind::MapPublish,
        Reply::MapRemove(_) => RequestKind::MapRemove,
        Reply::SharedPollRefresh(_) => RequestKind::SharedPollRefresh,
        Reply::NotifyCacheEmpty(_) => RequestKind::NotifyCacheEmpty,
        Reply::NotifyChannelState(_) => RequestKind::NotifyChannelState,
    }
}
