//! The `export_*!` macros: make a type the component's handler.
//!
//! Each macro implements the world's generated `Guest` trait for the type by
//! calling the crate's idiomatic trait, then emits the component's exported
//! functions. A crate may use several of them, for different types or the
//! same one, to export several handler interfaces from one component.
//!
//! The component's exported functions are emitted for wasm targets only; a
//! native build of a plugin (for its unit tests) checks the handler's types
//! and exports nothing.

/// Implements a handler interface's generated `Guest` trait for `$handler`
/// through the SDK trait, and exports it.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_handler {
    (
        $handler:ident, $world:ident, $interface:ident,
        $sdk_trait:ident :: $method:ident, $request:ident => $reply:ident
    ) => {
        const _: () = {
            impl $crate::bindings::$world::exports::rotor::centrifugo::$interface::Guest for $handler {
                fn handle(request: $crate::$request) -> $crate::$reply {
                    $crate::$reply::from(<$handler as $crate::$sdk_trait>::$method(request))
                }
            }
        };
        // The exported symbols' names (`rotor:centrifugo/…#handle`) are
        // only valid in a wasm module: native builds (unit tests, a native
        // `cdylib`) keep the trait impl, which type-checks the handler, and
        // leave the symbols out.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::$world::export!($handler with_types_in $crate::bindings::$world);
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            // Natively nothing calls the handler, so name it here to keep
            // the compiler from reporting the type as never used.
            let _ = <$handler as $crate::$sdk_trait>::$method;
        };
    };
}

/// Exports a [`Connect`](crate::Connect) implementation as the component's
/// `connect-handler`.
///
/// The trait's documentation has an example.
#[macro_export]
macro_rules! export_connect {
    ($handler:ident) => {
        $crate::__export_handler!(
            $handler, connect, connect_handler, Connect::connect, ConnectRequest => ConnectReply
        );
    };
}

/// Exports a [`Refresh`](crate::Refresh) implementation as the component's
/// `refresh-handler`.
///
/// The trait's documentation has an example.
#[macro_export]
macro_rules! export_refresh {
    ($handler:ident) => {
        $crate::__export_handler!(
            $handler, refresh, refresh_handler, Refresh::refresh, RefreshRequest => RefreshReply
        );
    };
}

/// Exports a [`Subscribe`](crate::Subscribe) implementation as the
/// component's `subscribe-handler`.
///
/// The trait's documentation has an example.
#[macro_export]
macro_rules! export_subscribe {
    ($handler:ident) => {
        $crate::__export_handler!(
            $handler, subscribe, subscribe_handler, Subscribe::subscribe,
            SubscribeRequest => SubscribeReply
        );
    };
}

/// Exports a [`Publish`](crate::Publish) implementation as the component's
/// `publish-handler`.
///
/// The trait's documentation has an example.
#[macro_export]
macro_rules! export_publish {
    ($handler:ident) => {
        $crate::__export_handler!(
            $handler, publish, publish_handler, Publish::publish, PublishRequest => PublishReply
        );
    };
}

/// Exports an [`Rpc`](crate::Rpc) implementation as the component's
/// `rpc-handler`.
///
/// One type may implement several traits, and one component may export
/// several handler interfaces:
///
/// ```no_run
/// use rotor_sdk::{Connect, ConnectRequest, ConnectResult, Denial, Rpc, RpcRequest, RpcResult};
///
/// struct Echo;
///
/// impl Connect for Echo {
///     fn connect(request: ConnectRequest) -> Result<ConnectResult, Denial> {
///         Ok(ConnectResult::user(request.conn.client))
///     }
/// }
///
/// impl Rpc for Echo {
///     fn rpc(request: RpcRequest) -> Result<RpcResult, Denial> {
///         Ok(RpcResult::data(request.data))
///     }
/// }
///
/// rotor_sdk::export_connect!(Echo);
/// rotor_sdk::export_rpc!(Echo);
/// ```
#[macro_export]
macro_rules! export_rpc {
    ($handler:ident) => {
        $crate::__export_handler!($handler, rpc, rpc_handler, Rpc::rpc, RpcRequest => RpcReply);
    };
}

/// Exports a [`SubRefresh`](crate::SubRefresh) implementation as the
/// component's `sub-refresh-handler`.
///
/// The trait's documentation has an example.
#[macro_export]
macro_rules! export_sub_refresh {
    ($handler:ident) => {
        $crate::__export_handler!(
            $handler, sub_refresh, sub_refresh_handler, SubRefresh::sub_refresh,
            SubRefreshRequest => SubRefreshReply
        );
    };
}

/// Exports a [`MapPublish`](crate::MapPublish) implementation as the component's
/// `map-publish-handler`.
///
/// The trait's documentation has an example.
#[macro_export]
macro_rules! export_map_publish {
    ($handler:ident) => {
        $crate::__export_handler!(
            $handler, map_publish, map_publish_handler, MapPublish::map_publish,
            MapPublishRequest => MapPublishReply
        );
    };
}

/// Exports a [`MapRemove`](crate::MapRemove) implementation as the component's
/// `map-remove-handler`.
///
/// The trait's documentation has an example.
#[macro_export]
macro_rules! export_map_remove {
    ($handler:ident) => {
        $crate::__export_handler!(
            $handler, map_remove, map_remove_handler, MapRemove::map_remove,
            MapRemoveRequest => MapRemoveReply
        );
    };
}

/// Exports a [`SharedPollRefresh`](crate::SharedPollRefresh) implementation as the
/// component's `shared-poll-refresh-handler`.
///
/// The trait's documentation has an example.
#[macro_export]
macro_rules! export_shared_poll_refresh {
    ($handler:ident) => {
        $crate::__export_handler!(
            $handler, shared_poll_refresh, shared_poll_refresh_handler, SharedPollRefresh::shared_poll_refresh,
            SharedPollRefreshRequest => SharedPollRefreshReply
        );
    };
}

/// Exports a [`NotifyCacheEmpty`](crate::NotifyCacheEmpty) implementation as the
/// component's `notify-cache-empty-handler`.
///
/// The trait's documentation has an example.
#[macro_export]
macro_rules! export_notify_cache_empty {
    ($handler:ident) => {
        $crate::__export_handler!(
            $handler, notify_cache_empty, notify_cache_empty_handler, NotifyCacheEmpty::notify_cache_empty,
            NotifyCacheEmptyRequest => NotifyCacheEmptyReply
        );
    };
}

/// Exports a [`NotifyChannelState`](crate::NotifyChannelState) implementation as the
/// component's `notify-channel-state-handler`.
///
/// The trait's documentation has an example.
#[macro_export]
macro_rules! export_notify_channel_state {
    ($handler:ident) => {
        $crate::__export_handler!(
            $handler, notify_channel_state, notify_channel_state_handler, NotifyChannelState::notify_channel_state,
            NotifyChannelStateRequest => NotifyChannelStateReply
        );
    };
}

/// Exports a [`SubscribeStream`](crate::SubscribeStream) implementation as
/// the component's `stream-handler`.
///
/// The trait's documentation has an example.
#[macro_export]
macro_rules! export_subscribe_stream {
    ($handler:ident) => {
        const _: () = {
            impl $crate::bindings::subscribe_stream::exports::rotor::centrifugo::stream_handler::Guest
                for $handler
            {
                fn open(request: $crate::SubscribeRequest) -> $crate::SubscribeReply {
                    $crate::SubscribeReply::from(<$handler as $crate::SubscribeStream>::open(
                        request,
                    ))
                }

                fn on_wake() {
                    <$handler as $crate::SubscribeStream>::on_wake()
                }

                fn on_client_data(data: ::std::vec::Vec<u8>) {
                    <$handler as $crate::SubscribeStream>::on_client_data(data)
                }
            }
        };
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::subscribe_stream::export!($handler with_types_in $crate::bindings::subscribe_stream);
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = <$handler as $crate::SubscribeStream>::open;
        };
    };
}

/// Exports an [`Interceptor`](crate::Interceptor) implementation as the
/// component's `interceptor`.
///
/// The trait's documentation has an example.
#[macro_export]
macro_rules! export_interceptor {
    ($handler:ident) => {
        const _: () = {
            impl $crate::bindings::interceptor::exports::rotor::centrifugo::interceptor::Guest
                for $handler
            {
                fn before(context: $crate::CallContext, request: $crate::Request) -> $crate::Decision {
                    <$handler as $crate::Interceptor>::before(&context, request)
                }

                fn after(
                    context: $crate::CallContext,
                    reply: $crate::Reply,
                ) -> ::core::option::Option<$crate::Reply> {
                    <$handler as $crate::Interceptor>::after(&context, reply)
                }
            }
        };
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::interceptor::export!($handler with_types_in $crate::bindings::interceptor);
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = <$handler as $crate::Interceptor>::before;
        };
    };
}
