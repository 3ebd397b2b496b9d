//! The network edge of the proxy: the gRPC service, its listeners (limits,
//! authentication) and TLS. It knows the answer path (`call`), not the app.

pub(crate) mod grpc;
pub(crate) mod listener;
pub(crate) mod serve;
pub(crate) mod tls;
