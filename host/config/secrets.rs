//! Values that never go in the config file itself: secrets and settings
//! read from the environment or from files (`*_env`, `*_file`), and the
//! files TLS needs. Each is read once, when the config is loaded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::config::oci::{DEFAULT_POLL, OciSettings};
use crate::config::raw::{RawAdmin, RawAuth, RawCentrifugo, RawOci, RawSetting, RawTls};
use crate::config::units::{MAX_TIMEOUT, parse_duration};
use crate::config::validate::check_namespaces;
use crate::config::{
    AdminConfig, ApiConfig, ConfigError, DEFAULT_API_TIMEOUT, ProxyAuth, TlsConfig, absolute,
    invalid,
};
use crate::contract::kind::Naming;

impl RawAuth {
    pub(super) fn validate(self, base: &Path) -> Result<ProxyAuth, ConfigError> {
        let key = self.key.to_ascii_lowercase();
        let valid_key = !key.is_empty()
            && !key.starts_with("grpc-")
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
        if !valid_key {
            return Err(invalid(
                "auth.key",
                "must be a gRPC metadata key such as x-proxy-secret",
            ));
        }
        let value = match (self.value_env, self.value_file) {
            (Some(env), None) => RawSetting::Env { env }.resolve("auth.value_env", base)?,
            (None, Some(file)) => RawSetting::File { file }.resolve("auth.value_file", base)?,
            _ => {
                return Err(invalid(
                    "auth.value_env",
                    "set `value_env` or `value_file` (one of them): the secret never goes in the config",
                ));
            }
        };
        if value.is_empty() {
            return Err(invalid("auth.value_env", "the secret is empty"));
        }
        Ok(ProxyAuth { key, value })
    }
}

impl RawTls {
    pub(super) fn validate(self, base: &Path) -> Result<TlsConfig, ConfigError> {
        let file = |key: &str, path: PathBuf| {
            let path = absolute(&base.join(path));
            if path.is_file() {
                Ok(path)
            } else {
                Err(invalid(
                    &format!("tls.{key}"),
                    &format!("{} is not a file", path.display()),
                ))
            }
        };
        Ok(TlsConfig {
            cert: file("cert", self.cert)?,
            key: file("key", self.key)?,
            client_ca: self
                .client_ca
                .map(|path| file("client_ca", path))
                .transpose()?,
        })
    }
}

impl RawAdmin {
    pub(super) fn validate(self, base: &Path) -> Result<AdminConfig, ConfigError> {
        let listen: SocketAddr = self.listen.parse().map_err(|_| ConfigError::Invalid {
            key: "admin.listen".into(),
            message: format!(
                "`{}` is not a socket address like 127.0.0.1:9901",
                self.listen
            ),
        })?;
        let token_key = if self.token_file.is_some() {
            "admin.token_file"
        } else {
            "admin.token_env"
        };
        let token = match (self.token_env, self.token_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "admin.token_env",
                    "set `token_env` or `token_file`, not both",
                ));
            }
            (Some(env), None) => Some(RawSetting::Env { env }.resolve("admin.token_env", base)?),
            (None, Some(file)) => {
                Some(RawSetting::File { file }.resolve("admin.token_file", base)?)
            }
            (None, None) => None,
        };
        // An empty token would let every empty `Bearer ` header through:
        // refuse to start rather than run an admin listener anyone can drive.
        if token
            .as_deref()
            .is_some_and(|token| token.trim().is_empty())
        {
            return Err(invalid(
                token_key,
                "the admin token is empty: set it to a long random value (an admin listener on loopback may also have no token)",
            ));
        }
        if token.is_none() && !listen.ip().is_loopback() {
            return Err(invalid(
                "admin.token_env",
                "an admin listener off loopback needs a token",
            ));
        }
        let mut hosts = Vec::with_capacity(self.hosts.len());
        for host in self.hosts {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            let valid = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !valid {
                return Err(invalid(
                    "admin.hosts",
                    &format!("`{host}` is not a host name (no port, no scheme)"),
                ));
            }
            hosts.push(host);
        }
        Ok(AdminConfig {
            listen,
            token,
            hosts,
        })
    }
}

impl RawCentrifugo {
    pub(super) fn validate(self, base: &Path, naming: &Naming) -> Result<ApiConfig, ConfigError> {
        if let Some(namespaces) = &self.namespaces {
            check_namespaces("centrifugo.namespaces", namespaces, naming)?;
        }
        if !(self.api.starts_with("http://") || self.api.starts_with("https://")) {
            return Err(invalid(
                "centrifugo.api",
                "must be an http:// or https:// address, e.g. http://127.0.0.1:10000",
            ));
        }
        let key = match (self.api_key_env, self.api_key_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "centrifugo.api_key_env",
                    "set `api_key_env` or `api_key_file`, not both",
                ));
            }
            (Some(env), None) => {
                Some(RawSetting::Env { env }.resolve("centrifugo.api_key_env", base)?)
            }
            (None, Some(file)) => {
                Some(RawSetting::File { file }.resolve("centrifugo.api_key_file", base)?)
            }
            (None, None) => None,
        };
        let timeout = match self.timeout {
            Some(text) => parse_duration(&text).map_err(|message| ConfigError::Invalid {
                key: "centrifugo.timeout".into(),
                message,
            })?,
            None => DEFAULT_API_TIMEOUT,
        };
        if timeout.is_zero() || timeout > MAX_TIMEOUT {
            return Err(invalid(
                "centrifugo.timeout",
                &format!(
                    "must be greater than zero and at most {}s",
                    MAX_TIMEOUT.as_secs()
                ),
            ));
        }
        Ok(ApiConfig {
            address: self.api,
            key,
            timeout,
            namespaces: self.namespaces,
        })
    }
}

impl RawSetting {
    pub(super) fn resolve(self, key: &str, base: &Path) -> Result<String, ConfigError> {
        match self {
            RawSetting::Literal(value) => Ok(value),
            RawSetting::Env { env } => std::env::var(&env).map_err(|_| ConfigError::Invalid {
                key: key.to_owned(),
                message: format!("environment variable {env} is not set"),
            }),
            RawSetting::File { file } => {
                let path = base.join(file);
                std::fs::read_to_string(&path)
                    .map(|text| text.trim_end_matches(['\r', '\n']).to_owned())
                    .map_err(|error| ConfigError::Invalid {
                        key: key.to_owned(),
                        message: format!("cannot read {}: {error}", path.display()),
                    })
            }
        }
    }
}

impl RawOci {
    /// `[oci]` with its password read from the environment or a file.
    pub(super) fn validate(self, base: &Path) -> Result<OciSettings, ConfigError> {
        let password = match (self.password_env, self.password_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "oci.password_env",
                    "set `password_env` or `password_file`, not both",
                ));
            }
            (Some(env), None) => Some(RawSetting::Env { env }.resolve("oci.password_env", base)?),
            (None, Some(file)) => {
                Some(RawSetting::File { file }.resolve("oci.password_file", base)?)
            }
            (None, None) => None,
        };
        let credentials = match (self.username, password) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(invalid(
                    "oci.username",
                    "needs `password_env` or `password_file`",
                ));
            }
            (None, Some(_)) => return Err(invalid("oci.username", "is missing")),
        };
        let poll = match self.poll {
            Some(text) => parse_duration(&text).map_err(|message| invalid("oci.poll", &message))?,
            None => DEFAULT_POLL,
        };
        if poll.is_zero() {
            return Err(invalid("oci.poll", "must be greater than zero"));
        }
        Ok(OciSettings {
            credentials,
            insecure: self.insecure,
            poll,
        })
    }
}
