//! One trait per kind of proxy call.
//!
//! Handlers are associated functions without `self`: by default the host
//! creates a fresh instance of the component for every call, and even in
//! `reuse` mode an instance may be retired between any two calls, so a
//! handler keeps no state of its own (the `kv` import keeps what must
//! outlive a call). Implement a trait on any type and hand the type to the
//! matching `export_*!` macro.

use crate::{
    CentrifugoError, ConnectRequest, ConnectResult, Denial, MapPublishRequest, MapPublishResult,
    MapRemoveRequest, MapRemoveResult, NotifyCacheEmptyRequest, NotifyChannelStateRequest,
    PublishRequest, PublishResult, RefreshReply, RefreshRequest, RpcRequest, RpcResult,
    SharedPollRefreshRequest, SharedPollRefreshResult, SubRefreshReply, SubRefreshRequest,
    SubscribeRequest, SubscribeResult,
};

/// Answers `Connect`: who is this client, and what may it do?
///
/// Exported with [`export_connect!`](crate::export_connect).
///
/// ```no_run
/// use rotor_sdk::{Connect, ConnectRequest, ConnectResult, Denial};
///
/// struct Guests;
///
/// impl Connect for Guests {
///     fn connect(request: ConnectRequest) -> Result<ConnectResult, Denial> {
///         match request.data.as_slice() {
///             b"" => Err(Denial::unauthorized()),
///             name => Ok(ConnectResult::user(String::from_utf8_lossy(name))),
///         }
///     }
/// }
///
/// rotor_sdk::export_connect!(Guests);
/// ```
pub trait Connect {
    /// Accepts the connection with its credentials, or refuses it.
    fn connect(request: ConnectRequest) -> Result<ConnectResult, Denial>;
}

/// Answers `Refresh`: should a connection that is about to expire go on?
///
/// Centrifugo ignores errors here, so the only answers are extend or expire.
/// Exported with [`export_refresh!`](crate::export_refresh).
///
/// ```no_run
/// use rotor_sdk::{Refresh, RefreshReply, RefreshRequest};
///
/// struct OneMoreHour;
///
/// impl Refresh for OneMoreHour {
///     fn refresh(_request: RefreshRequest) -> RefreshReply {
///         RefreshReply::extend_until(rotor_sdk::unix_now() + 3600)
///     }
/// }
///
/// rotor_sdk::export_refresh!(OneMoreHour);
/// ```
pub trait Refresh {
    /// Extends the connection or lets it expire.
    fn refresh(request: RefreshRequest) -> RefreshReply;
}

/// Answers `Subscribe`: may this client join this channel?
///
/// Exported with [`export_subscribe!`](crate::export_subscribe).
///
/// ```no_run
/// use rotor_sdk::{Denial, Subscribe, SubscribeRequest, SubscribeResult};
///
/// struct SignedInOnly;
///
/// impl Subscribe for SignedInOnly {
///     fn subscribe(request: SubscribeRequest) -> Result<SubscribeResult, Denial> {
///         if request.user.is_empty() {
///             return Err(Denial::permission_denied());
///         }
///         Ok(SubscribeResult::default())
///     }
/// }
///
/// rotor_sdk::export_subscribe!(SignedInOnly);
/// ```
pub trait Subscribe {
    /// Accepts the subscription with its options, or refuses it.
    fn subscribe(request: SubscribeRequest) -> Result<SubscribeResult, Denial>;
}

/// Answers `Publish`: may this publication go out, and how?
///
/// Exported with [`export_publish!`](crate::export_publish).
///
/// ```no_run
/// use rotor_sdk::{Denial, Publish, PublishRequest, PublishResult};
///
/// struct NoEmptyMessages;
///
/// impl Publish for NoEmptyMessages {
///     fn publish(request: PublishRequest) -> Result<PublishResult, Denial> {
///         if request.data.is_empty() {
///             return Err(Denial::bad_request());
///         }
///         Ok(PublishResult::default())
///     }
/// }
///
/// rotor_sdk::export_publish!(NoEmptyMessages);
/// ```
pub trait Publish {
    /// Accepts the publication (as it is, or changed), or refuses it.
    fn publish(request: PublishRequest) -> Result<PublishResult, Denial>;
}

/// Answers `RPC`: a method call from a client.
///
/// Exported with [`export_rpc!`](crate::export_rpc).
///
/// ```no_run
/// use rotor_sdk::{Denial, Rpc, RpcRequest, RpcResult};
///
/// struct Ping;
///
/// impl Rpc for Ping {
///     fn rpc(request: RpcRequest) -> Result<RpcResult, Denial> {
///         match request.method.as_str() {
///             "ping" => Ok(RpcResult::data(b"\"pong\"".to_vec())),
///             _ => Err(Denial::method_not_found()),
///         }
///     }
/// }
///
/// rotor_sdk::export_rpc!(Ping);
/// ```
pub trait Rpc {
    /// Answers the call with data, or refuses it.
    fn rpc(request: RpcRequest) -> Result<RpcResult, Denial>;
}

/// Answers `SubRefresh`: should a subscription that is about to expire go on?
///
/// Centrifugo ignores errors here, so the only answers are extend or expire.
/// Exported with [`export_sub_refresh!`](crate::export_sub_refresh).
///
/// ```no_run
/// use rotor_sdk::{SubRefresh, SubRefreshReply, SubRefreshRequest};
///
/// struct UntilMidnightUtc;
///
/// impl SubRefresh for UntilMidnightUtc {
///     fn sub_refresh(_request: SubRefreshRequest) -> SubRefreshReply {
///         let now = rotor_sdk::unix_now();
///         SubRefreshReply::extend_until(now - now % 86_400 + 86_400)
///     }
/// }
///
/// rotor_sdk::export_sub_refresh!(UntilMidnightUtc);
/// ```
pub trait SubRefresh {
    /// Extends the subscription or lets it expire.
    fn sub_refresh(request: SubRefreshRequest) -> SubRefreshReply;
}

/// Answers `MapPublish`: may this key's new state go into the map channel,
/// and how?
///
/// A default result publishes the client's key and data as they are.
/// Exported with [`export_map_publish!`](crate::export_map_publish).
///
/// ```no_run
/// use rotor_sdk::{Denial, MapPublish, MapPublishRequest, MapPublishResult};
///
/// struct OwnKeysOnly;
///
/// impl MapPublish for OwnKeysOnly {
///     fn map_publish(request: MapPublishRequest) -> Result<MapPublishResult, Denial> {
///         if request.key != request.user {
///             return Err(Denial::permission_denied());
///         }
///         Ok(MapPublishResult::default())
///     }
/// }
///
/// rotor_sdk::export_map_publish!(OwnKeysOnly);
/// ```
pub trait MapPublish {
    /// Accepts the publication (as it is, or changed), or refuses it.
    fn map_publish(request: MapPublishRequest) -> Result<MapPublishResult, Denial>;
}

/// Answers `MapRemove`: may the client remove this key?
///
/// Exported with [`export_map_remove!`](crate::export_map_remove).
///
/// ```no_run
/// use rotor_sdk::{Denial, MapRemove, MapRemoveRequest, MapRemoveResult};
///
/// struct SignedInOnly;
///
/// impl MapRemove for SignedInOnly {
///     fn map_remove(request: MapRemoveRequest) -> Result<MapRemoveResult, Denial> {
///         if request.user.is_empty() {
///             return Err(Denial::permission_denied());
///         }
///         Ok(MapRemoveResult::default())
///     }
/// }
///
/// rotor_sdk::export_map_remove!(SignedInOnly);
/// ```
pub trait MapRemove {
    /// Accepts the removal (of the key, or of another), or refuses it.
    fn map_remove(request: MapRemoveRequest) -> Result<MapRemoveResult, Denial>;
}

/// Answers `SharedPollRefresh`: what is the current state of these keys?
///
/// No client is on this call: Centrifugo asks on a timer for the keys its
/// clients track. List the keys that changed (a newer version, or removed);
/// keys left out count as unchanged. An error is logged by Centrifugo, which
/// keeps what it has and asks again later.
/// Exported with [`export_shared_poll_refresh!`](crate::export_shared_poll_refresh).
///
/// ```no_run
/// use rotor_sdk::{
///     CentrifugoError, SharedPollEntry, SharedPollRefresh, SharedPollRefreshRequest,
///     SharedPollRefreshResult,
/// };
///
/// struct AlwaysVersionOne;
///
/// impl SharedPollRefresh for AlwaysVersionOne {
///     fn shared_poll_refresh(
///         request: SharedPollRefreshRequest,
///     ) -> Result<SharedPollRefreshResult, CentrifugoError> {
///         let items = request
///             .items
///             .into_iter()
///             .filter(|item| item.version < 1)
///             .map(|item| SharedPollEntry {
///                 key: item.key,
///                 data: b"{}".to_vec(),
///                 version: 1,
///                 ..SharedPollEntry::default()
///             })
///             .collect();
///         Ok(SharedPollRefreshResult { items, epoch: String::new() })
///     }
/// }
///
/// rotor_sdk::export_shared_poll_refresh!(AlwaysVersionOne);
/// ```
pub trait SharedPollRefresh {
    /// The keys whose state changed, or an error for Centrifugo's log.
    fn shared_poll_refresh(
        request: SharedPollRefreshRequest,
    ) -> Result<SharedPollRefreshResult, CentrifugoError>;
}

/// Answers `NotifyCacheEmpty` (Centrifugo PRO): a channel's cache is empty;
/// fill it by publishing into the channel through [`api`](crate::api), and
/// say whether you did.
///
/// Exported with [`export_notify_cache_empty!`](crate::export_notify_cache_empty).
///
/// ```no_run
/// use rotor_sdk::{NotifyCacheEmpty, NotifyCacheEmptyRequest};
///
/// struct NothingToLoad;
///
/// impl NotifyCacheEmpty for NothingToLoad {
///     fn notify_cache_empty(_request: NotifyCacheEmptyRequest) -> bool {
///         false
///     }
/// }
///
/// rotor_sdk::export_notify_cache_empty!(NothingToLoad);
/// ```
pub trait NotifyCacheEmpty {
    /// Whether the cache was populated.
    fn notify_cache_empty(request: NotifyCacheEmptyRequest) -> bool;
}

/// Answers `NotifyChannelState` (Centrifugo PRO): channels became occupied
/// or vacated. Each call carries the events of one channel namespace.
///
/// Exported with [`export_notify_channel_state!`](crate::export_notify_channel_state).
///
/// ```no_run
/// use rotor_sdk::{CentrifugoError, NotifyChannelState, NotifyChannelStateRequest};
///
/// struct LogThem;
///
/// impl NotifyChannelState for LogThem {
///     fn notify_channel_state(request: NotifyChannelStateRequest) -> Result<(), CentrifugoError> {
///         for event in request.events {
///             rotor_sdk::log::info(&format!("{} {}", event.channel, event.type_));
///         }
///         Ok(())
///     }
/// }
///
/// rotor_sdk::export_notify_channel_state!(LogThem);
/// ```
pub trait NotifyChannelState {
    /// Takes the events, or fails them with an error.
    fn notify_channel_state(request: NotifyChannelStateRequest) -> Result<(), CentrifugoError>;
}

/// Answers subscription streams (`SubscribeUnidirectional` and
/// `SubscribeBidirectional`): one instance serves one stream for its whole
/// life, one callback at a time, so unlike the other handlers a stream
/// handler may keep its state in statics between callbacks.
///
/// Publish with [`stream::publish`](crate::stream::publish), ask for a
/// timer with [`stream::wake_after`](crate::stream::wake_after) and end
/// the stream with [`stream::close`](crate::stream::close). Exported with
/// [`export_subscribe_stream!`](crate::export_subscribe_stream).
///
/// ```no_run
/// use std::time::Duration;
/// use rotor_sdk::{Denial, SubscribeRequest, SubscribeResult, SubscribeStream, stream};
///
/// struct Clock;
///
/// impl SubscribeStream for Clock {
///     fn open(_request: SubscribeRequest) -> Result<SubscribeResult, Denial> {
///         stream::wake_after(Duration::from_secs(1));
///         Ok(SubscribeResult::default())
///     }
///
///     fn on_wake() {
///         let _ = stream::publish(br#"{"tick":true}"#);
///         stream::wake_after(Duration::from_secs(1));
///     }
/// }
///
/// rotor_sdk::export_subscribe_stream!(Clock);
/// ```
pub trait SubscribeStream {
    /// The stream opens: accept the subscription, or refuse it as
    /// [`Subscribe`] would.
    fn open(request: SubscribeRequest) -> Result<SubscribeResult, Denial>;

    /// The timer asked for with `stream::wake_after` fired. By default,
    /// nothing happens.
    fn on_wake() {}

    /// The client published `data` into the channel (bidirectional streams
    /// only). By default, it is dropped.
    fn on_client_data(data: Vec<u8>) {
        let _ = data;
    }
}
