//! Host bindings of the WIT contract in `wit/`.
//!
//! The host binds the `host` world, the union of every plugin world, and
//! looks up only the exports a route needs, so a component may export any
//! subset of the handler interfaces.

wasmtime::component::bindgen!({
    path: "wit",
    world: "host",
    imports: {
        "rotor:centrifugo/kv": async,
        "rotor:centrifugo/centrifugo-api": async,
    },
    exports: { default: async },
});

pub use self::exports::rotor::centrifugo::{
    connect_handler, interceptor, map_publish_handler, map_remove_handler,
    notify_cache_empty_handler, notify_channel_state_handler, publish_handler, refresh_handler,
    rpc_handler, shared_poll_refresh_handler, stream_handler, sub_refresh_handler,
    subscribe_handler,
};
pub use self::rotor::centrifugo::{centrifugo_api, config, kv, log, stream, types};

/// The full name of one of Rotor's WIT interfaces, with the package's
/// version: the one place the host writes that version (`wit/` is the
/// source of truth). `wit_interface!("kv")` is `"rotor:centrifugo/kv@0.1.0"`.
macro_rules! wit_interface {
    ($name:literal) => {
        concat!("rotor:centrifugo/", $name, "@0.1.0")
    };
}
pub(crate) use wit_interface;
