//! Rotor assembled: the engine, the services behind host imports, the
//! registry and the reloader, behind the proxy listeners; the facade an
//! operator (the CLI, the admin endpoint) drives.

pub mod admin;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::backends::centrifugo_client::{ApiClient, ApiSetupError};
use crate::backends::kv::KvStore;
use crate::call::Responder;
use crate::config::{Config, Limits, ProxyAuth, TransportLimits};
use crate::contract::convert::ProxyCall;
use crate::contract::kind::RequestKind;
use crate::contract::wit::types::Headers;
use crate::error::PluginError;
use crate::lifecycle::reload::{PluginWatcher, ReloadError, Reloader};
use crate::pipeline::Pipeline;
use crate::routing::registry::{PluginRegistry, RegistryError, Routes};
use crate::runtime::cpu::CpuShares;
use crate::runtime::engine::Engine;
use crate::runtime::plugin::Plugin;
use crate::runtime::store::Services;
use crate::telemetry::Metrics;
use crate::transport::serve::{self, Listeners, TransportError};
use crate::transport::tls::{TlsCerts, TlsError};

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
    /// A listener could not be bound, or the gRPC server failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The TLS certificate, key or client CA could not be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A plugin named by an OCI reference could not be pulled.
    #[error(transparent)]
    Oci(#[from] crate::backends::oci::OciError),
}

/// A running Rotor: answers proxy calls with its plugins.
#[derive(Clone)]
pub struct Rotor {
    /// The answer path, with the credentials and the request size limit.
    responder: Responder,
    reloader: Option<Arc<Reloader>>,
    tls: Option<Arc<TlsCerts>>,
    transport: TransportLimits,
}

impl Rotor {
    /// Builds the engine and loads every plugin `config` names. Compiling
    /// runs on a blocking thread.
    pub async fn new(config: &Config) -> Result<Rotor, ServeError> {
        let mut config = config.clone();
        crate::backends::oci::resolve_config(&mut config).await?;
        let config = &config;
        let engine = Arc::new(Engine::with_pool(
            &config.pool_limits(),
            &config.compile_cache,
        )?);
        let metrics = Arc::new(Metrics::new());
        let services = Services {
            kv: Arc::new(KvStore::from_config(&config.kv)?),
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
        let mut rotor = Rotor::from_routes(
            engine.clone(),
            routes,
            metrics,
            config.auth.clone().map(Arc::new),
            config.max_request(),
        );
        let reloader = Reloader::new(
            engine,
            services,
            rotor.registry().clone(),
            config.clone(),
            rotor.pipeline().metrics().clone(),
        );
        rotor.reloader = Some(Arc::new(reloader));
        rotor.tls = config
            .tls
            .as_ref()
            .map(TlsCerts::load)
            .transpose()?
            .map(Arc::new);
        rotor.transport = config.transport;
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
        Ok(Rotor::from_routes(
            engine,
            routes,
            metrics,
            None,
            crate::config::DEFAULT_MAX_MESSAGE,
        ))
    }

    fn from_routes(
        engine: Arc<Engine>,
        routes: Routes,
        metrics: Arc<Metrics>,
        auth: Option<Arc<ProxyAuth>>,
        max_request: u64,
    ) -> Rotor {
        for plugin in routes.plugins() {
            tracing::info!(
                plugin = plugin.name(),
                sha256 = &plugin.sha256()[..12],
                exports = ?plugin.exports(),
                "plugin loaded"
            );
        }
        crate::lifecycle::series::zero(&metrics, &routes);
        let registry = Arc::new(PluginRegistry::new(routes));
        let pipeline = Arc::new(Pipeline::new(engine, registry, metrics));
        Rotor {
            responder: Responder::new(pipeline, auth, max_request),
            reloader: None,
            tls: None,
            transport: TransportLimits::default(),
        }
    }

    fn pipeline(&self) -> &Arc<Pipeline> {
        self.responder.pipeline()
    }

    /// The answer path of this Rotor's calls: what a [`ProxyService`]
    /// serves (see `ProxyService::new`).
    ///
    /// [`ProxyService`]: crate::ProxyService
    pub fn responder(&self) -> &Responder {
        &self.responder
    }

    /// The credentials every proxy call must carry, if any.
    pub fn auth(&self) -> Option<&ProxyAuth> {
        self.responder.auth()
    }

    /// The largest request any tenant accepts, in encoded bytes: what the
    /// proxy service decodes at most.
    pub fn max_request(&self) -> u64 {
        self.responder.max_request()
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
        self.pipeline().metrics().encode()
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
        self.pipeline().registry()
    }

    /// Answers one proxy call: protobuf in, protobuf out. A failure becomes
    /// what Centrifugo should read (see `CallError::reply`); an `Err` is a
    /// gRPC status.
    pub async fn answer<C: ProxyCall>(
        &self,
        message: C,
        headers: Headers,
        deadline: Option<Instant>,
    ) -> Result<C::Response, tonic::Status> {
        self.responder
            .answer_on(message, headers, deadline, None)
            .await
    }

    /// Binds the proxy listeners of `config`: the main `listen` and each
    /// tenant's. Once bound, connections queue until [`Rotor::serve`]
    /// serves them, so a readiness probe may say ready from here on.
    pub async fn bind(config: &Config) -> Result<Listeners, ServeError> {
        Ok(serve::bind(config).await?)
    }

    /// Serves the proxy service, and the standard gRPC health service, on
    /// `listeners` (one `TcpListener`, or all of a config's from
    /// [`Rotor::bind`]) until `shutdown` completes; then stops accepting
    /// calls and lets calls in flight finish.
    ///
    /// Health reports `SERVING` for `centrifugal.centrifugo.proxy.CentrifugoProxy`
    /// (and the server as a whole) once the plugins are loaded, which they are
    /// before a `Rotor` exists, and `NOT_SERVING` from the start of shutdown.
    pub async fn serve(
        self,
        listeners: impl Into<Listeners>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let Rotor {
            responder,
            tls,
            transport,
            ..
        } = self;
        serve::serve(responder, listeners.into(), tls, transport, shutdown).await?;
        Ok(())
    }
}
