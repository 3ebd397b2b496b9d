//! Binding and serving the proxy listeners: the main `listen` and each
//! tenant's own, each with the proxy service behind `[auth]`, the standard
//! gRPC health service and reflection, until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::call::Responder;
use crate::config::{Config, TransportLimits};
use crate::contract::proto;
use crate::contract::proto::proxy::centrifugo_proxy_server::CentrifugoProxyServer;
use crate::transport::grpc::ProxyService;
use crate::transport::listener::{self, Authenticated};
use crate::transport::tls::TlsCerts;

/// Why the proxy listeners could not be bound or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A listener could not be bound.
    #[error("cannot listen on {address} (`{key}`): {source}")]
    Listen {
        /// The configured address.
        address: SocketAddr,
        /// The config key that sets it: `listen` or `tenants.<name>.listen`.
        key: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Server(#[from] tonic::transport::Error),
    /// The reflection service could not be built from the descriptors.
    #[error("gRPC reflection: {0}")]
    Reflection(String),
}

/// Proxy listeners, bound but not yet served: connections queue until
/// [`serve`] serves them. A listener paired with a tenant answers only that
/// tenant's calls.
#[derive(Debug)]
pub struct Listeners(Vec<(TcpListener, Option<String>)>);

impl From<TcpListener> for Listeners {
    /// One main listener, answering every tenant.
    fn from(listener: TcpListener) -> Listeners {
        Listeners(vec![(listener, None)])
    }
}

/// Binds the proxy listeners of `config`: the main `listen` and each
/// tenant's. Once bound, connections queue until they are served, so a
/// readiness probe may say ready from here on.
pub async fn bind(config: &Config) -> Result<Listeners, TransportError> {
    for address in config.unauthenticated_listeners() {
        tracing::warn!(
            %address,
            "the proxy listens beyond loopback without [auth]: anyone who reaches it can \
             make calls; set [auth] to the credentials Centrifugo's proxies send"
        );
    }
    let mut addresses = vec![(config.listen, None)];
    for tenant in config.tenants.values() {
        if let Some(listen) = tenant.listen {
            addresses.push((listen, Some(tenant.name.clone())));
        }
    }
    let mut listeners = Vec::with_capacity(addresses.len());
    for (address, tenant) in addresses {
        let listener =
            TcpListener::bind(address)
                .await
                .map_err(|source| TransportError::Listen {
                    address,
                    key: tenant
                        .as_ref()
                        .map_or_else(|| "listen".to_owned(), |t| format!("tenants.{t}.listen")),
                    source,
                })?;
        listeners.push((listener, tenant));
    }
    Ok(Listeners(listeners))
}

/// Serves the proxy service, and the standard gRPC health service, on every
/// listener until `shutdown` completes; then stops accepting calls and lets
/// calls in flight finish. Calls go to `responder`; connections are plain or
/// `tls`, within `limits`.
///
/// Health reports `SERVING` for `centrifugal.centrifugo.proxy.CentrifugoProxy`
/// (and the server as a whole) from the start, since the plugins are loaded
/// before a [`Responder`] exists, and `NOT_SERVING` from the start of shutdown.
pub async fn serve(
    responder: Responder,
    listeners: Listeners,
    tls: Option<Arc<TlsCerts>>,
    limits: TransportLimits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), TransportError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<CentrifugoProxyServer<ProxyService>>()
        .await;
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let streams = responder.clone();
    let mut servers = tokio::task::JoinSet::new();
    for (listener, tenant) in listeners.0 {
        if let Ok(local) = listener.local_addr() {
            match &tenant {
                Some(tenant) => {
                    tracing::info!(address = %local, %tenant, "serving a tenant's proxy")
                }
                None => tracing::info!(address = %local, "serving Centrifugo's proxy"),
            }
        }
        let service = match tenant.clone() {
            Some(tenant) => ProxyService::for_tenant(responder.clone(), tenant),
            None => ProxyService::new(responder.clone()),
        };
        let mut stopped = stopped.clone();
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|error| TransportError::Reflection(error.to_string()))?;
        let proxy = Authenticated::new(service.into_server(), responder.shared_auth())
            .with_admission(responder.pipeline().registry().clone(), tenant);
        let incoming = listener::incoming(listener, tls.clone(), &limits);
        let server = listener::server(&limits)
            .add_service(health_service.clone())
            .add_service(reflection)
            .add_service(proxy)
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            });
        servers.spawn(server);
    }
    let stop_all = async move {
        shutdown.await;
        // The graceful stop waits for every call: open streams end first,
        // with a status that sends their clients to another replica.
        streams.streams().shut_down();
        health
            .set_not_serving::<CentrifugoProxyServer<ProxyService>>()
            .await;
        health
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
        let _ = stop.send(true);
    };
    let serve_all = async {
        while let Some(done) = servers.join_next().await {
            done.expect("a gRPC server task panicked")?;
        }
        Ok::<(), TransportError>(())
    };
    // The servers end after the stop signal, once calls in flight have
    // finished; a server that fails first ends the others (dropping the
    // join set aborts them).
    tokio::pin!(serve_all);
    tokio::select! {
        served = &mut serve_all => return served,
        () = stop_all => {}
    }
    serve_all.await
}
