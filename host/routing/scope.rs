//! Which channels a tenant's replies may subscribe connections to.
//!
//! Connect and refresh replies can grant channels: `channels` and `subs`
//! subscribe the connection on the server side, and `caps` let the client
//! subscribe, publish and read history on its own. Such a grant skips the
//! subscribe proxy of the channel's namespace, and so whatever the tenant
//! that owns that namespace checks there. The rule:
//!
//! - with `[tenancy] by = "namespace"`, a tenant may grant only channels
//!   whose namespace maps to it: the namespaces it claims and, for the
//!   fallback tenant, those no tenant claims (channels without a namespace
//!   included);
//! - with `by = "metadata"` or `"listener"`, Rotor does not know which
//!   namespaces are whose: a tenant's `api_namespaces`, when set, bound its
//!   grants as they bound its server API calls;
//! - a configuration without tenants grants any channel.
//!
//! A reply that grants a channel outside this scope is an invalid reply of
//! the plugin that gave it: the call fails as for any other guest fault.
//! Namespaces are read as Centrifugo reads them ([`Naming`]).

use std::collections::BTreeSet;

use crate::contract::kind::Naming;
use crate::contract::wit::types::{
    ChannelMatch, ChannelsCapability, ConnectReply, RefreshReply, Reply,
};
use crate::error::GuestFault;

/// Characters that make a wildcard capability match more than one name.
const WILDCARD_CHARACTERS: [char; 6] = ['*', '?', '[', ']', '{', '\\'];

/// The channels one tenant's replies may grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantScope {
    namespaces: Namespaces,
    naming: Naming,
}

/// The namespaces of a [`GrantScope`]; `""` stands for no namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespaces {
    /// Every namespace.
    Any,
    /// These namespaces.
    Listed(BTreeSet<String>),
    /// The namespaces that map to the tenant under `by = "namespace"`.
    Owned {
        /// The namespaces it claims.
        own: BTreeSet<String>,
        /// The namespaces other tenants claim.
        others: BTreeSet<String>,
        /// Whether it is the fallback tenant, which takes the unclaimed ones.
        fallback: bool,
    },
}

impl GrantScope {
    /// The scope of `namespaces`, read with `naming`.
    pub fn new(namespaces: Namespaces, naming: Naming) -> GrantScope {
        GrantScope { namespaces, naming }
    }

    /// Any channel: the scope of a configuration without tenants.
    pub fn any() -> GrantScope {
        GrantScope::new(Namespaces::Any, Naming::default())
    }

    /// Whether a channel of `namespace` (`None`: none) may be granted.
    fn allows_namespace(&self, namespace: Option<&str>) -> bool {
        let namespace = namespace.unwrap_or("");
        match &self.namespaces {
            Namespaces::Any => true,
            Namespaces::Listed(listed) => listed.contains(namespace),
            Namespaces::Owned {
                own,
                others,
                fallback,
            } => own.contains(namespace) || (*fallback && !others.contains(namespace)),
        }
    }

    /// Whether `channel` may be granted.
    pub fn allows_channel(&self, channel: &str) -> bool {
        self.allows_namespace(self.naming.channel_namespace(channel))
    }

    /// Whether a wildcard capability `pattern` may be granted: it must name
    /// its namespace literally, before any wildcard character, unless the
    /// scope is every namespace.
    pub fn allows_pattern(&self, pattern: &str) -> bool {
        if self.namespaces == Namespaces::Any {
            return true;
        }
        let name = pattern
            .strip_prefix(self.naming.private_prefix.as_str())
            .unwrap_or(pattern);
        let Some(wild) = name.find(WILDCARD_CHARACTERS) else {
            // No wildcard: it matches one channel, the pattern itself.
            return self.allows_channel(pattern);
        };
        let literal = &name[..wild];
        let boundary = &self.naming.namespace_boundary;
        match literal.split_once(boundary.as_str()) {
            Some((namespace, _)) if !boundary.is_empty() && !namespace.is_empty() => {
                self.allows_namespace(Some(namespace))
            }
            // The wildcard could reach into any namespace.
            _ => false,
        }
    }

    fn check_channel(&self, channel: &str, field: &str) -> Result<(), GuestFault> {
        if self.allows_channel(channel) {
            Ok(())
        } else {
            Err(outside(channel, field))
        }
    }

    fn check_caps(&self, caps: &[ChannelsCapability]) -> Result<(), GuestFault> {
        for cap in caps {
            for channel in &cap.channels {
                let allowed = match cap.match_ {
                    ChannelMatch::Exact => self.allows_channel(channel),
                    ChannelMatch::Wildcard => self.allows_pattern(channel),
                };
                if !allowed {
                    return Err(outside(channel, "caps"));
                }
            }
        }
        Ok(())
    }

    /// Fails if `reply` grants a channel outside this scope.
    pub fn check_reply(&self, reply: &Reply) -> Result<(), GuestFault> {
        if self.namespaces == Namespaces::Any {
            return Ok(());
        }
        match reply {
            Reply::Connect(ConnectReply::Accept(result)) => {
                for channel in &result.channels {
                    self.check_channel(channel, "channels")?;
                }
                for (channel, _) in &result.subs {
                    self.check_channel(channel, "subs")?;
                }
                self.check_caps(&result.caps)
            }
            Reply::Refresh(RefreshReply::Extend(result)) => self.check_caps(&result.caps),
            _ => Ok(()),
        }
    }
}

fn outside(channel: &str, field: &str) -> GuestFault {
    GuestFault::InvalidReply(format!(
        "`{field}` grants channel {channel:?}, outside the tenant's namespaces"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::wit::types::{ConnectResult, RefreshResult};

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn owned(own: &[&str], others: &[&str], fallback: bool) -> GrantScope {
        GrantScope::new(
            Namespaces::Owned {
                own: set(own),
                others: set(others),
                fallback,
            },
            Naming::default(),
        )
    }

    fn connect(channels: &[&str], subs: &[&str], caps: Vec<ChannelsCapability>) -> Reply {
        let options = crate::contract::wit::types::SubscribeOptions {
            expire_at: 0,
            info: Vec::new(),
            data: Vec::new(),
            overrides: None,
            server_tags_filter: None,
            cache_recover: false,
        };
        Reply::Connect(ConnectReply::Accept(ConnectResult {
            user: "u".into(),
            expire_at: 0,
            info: Vec::new(),
            data: Vec::new(),
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
            subs: subs
                .iter()
                .map(|c| ((*c).to_owned(), options.clone()))
                .collect(),
            meta: Vec::new(),
            caps,
            labels: Vec::new(),
        }))
    }

    fn cap(channels: &[&str], match_: ChannelMatch) -> ChannelsCapability {
        ChannelsCapability {
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
            allow: vec!["sub".into()],
            match_,
        }
    }

    /// Finding 14 of the hardening review: connect and refresh replies
    /// could grant channels of any namespace, other tenants' included.
    #[test]
    fn cross_tenant_grants_are_refused() {
        let shop = owned(&["shop"], &["chat"], false);
        assert!(
            shop.check_reply(&connect(&["shop:cart"], &[], vec![]))
                .is_ok()
        );
        for reply in [
            connect(&["chat:room"], &[], vec![]),
            connect(&[], &["chat:room"], vec![]),
            connect(&["$chat:room"], &[], vec![]),
            connect(&[], &[], vec![cap(&["chat:room"], ChannelMatch::Exact)]),
            connect(&[], &[], vec![cap(&["chat:*"], ChannelMatch::Wildcard)]),
            connect(&[], &[], vec![cap(&["*"], ChannelMatch::Wildcard)]),
            connect(&[], &[], vec![cap(&["sh*:x"], ChannelMatch::Wildcard)]),
            // Unclaimed namespaces and no namespace belong to the fallback.
            connect(&["lobby"], &[], vec![]),
            connect(&["news:1"], &[], vec![]),
            Reply::Refresh(RefreshReply::Extend(RefreshResult {
                expire_at: 0,
                info: Vec::new(),
                meta: Vec::new(),
                caps: vec![cap(&["chat:room"], ChannelMatch::Exact)],
            })),
        ] {
            let error = shop
                .check_reply(&reply)
                .expect_err("outside shop's namespaces");
            assert!(error.to_string().contains("outside"), "{error}");
        }
        assert!(
            shop.check_reply(&connect(
                &[],
                &["$shop:vip"],
                vec![cap(&["shop:*", "$shop:*"], ChannelMatch::Wildcard)]
            ))
            .is_ok()
        );

        let main = owned(&[], &["chat", "shop"], true);
        assert!(
            main.check_reply(&connect(&["lobby", "news:1"], &[], vec![]))
                .is_ok()
        );
        assert!(
            main.check_reply(&connect(&["shop:cart"], &[], vec![]))
                .is_err()
        );
        assert!(
            main.check_reply(&connect(
                &[],
                &[],
                vec![cap(&["news"], ChannelMatch::Wildcard)]
            ))
            .is_ok()
        );

        let listed = GrantScope::new(Namespaces::Listed(set(&["", "chat"])), Naming::default());
        assert!(
            listed
                .check_reply(&connect(&["lobby", "chat:1"], &[], vec![]))
                .is_ok()
        );
        assert!(
            listed
                .check_reply(&connect(&["shop:1"], &[], vec![]))
                .is_err()
        );

        let any = GrantScope::any();
        assert!(
            any.check_reply(&connect(
                &["x:y"],
                &[],
                vec![cap(&["*"], ChannelMatch::Wildcard)]
            ))
            .is_ok()
        );
    }
}
