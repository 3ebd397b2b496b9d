//! How the config's types show in `Debug` output: secrets (setting values,
//! the API key, the admin token, the proxy credentials, a Redis password)
//! never appear, only their names.

use std::collections::BTreeMap;
use std::fmt;

use super::{AdminConfig, ApiConfig, InterceptorRef, KvConfig, ProxyAuth, TenantConfig};

impl fmt::Debug for TenantConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings: BTreeMap<&str, RedactedValues<'_>> = self
            .settings
            .iter()
            .map(|(plugin, values)| (plugin.as_str(), RedactedValues(values)))
            .collect();
        f.debug_struct("TenantConfig")
            .field("name", &self.name)
            .field("plugin_dir", &self.plugin_dir)
            .field("handlers", &self.handlers)
            .field("interceptors", &self.interceptors)
            .field("limits", &self.limits)
            .field("settings", &settings)
            .field("grants", &self.grants)
            .field("api_namespaces", &self.api_namespaces)
            .field("listen", &self.listen)
            .field("reuse", &self.reuse)
            .field("on_refresh_failure", &self.on_refresh_failure)
            .finish()
    }
}

/// What `Debug` shows in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// Settings in `Debug` output: their names, each value replaced by
/// [`REDACTED`], since any of them may come from a secret.
pub struct RedactedValues<'a>(pub &'a BTreeMap<String, String>);

impl fmt::Debug for RedactedValues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|key| (key, REDACTED)))
            .finish()
    }
}

impl fmt::Debug for ProxyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyAuth")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| REDACTED))
            .field("hosts", &self.hosts)
            .finish()
    }
}

impl fmt::Debug for InterceptorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InterceptorRef")
            .field("plugin", &self.plugin)
            .field("settings", &RedactedValues(&self.settings))
            .field("fail_open", &self.fail_open)
            .finish()
    }
}

impl fmt::Debug for KvConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvConfig::Memory => f.write_str("Memory"),
            KvConfig::Redis { url, prefix } => f
                .debug_struct("Redis")
                .field("url", &redact_url(url))
                .field("prefix", prefix)
                .finish(),
        }
    }
}

/// `url` with the password of its user part, if any, replaced by
/// [`REDACTED`]: `redis://user:secret@host/0` becomes
/// `redis://user:<redacted>@host/0`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = user_info
        .split_once(':')
        .map_or(user_info, |(user, _)| user);
    format!("{scheme}://{user}:{REDACTED}@{host}{path}")
}

impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("address", &self.address)
            .field("key", &self.key.as_ref().map(|_| REDACTED))
            .field("timeout", &self.timeout)
            .field("namespaces", &self.namespaces)
            .finish()
    }
}
