//! Centrifugo's server API: publish into channels, manage subscriptions and
//! connections, read presence and history.
//!
//! The host holds the address and the API key; a plugin only calls. The
//! host may restrict which channel namespaces a plugin can touch (a call
//! outside them fails with [`ApiError::Denied`]) and bounds the number of
//! API calls per proxy call and their time to what is left of it. Outside a
//! component (in native unit tests) every call fails with
//! [`ApiError::Unavailable`].
//!
//! ```no_run
//! use rotor_sdk::api::{self, PublishOptions};
//!
//! let position = api::publish("news:sport", br#"{"goal":1}"#, &PublishOptions::default());
//! if let Err(error) = position {
//!     rotor_sdk::log::warn(&format!("publish failed: {error:?}"));
//! }
//! ```

use crate::bindings::shared::rotor::centrifugo::centrifugo_api as imports;

#[doc(inline)]
pub use imports::{
    ApiError, CentrifugoFailure, ClientInfo, Command, DisconnectCommand, HistoryPage, HistoryQuery,
    Membership, Node, PresenceCounts, Publication, PublishCommand, PublishOptions, StreamPosition,
};

/// Generates a wrapper per import: the host call inside a component, an
/// [`ApiError::Unavailable`] outside one.
macro_rules! api_calls {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ok:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name($($arg: $ty),*) -> Result<$ok, ApiError> {
                #[cfg(target_arch = "wasm32")]
                return imports::$name($($arg),*);
                #[cfg(not(target_arch = "wasm32"))]
                {
                    let _ = ($($arg,)*);
                    Err(ApiError::Unavailable("no Centrifugo API outside a component".to_string()))
                }
            }
        )*
    };
}

api_calls! {
    /// Publishes `data` into `channel`; where it landed in the history stream.
    fn publish(channel: &str, data: &[u8], options: &PublishOptions) -> StreamPosition;
    /// Publishes `data` into each of `channels`; one result per channel.
    fn broadcast(channels: &[String], data: &[u8], options: &PublishOptions) -> Vec<Result<StreamPosition, ApiError>>;
    /// Subscribes `user` (or only `client`, if not empty) to `channel`.
    fn subscribe(user: &str, channel: &str, client: &str) -> ();
    /// Unsubscribes `user` (or only `client`, if not empty) from `channel`.
    fn unsubscribe(user: &str, channel: &str, client: &str) -> ();
    /// Disconnects `user` (or only `client`, if not empty) with a code in 4000–4999.
    fn disconnect(user: &str, client: &str, code: u32, reason: &str) -> ();
    /// Sets a new expiry (unix seconds) for `user`'s connections, or expires them.
    fn refresh(user: &str, client: &str, expire_at: i64, expired: bool) -> ();
    /// The connections in `channel`.
    fn presence(channel: &str) -> Vec<ClientInfo>;
    /// How many connections and users are in `channel`.
    fn presence_stats(channel: &str) -> PresenceCounts;
    /// A page of `channel`'s history.
    fn history(channel: &str, query: &HistoryQuery) -> HistoryPage;
    /// Removes `channel`'s history.
    fn history_remove(channel: &str) -> ();
    /// Active channels matching `pattern` (empty: all) and their client counts.
    fn channels(pattern: &str) -> Vec<(String, u32)>;
    /// The nodes of the Centrifugo cluster.
    fn info() -> Vec<Node>;
    /// Sends `commands` in one API call, in order or (`parallel`) at once; one result each.
    fn batch(commands: &[Command], parallel: bool) -> Vec<Result<(), ApiError>>;
}
