//! The `Interceptor` trait: a step in front of a handler.

use crate::{CallContext, Decision, Reply, Request};

/// Sees every call before the next step of the chain and its reply after it.
///
/// One interceptor serves all request types; match on the [`Request`] and
/// [`Reply`] cases you care about. Both functions have defaults that change
/// nothing, so implement only what you need. The host runs `before` and
/// `after` of one call on the same instance (fresh, unless the plugin is in
/// `reuse` mode), and `after` only when `before` passed the call on.
///
/// Exported with [`export_interceptor!`](crate::export_interceptor).
///
/// ```no_run
/// use rotor_sdk::{CallContext, Decision, Denial, Interceptor, Request};
///
/// struct NoAnonymousPublish;
///
/// impl Interceptor for NoAnonymousPublish {
///     fn before(_context: &CallContext, request: Request) -> Decision {
///         match request {
///             Request::Publish(publish) if publish.user.is_empty() => {
///                 Denial::permission_denied().into()
///             }
///             _ => Decision::Pass,
///         }
///     }
/// }
///
/// rotor_sdk::export_interceptor!(NoAnonymousPublish);
/// ```
pub trait Interceptor {
    /// Decides what happens to the call: pass it on (as it is or rewritten),
    /// answer it, reject it or disconnect. Passes by default.
    fn before(context: &CallContext, request: Request) -> Decision {
        let _ = (context, request);
        Decision::Pass
    }

    /// Sees the reply of the next step; `Some` replaces it with a reply of
    /// the same type. Keeps it by default.
    fn after(context: &CallContext, reply: Reply) -> Option<Reply> {
        let _ = (context, reply);
        None
    }
}
