//! Rotor assembled: engine, plugins and pipeline behind the gRPC proxy
//! service, and the one function every proxy call goes through.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::api::{ApiClient, ApiSetupError};
use crate::config::{Config, Limits};
use crate::convert::ProxyCall;
use crate::engine::Engine;
use crate::error::{CallError, FailureReply, PluginError};
use crate::kind::RequestKind;
use crate::kv::KvStore;
use crate::pipeline::Pipeline;
use crate::plugin::Plugin;
use crate::proto::proxy as pb;
use crate::proto::proxy::centrifugo_proxy_server::CentrifugoProxyServer;
use crate::proxy::ProxyService;
use crate::registry::{PluginRegistry, RegistryError, Routes};
use crate::reload::{PluginWatcher, ReloadError, Reloader};
use crate::sandbox::Services;
use crate::telemetry::Metrics;
use crate::wit::types::Headers;
use std::sync::atomic::Ordering;

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
    Kv(#[from] crate::kv::KvError),
    /// The Centrifugo API client could not be set up.
    #[error(transparent)]
    Api(#[from] ApiSetupError),
    /// The listener failed.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The configured address.
        address: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// A running Rotor: answers proxy calls with its plugins.
#[derive(Clone)]
pub struct Rotor {
    pipeline: Arc<Pipeline>,
    reloader: Option<Arc<Reloader>>,
}

impl Rotor {
    /// Builds the engine and loads every plugin `config` names. Compiling
    /// runs on a blocking thread.
    pub async fn new(config: &Config) -> Result<Rotor, ServeError> {
        let engine = Arc::new(Engine::new(
            &config.limits,
            1 + config.interceptors.longest(),
        )?);
        let services = Services {
            kv: Arc::new(config.kv.store()?),
            api: config.centrifugo.as_ref().map(ApiClient::new).transpose()?,
        };
        let routes = {
            let engine = engine.clone();
            let config = config.clone();
            let services = services.clone();
            tokio::task::spawn_blocking(move || Routes::load(&engine, &config, &services))
                .await
                .expect("plugin loading panicked")?
        };
        let mut rotor = Rotor::from_routes(engine.clone(), routes, config.limits);
        let reloader = Reloader::new(
            engine,
            services,
            rotor.registry().clone(),
            config.clone(),
            rotor.pipeline.metrics().clone(),
        );
        rotor.reloader = Some(Arc::new(reloader));
        Ok(rotor)
    }

    /// A Rotor that answers every `kind` call with one component file, with
    /// default limits: what `rotor call` runs.
    pub async fn single(
        kind: RequestKind,
        path: &std::path::Path,
        settings: std::collections::BTreeMap<String, String>,
    ) -> Result<Rotor, ServeError> {
        let limits = Limits::default();
        let engine = Arc::new(Engine::new(&limits, 1)?);
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
        let services = Services {
            kv: Arc::new(KvStore::memory()),
            api: None,
        };
        let routes = Routes::single(kind, Arc::new(plugin), settings, &services)?;
        Ok(Rotor::from_routes(engine, routes, limits))
    }

    fn from_routes(engine: Arc<Engine>, routes: Routes, limits: Limits) -> Rotor {
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
            pipeline: Arc::new(Pipeline::new(
                engine,
                registry,
                limits,
                Arc::new(Metrics::new()),
            )),
            reloader: None,
        }
    }

    /// Watches the plugin directory and reloads changed plugins while the
    /// returned guard lives.
    pub fn watch_plugins(&self, dir: &std::path::Path) -> Result<PluginWatcher, ReloadError> {
        let reloader = self.reloader.as_ref().ok_or(ReloadError::NoConfigFile)?;
        reloader
            .watch(dir)
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
    pub async fn plugin_versions(&self) -> Vec<crate::reload::PluginVersion> {
        match &self.reloader {
            Some(reloader) => reloader.versions().await,
            None => Vec::new(),
        }
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
        let metrics = self.pipeline.metrics();
        let started = Instant::now();
        let _in_flight = metrics.in_flight();
        let (request, context) = match message.into_request(headers) {
            Ok(decoded) => decoded,
            Err(error) => {
                metrics.call(C::KIND, "bad_request", started.elapsed().as_secs_f64());
                return Err(tonic::Status::invalid_argument(error.to_string()));
            }
        };
        let mut outcome = "fault";
        let result = self
            .pipeline
            .call(request, deadline, |reply| {
                outcome = crate::telemetry::outcome(&reply);
                C::response(reply, &context)
            })
            .await;
        let outcome = match &result {
            Ok(_) => outcome,
            Err(CallError::Busy) => "busy",
            Err(CallError::NoRoute(_)) => "no_route",
            Err(CallError::Guest { .. }) => "fault",
        };
        metrics.call(C::KIND, outcome, started.elapsed().as_secs_f64());
        match result {
            Ok(response) => Ok(response),
            Err(error) => match error.reply(C::KIND) {
                FailureReply::Error { code, message } => C::error_response(pb::Error {
                    code,
                    message: message.to_owned(),
                    temporary: true,
                })
                .ok_or_else(|| tonic::Status::internal(error.to_string())),
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
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<CentrifugoProxyServer<ProxyService>>()
            .await;
        health
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        let shutdown = async move {
            shutdown.await;
            health
                .set_not_serving::<CentrifugoProxyServer<ProxyService>>()
                .await;
            health
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
        };
        tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(ProxyService::new(self).into_server())
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
            .await?;
        Ok(())
    }

    /// Binds `config.listen` and serves until `shutdown` completes.
    pub async fn serve_config(
        self,
        config: &Config,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Listen {
                    address: config.listen,
                    source,
                })?;
        let address = listener.local_addr().unwrap_or(config.listen);
        tracing::info!(%address, "serving Centrifugo's proxy");
        self.serve(listener, shutdown).await
    }
}
