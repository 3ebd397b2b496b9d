//! Small constructors for the generated records, and helpers around them.
//!
//! The result records derive `Default` (see `bindings`): a default result
//! accepts with nothing set. The constructors here fill the one field that
//! usually matters and default the rest.

use crate::{
    ConnectResult, RefreshReply, RefreshResult, RpcResult, SubRefreshReply, SubRefreshResult,
};

impl ConnectResult {
    /// Accepts the connection as `user`, with nothing else set.
    ///
    /// An empty id accepts an anonymous connection.
    pub fn user(id: impl Into<String>) -> Self {
        Self {
            user: id.into(),
            ..Self::default()
        }
    }
}

impl RpcResult {
    /// Answers the call with `data`.
    pub fn data(data: impl Into<Vec<u8>>) -> Self {
        Self { data: data.into() }
    }
}

impl From<Vec<u8>> for RpcResult {
    fn from(data: Vec<u8>) -> Self {
        Self { data }
    }
}

impl RefreshReply {
    /// Extends the connection until `unix_secs`, keeping its info and meta.
    pub fn extend_until(unix_secs: i64) -> Self {
        Self::Extend(RefreshResult {
            expire_at: unix_secs,
            ..RefreshResult::default()
        })
    }
}

impl SubRefreshReply {
    /// Extends the subscription until `unix_secs`, keeping its info.
    pub fn extend_until(unix_secs: i64) -> Self {
        Self::Extend(SubRefreshResult {
            expire_at: unix_secs,
            info: Vec::new(),
        })
    }
}

/// The value of header `name`, compared without regard to ASCII case.
///
/// Works on any list of pairs: request headers, connection labels,
/// publication tags. The first match wins.
///
/// ```
/// let headers = vec![("Authorization".to_string(), "Bearer abc".to_string())];
/// assert_eq!(rotor_sdk::header(&headers, "authorization"), Some("Bearer abc"));
/// assert_eq!(rotor_sdk::header(&headers, "cookie"), None);
/// ```
pub fn header<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// The current time in Unix seconds, as connection and subscription expiry
/// times count it.
///
/// Inside a component the clock comes from the host through WASI. A clock
/// before 1970 reads as 0.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PublishResult, SubscribeOptions, SubscribeOverrides, SubscribeResult};

    #[test]
    fn header_lookup_ignores_case_and_takes_the_first_match() {
        let headers = vec![
            ("X-Token".to_string(), "one".to_string()),
            ("x-token".to_string(), "two".to_string()),
        ];
        assert_eq!(header(&headers, "x-TOKEN"), Some("one"));
        assert_eq!(header(&headers, "x-token-2"), None);
        assert_eq!(header(&[], "x-token"), None);
    }

    #[test]
    fn constructors_fill_one_field_and_default_the_rest() {
        let accepted = ConnectResult::user("42");
        assert_eq!(accepted.user, "42");
        assert_eq!(accepted.expire_at, 0);
        assert!(accepted.channels.is_empty() && accepted.caps.is_empty());

        assert_eq!(RpcResult::data(b"hi".to_vec()).data, b"hi");
        assert_eq!(RpcResult::from(vec![1, 2]), RpcResult::data(vec![1, 2]));
        assert_eq!(PublishResult::default().data, None);
        assert_eq!(SubscribeOverrides::default().presence, None);
        assert_eq!(SubscribeOptions::default().overrides, None);
        assert_eq!(SubscribeResult::default().server_tags_filter, None);
        assert_eq!(RefreshResult::default().expire_at, 0);

        match RefreshReply::extend_until(1_000) {
            RefreshReply::Extend(result) => {
                assert_eq!(result.expire_at, 1_000);
                assert!(result.info.is_empty() && result.meta.is_empty());
            }
            RefreshReply::Expire => panic!("expected extend"),
        }
        assert_eq!(
            SubRefreshReply::extend_until(7),
            SubRefreshReply::Extend(SubRefreshResult {
                expire_at: 7,
                info: Vec::new()
            })
        );
    }

    #[test]
    fn now_is_after_2020() {
        assert!(unix_now() > 1_577_836_800);
    }
}
