//! Answers subscription refreshes: extends every subscription by a fixed time
//! from now, except those to revoked channels, which expire (Centrifugo then
//! unsubscribes the client with code 2501).
//!
//! Config keys:
//! - `extend_seconds` (optional): how long each refresh extends a
//!   subscription, a positive whole number of seconds, default 3600;
//! - `revoked_channels` (optional): comma-separated channel names whose
//!   subscriptions are not extended.
//!
//! An invalid `extend_seconds` fails closed: subscriptions expire, and an
//! error line is logged.

use rotor_sdk::{SubRefresh, SubRefreshReply, SubRefreshRequest};

/// The config key of the extension.
const EXTEND_SECONDS_KEY: &str = "extend_seconds";

/// The config key of the revoked channels.
const REVOKED_CHANNELS_KEY: &str = "revoked_channels";

/// One hour: a revocation takes effect within the hour, while clients refresh
/// rarely enough that refreshes cost next to nothing.
const DEFAULT_EXTEND_SECONDS: i64 = 3600;

/// The component's sub-refresh handler.
struct ExtendUnlessRevoked;

rotor_sdk::export_sub_refresh!(ExtendUnlessRevoked);

impl SubRefresh for ExtendUnlessRevoked {
    fn sub_refresh(request: SubRefreshRequest) -> SubRefreshReply {
        match Settings::from_config(rotor_sdk::config::get) {
            Ok(settings) => decide(&request.channel, rotor_sdk::unix_now(), &settings),
            Err(problem) => {
                rotor_sdk::log::error(format!("sub-refresh: {problem}"));
                SubRefreshReply::Expire
            }
        }
    }
}

/// The plugin's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How far past now a refresh extends a subscription.
    pub extend_seconds: i64,
    /// Channels whose subscriptions expire instead.
    pub revoked_channels: Vec<String>,
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
        let revoked_channels = get(REVOKED_CHANNELS_KEY)
            .map(|value| {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|channel| !channel.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            extend_seconds,
            revoked_channels,
        })
    }
}

/// Extends the subscription to `channel` from `now` (Unix seconds) unless
/// the channel is revoked.
pub fn decide(channel: &str, now: i64, settings: &Settings) -> SubRefreshReply {
    if settings
        .revoked_channels
        .iter()
        .any(|revoked| revoked == channel)
    {
        return SubRefreshReply::Expire;
    }
    SubRefreshReply::extend_until(now.saturating_add(settings.extend_seconds))
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
    fn defaults_extend_by_an_hour_and_revoke_nothing() {
        let defaults = settings(&[]).expect("valid");
        assert_eq!(defaults.extend_seconds, 3600);
        assert!(defaults.revoked_channels.is_empty());
        assert_eq!(
            decide("news:1", 1_000, &defaults),
            SubRefreshReply::extend_until(4_600)
        );
    }

    #[test]
    fn revoked_channels_expire() {
        let settings = settings(&[
            ("revoked_channels", "news:old, chat:1"),
            ("extend_seconds", "30"),
        ])
        .expect("valid");
        assert_eq!(
            decide("news:old", 1_000, &settings),
            SubRefreshReply::Expire
        );
        assert_eq!(decide("chat:1", 1_000, &settings), SubRefreshReply::Expire);
        assert_eq!(
            decide("chat:10", 1_000, &settings),
            SubRefreshReply::extend_until(1_030)
        );
    }

    #[test]
    fn invalid_extension_is_an_error() {
        for value in ["", "later", "0", "-1", "3600s"] {
            assert!(settings(&[("extend_seconds", value)]).is_err(), "{value:?}");
        }
    }
}
