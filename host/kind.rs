//! The kinds of proxy call Rotor routes to components.

use std::fmt;

use serde::Deserialize;

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
}

impl RequestKind {
    /// Every kind, in the order of Centrifugo's proxy service.
    pub const ALL: [RequestKind; 6] = [
        RequestKind::Connect,
        RequestKind::Refresh,
        RequestKind::Subscribe,
        RequestKind::Publish,
        RequestKind::Rpc,
        RequestKind::SubRefresh,
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
        }
    }

    /// The WIT interface a component exports to answer this kind.
    pub fn handler_interface(self) -> &'static str {
        match self {
            RequestKind::Connect => "rotor:centrifugo/connect-handler@0.1.0",
            RequestKind::Refresh => "rotor:centrifugo/refresh-handler@0.1.0",
            RequestKind::Subscribe => "rotor:centrifugo/subscribe-handler@0.1.0",
            RequestKind::Publish => "rotor:centrifugo/publish-handler@0.1.0",
            RequestKind::Rpc => "rotor:centrifugo/rpc-handler@0.1.0",
            RequestKind::SubRefresh => "rotor:centrifugo/sub-refresh-handler@0.1.0",
        }
    }

    /// How calls of this kind may be routed more finely than by kind.
    pub fn refinement(self) -> Option<Refinement> {
        match self {
            RequestKind::Subscribe | RequestKind::Publish | RequestKind::SubRefresh => {
                Some(Refinement::ChannelNamespace)
            }
            RequestKind::Rpc => Some(Refinement::Method),
            RequestKind::Connect | RequestKind::Refresh => None,
        }
    }

    /// Whether Centrifugo reads only `result` in replies of this kind (it
    /// ignores `error` and `disconnect` for refreshes).
    pub fn is_refresh(self) -> bool {
        matches!(self, RequestKind::Refresh | RequestKind::SubRefresh)
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
            .find(|kind| {
                kind.name() == s || (s == "sub-refresh" && *kind == RequestKind::SubRefresh)
            })
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
/// proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refinement {
    /// By the channel's namespace: the part before the first `:`.
    ChannelNamespace,
    /// By RPC method: an exact name, or a namespace prefix ending in `:`.
    Method,
}

/// The namespace of a channel: the part before the first `:`, if any.
pub fn channel_namespace(channel: &str) -> Option<&str> {
    channel.split_once(':').map(|(namespace, _)| namespace)
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
        assert!(
            "conect"
                .parse::<RequestKind>()
                .unwrap_err()
                .contains("conect")
        );
    }

    #[test]
    fn namespaces() {
        assert_eq!(channel_namespace("chat:room"), Some("chat"));
        assert_eq!(channel_namespace("chat:room:1"), Some("chat"));
        assert_eq!(channel_namespace("room"), None);
    }
}
