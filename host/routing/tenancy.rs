//! Tenants: who a call belongs to, and what that tenant's guests may use.
//!
//! A configuration without `[tenants]` has one tenant, `default`, that is
//! granted every host import. With `[tenants]`, each call is mapped to one
//! tenant by the `[tenancy]` rule: a gRPC metadata key that Centrifugo sends
//! (its proxy's `static_metadata`), the channel (or RPC method) namespace, or
//! the listener the call arrived on. A call that maps to no tenant is refused.

use std::collections::BTreeMap;
use std::fmt;

use crate::contract::kind::Naming;
use crate::contract::wit::types::Request;
use crate::error::CallError;

/// The tenant of a configuration without tenants.
pub const DEFAULT_TENANT: &str = "default";

/// The metadata key that names the tenant when `[tenancy] by = "metadata"`
/// does not name another.
pub const DEFAULT_TENANT_KEY: &str = "x-rotor-tenant";

/// The host imports a tenant's guests may use. Clocks and randomness (WASI)
/// are always available; files, sockets and the environment never are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grants {
    /// `log`: write to Rotor's log.
    pub log: bool,
    /// `config`: read the plugin's settings.
    pub config: bool,
    /// `kv`: the tenant's keys in the shared store.
    pub kv: bool,
    /// `centrifugo-api`: Centrifugo's server API.
    pub centrifugo_api: bool,
}

impl Grants {
    /// Every host import: what the tenant of a single-tenant config gets.
    pub const ALL: Grants = Grants {
        log: true,
        config: true,
        kv: true,
        centrifugo_api: true,
    };

    /// What a declared tenant gets unless its `grants` say otherwise: no
    /// server API, since that acts on Centrifugo itself.
    pub const DEFAULT: Grants = Grants {
        log: true,
        config: true,
        kv: true,
        centrifugo_api: false,
    };

    /// The names of the grantable imports, as written in `grants`.
    pub const NAMES: [&'static str; 4] = ["log", "config", "kv", "centrifugo-api"];

    /// Grants from the names in a `grants` list.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Grants, String> {
        let mut grants = Grants {
            log: false,
            config: false,
            kv: false,
            centrifugo_api: false,
        };
        for name in names {
            match name {
                "log" => grants.log = true,
                "config" => grants.config = true,
                "kv" => grants.kv = true,
                "centrifugo-api" => grants.centrifugo_api = true,
                other => {
                    return Err(format!(
                        "unknown capability `{other}` (one of: {})",
                        Grants::NAMES.join(", ")
                    ));
                }
            }
        }
        Ok(grants)
    }

    /// Whether a component may import `import` (a name such as
    /// `rotor:centrifugo/kv@0.1.0` or `wasi:clocks/monotonic-clock@0.2.6`).
    /// Imports Rotor does not know are left to the linker, which refuses them.
    pub fn allows(&self, import: &str) -> bool {
        let Some(interface) = import.strip_prefix("rotor:centrifugo/") else {
            return true;
        };
        let interface = interface.split('@').next().unwrap_or(interface);
        match interface {
            "log" => self.log,
            "config" => self.config,
            "kv" => self.kv,
            "centrifugo-api" => self.centrifugo_api,
            // Type-only interfaces carry no capability.
            _ => true,
        }
    }
}

impl fmt::Display for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let granted = [self.log, self.config, self.kv, self.centrifugo_api];
        let names: Vec<_> = Grants::NAMES
            .iter()
            .zip(granted)
            .filter_map(|(name, granted)| granted.then_some(*name))
            .collect();
        if names.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

/// How a call is mapped to its tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantRule {
    /// One tenant answers every call.
    Single,
    /// The value of a metadata key names the tenant.
    Metadata {
        /// The key, lower-case.
        key: String,
    },
    /// The namespace of the channel (subscribe, publish, sub-refresh) or of
    /// the RPC method picks the tenant that claims it.
    Namespace {
        /// Namespace → tenant.
        owners: BTreeMap<String, String>,
    },
    /// The listener the call arrived on picks the tenant.
    Listener,
}

/// The mapping of calls to tenants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenancy {
    /// The rule.
    pub rule: TenantRule,
    /// The tenant of calls that carry no tenant key: no metadata, no
    /// namespace claimed by a tenant, or the main listener.
    pub fallback: Option<String>,
    /// How namespaces are read out of channels and methods, as Centrifugo
    /// reads them.
    pub naming: Naming,
}

impl Tenancy {
    /// One tenant for every call.
    pub fn single() -> Tenancy {
        Tenancy {
            rule: TenantRule::Single,
            fallback: Some(DEFAULT_TENANT.to_owned()),
            naming: Naming::default(),
        }
    }

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
                let value = headers(request)
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

fn headers(request: &Request) -> &[(String, String)] {
    match request {
        Request::Connect(r) => &r.headers,
        Request::Refresh(r) => &r.headers,
        Request::Subscribe(r) => &r.headers,
        Request::Publish(r) => &r.headers,
        Request::Rpc(r) => &r.headers,
        Request::SubRefresh(r) => &r.headers,
    }
}

impl Tenancy {
    /// The namespace a call is about: its channel's, or its RPC method's.
    fn namespace<'a>(&self, request: &'a Request) -> Option<&'a str> {
        match request {
            Request::Connect(_) | Request::Refresh(_) => None,
            Request::Subscribe(r) => self.naming.channel_namespace(&r.channel),
            Request::Publish(r) => self.naming.channel_namespace(&r.channel),
            Request::SubRefresh(r) => self.naming.channel_namespace(&r.channel),
            Request::Rpc(r) => self.naming.method_namespace(&r.method),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn grants_gate_rotor_imports_only() {
        let grants = Grants::from_names(["log", "kv"]).unwrap();
        assert!(grants.allows("rotor:centrifugo/log@0.1.0"));
        assert!(grants.allows("rotor:centrifugo/kv@0.1.0"));
        assert!(!grants.allows("rotor:centrifugo/config@0.1.0"));
        assert!(!grants.allows("rotor:centrifugo/centrifugo-api@0.1.0"));
        assert!(grants.allows("rotor:centrifugo/types@0.1.0"));
        assert!(grants.allows("wasi:clocks/monotonic-clock@0.2.6"));
        assert_eq!(grants.to_string(), "log, kv");
        let error = Grants::from_names(["files"]).unwrap_err();
        assert!(error.contains("files"), "{error}");
    }
}
