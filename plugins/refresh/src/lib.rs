//! Answers connection refreshes: extends every connection by a fixed time
//! from now, except those of revoked users, which expire (Centrifugo then
//! closes them with disconnect 3005 and the client must connect again).
//!
//! Config keys:
//! - `extend_seconds` (optional): how long each refresh extends a
//!   connection, a positive whole number of seconds, default 3600;
//! - `revoked_users` (optional): comma-separated user ids whose connections
//!   are not extended.
//!
//! An invalid `extend_seconds` fails closed: connections expire, and an error
//! line is logged.

use rotor_sdk::{Refresh, RefreshReply, RefreshRequest};

/// The config key of the extension.
const EXTEND_SECONDS_KEY: &str = "extend_seconds";

/// The config key of the revoked users.
const REVOKED_USERS_KEY: &str = "revoked_users";

/// One hour: a revocation takes effect within the hour, while clients refresh
/// rarely enough that refreshes cost next to nothing.
const DEFAULT_EXTEND_SECONDS: i64 = 3600;

/// The component's refresh handler.
struct ExtendUnlessRevoked;

rotor_sdk::export_refresh!(ExtendUnlessRevoked);

impl Refresh for ExtendUnlessRevoked {
    fn refresh(request: RefreshRequest) -> RefreshReply {
        match Settings::from_config(rotor_sdk::config::get) {
            Ok(settings) => decide(&request.user, rotor_sdk::unix_now(), &settings),
            Err(problem) => {
                rotor_sdk::log::error(format!("refresh: {problem}"));
                RefreshReply::Expire
            }
        }
    }
}

/// The plugin's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How far past now a refresh extends a connection.
    pub extend_seconds: i64,
    /// Users whose connections expire instead.
    pub revoked_users: Vec<String>,
}

impl Settings {
    /// Reads the settings through `get`, which returns a config key's value.
    pub fn from_config(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let extend_seconds = match get(EXTEND_SECONDS_KEY) {
            None => DEFAULT_EXTEND_SECONDS,
            Some(value) => value
                .trim()
                .parse()
                .ok()
                .filter(|seconds: &i64| *seconds > 0)
                .ok_or_else(|| {
                    format!("config key `{EXTEND_SECONDS_KEY}` is not a positive whole number: {value:?}")
                })?,
        };
        let revoked_users = get(REVOKED_USERS_KEY)
            .map(|value| {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|user| !user.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            extend_seconds,
            revoked_users,
        })
    }
}

/// Extends `user`'s connection from `now` (Unix seconds) unless revoked.
pub fn decide(user: &str, now: i64, settings: &Settings) -> RefreshReply {
    if settings.revoked_users.iter().any(|revoked| revoked == user) {
        return RefreshReply::Expire;
    }
    RefreshReply::extend_until(now.saturating_add(settings.extend_seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        Settings::from_config(|key| {
            pairs
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| (*value).to_string())
        })
    }

    #[test]
    fn defaults_extend_by_an_hour_and_revoke_nobody() {
        let defaults = settings(&[]).expect("valid");
        assert_eq!(defaults.extend_seconds, 3600);
        assert!(defaults.revoked_users.is_empty());
        assert_eq!(
            decide("42", 1_000, &defaults),
            RefreshReply::extend_until(4_600)
        );
        assert_eq!(
            decide("", 1_000, &defaults),
            RefreshReply::extend_until(4_600)
        );
    }

    #[test]
    fn revoked_users_expire() {
        let settings =
            settings(&[("revoked_users", " 7, 13 ,,"), ("extend_seconds", "60")]).expect("valid");
        assert_eq!(settings.revoked_users, vec!["7", "13"]);
        assert_eq!(decide("7", 1_000, &settings), RefreshReply::Expire);
        assert_eq!(decide("13", 1_000, &settings), RefreshReply::Expire);
        assert_eq!(
            decide("1", 1_000, &settings),
            RefreshReply::extend_until(1_060)
        );
        assert_eq!(
            decide("", 1_000, &settings),
            RefreshReply::extend_until(1_060)
        );
    }

    #[test]
    fn invalid_extension_is_an_error() {
        for value in ["", "soon", "0", "-5", "1.5"] {
            assert!(settings(&[("extend_seconds", value)]).is_err(), "{value:?}");
        }
    }
}
