//! Rotor assembled: engine, plugins and pipeline behind the gRPC proxy
//! service, and the one function every proxy call goes through.

pub mod admin;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;

use crate::backends::centrifugo_client::{ApiClient, ApiSetupError};
use crate::backends::kv::KvStore;
use crate::config::{Config, Limits, ProxyAuth, TransportLimits};
use crate::contract::convert::ProxyCall;
use crate::contract::kind::RequestKind;
use crate::contract::proto::proxy as pb;
use crate::contract::proto::proxy::centrifugo_proxy_server::CentrifugoProxyServer;
use crate::contract::wit::types::Headers;
use crate::error::{CallError, FailureReply, GuestFault, PluginError};
use crate::lifecycle::reload::{PluginWatcher, ReloadError, Reloader};
use crate::pipeline::{Origin, Pipeline};
use crate::routing::registry::{PluginRegistry, RegistryError, Routes};
use crate::runtime::cpu::CpuShares;
use crate::runtime::engine::Engine;
use crate::runtime::plugin::Plugin;
use crate::runtime::store::Services;
use crate::telemetry::{Metrics, TraceParent};
use crate::transport::grpc::ProxyService;
use crate::transport::listener::Authenticated;
use crate::transport::tls::{TlsCerts, TlsError};
use std::sync::atomic::Ordering;
use tracing::Instrument;

/// Why Rotor could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The engine could not be built.
    #[error(transparent)]
    Engine(#[from] PluginError),
    /// The plugins of the configuration could not be loaded.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The kv store could not be set up.
    #[error("kv store: {0}")]
    Kv(#[from] crate::backends::kv::KvError),
    /// The Centrifugo API client could not be set up.
    #[error(transparent)]
    Api(#[from] ApiSetupError),
    /// The listener failed.
    #[error("cannot listen on {address} (`{key}`): {source}")]
    Listen {
        /// The configured address.
        address: std::net::SocketAddr,
        /// The config key that sets it: `listen` or `tenants.<name>.listen`.
        key: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The reflection service could not be built from the descriptors.
    #[error("gRPC reflection: {0}")]
    Reflection(String),
    /// The TLS certificate, key or client CA could not be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A config's proxy listeners, bound but not yet served: see [`Rotor::bind`].
#[derive(Debug)]
pub struct Listeners(Vec<(TcpListener, Option<String>)>);

/// A running Rotor: answers proxy calls with its plugins.
#[derive(Clone)]
pub struct Rotor {
    pipeline: Arc<Pipeline>,
    reloader: Option<Arc<Reloader>>,
    auth: Option<Arc<ProxyAuth>>,
    tls: Option<Arc<TlsCerts>>,
    transport: TransportLimits,
    /// The largest request any tenant accepts, in bytes.
    max_request: u64,
}

impl Rotor {
    /// Builds the engine and loads every plugin `config` names. Compiling
    /// runs on a blocking thread.
    pub async fn new(config: &Config) -> Result<Rotor, ServeError> {
        let engine = Arc::new(Engine::with_pool(
            &config.pool_limits(),
            &config.compile_cache,
        )?);
        let metrics = Arc::new(Metrics::new());
        let services = Services {
            kv: Arc::new(config.kv.store()?),
            api: config.centrifugo.as_ref().map(ApiClient::new).transpose()?,
            cpu: CpuShares::host(metrics.cpu_throttled()),
            metrics: metrics.clone(),
        };
        let routes = {
            let engine = engine.clone();
            let config = config.clone();
            let services = services.clone();
            tokio::task::spawn_blocking(move || Routes::load(&engine, &config, &services))
                .await
                .expect("plugin loading panicked")?
        };
        let mut rotor = Rotor::from_routes(engine.clone(), routes, metrics);
        let reloader = Reloader::new(
            engine,
            services,
            rotor.registry().clone(),
            config.clone(),
            rotor.pipeline.metrics().clone(),
        );
        rotor.reloader = Some(Arc::new(reloader));
        rotor.auth = config.auth.clone().map(Arc::new);
        rotor.tls = config
            .tls
            .as_ref()
            .map(TlsCerts::load)
            .transpose()?
            .map(Arc::new);
        rotor.transport = config.transport;
        rotor.max_request = config.max_request();
        Ok(rotor)
    }

    /// A Rotor that answers every `kind` call with one component file, with
    /// default limits: what `rotor call` runs. Compiled components are kept
    /// in `cache`, as `serve` keeps them.
    pub async fn single(
        kind: RequestKind,
        path: &std::path::Path,
        settings: std::collections::BTreeMap<String, String>,
        cache: &crate::config::CompileCache,
    ) -> Result<Rotor, ServeError> {
        let limits = Limits::default();
        let engine = Arc::new(Engine::with_pool(
            &crate::config::PoolLimits::for_limits(&limits, 1),
            cache,
        )?);
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let plugin = {
            let engine = engine.clone();
            let path = path.to_owned();
            let name = name.clone();
            tokio::task::spawn_blocking(move || Plugin::load(&engine, &name, &path))
                .await
                .expect("plugin loading panicked")
        }
        .map_err(|source| RegistryError::Plugin {
            name,
            path: path.to_owned(),
            source,
        })?;
        let metrics = Arc::new(Metrics::new());
        let services = Services {
            kv: Arc::new(KvStore::memory()),
            api: None,
            cpu: CpuShares::host(metrics.cpu_throttled()),
            metrics: metrics.clone(),
        };
        let routes = Routes::single(kind, Arc::new(plugin), settings, limits, &services)?;
        Ok(Rotor::from_routes(engine, routes, metrics))
    }

    fn from_routes(engine: Arc<Engine>, routes: Routes, metrics: Arc<Metrics>) -> Rotor {
        for plugin in routes.plugins() {
            tracing::info!(
                plugin = plugin.name(),
                sha256 = &plugin.sha256()[..12],
                exports = ?plugin.exports(),
                "plugin loaded"
            );
        }
        let registry = Arc::new(PluginRegistry::new(routes));
        Rotor {
            pipeline: Arc::new(Pipeline::new(engine, registry, metrics)),
            reloader: None,
            auth: None,
            tls: None,
            transport: TransportLimits::default(),
            max_request: crate::config::DEFAULT_MAX_MESSAGE,
        }
    }

    /// The credentials every proxy call must carry, if any.
    pub fn auth(&self) -> Option<&ProxyAuth> {
        self.auth.as_deref()
    }

    /// The largest request any tenant accepts, in encoded bytes: what the
    /// proxy service decodes at most.
    pub fn max_request(&self) -> u64 {
        self.max_request
    }

    /// Reads the TLS certificate, key and client CA files again (SIGHUP):
    /// new connections use them, established ones keep theirs. `Ok(false)`
    /// without `[tls]`; on error the current certificates stay.
    pub fn reload_tls(&self) -> Result<bool, TlsError> {
        match &self.tls {
            Some(tls) => tls.reload().map(|()| true),
            None => Ok(false),
        }
    }

    /// Watches `config`'s plugin directories (the main one and each
    /// tenant's) and reloads changed plugins while the returned guard lives.
    pub fn watch_plugins(&self, config: &Config) -> Result<PluginWatcher, ReloadError> {
        let reloader = self.reloader.as_ref().ok_or(ReloadError::NoConfigFile)?;
        reloader
            .watch(&config.plugin_dirs())
            .map_err(|error| ReloadError::Watch(error.to_string()))
    }

    /// Reloads the config file this Rotor was started from: all or nothing.
    pub async fn reload_config(&self) -> Result<(), ReloadError> {
        let reloader = self.reloader.as_ref().ok_or(ReloadError::NoConfigFile)?;
        reloader.reload_config().await
    }

    /// Puts back the previous version of `plugin`; its SHA-256 on success.
    pub async fn rollback(&self, plugin: &str) -> Result<String, ReloadError> {
        let reloader = self.reloader.as_ref().ok_or(ReloadError::NoConfigFile)?;
        reloader
            .rollback(plugin)
            .await
            .map_err(ReloadError::Rejected)
    }

    /// The live plugins and the versions a rollback would restore.
    pub async fn plugin_versions(&self) -> Vec<crate::lifecycle::reload::PluginVersion> {
        match &self.reloader {
            Some(reloader) => reloader.versions().await,
            None => Vec::new(),
        }
    }

    /// Every tenant's routes, limits and grants, as operators see them.
    pub fn tenants(&self) -> Vec<crate::routing::registry::TenantSummary> {
        self.registry()
            .snapshot()
            .tenants()
            .map(crate::routing::registry::TenantRoutes::summary)
            .collect()
    }

    /// The metrics in Prometheus' text format.
    pub fn metrics_text(&self) -> String {
        self.pipeline.metrics().encode()
    }

    /// Counts of applied and rejected reloads (zero without a config file).
    pub fn reload_counts(&self) -> (u64, u64) {
        self.reloader.as_ref().map_or((0, 0), |reloader| {
            let stats = reloader.stats();
            (
                stats.applied.load(Ordering::Relaxed),
                stats.rejected.load(Ordering::Relaxed),
            )
        })
    }

    /// The live plugin registry.
    pub fn registry(&self) -> &Arc<PluginRegistry> {
        self.pipeline.registry()
    }

    /// Answers one proxy call: protobuf in, protobuf out. A failure becomes
    /// what Centrifugo should read (see [`CallError::reply`]); an `Err` is a
    /// gRPC status.
    pub async fn answer<C: ProxyCall>(
        &self,
        message: C,
        headers: Headers,
        deadline: Option<Instant>,
    ) -> Result<C::Response, tonic::Status> {
        self.answer_on(message, headers, deadline, None).await
    }

    /// Answers one proxy call that arrived on the listener of tenant
    /// `listener` (with `[tenancy] by = "listener"`), or on the main one.
    ///
    /// The call runs in a `call` span with its kind, tenant, plugin and the
    /// plugin's version, and the W3C trace context of the client if
    /// Centrifugo forwarded one (`traceparent`).
    pub async fn answer_on<C: ProxyCall>(
        &self,
        message: C,
        headers: Headers,
        deadline: Option<Instant>,
        listener: Option<&str>,
    ) -> Result<C::Response, tonic::Status> {
        let trace = TraceParent::from_headers(&headers);
        let span = tracing::info_span!(
            "call",
            kind = C::KIND.name(),
            tenant = tracing::field::Empty,
            plugin = tracing::field::Empty,
            version = tracing::field::Empty,
            trace_id = trace.as_ref().map(|t| t.trace_id.as_str()),
            parent_id = trace.as_ref().map(|t| t.parent_id.as_str()),
        );
        self.answer_in_span(message, headers, deadline, listener)
            .instrument(span)
            .await
    }

    async fn answer_in_span<C: ProxyCall>(
        &self,
        message: C,
        headers: Headers,
        deadline: Option<Instant>,
        listener: Option<&str>,
    ) -> Result<C::Response, tonic::Status> {
        let metrics = self.pipeline.metrics();
        let started = Instant::now();
        let _in_flight = metrics.in_flight();
        let size = u64::try_from(prost::Message::encoded_len(&message)).unwrap_or(u64::MAX);
        let (request, context) = match message.into_request(headers) {
            Ok(decoded) => decoded,
            Err(error) => {
                metrics.call("", C::KIND, "bad_request", started.elapsed().as_secs_f64());
                return Err(tonic::Status::invalid_argument(error.to_string()));
            }
        };
        let mut outcome = "fault";
        let origin = Origin {
            size,
            listener,
            deadline,
        };
        let (tenant, result) = self
            .pipeline
            .call(request, origin, |reply, limits| {
                outcome = crate::telemetry::outcome(&reply);
                let response = C::response(reply, &context)?;
                let bytes =
                    u64::try_from(prost::Message::encoded_len(&response)).unwrap_or(u64::MAX);
                if bytes > limits.max_reply {
                    return Err(GuestFault::InvalidReply(format!(
                        "the reply is {bytes} bytes, over the tenant's limit of {} bytes",
                        limits.max_reply
                    )));
                }
                Ok(response)
            })
            .await;
        let outcome = match &result {
            Ok(_) => outcome,
            Err(CallError::Busy) => "busy",
            Err(CallError::NoRoute(_)) => "no_route",
            Err(CallError::NoTenant(_)) => "no_tenant",
            Err(CallError::TooLarge { .. }) => "too_large",
            Err(CallError::Guest { .. }) => "fault",
        };
        metrics.call(
            tenant.as_deref().unwrap_or(""),
            C::KIND,
            outcome,
            started.elapsed().as_secs_f64(),
        );
        match result {
            Ok(response) => Ok(response),
            Err(error) => match error.reply(C::KIND) {
                FailureReply::Error { code, message } => C::error_response(pb::Error {
                    code,
                    message: message.to_owned(),
                    temporary: true,
                })
                .ok_or_else(|| {
                    tonic::Status::internal("the call failed; Rotor's log has the details")
                }),
                FailureReply::Status(status) => Err(status),
            },
        }
    }

    /// Serves the proxy service, and the standard gRPC health service, on
    /// `listener` until `shutdown` completes; then stops accepting calls and
    /// lets calls in flight finish.
    ///
    /// Health reports `SERVING` for `centrifugal.centrifugo.proxy.CentrifugoProxy`
    /// (and the server as a whole) once the plugins are loaded, which they are
    /// before a `Rotor` exists, and `NOT_SERVING` from the start of shutdown.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        self.serve_listeners(vec![(listener, None)], shutdown).await
    }

    /// Serves every listener until `shutdown` completes; a listener paired
    /// with a tenant answers only that tenant's calls.
    async fn serve_listeners(
        self,
        listeners: Vec<(TcpListener, Option<String>)>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<CentrifugoProxyServer<ProxyService>>()
            .await;
        health
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut servers = tokio::task::JoinSet::new();
        for (listener, tenant) in listeners {
            if let Ok(local) = listener.local_addr() {
                match &tenant {
                    Some(tenant) => {
                        tracing::info!(address = %local, %tenant, "serving a tenant's proxy")
                    }
                    None => tracing::info!(address = %local, "serving Centrifugo's proxy"),
                }
            }
            let service = match tenant {
                Some(tenant) => ProxyService::for_tenant(self.clone(), tenant),
                None => ProxyService::new(self.clone()),
            };
            let mut stopped = stopped.clone();
            let reflection = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(crate::contract::proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .build_v1()
                .map_err(|error| ServeError::Reflection(error.to_string()))?;
            let proxy = Authenticated::new(service.into_server(), self.auth.clone());
            let incoming =
                crate::transport::listener::incoming(listener, self.tls.clone(), &self.transport);
            let server = crate::transport::listener::server(&self.transport)
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
            Ok::<(), ServeError>(())
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

    /// Binds `config.listen`, and each tenant's own listener, and serves
    /// until `shutdown` completes.
    pub async fn serve_config(
        self,
        config: &Config,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let listeners = Rotor::bind(config).await?;
        self.serve_bound(listeners, shutdown).await
    }

    /// Binds the proxy listeners of `config`: the main `listen` and each
    /// tenant's. Once bound, connections queue until [`Rotor::serve_bound`]
    /// serves them, so a readiness probe may say ready from here on.
    pub async fn bind(config: &Config) -> Result<Listeners, ServeError> {
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
                    .map_err(|source| ServeError::Listen {
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

    /// Serves listeners bound by [`Rotor::bind`] until `shutdown` completes.
    pub async fn serve_bound(
        self,
        listeners: Listeners,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        self.serve_listeners(listeners.0, shutdown).await
    }
}
