//! The kinds of proxy call Rotor routes to components.

use std::fmt;

use serde::Deserialize;

use crate::contract::wit::wit_interface;

/// A Centrifugo proxy request type that a handler component answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// `Connect`: a client opens a connection.
    Connect,
    /// `Refresh`: a connection is about to expire.
    Refresh,
    /// `Subscribe`: a client subscribes to a channel.
    Subscribe,
    /// `Publish`: a client publishes into a channel.
    Publish,
    /// `RPC`: a client calls a method.
    Rpc,
    /// `SubRefresh`: a subscription is about to expire.
    SubRefresh,
    /// `MapPublish`: a client publishes a key into a map channel.
    MapPublish,
    /// `MapRemove`: a client removes a key from a map channel.
    MapRemove,
    /// `SharedPollRefresh`: Centrifugo asks for the state of a shared poll
    /// channel's keys.
    SharedPollRefresh,
    /// `NotifyCacheEmpty`: a channel's cache is empty (Centrifugo PRO).
    NotifyCacheEmpty,
    /// `NotifyChannelState`: channels became occupied or vacated
    /// (Centrifugo PRO).
    NotifyChannelState,
    /// `SubscribeUnidirectional` and `SubscribeBidirectional`: a
    /// subscription stream, served by one instance for its whole life.
    SubscribeStream,
}

impl RequestKind {
    /// Every kind, in the order of Centrifugo's proxy service.
    pub const ALL: [RequestKind; 12] = [
        RequestKind::Connect,
        RequestKind::Refresh,
        RequestKind::Subscribe,
        RequestKind::Publish,
        RequestKind::Rpc,
        RequestKind::SubRefresh,
        RequestKind::MapPublish,
        RequestKind::MapRemove,
        RequestKind::SharedPollRefresh,
        RequestKind::NotifyCacheEmpty,
        RequestKind::NotifyChannelState,
        RequestKind::SubscribeStream,
    ];

    /// The name used in configuration files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Connect => "connect",
            RequestKind::Refresh => "refresh",
            RequestKind::Subscribe => "subscribe",
            RequestKind::Publish => "publish",
            RequestKind::Rpc => "rpc",
            RequestKind::SubRefresh => "sub_refresh",
            RequestKind::MapPublish => "map_publish",
            RequestKind::MapRemove => "map_remove",
            RequestKind::SharedPollRefresh => "shared_poll_refresh",
            RequestKind::NotifyCacheEmpty => "notify_cache_empty",
            RequestKind::NotifyChannelState => "notify_channel_state",
            RequestKind::SubscribeStream => "subscribe_stream",
        }
    }

    /// The WIT interface a component exports to answer this kind.
    pub fn handler_interface(self) -> &'static str {
        match self {
            RequestKind::Connect => wit_interface!("connect-handler"),
            RequestKind::Refresh => wit_interface!("refresh-handler"),
            RequestKind::Subscribe => wit_interface!("subscribe-handler"),
            RequestKind::Publish => wit_interface!("publish-handler"),
            RequestKind::Rpc => wit_interface!("rpc-handler"),
            RequestKind::SubRefresh => wit_interface!("sub-refresh-handler"),
            RequestKind::MapPublish => wit_interface!("map-publish-handler"),
            RequestKind::MapRemove => wit_interface!("map-remove-handler"),
            RequestKind::SharedPollRefresh => wit_interface!("shared-poll-refresh-handler"),
            RequestKind::NotifyCacheEmpty => wit_interface!("notify-cache-empty-handler"),
            RequestKind::NotifyChannelState => wit_interface!("notify-channel-state-handler"),
            RequestKind::SubscribeStream => wit_interface!("stream-handler"),
        }
    }

    /// How calls of this kind may be routed more finely than by kind.
    pub fn refinement(self) -> Option<Refinement> {
        match self {
            // A channel-state call carries the events of one namespace:
            // the transport splits Centrifugo's batches (see `channel_state`).
            RequestKind::Subscribe
            | RequestKind::Publish
            | RequestKind::SubRefresh
            | RequestKind::MapPublish
            | RequestKind::MapRemove
            | RequestKind::SharedPollRefresh
            | RequestKind::NotifyCacheEmpty
            | RequestKind::NotifyChannelState
            | RequestKind::SubscribeStream => Some(Refinement::ChannelNamespace),
            RequestKind::Rpc => Some(Refinement::Method),
            RequestKind::Connect | RequestKind::Refresh => None,
        }
    }

    /// Whether Centrifugo reads only `result` in replies of this kind (it
    /// ignores `error` and `disconnect` for refreshes).
    pub fn is_refresh(self) -> bool {
        matches!(self, RequestKind::Refresh | RequestKind::SubRefresh)
    }

    /// Whether the response can carry a Centrifugo error. Refreshes ignore
    /// it and `NotifyCacheEmptyResponse` has none: a failure of these kinds
    /// is answered with a gRPC status.
    pub fn has_error_reply(self) -> bool {
        !matches!(
            self,
            RequestKind::Refresh | RequestKind::SubRefresh | RequestKind::NotifyCacheEmpty
        )
    }

    /// Whether a client connection is behind the call. Centrifugo makes the
    /// others itself (a timer, a channel's state), so they have no
    /// connection to close.
    pub fn has_client(self) -> bool {
        !matches!(
            self,
            RequestKind::SharedPollRefresh
                | RequestKind::NotifyCacheEmpty
                | RequestKind::NotifyChannelState
        )
    }

    /// Whether calls of this kind are streams: one instance for the
    /// stream's life, no interceptors, no request variant of their own
    /// (see `streams`).
    pub fn is_stream(self) -> bool {
        self == RequestKind::SubscribeStream
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for RequestKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RequestKind::ALL
            .into_iter()
            .find(|kind| kind.name() == s || kind.name().replace('_', "-") == s)
            .ok_or_else(|| {
                let names: Vec<_> = RequestKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown request type `{s}`, expected one of: {}",
                    names.join(", ")
                )
            })
    }
}

/// A finer routing key than the request kind, as Centrifugo has per-namespace
/// proxies. Namespaces are read as Centrifugo reads them: see [`Naming`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refinement {
    /// By the channel's namespace.
    ChannelNamespace,
    /// By RPC method: an exact name, or a namespace prefix ending in `:`.
    Method,
}

/// Centrifugo's default `channel.private_prefix`.
pub const DEFAULT_PRIVATE_PREFIX: &str = "$";
/// Centrifugo's default `channel.namespace_boundary` and `rpc.namespace_boundary`.
pub const DEFAULT_NAMESPACE_BOUNDARY: &str = ":";

/// How Centrifugo reads the namespace out of a channel name or an RPC
/// method. Rotor must read it the same way, or a call would be routed, and
/// mapped to a tenant, by another namespace than the one whose proxy and
/// options Centrifugo applied. The rule, from Centrifugo's source
/// (`internal/config/container.go`, v6.9.1):
///
/// - a channel: strip `channel.private_prefix` (`$` by default) once from
///   the front, then the namespace is what comes before the first
///   `channel.namespace_boundary` (`:`); no boundary, or an empty
///   boundary setting, means no namespace;
/// - an RPC method: the part before the first `rpc.namespace_boundary`
///   (`:`); nothing is stripped.
///
/// An empty namespace (`":x"`, `"$:x"`) is no namespace: Centrifugo applies
/// its `without_namespace` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// Centrifugo's `channel.private_prefix`; empty: no private channels.
    pub private_prefix: String,
    /// Centrifugo's `channel.namespace_boundary`; empty: no namespaces.
    pub namespace_boundary: String,
    /// Centrifugo's `rpc.namespace_boundary`; empty: no RPC namespaces.
    pub rpc_namespace_boundary: String,
}

impl Default for Naming {
    fn default() -> Self {
        Naming {
            private_prefix: DEFAULT_PRIVATE_PREFIX.to_owned(),
            namespace_boundary: DEFAULT_NAMESPACE_BOUNDARY.to_owned(),
            rpc_namespace_boundary: DEFAULT_NAMESPACE_BOUNDARY.to_owned(),
        }
    }
}

impl Naming {
    /// The namespace of `channel` as Centrifugo finds it, if it has one.
    pub fn channel_namespace<'a>(&self, channel: &'a str) -> Option<&'a str> {
        let name = channel
            .strip_prefix(self.private_prefix.as_str())
            .unwrap_or(channel);
        before_boundary(name, &self.namespace_boundary)
    }

    /// The namespace of RPC `method` as Centrifugo finds it, if it has one.
    pub fn method_namespace<'a>(&self, method: &'a str) -> Option<&'a str> {
        before_boundary(method, &self.rpc_namespace_boundary)
    }

    /// Why `namespace` can never be a channel namespace under these rules,
    /// if it cannot: a configured name that could never match is a mistake.
    pub fn impossible_namespace(&self, namespace: &str) -> Option<String> {
        if namespace.is_empty() {
            return Some("a namespace name is not empty".into());
        }
        let boundary = &self.namespace_boundary;
        if boundary.is_empty() {
            return Some("Centrifugo's `channel.namespace_boundary` is empty here ([naming]): channels have no namespaces".into());
        }
        if namespace.contains(boundary.as_str()) {
            return Some(format!(
                "a namespace name cannot contain the namespace boundary `{boundary}`"
            ));
        }
        let prefix = &self.private_prefix;
        if !prefix.is_empty() && namespace.starts_with(prefix.as_str()) {
            return Some(format!(
                "Centrifugo strips the private prefix `{prefix}` before it finds a namespace: name the namespace without it"
            ));
        }
        None
    }
}

/// What comes before the first `boundary` in `name`, unless empty.
fn before_boundary<'a>(name: &'a str, boundary: &str) -> Option<&'a str> {
    if boundary.is_empty() {
        return None;
    }
    name.split_once(boundary)
        .map(|(namespace, _)| namespace)
        .filter(|namespace| !namespace.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in RequestKind::ALL {
            assert_eq!(kind.name().parse::<RequestKind>(), Ok(kind));
        }
        assert_eq!("sub-refresh".parse(), Ok(RequestKind::SubRefresh));
        assert_eq!("map-publish".parse(), Ok(RequestKind::MapPublish));
        assert_eq!(
            "notify_channel_state".parse(),
            Ok(RequestKind::NotifyChannelState)
        );
        assert!(
            "conect"
                .parse::<RequestKind>()
                .unwrap_err()
                .contains("conect")
        );
    }

    #[test]
    fn namespaces() {
        let naming = Naming::default();
        assert_eq!(naming.channel_namespace("chat:room"), Some("chat"));
        assert_eq!(naming.channel_namespace("chat:room:1"), Some("chat"));
        assert_eq!(naming.channel_namespace("room"), None);
        assert_eq!(naming.channel_namespace(":room"), None);
        assert_eq!(naming.method_namespace("booking:create"), Some("booking"));
        assert_eq!(naming.method_namespace("ping"), None);
    }

    /// Finding 7 of the hardening review: Centrifugo strips the private
    /// prefix before it finds a channel's namespace; Rotor did not, so
    /// `$chat:secret` went by namespace `$chat` instead of `chat`.
    #[test]
    fn private_channels_keep_their_namespace() {
        let naming = Naming::default();
        assert_eq!(naming.channel_namespace("$chat:secret"), Some("chat"));
        assert_eq!(naming.channel_namespace("$room"), None);
        assert_eq!(naming.channel_namespace("$:room"), None);
        // Stripped once only, as Go's strings.TrimPrefix does.
        assert_eq!(naming.channel_namespace("$$chat:x"), Some("$chat"));
        // The prefix only counts at the front.
        assert_eq!(naming.channel_namespace("chat:$x"), Some("chat"));
        // RPC methods have no private prefix.
        assert_eq!(naming.method_namespace("$ops:x"), Some("$ops"));

        let custom = Naming {
            private_prefix: "private-".into(),
            namespace_boundary: ".".into(),
            rpc_namespace_boundary: "/".into(),
        };
        assert_eq!(custom.channel_namespace("private-chat.room"), Some("chat"));
        assert_eq!(custom.channel_namespace("$chat.room"), Some("$chat"));
        assert_eq!(custom.channel_namespace("chat:room"), None);
        assert_eq!(custom.method_namespace("ops/restart"), Some("ops"));
        let none = Naming {
            private_prefix: String::new(),
            namespace_boundary: String::new(),
            ..Naming::default()
        };
        assert_eq!(none.channel_namespace("$chat:room"), None);

        assert!(naming.impossible_namespace("chat").is_none());
        assert!(naming.impossible_namespace("$chat").is_some());
        assert!(naming.impossible_namespace("a:b").is_some());
        assert!(naming.impossible_namespace("").is_some());
    }
}
