//! An interceptor that limits publishes and RPC calls: at most `limit` calls
//! per subject in each fixed window of `window_ms`. A call over the limit is
//! refused with `111 too many requests`, temporary, so the client backs off
//! and retries; the handler does not run. Other request kinds pass.
//!
//! Counting uses the shared key-value store: `kv::increment` on the key
//! `rate:<kind>:<window_ms>:<subject>`, created with the window as its time
//! to live, so the count starts over when the key expires. `<kind>` is
//! `publish` or `rpc` (each counts separately); the window is part of the key
//! so that two entries with different windows, a burst limit and a sustained
//! one say, keep separate counts; `<subject>` depends on `by`:
//!
//! - `user` (default): `user:<id>`, or `client:<id>` for an anonymous
//!   connection, so anonymous clients do not share one budget;
//! - `channel`: `channel:<name>` for publishes;
//! - `method`: `method:<name>` for RPC calls.
//!
//! A publish has no method and an RPC no channel, so with `channel` or
//! `method` both count per target: a publish per channel, an RPC per method.
//! With several Rotor replicas, a store embedded in each process counts per
//! replica; a store the replicas share counts across them.
//!
//! **Fails open.** If the store cannot count (unreachable, or the key is over
//! its limits) the call passes and a warning is logged: a rate limit protects
//! capacity, and an outage of the store should not take every publish and
//! RPC down with it. Invalid settings fail closed instead (`100 internal
//! server error` and an error log line), so a typo is noticed at once.
//!
//! Config keys:
//! - `limit` (optional): calls allowed per window, a positive whole number,
//!   default 10;
//! - `window_ms` (optional): the window in milliseconds, a positive whole
//!   number, default 1000;
//! - `by` (optional): `user`, `channel` or `method`, default `user`.

use std::time::Duration;

use rotor_sdk::{CallContext, Decision, Denial, Interceptor, Request};

/// The config key of the number of calls per window.
const LIMIT_KEY: &str = "limit";
/// The config key of the window's length.
const WINDOW_MS_KEY: &str = "window_ms";
/// The config key of what is counted.
const BY_KEY: &str = "by";

/// Ten calls a second: generous for a person typing or clicking, tight
/// enough to stop a runaway script.
const DEFAULT_LIMIT: i64 = 10;
/// One second: short windows keep the burst at a window's edge small.
const DEFAULT_WINDOW: Duration = Duration::from_secs(1);

/// The component's interceptor.
struct RateLimit;

rotor_sdk::export_interceptor!(RateLimit);

impl Interceptor for RateLimit {
    fn before(_context: &CallContext, request: Request) -> Decision {
        if !matches!(request, Request::Publish(_) | Request::Rpc(_)) {
            return Decision::Pass;
        }
        let settings = match Settings::from_config(rotor_sdk::config::get) {
            Ok(settings) => settings,
            Err(problem) => {
                rotor_sdk::log::error(format!("rate-limit: {problem}"));
                return Denial::internal().into();
            }
        };
        let Some(key) = counter_key(&request, &settings) else {
            return Decision::Pass;
        };
        match rotor_sdk::kv::increment(&key, 1, Some(settings.window)) {
            Ok(count) => decide(count, settings.limit),
            Err(error) => {
                rotor_sdk::log::warn(format!(
                    "rate-limit: cannot count {key}, letting the call through: {error:?}"
                ));
                Decision::Pass
            }
        }
    }
}

/// What calls are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountBy {
    /// The user, or the client of an anonymous connection.
    User,
    /// The channel of a publish, the method of an RPC.
    Target,
}

/// The plugin's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Calls allowed per window.
    pub limit: i64,
    /// The window's length.
    pub window: Duration,
    /// What calls are counted by.
    pub by: CountBy,
}

impl Settings {
    /// Reads the settings through `get`, which returns a config key's value.
    pub fn from_config(get: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let limit = match get(LIMIT_KEY) {
            None => DEFAULT_LIMIT,
            Some(value) => positive(LIMIT_KEY, &value)?,
        };
        let window = match get(WINDOW_MS_KEY) {
            None => DEFAULT_WINDOW,
            Some(value) => Duration::from_millis(positive(WINDOW_MS_KEY, &value)?),
        };
        let by = match get(BY_KEY).as_deref().map(str::trim) {
            None | Some("user") => CountBy::User,
            Some("channel" | "method") => CountBy::Target,
            Some(other) => {
                return Err(format!(
                    "config key `{BY_KEY}` is not `user`, `channel` or `method`: {other:?}"
                ));
            }
        };
        Ok(Settings { limit, window, by })
    }
}

/// A positive whole number from the config value of `key`.
fn positive<N>(key: &str, value: &str) -> Result<N, String>
where
    N: std::str::FromStr + PartialOrd + Default,
{
    value
        .trim()
        .parse()
        .ok()
        .filter(|number| *number > N::default())
        .ok_or_else(|| format!("config key `{key}` is not a positive whole number: {value:?}"))
}

/// The key that counts `request`, or `None` for a kind that is not limited.
pub fn counter_key(request: &Request, settings: &Settings) -> Option<String> {
    let (kind, user, client, target) = match request {
        Request::Publish(publish) => (
            "publish",
            &publish.user,
            &publish.conn.client,
            format!("channel:{}", publish.channel),
        ),
        Request::Rpc(rpc) => (
            "rpc",
            &rpc.user,
            &rpc.conn.client,
            format!("method:{}", rpc.method),
        ),
        _ => return None,
    };
    let subject = match settings.by {
        CountBy::User if user.is_empty() => format!("client:{client}"),
        CountBy::User => format!("user:{user}"),
        CountBy::Target => target,
    };
    let window_ms = settings.window.as_millis();
    Some(format!("rate:{kind}:{window_ms}:{subject}"))
}

/// Passes the `count`th call of a window, or refuses it over `limit`.
pub fn decide(count: i64, limit: i64) -> Decision {
    if count <= limit {
        return Decision::Pass;
    }
    Denial::too_many_requests().into()
}

#[cfg(test)]
mod tests {
    use rotor_sdk::{CentrifugoError, Connection, PublishRequest, RpcRequest, SubscribeRequest};

    use super::*;

    fn conn() -> Connection {
        Connection {
            client: "c1".to_owned(),
            transport: "websocket".to_owned(),
            protocol: "json".to_owned(),
            encoding: "json".to_owned(),
        }
    }

    fn rpc(user: &str) -> Request {
        Request::Rpc(RpcRequest {
            conn: conn(),
            headers: Vec::new(),
            user: user.to_owned(),
            method: "ping".to_owned(),
            data: Vec::new(),
            meta: Vec::new(),
            labels: Vec::new(),
        })
    }

    fn publish(user: &str) -> Request {
        Request::Publish(PublishRequest {
            conn: conn(),
            headers: Vec::new(),
            user: user.to_owned(),
            channel: "news".to_owned(),
            data: Vec::new(),
            meta: Vec::new(),
            labels: Vec::new(),
        })
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        Settings::from_config(|key| {
            pairs
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn settings_default_to_ten_a_second_per_user() {
        assert_eq!(
            settings(&[]),
            Ok(Settings {
                limit: 10,
                window: Duration::from_secs(1),
                by: CountBy::User
            })
        );
        assert_eq!(
            settings(&[("limit", "2"), ("window_ms", " 60000 "), ("by", "method")]),
            Ok(Settings {
                limit: 2,
                window: Duration::from_secs(60),
                by: CountBy::Target
            })
        );
        assert_eq!(
            settings(&[("by", "channel")]).map(|s| s.by),
            Ok(CountBy::Target)
        );
    }

    #[test]
    fn invalid_settings_are_refused() {
        for pairs in [
            [("limit", "0")],
            [("limit", "-1")],
            [("limit", "ten")],
            [("window_ms", "0")],
            [("window_ms", "1.5")],
            [("by", "ip")],
        ] {
            assert!(settings(&pairs).is_err(), "{pairs:?}");
        }
    }

    fn counting(by: CountBy) -> Settings {
        Settings {
            limit: 10,
            window: Duration::from_secs(1),
            by,
        }
    }

    #[test]
    fn keys_name_the_kind_the_window_and_the_subject() {
        let by_user = counting(CountBy::User);
        let by_target = counting(CountBy::Target);
        for (request, settings, key) in [
            (rpc("42"), &by_user, "rate:rpc:1000:user:42"),
            (rpc(""), &by_user, "rate:rpc:1000:client:c1"),
            (rpc("42"), &by_target, "rate:rpc:1000:method:ping"),
            (publish("42"), &by_user, "rate:publish:1000:user:42"),
            (publish("42"), &by_target, "rate:publish:1000:channel:news"),
        ] {
            assert_eq!(counter_key(&request, settings).as_deref(), Some(key));
        }
        let sustained = Settings {
            window: Duration::from_secs(60),
            ..by_user
        };
        assert_eq!(
            counter_key(&rpc("42"), &sustained).as_deref(),
            Some("rate:rpc:60000:user:42")
        );
    }

    #[test]
    fn other_kinds_are_not_counted() {
        let subscribe = Request::Subscribe(SubscribeRequest {
            conn: conn(),
            headers: Vec::new(),
            user: "42".to_owned(),
            channel: "news".to_owned(),
            token: String::new(),
            meta: Vec::new(),
            data: Vec::new(),
            labels: Vec::new(),
        });
        assert_eq!(counter_key(&subscribe, &counting(CountBy::User)), None);
    }

    #[test]
    fn calls_over_the_limit_are_refused_temporarily() {
        assert_eq!(decide(1, 2), Decision::Pass);
        assert_eq!(decide(2, 2), Decision::Pass);
        assert_eq!(
            decide(3, 2),
            Decision::Reject(CentrifugoError {
                code: 111,
                message: "too many requests".to_owned(),
                temporary: true,
            })
        );
    }

    #[test]
    fn natively_there_is_no_store_and_calls_pass() {
        assert_eq!(
            RateLimit::before(
                &CallContext {
                    tenant: "t".to_owned(),
                    call_id: 1
                },
                rpc("42")
            ),
            Decision::Pass
        );
    }
}
