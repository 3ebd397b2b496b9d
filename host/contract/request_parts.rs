//! What routing reads from a request of any kind: its headers and the
//! channel it is about. One place, so tenancy and routing never disagree.

use crate::contract::wit::types::{Headers, Request};

/// The gRPC metadata Centrifugo sent with the call.
pub fn headers(request: &Request) -> &Headers {
    match request {
        Request::Connect(r) => &r.headers,
        Request::Refresh(r) => &r.headers,
        Request::Subscribe(r) => &r.headers,
        Request::Publish(r) => &r.headers,
        Request::Rpc(r) => &r.headers,
        Request::SubRefresh(r) => &r.headers,
        Request::MapPublish(r) => &r.headers,
        Request::MapRemove(r) => &r.headers,
        Request::SharedPollRefresh(r) => &r.headers,
        Request::NotifyCacheEmpty(r) => &r.headers,
        Request::NotifyChannelState(r) => &r.headers,
    }
}

/// The channel the call is about, for kinds that have one.
///
/// A channel-state call carries a list of events; the transport hands each
/// call the events of one namespace (see `channel_state`), so the first
/// event's channel stands for all of them.
pub fn channel(request: &Request) -> Option<&str> {
    match request {
        Request::Connect(_) | Request::Refresh(_) | Request::Rpc(_) => None,
        Request::Subscribe(r) => Some(&r.channel),
        Request::Publish(r) => Some(&r.channel),
        Request::SubRefresh(r) => Some(&r.channel),
        Request::MapPublish(r) => Some(&r.channel),
        Request::MapRemove(r) => Some(&r.channel),
        Request::SharedPollRefresh(r) => Some(&r.channel),
        Request::NotifyCacheEmpty(r) => Some(&r.channel),
        Request::NotifyChannelState(r) => r.events.first().map(|event| event.channel.as_str()),
    }
}
