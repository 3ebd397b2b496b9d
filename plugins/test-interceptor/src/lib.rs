//! Test fixture: an interceptor that does exactly what its settings say, so
//! end-to-end tests can build chains of any shape from one component. It
//! exports `interceptor` only and serves every request kind.
//!
//! Config keys (read on every call, so per-entry settings of a chain apply):
//!
//! - `tag`: a name for this entry in replies and headers, default `?`.
//! - `before`: what `before` does, default `pass`:
//!   - `pass` → pass the call on unchanged;
//!   - `rewrite` → pass the request on with header `x-chain` set to its
//!     current value (empty if absent) followed by the tag, so a chain
//!     `A, B, C` reaches the handler with `x-chain: ABC`; an existing
//!     `x-chain` pair is replaced, never repeated;
//!   - `rewrite-data` → like `rewrite`, and a publish's or map publish's
//!     data becomes the bytes `{"rewritten_by":"<tag>"}`; a map publish's or
//!     map remove's key becomes `key-<tag>`;
//!   - `answer` → answer with a reply of the request's kind: RPC accepts with
//!     data = the bytes `{"answered_by":"<tag>"}`; connect accepts as user
//!     `<tag>`; subscribe, publish, map publish, map remove and shared poll
//!     refresh accept with the default result; refresh and sub-refresh extend
//!     with `expire_at` 1; cache-empty answers `populated`; channel state
//!     accepts;
//!   - `reject` → reject with `{code 1403, message "rejected by <tag>",
//!     temporary false}`;
//!   - `disconnect` → disconnect with `{code 4403, reason <tag>}`;
//!   - `trap` → panic (the component traps);
//!   - `wrong-kind` → answer with a reply of another kind: a connect reply
//!     (accepting user `<tag>`) to an RPC, the RPC answer above to any other
//!     kind;
//!   - `rewrite-wrong-kind` → rewrite into a request of another kind, built
//!     from empty values: a connect request for an RPC, an RPC request for
//!     any other kind.
//! - `after`: what `after` does, default `none`:
//!   - `none` → keep the reply;
//!   - `tag` → for an accepted RPC, append the bytes `|after:<tag>` to its
//!     data and return it; keep any other reply;
//!   - `trap` → panic;
//!   - `wrong-kind` → replace the reply with one of another kind (as for
//!     `before = "wrong-kind"`, decided by the reply's kind).
//!
//! Any other value of `before` or `after` panics with a message naming it:
//! a test with a typo fails loudly instead of passing by accident.

use rotor_sdk::{
    CallContext, CentrifugoError, ConnectReply, ConnectRequest, ConnectResult, Connection,
    Decision, Disconnect, Headers, Interceptor, MapPublishReply, MapPublishResult, MapRemoveReply,
    MapRemoveResult, NotifyCacheEmptyReply, NotifyChannelStateReply, PublishReply, PublishResult,
    RefreshReply, Reply, Request, RpcReply, RpcRequest, RpcResult, SharedPollRefreshReply,
    SharedPollRefreshResult, SubRefreshReply, SubscribeReply, SubscribeResult,
};

/// The config key naming this entry.
const TAG_KEY: &str = "tag";
/// The config key of what `before` does.
const BEFORE_KEY: &str = "before";
/// The config key of what `after` does.
const AFTER_KEY: &str = "after";
/// The tag of an entry that names none: visible, and unlike any test's tag.
const DEFAULT_TAG: &str = "?";
/// The header that `rewrite` appends tags to.
const CHAIN_HEADER: &str = "x-chain";

/// The component's interceptor.
struct Fixture;

rotor_sdk::export_interceptor!(Fixture);

impl Interceptor for Fixture {
    fn before(_context: &CallContext, request: Request) -> Decision {
        let action = Before::parse(rotor_sdk::config::get(BEFORE_KEY).as_deref())
            .unwrap_or_else(|problem| panic!("test-interceptor: {problem}"));
        before(action, &tag(), request)
    }

    fn after(_context: &CallContext, reply: Reply) -> Option<Reply> {
        let action = After::parse(rotor_sdk::config::get(AFTER_KEY).as_deref())
            .unwrap_or_else(|problem| panic!("test-interceptor: {problem}"));
        after(action, &tag(), reply)
    }
}

fn tag() -> String {
    rotor_sdk::config::get(TAG_KEY).unwrap_or_else(|| DEFAULT_TAG.to_owned())
}

/// What `before` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    /// Pass the call on unchanged.
    Pass,
    /// Append the tag to the `x-chain` header and pass the call on.
    Rewrite,
    /// As `Rewrite`, and replace a publish's data.
    RewriteData,
    /// Answer with a reply of the request's kind.
    Answer,
    /// Reject with 1403.
    Reject,
    /// Disconnect with 4403.
    Disconnect,
    /// Panic.
    Trap,
    /// Answer with a reply of another kind.
    WrongKind,
    /// Rewrite into a request of another kind.
    RewriteWrongKind,
}

impl Before {
    /// The action of a `before` setting; unset means `pass`.
    pub fn parse(value: Option<&str>) -> Result<Before, String> {
        Ok(match value.unwrap_or("pass") {
            "pass" => Before::Pass,
            "rewrite" => Before::Rewrite,
            "rewrite-data" => Before::RewriteData,
            "answer" => Before::Answer,
            "reject" => Before::Reject,
            "disconnect" => Before::Disconnect,
            "trap" => Before::Trap,
            "wrong-kind" => Before::WrongKind,
            "rewrite-wrong-kind" => Before::RewriteWrongKind,
            other => return Err(format!("unknown `{BEFORE_KEY}` setting {other:?}")),
        })
    }
}

/// What `after` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Keep the reply.
    None,
    /// Append `|after:<tag>` to an accepted RPC's data.
    Tag,
    /// Panic.
    Trap,
    /// Replace the reply with one of another kind.
    WrongKind,
}

impl After {
    /// The action of an `after` setting; unset means `none`.
    pub fn parse(value: Option<&str>) -> Result<After, String> {
        Ok(match value.unwrap_or("none") {
            "none" => After::None,
            "tag" => After::Tag,
            "trap" => After::Trap,
            "wrong-kind" => After::WrongKind,
            other => return Err(format!("unknown `{AFTER_KEY}` setting {other:?}")),
        })
    }
}

/// The decision of `before` for `request`, for an entry tagged `tag`.
pub fn before(action: Before, tag: &str, mut request: Request) -> Decision {
    match action {
        Before::Pass => Decision::Pass,
        Before::Rewrite => {
            append_to_chain(headers_mut(&mut request), tag);
            Decision::Rewrite(request)
        }
        Before::RewriteData => {
            append_to_chain(headers_mut(&mut request), tag);
            let data = serde_json::json!({ "rewritten_by": tag })
                .to_string()
                .into_bytes();
            match &mut request {
                Request::Publish(publish) => publish.data = data,
                Request::MapPublish(publish) => {
                    publish.data = data;
                    publish.key = format!("key-{tag}");
                }
                Request::MapRemove(remove) => remove.key = format!("key-{tag}"),
                _ => {}
            }
            Decision::Rewrite(request)
        }
        Before::Answer => Decision::Answer(answer(&request, tag)),
        Before::Reject => Decision::Reject(CentrifugoError {
            code: 1403,
            message: format!("rejected by {tag}"),
            temporary: false,
        }),
        Before::Disconnect => Decision::Disconnect(Disconnect {
            code: 4403,
            reason: tag.to_owned(),
        }),
        Before::Trap => panic!("test-interceptor {tag}: trap in before, as configured"),
        Before::WrongKind => {
            Decision::Answer(other_kind_reply(matches!(request, Request::Rpc(_)), tag))
        }
        Before::RewriteWrongKind => Decision::Rewrite(other_kind_request(&request)),
    }
}

/// The result of `after` for `reply`, for an entry tagged `tag`.
pub fn after(action: After, tag: &str, reply: Reply) -> Option<Reply> {
    match action {
        After::None => None,
        After::Tag => match reply {
            Reply::Rpc(RpcReply::Accept(mut result)) => {
                result
                    .data
                    .extend_from_slice(format!("|after:{tag}").as_bytes());
                Some(Reply::Rpc(RpcReply::Accept(result)))
            }
            _ => None,
        },
        After::Trap => panic!("test-interceptor {tag}: trap in after, as configured"),
        After::WrongKind => Some(other_kind_reply(matches!(reply, Reply::Rpc(_)), tag)),
    }
}

/// The headers of a request of any kind.
fn headers_mut(request: &mut Request) -> &mut Headers {
    match request {
        Request::Connect(request) => &mut request.headers,
        Request::Refresh(request) => &mut request.headers,
        Request::Subscribe(request) => &mut request.headers,
        Request::Publish(request) => &mut request.headers,
        Request::Rpc(request) => &mut request.headers,
        Request::SubRefresh(request) => &mut request.headers,
        Request::MapPublish(request) => &mut request.headers,
        Request::MapRemove(request) => &mut request.headers,
        Request::SharedPollRefresh(request) => &mut request.headers,
        Request::NotifyCacheEmpty(request) => &mut request.headers,
        Request::NotifyChannelState(request) => &mut request.headers,
    }
}

/// Appends `tag` to the `x-chain` header, adding it if absent.
fn append_to_chain(headers: &mut Headers, tag: &str) {
    match headers
        .iter_mut()
        .find(|(key, _)| key.eq_ignore_ascii_case(CHAIN_HEADER))
    {
        Some((_, value)) => value.push_str(tag),
        None => headers.push((CHAIN_HEADER.to_owned(), tag.to_owned())),
    }
}

/// The RPC answer: the bytes `{"answered_by":"<tag>"}`.
fn answered_by(tag: &str) -> RpcResult {
    RpcResult::data(serde_json::json!({ "answered_by": tag }).to_string())
}

/// An accepting reply of `request`'s kind.
fn answer(request: &Request, tag: &str) -> Reply {
    match request {
        Request::Connect(_) => Reply::Connect(ConnectReply::Accept(ConnectResult::user(tag))),
        Request::Refresh(_) => Reply::Refresh(RefreshReply::extend_until(1)),
        Request::Subscribe(_) => {
            Reply::Subscribe(SubscribeReply::Accept(SubscribeResult::default()))
        }
        Request::Publish(_) => Reply::Publish(PublishReply::Accept(PublishResult::default())),
        Request::Rpc(_) => Reply::Rpc(RpcReply::Accept(answered_by(tag))),
        Request::SubRefresh(_) => Reply::SubRefresh(SubRefreshReply::extend_until(1)),
        Request::MapPublish(_) => {
            Reply::MapPublish(MapPublishReply::Accept(MapPublishResult::default()))
        }
        Request::MapRemove(_) => {
            Reply::MapRemove(MapRemoveReply::Accept(MapRemoveResult::default()))
        }
        Request::SharedPollRefresh(_) => Reply::SharedPollRefresh(SharedPollRefreshReply::Accept(
            SharedPollRefreshResult::default(),
        )),
        Request::NotifyCacheEmpty(_) => {
            Reply::NotifyCacheEmpty(NotifyCacheEmptyReply { populated: true })
        }
        Request::NotifyChannelState(_) => {
            Reply::NotifyChannelState(NotifyChannelStateReply::Accept)
        }
    }
}

/// A reply that does not fit: a connect reply for an RPC, an RPC reply for
/// any other kind.
fn other_kind_reply(is_rpc: bool, tag: &str) -> Reply {
    if is_rpc {
        Reply::Connect(ConnectReply::Accept(ConnectResult::user(tag)))
    } else {
        Reply::Rpc(RpcReply::Accept(answered_by(tag)))
    }
}

/// A request that does not fit, built from empty values: a connect request
/// for an RPC, an RPC request for any other kind.
fn other_kind_request(request: &Request) -> Request {
    let conn = Connection {
        client: String::new(),
        transport: String::new(),
        protocol: String::new(),
        encoding: String::new(),
    };
    if matches!(request, Request::Rpc(_)) {
        Request::Connect(ConnectRequest {
            conn,
            headers: Vec::new(),
            name: String::new(),
            version: String::new(),
            data: Vec::new(),
            channels: Vec::new(),
        })
    } else {
        Request::Rpc(RpcRequest {
            conn,
            headers: Vec::new(),
            user: String::new(),
            method: String::new(),
            data: Vec::new(),
            meta: Vec::new(),
            labels: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use rotor_sdk::{PublishRequest, SubRefreshRequest};

    use super::*;

    fn conn() -> Connection {
        Connection {
            client: "c1".to_owned(),
            transport: "websocket".to_owned(),
            protocol: "json".to_owned(),
            encoding: "json".to_owned(),
        }
    }

    fn rpc(headers: &[(&str, &str)]) -> Request {
        Request::Rpc(RpcRequest {
            conn: conn(),
            headers: headers
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
            user: "42".to_owned(),
            method: "ping".to_owned(),
            data: b"{}".to_vec(),
            meta: Vec::new(),
            labels: Vec::new(),
        })
    }

    fn publish() -> Request {
        Request::Publish(PublishRequest {
            conn: conn(),
            headers: Vec::new(),
            user: "42".to_owned(),
            channel: "room".to_owned(),
            data: b"{}".to_vec(),
            meta: Vec::new(),
            labels: Vec::new(),
        })
    }

    fn sub_refresh() -> Request {
        Request::SubRefresh(SubRefreshRequest {
            conn: conn(),
            headers: Vec::new(),
            user: "42".to_owned(),
            channel: "room".to_owned(),
            meta: Vec::new(),
            labels: Vec::new(),
        })
    }

    fn rewritten_headers(decision: Decision) -> Headers {
        match decision {
            Decision::Rewrite(Request::Rpc(request)) => request.headers,
            other => panic!("expected an RPC rewrite, got {other:?}"),
        }
    }

    fn rpc_data(reply: Option<Reply>) -> Vec<u8> {
        match reply {
            Some(Reply::Rpc(RpcReply::Accept(result))) => result.data,
            other => panic!("expected an accepted RPC, got {other:?}"),
        }
    }

    #[test]
    fn settings_parse_with_defaults_and_refuse_typos() {
        assert_eq!(Before::parse(None), Ok(Before::Pass));
        assert_eq!(
            Before::parse(Some("rewrite-wrong-kind")),
            Ok(Before::RewriteWrongKind)
        );
        assert!(Before::parse(Some("rewite")).is_err());
        assert_eq!(After::parse(None), Ok(After::None));
        assert_eq!(After::parse(Some("wrong-kind")), Ok(After::WrongKind));
        assert!(After::parse(Some("")).is_err());
    }

    #[test]
    fn rewrite_appends_the_tag_to_one_chain_header() {
        let headers = rewritten_headers(before(Before::Rewrite, "A", rpc(&[("x-other", "1")])));
        assert_eq!(
            headers,
            vec![
                ("x-other".to_owned(), "1".to_owned()),
                ("x-chain".to_owned(), "A".to_owned())
            ]
        );
        let headers = rewritten_headers(before(Before::Rewrite, "B", rpc(&[("x-chain", "A")])));
        assert_eq!(headers, vec![("x-chain".to_owned(), "AB".to_owned())]);
    }

    #[test]
    fn rewrite_works_on_every_kind() {
        let Decision::Rewrite(Request::SubRefresh(request)) =
            before(Before::Rewrite, "S", sub_refresh())
        else {
            panic!("expected a sub-refresh rewrite");
        };
        assert_eq!(rotor_sdk::header(&request.headers, "x-chain"), Some("S"));
    }

    #[test]
    fn rewrite_data_replaces_a_publications_data() {
        let Decision::Rewrite(Request::Publish(request)) =
            before(Before::RewriteData, "D", publish())
        else {
            panic!("expected a rewritten publish");
        };
        assert_eq!(request.data, br#"{"rewritten_by":"D"}"#);
        assert_eq!(
            request.headers,
            vec![("x-chain".to_owned(), "D".to_owned())]
        );
        assert_eq!(Before::parse(Some("rewrite-data")), Ok(Before::RewriteData));
    }

    #[test]
    fn answers_fit_the_request_kind() {
        let Decision::Answer(reply) = before(Before::Answer, "B", rpc(&[])) else {
            panic!("expected an answer");
        };
        assert_eq!(rpc_data(Some(reply)), br#"{"answered_by":"B"}"#);
        assert_eq!(
            before(Before::Answer, "B", publish()),
            Decision::Answer(Reply::Publish(PublishReply::Accept(
                PublishResult::default()
            )))
        );
        assert_eq!(
            before(Before::Answer, "B", sub_refresh()),
            Decision::Answer(Reply::SubRefresh(SubRefreshReply::extend_until(1)))
        );
    }

    #[test]
    fn refusals_carry_the_tag() {
        assert_eq!(
            before(Before::Reject, "R", rpc(&[])),
            Decision::Reject(CentrifugoError {
                code: 1403,
                message: "rejected by R".to_owned(),
                temporary: false
            })
        );
        assert_eq!(
            before(Before::Disconnect, "D", publish()),
            Decision::Disconnect(Disconnect {
                code: 4403,
                reason: "D".to_owned()
            })
        );
    }

    #[test]
    fn wrong_kinds_are_of_another_kind() {
        assert!(matches!(
            before(Before::WrongKind, "W", rpc(&[])),
            Decision::Answer(Reply::Connect(_))
        ));
        assert!(matches!(
            before(Before::WrongKind, "W", publish()),
            Decision::Answer(Reply::Rpc(_))
        ));
        assert!(matches!(
            before(Before::RewriteWrongKind, "W", rpc(&[])),
            Decision::Rewrite(Request::Connect(_))
        ));
        assert!(matches!(
            before(Before::RewriteWrongKind, "W", publish()),
            Decision::Rewrite(Request::Rpc(_))
        ));
        let rpc_reply = Reply::Rpc(RpcReply::Accept(RpcResult::data("x")));
        assert!(matches!(
            after(After::WrongKind, "W", rpc_reply),
            Some(Reply::Connect(_))
        ));
    }

    #[test]
    fn after_tags_accepted_rpcs_only() {
        let accepted = Reply::Rpc(RpcReply::Accept(RpcResult::data("x")));
        assert_eq!(rpc_data(after(After::Tag, "A", accepted)), b"x|after:A");
        let rejected = Reply::Rpc(RpcReply::Reject(CentrifugoError {
            code: 1403,
            message: "no".to_owned(),
            temporary: false,
        }));
        assert_eq!(after(After::Tag, "A", rejected), None);
        assert_eq!(
            after(After::Tag, "A", Reply::SubRefresh(SubRefreshReply::Expire)),
            None
        );
        assert_eq!(
            after(After::None, "A", Reply::Refresh(RefreshReply::Expire)),
            None
        );
    }

    #[test]
    #[should_panic(expected = "trap in before")]
    fn trap_panics() {
        let _ = before(Before::Trap, "T", rpc(&[]));
    }
}
