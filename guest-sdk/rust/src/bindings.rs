//! The code wit-bindgen generates from `wit/`, kept out of the public API.
//!
//! `types` and the host imports (`log`, `config`, `kv`, `centrifugo-api`) are generated once, in `shared`; every world's
//! bindings point at them through `with`, so connect, rpc and the interceptor
//! all speak in the same Rust types and a crate may export several worlds.
//!
//! Each world's export macro is public, so plugin crates reach it through
//! `rotor_sdk`'s own `export_*!` macros and never depend on wit-bindgen.

/// The records of `types` and the host imports.
///
/// Neither `types` nor the imports are a world of their own in the contract,
/// so a small inline world pulls them in; `generate_unused_types` keeps
/// records that no function of this world mentions.
pub mod shared {
    wit_bindgen::generate!({
        path: "../../wit",
        inline: "
            package rotor:sdk;
            world shared {
                import rotor:centrifugo/types@0.1.0;
                include rotor:centrifugo/imports@0.1.0;
            }
        ",
        world: "rotor:sdk/shared",
        generate_all,
        generate_unused_types: true,
        additional_derives: [PartialEq, Eq],
        // A default result accepts with nothing set: no expiry, no info,
        // no extra capabilities, the publication as it is.
        additional_type_attributes: {
            "rotor:centrifugo/types@0.1.0/connect-result": [#[derive(Default)]],
            "rotor:centrifugo/types@0.1.0/subscribe-overrides": [#[derive(Default)]],
            "rotor:centrifugo/types@0.1.0/subscribe-options": [#[derive(Default)]],
            "rotor:centrifugo/types@0.1.0/subscribe-result": [#[derive(Default)]],
            "rotor:centrifugo/types@0.1.0/publish-result": [#[derive(Default)]],
            "rotor:centrifugo/types@0.1.0/rpc-result": [#[derive(Default)]],
            "rotor:centrifugo/types@0.1.0/refresh-result": [#[derive(Default)]],
            "rotor:centrifugo/types@0.1.0/sub-refresh-result": [#[derive(Default)]],
            "rotor:centrifugo/types@0.1.0/map-publish-result": [#[derive(Default)]],
            "rotor:centrifugo/types@0.1.0/map-remove-result": [#[derive(Default)]],
            "rotor:centrifugo/types@0.1.0/shared-poll-refresh-result": [#[derive(Default)]],
            "rotor:centrifugo/types@0.1.0/shared-poll-entry": [#[derive(Default)]],
            "rotor:centrifugo/centrifugo-api@0.1.0/publish-options": [#[derive(Default)]],
            "rotor:centrifugo/centrifugo-api@0.1.0/history-query": [#[derive(Default)]],
        },
    });
}

/// Generates one world's bindings in a module of the same name, reusing the
/// shared types and imports, with a public export macro named `export`.
macro_rules! world {
    ($module:ident, $world:tt, $bindings_module:tt) => {
        #[doc = concat!("Bindings of the `", $world, "` world.")]
        pub mod $module {
            wit_bindgen::generate!({
                path: "../../wit",
                world: $world,
                with: {
                    "rotor:centrifugo/types@0.1.0": crate::bindings::shared::rotor::centrifugo::types,
                    "rotor:centrifugo/log@0.1.0": crate::bindings::shared::rotor::centrifugo::log,
                    "rotor:centrifugo/config@0.1.0": crate::bindings::shared::rotor::centrifugo::config,
                    "rotor:centrifugo/kv@0.1.0": crate::bindings::shared::rotor::centrifugo::kv,
                    "rotor:centrifugo/centrifugo-api@0.1.0": crate::bindings::shared::rotor::centrifugo::centrifugo_api,
                },
                additional_derives: [PartialEq, Eq],
                pub_export_macro: true,
                export_macro_name: "export",
                default_bindings_module: $bindings_module,
            });
        }
    };
}

world!(
    connect,
    "rotor:centrifugo/connect@0.1.0",
    "rotor_sdk::bindings::connect"
);
world!(
    refresh,
    "rotor:centrifugo/refresh@0.1.0",
    "rotor_sdk::bindings::refresh"
);
world!(
    subscribe,
    "rotor:centrifugo/subscribe@0.1.0",
    "rotor_sdk::bindings::subscribe"
);
world!(
    publish,
    "rotor:centrifugo/publish@0.1.0",
    "rotor_sdk::bindings::publish"
);
world!(
    rpc,
    "rotor:centrifugo/rpc@0.1.0",
    "rotor_sdk::bindings::rpc"
);
world!(
    sub_refresh,
    "rotor:centrifugo/sub-refresh@0.1.0",
    "rotor_sdk::bindings::sub_refresh"
);
world!(
    map_publish,
    "rotor:centrifugo/map-publish@0.1.0",
    "rotor_sdk::bindings::map_publish"
);
world!(
    map_remove,
    "rotor:centrifugo/map-remove@0.1.0",
    "rotor_sdk::bindings::map_remove"
);
world!(
    shared_poll_refresh,
    "rotor:centrifugo/shared-poll-refresh@0.1.0",
    "rotor_sdk::bindings::shared_poll_refresh"
);
world!(
    notify_cache_empty,
    "rotor:centrifugo/notify-cache-empty@0.1.0",
    "rotor_sdk::bindings::notify_cache_empty"
);
world!(
    notify_channel_state,
    "rotor:centrifugo/notify-channel-state@0.1.0",
    "rotor_sdk::bindings::notify_channel_state"
);
world!(
    subscribe_stream,
    "rotor:centrifugo/subscribe-stream@0.1.0",
    "rotor_sdk::bindings::subscribe_stream"
);
world!(
    interceptor,
    "rotor:centrifugo/interceptor-plugin@0.1.0",
    "rotor_sdk::bindings::interceptor"
);
