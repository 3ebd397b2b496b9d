//! An interceptor that renames channels before the next steps see them, on
//! subscribe, publish, sub-refresh, map publish and map remove: old channel
//! names keep working after a rename, and `News` and `news` can mean the
//! same channel.
//!
//! The new name is what later interceptors and the handler see, and what
//! Rotor routes by (so a rename can move a call to another namespace's
//! handler). Centrifugo itself still uses the name the client sent: the
//! proxy reply cannot move a client to another channel.
//!
//! The rename: first the channel is lower-cased (if `lowercase` is on), then
//! the result is looked up in `aliases` and replaced by its alias's target,
//! which is used as written. The call is rewritten only when the name
//! changed; otherwise it passes as it is. Other request kinds pass.
//!
//! Config keys:
//! - `aliases` (optional): comma-separated `old=new` pairs of exact channel
//!   names, e.g. `news=public:news, chat=public:chat`; spaces around names
//!   are ignored. A pair without `=` or with an empty side, or the same old
//!   name twice, is invalid;
//! - `lowercase` (optional): `true` or `false`, default `false`.
//!
//! Invalid settings fail closed: calls are refused with `100 internal server
//! error` and an error log line, rather than reaching handlers under names
//! they were not meant to see.

use std::collections::BTreeMap;

use rotor_sdk::{CallContext, Decision, Denial, Interceptor, Request};

/// The config key of the aliases.
const ALIASES_KEY: &str = "aliases";
/// The config key of lower-casing.
const LOWERCASE_KEY: &str = "lowercase";

/// The component's interceptor.
struct ChannelRewrite;

rotor_sdk::export_interceptor!(ChannelRewrite);

impl Interceptor for ChannelRewrite {
    fn before(_context: &CallContext, mut request: Request) -> Decision {
        let Some(channel) = channel_mut(&mut request) else {
            return Decision::Pass;
        };
        let settings = match Settings::from_config(rotor_sdk::config::get) {
            Ok(settings) => settings,
            Err(problem) => {
                rotor_sdk::log::error(format!("channel-rewrite: {problem}"));
                return Denial::internal().into();
            }
        };
        match settings.rename(channel) {
            Some(renamed) => {
                *channel = renamed;
                Decision::Rewrite(request)
            }
            None => Decision::Pass,
        }
    }
}

/// The channel of a request that has one and is rewritten.
fn channel_mut(request: &mut Request) -> Option<&mut String> {
    match request {
        Request::Subscribe(request) => Some(&mut request.channel),
        Request::Publish(request) => Some(&mut request.channel),
        Request::SubRefresh(request) => Some(&mut request.channel),
        Request::MapPublish(request) => Some(&mut request.channel),
        Request::MapRemove(request) => Some(&mut request.channel),
        // Calls Centrifugo makes about its own channels (shared poll,
        // cache and channel state) name them as Centrifugo knows them.
        Request::Connect(_)
        | Request::Refresh(_)
        | Request::Rpc(_)
        | Request::SharedPollRefresh(_)
        | Request::NotifyCacheEmpty(_)
        | Request::NotifyChannelState(_) => None,
    }
}

/// The plugin's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// New names by old name.
    pub aliases: BTreeMap<String, String>,
    /// Whether channels are lower-cased first.
    pub lowercase: bool,
}

impl Settings {
    /// Reads the settings through `get`, which returns a config key's value.
    pub fn from_config(get: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let mut aliases = BTreeMap::new();
        for pair in get(ALIASES_KEY).unwrap_or_default().split(',') {
            if pair.trim().is_empty() {
                continue;
            }
            let (old, new) = pair
                .split_once('=')
                .map(|(old, new)| (old.trim(), new.trim()))
                .filter(|(old, new)| !old.is_empty() && !new.is_empty())
                .ok_or_else(|| {
                    format!("config key `{ALIASES_KEY}`: {pair:?} is not an `old=new` pair")
                })?;
            if aliases.insert(old.to_owned(), new.to_owned()).is_some() {
                return Err(format!(
                    "config key `{ALIASES_KEY}`: {old:?} has more than one alias"
                ));
            }
        }
        let lowercase = match get(LOWERCASE_KEY).as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format!(
                    "config key `{LOWERCASE_KEY}` is not `true` or `false`: {other:?}"
                ));
            }
        };
        Ok(Settings { aliases, lowercase })
    }

    /// The new name of `channel`, or `None` if it stays as it is.
    pub fn rename(&self, channel: &str) -> Option<String> {
        let lowered = self.lowercase.then(|| channel.to_lowercase());
        let current = lowered.as_deref().unwrap_or(channel);
        let renamed = self.aliases.get(current).map_or(current, String::as_str);
        (renamed != channel).then(|| renamed.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use rotor_sdk::{Connection, RpcRequest, SubscribeRequest};

    use super::*;

    fn settings(aliases: Option<&str>, lowercase: Option<&str>) -> Result<Settings, String> {
        Settings::from_config(|key| match key {
            ALIASES_KEY => aliases.map(str::to_owned),
            LOWERCASE_KEY => lowercase.map(str::to_owned),
            _ => None,
        })
    }

    fn conn() -> Connection {
        Connection {
            client: "c1".to_owned(),
            transport: "websocket".to_owned(),
            protocol: "json".to_owned(),
            encoding: "json".to_owned(),
        }
    }

    #[test]
    fn aliases_parse_leniently_about_spaces() {
        let parsed = settings(Some(" news = public:news ,chat=public:chat,"), None).expect("valid");
        assert_eq!(parsed.aliases.len(), 2);
        assert_eq!(parsed.aliases["news"], "public:news");
        assert!(!parsed.lowercase);
        assert_eq!(settings(None, None), Ok(Settings::default()));
        assert_eq!(
            settings(Some(""), Some("true")).map(|s| s.lowercase),
            Ok(true)
        );
    }

    #[test]
    fn invalid_settings_are_refused() {
        for aliases in ["news", "=public:news", "news=", "a=b,a=c"] {
            assert!(settings(Some(aliases), None).is_err(), "{aliases}");
        }
        assert!(settings(None, Some("yes")).is_err());
    }

    #[test]
    fn renames_only_what_changes() {
        let plain = settings(Some("news=public:news"), None).expect("valid");
        assert_eq!(plain.rename("news"), Some("public:news".to_owned()));
        assert_eq!(plain.rename("News"), None, "aliases are exact");
        assert_eq!(plain.rename("public:news"), None, "one step only");
        assert_eq!(plain.rename("other"), None);
    }

    #[test]
    fn lowercases_then_looks_up_the_alias() {
        let lowering = settings(Some("news=Public:News"), Some("true")).expect("valid");
        assert_eq!(lowering.rename("NEWS"), Some("Public:News".to_owned()));
        assert_eq!(lowering.rename("Room:1"), Some("room:1".to_owned()));
        assert_eq!(lowering.rename("room:1"), None);
        assert_eq!(
            lowering.rename("Public:News"),
            Some("public:news".to_owned())
        );
    }

    #[test]
    fn only_channel_requests_are_touched() {
        let mut subscribe = Request::Subscribe(SubscribeRequest {
            conn: conn(),
            headers: Vec::new(),
            user: "42".to_owned(),
            channel: "news".to_owned(),
            token: String::new(),
            meta: Vec::new(),
            data: Vec::new(),
            labels: Vec::new(),
        });
        assert_eq!(
            channel_mut(&mut subscribe).map(|c| c.as_str()),
            Some("news")
        );
        let mut rpc = Request::Rpc(RpcRequest {
            conn: conn(),
            headers: Vec::new(),
            user: "42".to_owned(),
            method: "news".to_owned(),
            data: Vec::new(),
            meta: Vec::new(),
            labels: Vec::new(),
        });
        assert_eq!(channel_mut(&mut rpc), None);
        assert_eq!(
            ChannelRewrite::before(
                &CallContext {
                    tenant: "t".to_owned(),
                    call_id: 1
                },
                rpc
            ),
            Decision::Pass
        );
    }
}
