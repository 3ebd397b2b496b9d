//! A channel access list for subscribe.
//!
//! - `user:<id>`, the personal channel, is open to user `<id>` only: exactly
//!   that channel, not `user:<id>:more` and not other users' channels.
//! - Channels in a public namespace (`<namespace>:<rest>`) are open to
//!   everyone, anonymous users (empty user id) included.
//! - Everything else, channels without a namespace included, is refused with
//!   `103 permission denied`.
//!
//! Config keys:
//! - `public_namespaces` (optional): comma-separated namespace names,
//!   default `public,news`. An empty value makes no namespace public.

use rotor_sdk::{Denial, Subscribe, SubscribeRequest, SubscribeResult};

/// The config key listing public namespaces.
const PUBLIC_NAMESPACES_KEY: &str = "public_namespaces";

/// Public unless configured otherwise: the two namespaces a typical app opens
/// to visitors, so the plugin works out of the box for a demo.
const DEFAULT_PUBLIC_NAMESPACES: &str = "public,news";

/// The namespace of personal channels; it is never public, whatever the
/// config says.
const PERSONAL_NAMESPACE: &str = "user";

/// The component's subscribe handler.
struct ChannelAcl;

rotor_sdk::export_subscribe!(ChannelAcl);

impl Subscribe for ChannelAcl {
    fn subscribe(request: SubscribeRequest) -> Result<SubscribeResult, Denial> {
        let configured = rotor_sdk::config::get(PUBLIC_NAMESPACES_KEY);
        let public = public_namespaces(configured.as_deref());
        decide(&request.user, &request.channel, &public)
    }
}

/// The public namespaces from the config value, or the default when unset.
pub fn public_namespaces(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or(DEFAULT_PUBLIC_NAMESPACES)
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `user` (empty when anonymous) may subscribe to `channel`.
pub fn decide(user: &str, channel: &str, public: &[String]) -> Result<SubscribeResult, Denial> {
    let Some((namespace, rest)) = channel.split_once(':') else {
        return Err(Denial::permission_denied());
    };
    let allowed = if namespace == PERSONAL_NAMESPACE {
        !user.is_empty() && rest == user
    } else {
        public.iter().any(|name| name == namespace)
    };
    if allowed {
        Ok(SubscribeResult::default())
    } else {
        Err(Denial::permission_denied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        public_namespaces(None)
    }

    #[test]
    fn default_public_namespaces() {
        assert_eq!(defaults(), vec!["public", "news"]);
        assert_eq!(public_namespaces(Some(" a , ,b,")), vec!["a", "b"]);
        assert!(public_namespaces(Some("")).is_empty());
    }

    #[test]
    fn users_get_their_own_channel_only() {
        assert!(decide("42", "user:42", &defaults()).is_ok());
        for channel in ["user:43", "user:4", "user:420", "user:42:inbox", "user:"] {
            assert_eq!(
                decide("42", channel, &defaults()),
                Err(Denial::permission_denied()),
                "{channel}"
            );
        }
    }

    #[test]
    fn anonymous_users_get_public_namespaces_only() {
        assert!(decide("", "news:today", &defaults()).is_ok());
        assert!(decide("", "public:lobby", &defaults()).is_ok());
        assert_eq!(
            decide("", "user:", &defaults()),
            Err(Denial::permission_denied())
        );
        assert_eq!(
            decide("", "chat:1", &defaults()),
            Err(Denial::permission_denied())
        );
    }

    #[test]
    fn everyone_else_is_denied() {
        for channel in ["chat:1", "news", "lobby", "", ":x", "newsroom:1"] {
            assert_eq!(
                decide("42", channel, &defaults()),
                Err(Denial::permission_denied()),
                "{channel}"
            );
        }
    }

    #[test]
    fn configured_namespaces_replace_the_default() {
        let public = public_namespaces(Some("chat"));
        assert!(decide("42", "chat:1", &public).is_ok());
        assert!(decide("42", "news:1", &public).is_err());
    }

    #[test]
    fn the_personal_namespace_never_becomes_public() {
        let public = public_namespaces(Some("user,news"));
        assert!(decide("", "user:42", &public).is_err());
        assert!(decide("7", "user:42", &public).is_err());
    }
}
