//! An interceptor that logs one line per call: its kind, who and what it is
//! about, how it ended and how long the rest of the chain took. Put it first
//! in the `"*"` chain to time everything behind it:
//!
//! ```text
//! rpc method=ping user=42 outcome=accept took=123µs
//! subscribe channel=news:1 user="" outcome=reject code=103 took=88µs
//! connect client=9f2c transport=websocket outcome=accept user=42 took=310µs
//! ```
//!
//! - Fields by kind: connect `client`, `transport` (and the accepted `user`
//!   in the outcome); refresh `user`; subscribe, publish and sub-refresh
//!   `channel`, `user`; RPC `method`, `user`. A value that is empty or holds
//!   spaces, quotes, `=` or anything but printable ASCII is quoted and
//!   escaped, so a client cannot forge fields or lines.
//! - `outcome`: `accept`, `reject code=<n>`, `disconnect code=<n>`, `extend`
//!   or `expire`.
//! - `took`: whole microseconds from `before` to `after`, on the monotonic
//!   clock.
//!
//! The plugin never changes a call: `before` passes, `after` keeps the reply.
//! A call that fails in a later step (a trapping handler, say) ends without
//! `after`, so it gets no line here; the host logs it.
//!
//! The start time lives in a static between `before` and `after`. That works
//! because the host runs both hooks of one call on the same instance, and
//! each call on a fresh instance; the call id is kept with it and checked, so
//! an instance that served several calls could never mix them up.
//!
//! Config keys: none.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rotor_sdk::{
    CallContext, ConnectReply, Decision, Interceptor, MapPublishReply, MapRemoveReply,
    NotifyChannelStateReply, PublishReply, RefreshReply, Reply, Request, RpcReply,
    SharedPollRefreshReply, SubRefreshReply, SubscribeReply,
};

/// The component's interceptor.
struct Telemetry;

rotor_sdk::export_interceptor!(Telemetry);

/// What `before` saw, for `after` to log.
struct Started {
    call_id: u64,
    at: Instant,
    summary: String,
}

/// The call in progress on this instance.
static STARTED: Mutex<Option<Started>> = Mutex::new(None);

impl Interceptor for Telemetry {
    fn before(context: &CallContext, request: Request) -> Decision {
        let started = Started {
            call_id: context.call_id,
            at: Instant::now(),
            summary: summary(&request),
        };
        *STARTED.lock().unwrap_or_else(PoisonError::into_inner) = Some(started);
        Decision::Pass
    }

    fn after(context: &CallContext, reply: Reply) -> Option<Reply> {
        let started = STARTED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match started {
            Some(started) if started.call_id == context.call_id => {
                let took = started.at.elapsed();
                rotor_sdk::log::info(line(&started.summary, &reply, took));
            }
            _ => rotor_sdk::log::warn(format!(
                "telemetry: no start recorded for call {}",
                context.call_id
            )),
        }
        None
    }
}

/// The kind of `request` and its salient fields.
pub fn summary(request: &Request) -> String {
    match request {
        Request::Connect(request) => format!(
            "connect client={} transport={}",
            field(&request.conn.client),
            field(&request.conn.transport)
        ),
        Request::Refresh(request) => format!("refresh user={}", field(&request.user)),
        Request::Subscribe(request) => format!(
            "subscribe channel={} user={}",
            field(&request.channel),
            field(&request.user)
        ),
        Request::Publish(request) => format!(
            "publish channel={} user={}",
            field(&request.channel),
            field(&request.user)
        ),
        Request::Rpc(request) => format!(
            "rpc method={} user={}",
            field(&request.method),
            field(&request.user)
        ),
        Request::SubRefresh(request) => format!(
            "sub-refresh channel={} user={}",
            field(&request.channel),
            field(&request.user)
        ),
        Request::MapPublish(request) => format!(
            "map-publish channel={} key={} user={}",
            field(&request.channel),
            field(&request.key),
            field(&request.user)
        ),
        Request::MapRemove(request) => format!(
            "map-remove channel={} key={} user={}",
            field(&request.channel),
            field(&request.key),
            field(&request.user)
        ),
        Request::SharedPollRefresh(request) => format!(
            "shared-poll-refresh channel={} keys={}",
            field(&request.channel),
            request.items.len()
        ),
        Request::NotifyCacheEmpty(request) => {
            format!("notify-cache-empty channel={}", field(&request.channel))
        }
        Request::NotifyChannelState(request) => {
            format!("notify-channel-state events={}", request.events.len())
        }
    }
}

/// How `reply` ends the call.
pub fn outcome(reply: &Reply) -> String {
    match reply {
        Reply::Connect(ConnectReply::Accept(result)) => {
            format!("accept user={}", field(&result.user))
        }
        Reply::Subscribe(SubscribeReply::Accept(_))
        | Reply::Publish(PublishReply::Accept(_))
        | Reply::Rpc(RpcReply::Accept(_))
        | Reply::MapPublish(MapPublishReply::Accept(_))
        | Reply::MapRemove(MapRemoveReply::Accept(_))
        | Reply::SharedPollRefresh(SharedPollRefreshReply::Accept(_))
        | Reply::NotifyChannelState(NotifyChannelStateReply::Accept) => "accept".to_owned(),
        Reply::NotifyCacheEmpty(reply) => format!("populated={}", reply.populated),
        Reply::Connect(ConnectReply::Reject(error))
        | Reply::Subscribe(SubscribeReply::Reject(error))
        | Reply::Publish(PublishReply::Reject(error))
        | Reply::Rpc(RpcReply::Reject(error))
        | Reply::MapPublish(MapPublishReply::Reject(error))
        | Reply::MapRemove(MapRemoveReply::Reject(error))
        | Reply::SharedPollRefresh(SharedPollRefreshReply::Reject(error))
        | Reply::NotifyChannelState(NotifyChannelStateReply::Reject(error)) => {
            format!("reject code={}", error.code)
        }
        Reply::Connect(ConnectReply::Disconnect(disconnect))
        | Reply::Subscribe(SubscribeReply::Disconnect(disconnect))
        | Reply::Publish(PublishReply::Disconnect(disconnect))
        | Reply::Rpc(RpcReply::Disconnect(disconnect))
        | Reply::MapPublish(MapPublishReply::Disconnect(disconnect))
        | Reply::MapRemove(MapRemoveReply::Disconnect(disconnect)) => {
            format!("disconnect code={}", disconnect.code)
        }
        Reply::Refresh(RefreshReply::Extend(_)) | Reply::SubRefresh(SubRefreshReply::Extend(_)) => {
            "extend".to_owned()
        }
        Reply::Refresh(RefreshReply::Expire) | Reply::SubRefresh(SubRefreshReply::Expire) => {
            "expire".to_owned()
        }
    }
}

/// The log line of a call summarized as `summary` that ended with `reply`
/// after `took`.
pub fn line(summary: &str, reply: &Reply, took: Duration) -> String {
    format!(
        "{summary} outcome={} took={}µs",
        outcome(reply),
        took.as_micros()
    )
}

/// A field value as it goes into the line: bare when that is unambiguous,
/// else quoted with Rust's escapes.
fn field(value: &str) -> String {
    let bare = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '=');
    if bare {
        value.to_owned()
    } else {
        format!("{value:?}")
    }
}

#[cfg(test)]
mod tests {
    use rotor_sdk::{
        CentrifugoError, ConnectResult, Connection, Disconnect, PublishRequest, RpcRequest,
        RpcResult, SubscribeResult,
    };

    use super::*;

    fn conn() -> Connection {
        Connection {
            client: "c1".to_owned(),
            transport: "websocket".to_owned(),
            protocol: "json".to_owned(),
            encoding: "json".to_owned(),
        }
    }

    fn rpc(method: &str, user: &str) -> Request {
        Request::Rpc(RpcRequest {
            conn: conn(),
            headers: Vec::new(),
            user: user.to_owned(),
            method: method.to_owned(),
            data: Vec::new(),
            meta: Vec::new(),
            labels: Vec::new(),
        })
    }

    fn error(code: u32) -> CentrifugoError {
        CentrifugoError {
            code,
            message: "no".to_owned(),
            temporary: false,
        }
    }

    #[test]
    fn a_line_names_kind_fields_outcome_and_duration() {
        let reply = Reply::Rpc(RpcReply::Accept(RpcResult::data("{}")));
        assert_eq!(
            line(
                &summary(&rpc("ping", "42")),
                &reply,
                Duration::from_micros(123)
            ),
            "rpc method=ping user=42 outcome=accept took=123µs"
        );
    }

    #[test]
    fn every_kind_has_its_fields() {
        let publish = Request::Publish(PublishRequest {
            conn: conn(),
            headers: Vec::new(),
            user: "42".to_owned(),
            channel: "news:1".to_owned(),
            data: Vec::new(),
            meta: Vec::new(),
            labels: Vec::new(),
        });
        assert_eq!(summary(&publish), "publish channel=news:1 user=42");
        assert_eq!(summary(&rpc("ping", "")), r#"rpc method=ping user="""#);
    }

    #[test]
    fn values_that_could_forge_fields_are_quoted() {
        assert_eq!(
            summary(&rpc("x user=admin\nrpc", "42")),
            r#"rpc method="x user=admin\nrpc" user=42"#
        );
        assert_eq!(field("a\"b"), r#""a\"b""#);
        assert_eq!(field("ünï"), r#""ünï""#);
    }

    #[test]
    fn outcomes() {
        let cases = [
            (
                Reply::Connect(ConnectReply::Accept(ConnectResult::user("42"))),
                "accept user=42",
            ),
            (
                Reply::Subscribe(SubscribeReply::Accept(SubscribeResult::default())),
                "accept",
            ),
            (
                Reply::Subscribe(SubscribeReply::Reject(error(103))),
                "reject code=103",
            ),
            (
                Reply::Publish(PublishReply::Disconnect(Disconnect {
                    code: 4403,
                    reason: "bye".to_owned(),
                })),
                "disconnect code=4403",
            ),
            (
                Reply::Rpc(RpcReply::Reject(error(1004))),
                "reject code=1004",
            ),
            (Reply::Refresh(RefreshReply::extend_until(1)), "extend"),
            (Reply::SubRefresh(SubRefreshReply::Expire), "expire"),
        ];
        for (reply, expected) in cases {
            assert_eq!(outcome(&reply), expected, "{reply:?}");
        }
    }

    #[test]
    fn before_and_after_share_the_start_of_one_call() {
        let context = CallContext {
            tenant: "t".to_owned(),
            call_id: 7,
        };
        let reply = Reply::Rpc(RpcReply::Accept(RpcResult::data("{}")));
        assert_eq!(
            Telemetry::before(&context, rpc("ping", "42")),
            Decision::Pass
        );
        assert!(STARTED.lock().expect("lock").is_some());
        assert_eq!(Telemetry::after(&context, reply), None);
        assert!(STARTED.lock().expect("lock").is_none(), "taken by after");
    }
}
