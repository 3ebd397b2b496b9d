//! Tenancy: which tenant a call belongs to.
//!
//! A configuration without `[tenants]` has one tenant, `default`, that is
//! granted every host import. With `[tenants]`, each call is mapped to one
//! tenant by the `[tenancy]` rule: a gRPC metadata key that Centrifugo sends
//! (its proxy's `static_metadata`), the channel (or RPC method) namespace, or
//! the listener the call arrived on. A call that maps to no tenant is refused.

use crate::config::{Tenancy, TenantRule};
use crate::contract::wit::types::Request;
use crate::error::CallError;

impl Tenancy {
    /// The tenant of `request`; `listener` is the tenant of the listener it
    /// arrived on, if that listener belongs to one.
    pub fn resolve<'a>(
        &'a self,
        request: &'a Request,
        listener: Option<&'a str>,
        is_tenant: impl Fn(&str) -> bool,
    ) -> Result<&'a str, CallError> {
        let fallback = || {
            self.fallback
                .as_deref()
                .ok_or_else(|| CallError::NoTenant(self.describe_missing(request)))
        };
        match &self.rule {
            TenantRule::Single => fallback(),
            TenantRule::Listener => listener.map_or_else(fallback, Ok),
            TenantRule::Metadata { key } => {
                let value = crate::contract::request_parts::headers(request)
                    .iter()
                    .find(|(name, _)| name == key)
                    .map(|(_, value)| value.as_str());
                match value {
                    None => fallback(),
                    Some(tenant) if is_tenant(tenant) => Ok(tenant),
                    // The value is not echoed: it may come from a client.
                    Some(_) => Err(CallError::NoTenant(format!(
                        "the `{key}` metadata names no configured tenant"
                    ))),
                }
            }
            TenantRule::Namespace { owners } => {
                let owner = self
                    .namespace(request)
                    .and_then(|namespace| owners.get(namespace));
                owner.map_or_else(fallback, |tenant| Ok(tenant.as_str()))
            }
        }
    }

    /// The tenant of a call as far as its metadata (`metadata` looks a key
    /// up) and its listener tell, before its message is read. `None` when
    /// the rule needs the message (namespaces) or nothing names a tenant;
    /// the name may be of no configured tenant.
    pub fn resolve_early<'a>(
        &'a self,
        metadata: impl FnOnce(&str) -> Option<&'a str>,
        listener: Option<&'a str>,
    ) -> Option<&'a str> {
        let fallback = self.fallback.as_deref();
        match &self.rule {
            TenantRule::Single => fallback,
            TenantRule::Listener => listener.or(fallback),
            TenantRule::Metadata { key } => metadata(key).or(fallback),
            TenantRule::Namespace { .. } => None,
        }
    }

    fn describe_missing(&self, request: &Request) -> String {
        match &self.rule {
            TenantRule::Single => "no tenant is configured".into(),
            TenantRule::Listener => "this listener belongs to no tenant".into(),
            TenantRule::Metadata { key } => {
                format!("the call carries no `{key}` metadata and no fallback tenant is set")
            }
            TenantRule::Namespace { .. } => match self.namespace(request) {
                Some(namespace) => format!(
                    "no tenant claims namespace `{namespace}` and no fallback tenant is set"
                ),
                None => "the call has no channel or method namespace and no fallback tenant is set"
                    .into(),
            },
        }
    }
}

impl Tenancy {
    /// The namespace a call is about: its channel's, or its RPC method's.
    fn namespace<'a>(&self, request: &'a Request) -> Option<&'a str> {
        match request {
            Request::Rpc(r) => self.naming.method_namespace(&r.method),
            _ => self
                .naming
                .channel_namespace(crate::contract::request_parts::channel(request)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::contract::kind::Naming;
    use crate::contract::wit::types::{Connection, PublishRequest};

    fn publish(channel: &str, headers: &[(&str, &str)]) -> Request {
        Request::Publish(PublishRequest {
            conn: Connection {
                client: String::new(),
                transport: String::new(),
                protocol: String::new(),
                encoding: String::new(),
            },
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            user: String::new(),
            channel: channel.to_owned(),
            data: Vec::new(),
            meta: Vec::new(),
            labels: Vec::new(),
        })
    }

    /// Finding 13 of the hardening review: the refusal of an unknown
    /// tenant echoed the metadata value, which a client may have sent.
    #[test]
    fn no_tenant_does_not_echo_the_callers_value() {
        let tenancy = Tenancy {
            rule: TenantRule::Metadata {
                key: "x-tenant".into(),
            },
            fallback: None,
            naming: Naming::default(),
        };
        let request = publish("room", &[("x-tenant", "<script>evil</script>")]);
        let error = tenancy
            .resolve(&request, None, |name| name == "shop")
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("x-tenant"), "{message}");
        assert!(!message.contains("evil"), "{message}");
    }

    /// Finding 7 of the hardening review: a private channel (`$chat:x`)
    /// belongs to the tenant of its namespace (`chat`), as in Centrifugo.
    #[test]
    fn private_channels_map_to_the_tenant_of_their_namespace() {
        let tenancy = Tenancy {
            rule: TenantRule::Namespace {
                owners: BTreeMap::from([("chat".to_owned(), "chat-team".to_owned())]),
            },
            fallback: Some("main".into()),
            naming: Naming::default(),
        };
        let tenant = |channel: &str| {
            tenancy
                .resolve(&publish(channel, &[]), None, |_| true)
                .map(str::to_owned)
                .unwrap()
        };
        assert_eq!(tenant("chat:room"), "chat-team");
        assert_eq!(tenant("$chat:room"), "chat-team");
        assert_eq!(tenant("$room"), "main");
        assert_eq!(tenant("other:room"), "main");
    }
}
