//! The live set of plugins and the routes to them, swapped atomically: a
//! call takes a snapshot and keeps it to the end, whatever is swapped in.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::{Config, InterceptorRef, Limits, PluginRef, Tenancy, TenantConfig, TenantRule};
use crate::contract::kind::{Naming, RequestKind};
use crate::contract::wit::types::Request;
use crate::error::RefreshFailure;
use crate::error::{CallError, PluginError};
use crate::policy::{CORE, DEFAULT_TENANT, Grants};
use crate::routing::admission::Admission;
use crate::routing::scope::{GrantScope, Namespaces};
use crate::runtime::cpu::{InFlight, TenantCpu};
use crate::runtime::engine::Engine;
use crate::runtime::guest_log::LogRate;
use crate::runtime::plugin::Plugin;
use crate::runtime::store::{Guest, Services};
use crate::runtime::warm::WarmPool;
use crate::telemetry::{Metrics, PluginMetrics, TenantCalls};

mod build;
mod summary;

use self::build::{RouteBuilder, instance_share, tenant_services, warm_pools};
pub use self::summary::{HandlerSummary, LimitsSummary, RouteSummary, TenantSummary};

/// Why a set of routes could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A plugin failed to load.
    #[error("plugin {name} ({path}): {source}")]
    Plugin {
        /// The plugin's name in the config.
        name: String,
        /// Its file.
        path: PathBuf,
        /// Why it failed.
        source: PluginError,
    },
    /// A plugin does not fit the route that names it.
    #[error("`{key}`: plugin {name} {source}")]
    Route {
        /// The config key of the route.
        key: String,
        /// The plugin's name.
        name: String,
        /// Why it does not fit.
        source: PluginError,
    },
}

/// A plugin as one route uses it: the compiled component, and the guest
/// identity (tenant, settings) its instances run with.
#[derive(Debug, Clone)]
pub struct Target {
    /// The component.
    pub plugin: Arc<Plugin>,
    /// What its host imports see.
    pub guest: Arc<Guest>,
    /// Its warm instances, when the tenant reuses them; `None`: a fresh
    /// instance per call.
    pub warm: Option<Arc<WarmPool>>,
    /// Where its steps and instantiations are timed, resolved once.
    pub metrics: Arc<PluginMetrics>,
}

/// A call admitted by its tenant: it holds one of the tenant's concurrency
/// slots and counts as the tenant's call in flight until it drops.
#[derive(Debug)]
pub struct Admitted<'a> {
    _permit: SemaphorePermit<'a>,
    _in_flight: InFlight<'a>,
}

/// One interceptor of a chain.
#[derive(Debug, Clone)]
pub struct Step {
    /// The interceptor.
    pub target: Target,
    /// Whether the call goes on without it when it fails.
    pub fail_open: bool,
}

/// Which plugins answer and intercept which calls, for every tenant.
#[derive(Debug)]
pub struct Routes {
    tenants: BTreeMap<String, TenantRoutes>,
    tenancy: Tenancy,
    plugins: BTreeMap<String, Arc<Plugin>>,
}

/// One tenant's routes, with the limits and the admission of its calls.
#[derive(Debug)]
pub struct TenantRoutes {
    name: String,
    grants: Grants,
    handlers: BTreeMap<RequestKind, KindRoutes>,
    chains: BTreeMap<RequestKind, Vec<Step>>,
    limits: Limits,
    /// Its concurrency slots, shared with the routes it replaced.
    permits: Arc<Admission>,
    /// Its slots for open subscription streams (`limits.streams`), shared
    /// the same way.
    streams: Arc<Admission>,
    cpu: Arc<TenantCpu>,
    /// Its share of the instance pool: a permit per live instance.
    instances: Arc<Semaphore>,
    /// How many permits `instances` was made with.
    share: u32,
    /// The rate its guests' log lines are held to.
    log_rate: Arc<LogRate>,
    /// Warm pools by plugin key, with the plugin version they hold.
    pools: BTreeMap<String, (Arc<Plugin>, Arc<WarmPool>)>,
    /// How namespaces are read, to route by them.
    naming: Naming,
    /// The channels its connect and refresh replies may grant.
    grant_scope: GrantScope,
    /// What a refresh answers when the tenant is busy or a plugin fails.
    on_refresh_failure: RefreshFailure,
    /// Where its calls are counted.
    calls: Arc<TenantCalls>,
}

#[derive(Debug, Default)]
struct KindRoutes {
    default: Option<Target>,
    refined: BTreeMap<String, Target>,
}

impl Routes {
    /// Loads every plugin `config` names (each once per tenant) and checks
    /// that each exports what its routes need and imports only what its
    /// tenant is granted. Compiles: call it off the async runtime.
    pub fn load(
        engine: &Engine,
        config: &Config,
        services: &Services,
    ) -> Result<Routes, RegistryError> {
        let plugins = load_plugins(engine, config, &BTreeMap::new())?;
        Routes::build(config, plugins, services, None)
    }

    /// Builds the routes of `config` over already loaded `plugins`, checking
    /// that each fits its routes. Does not compile. Tenants that `previous`
    /// also has share its concurrency slots and CPU meter, so their calls in
    /// flight keep counting; their new limits apply when the routes go live.
    pub fn build(
        config: &Config,
        plugins: BTreeMap<String, Arc<Plugin>>,
        services: &Services,
        previous: Option<&Routes>,
    ) -> Result<Routes, RegistryError> {
        let mut tenants = BTreeMap::new();
        for tenant in config.tenants.values() {
            let old = previous.and_then(|routes| routes.tenants.get(&tenant.name));
            // Like its slots, a tenant's CPU meter carries over a reload.
            let cpu = old.map_or_else(
                || services.cpu.tenant(&tenant.name, tenant.limits.cpu),
                |old| old.cpu.clone(),
            );
            // So does its log rate, and its share of the instance pool
            // unless the reload resized it (the reload was checked to fit
            // the pool). Instances alive at a resize keep their places in
            // the old share until they drop.
            let share = tenant.instance_share();
            let instances = match old {
                Some(old) if old.share == share => old.instances.clone(),
                _ => Arc::new(instance_share(share)),
            };
            let log_rate = old.map_or_else(
                || Arc::new(LogRate::new(tenant.limits.log_rate)),
                |old| old.log_rate.clone(),
            );
            let builder = RouteBuilder {
                tenant,
                tenancy: &config.tenancy,
                plugins: &plugins,
                services: tenant_services(tenant, &config.tenancy.naming, services),
                cpu,
                instances,
                share,
                log_rate,
                pools: warm_pools(tenant, &plugins, old, &services.metrics),
            };
            tenants.insert(tenant.name.clone(), builder.build(old)?);
        }
        Ok(Routes {
            tenants,
            tenancy: config.tenancy.clone(),
            plugins,
        })
    }

    /// Routes every call of `kind` to `plugin`, with `settings` and `limits`.
    pub fn single(
        kind: RequestKind,
        plugin: Arc<Plugin>,
        settings: BTreeMap<String, String>,
        limits: Limits,
        services: &Services,
    ) -> Result<Routes, RegistryError> {
        // No config names this route, so the error names the file.
        plugin
            .require_handler(kind)
            .map_err(|source| RegistryError::Plugin {
                name: plugin.name().to_owned(),
                path: plugin.path().to_owned(),
                source,
            })?;
        let cpu = services.cpu.tenant(DEFAULT_TENANT, limits.cpu);
        let instances = Arc::new(instance_share(limits.concurrency));
        let log_rate = Arc::new(LogRate::new(limits.log_rate));
        let target = Target {
            guest: Arc::new(Guest {
                plugin: plugin.name().to_owned(),
                tenant: DEFAULT_TENANT.to_owned(),
                settings,
                services: services.clone(),
                cpu: cpu.clone(),
                instances: instances.clone(),
                log_rate: log_rate.clone(),
            }),
            metrics: Arc::new(services.metrics.plugin_metrics(plugin.name())),
            plugin: plugin.clone(),
            warm: None,
        };
        let tenant = TenantRoutes {
            name: DEFAULT_TENANT.to_owned(),
            grants: Grants::ALL,
            handlers: BTreeMap::from([(
                kind,
                KindRoutes {
                    default: Some(target),
                    refined: BTreeMap::new(),
                },
            )]),
            chains: BTreeMap::new(),
            limits,
            permits: Arc::new(Admission::new(limits.concurrency)),
            streams: Arc::new(Admission::new(limits.streams)),
            cpu,
            instances,
            share: limits.concurrency,
            log_rate,
            pools: BTreeMap::new(),
            naming: Naming::default(),
            grant_scope: GrantScope::any(),
            on_refresh_failure: RefreshFailure::default(),
            calls: services.metrics.tenant_calls(DEFAULT_TENANT),
        };
        Ok(Routes {
            tenants: BTreeMap::from([(DEFAULT_TENANT.to_owned(), tenant)]),
            tenancy: Tenancy::single(),
            plugins: BTreeMap::from([(plugin.name().to_owned(), plugin)]),
        })
    }

    /// The tenant `request` belongs to; `listener` is the tenant of the
    /// listener it arrived on, if any.
    pub fn tenant_of(
        &self,
        request: &Request,
        listener: Option<&str>,
    ) -> Result<&TenantRoutes, CallError> {
        let name = self
            .tenancy
            .resolve(request, listener, |name| self.tenants.contains_key(name))?;
        self.tenants
            .get(name)
            .ok_or_else(|| CallError::NoTenant(format!("tenant `{name}` is not configured")))
    }

    /// How namespaces are read out of channels and methods.
    pub fn naming(&self) -> &Naming {
        &self.tenancy.naming
    }

    /// The tenant of a call as far as its metadata and listener tell,
    /// before its message is read (see [`Tenancy::resolve_early`]).
    pub fn tenant_early<'a>(
        &'a self,
        metadata: impl FnOnce(&str) -> Option<&'a str>,
        listener: Option<&'a str>,
    ) -> Option<&'a TenantRoutes> {
        let name = self.tenancy.resolve_early(metadata, listener)?;
        self.tenants.get(name)
    }

    /// Every tenant's routes.
    pub fn tenants(&self) -> impl Iterator<Item = &TenantRoutes> {
        self.tenants.values()
    }

    /// Every loaded plugin, by key.
    pub fn plugins(&self) -> impl Iterator<Item = &Arc<Plugin>> {
        self.plugins.values()
    }

    /// The loaded plugins by key, to build new routes from.
    pub fn plugin_map(&self) -> &BTreeMap<String, Arc<Plugin>> {
        &self.plugins
    }
}

impl TenantRoutes {
    /// The tenant's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What operators see of this tenant: its routes with their isolation
    /// modes, its chains, limits and grants.
    pub fn summary(&self) -> TenantSummary {
        let route = |target: &Target| RouteSummary {
            plugin: target.guest.plugin.clone(),
            sha256: target.plugin.sha256().to_owned(),
            mode: if target.warm.is_some() {
                "reuse"
            } else {
                "fresh"
            },
            fail_open: None,
        };
        let handlers = self
            .handlers
            .iter()
            .map(|(kind, routes)| {
                let summary = HandlerSummary {
                    default: routes.default.as_ref().map(route),
                    refined: routes
                        .refined
                        .iter()
                        .map(|(key, target)| (key.clone(), route(target)))
                        .collect(),
                };
                (kind.name().to_owned(), summary)
            })
            .collect();
        let chains = self
            .chains
            .iter()
            .map(|(kind, steps)| {
                let steps = steps
                    .iter()
                    .map(|step| RouteSummary {
                        fail_open: Some(step.fail_open),
                        ..route(&step.target)
                    })
                    .collect();
                (kind.name().to_owned(), steps)
            })
            .collect();
        let limits = &self.limits;
        TenantSummary {
            name: self.name.clone(),
            grants: self.grants.to_string(),
            limits: LimitsSummary {
                memory: limits.memory,
                timeout_ms: u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX),
                concurrency: limits.concurrency,
                fuel: limits.fuel,
                cpu_cores: limits
                    .cpu
                    .map(|millicores| f64::from(millicores) / f64::from(CORE)),
                max_request: limits.max_request,
                max_reply: limits.max_reply,
                kv_bytes: limits.kv_bytes,
                kv_ops: limits.kv_ops,
                api_calls: limits.api_calls,
            },
            in_flight: self.permits.in_flight(),
            handlers,
            chains,
        }
    }

    /// Its warm pools, by plugin key.
    pub fn warm_pools(&self) -> impl Iterator<Item = (&str, &WarmPool)> {
        self.pools
            .iter()
            .map(|(key, (_, pool))| (key.as_str(), pool.as_ref()))
    }

    /// The host imports its guests may use.
    pub fn grants(&self) -> Grants {
        self.grants
    }

    /// Whether its guests reach Centrifugo's server API.
    pub fn has_api(&self) -> bool {
        let mut targets = self
            .handlers
            .values()
            .flat_map(|routes| routes.default.iter().chain(routes.refined.values()))
            .chain(self.chains.values().flatten().map(|step| &step.target));
        targets.any(|target| target.guest.services.api.is_some())
    }

    /// The limits of its calls.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The channels its connect and refresh replies may grant.
    pub fn grant_scope(&self) -> &GrantScope {
        &self.grant_scope
    }

    /// Where its calls are counted.
    pub fn calls(&self) -> &Arc<TenantCalls> {
        &self.calls
    }

    /// What a refresh answers when the tenant is busy or a plugin fails.
    pub fn on_refresh_failure(&self) -> RefreshFailure {
        self.on_refresh_failure
    }

    /// Admits one more call of this tenant, or fails at once when its
    /// concurrency limit is reached: Centrifugo's client retries, memory
    /// stays bounded, and one tenant's load never takes another's slots.
    /// While admitted, the call holds other tenants to their CPU share.
    pub fn admit(&self) -> Result<Admitted<'_>, CallError> {
        let permit = self.permits.try_admit().ok_or(CallError::Busy)?;
        Ok(Admitted {
            _permit: permit,
            _in_flight: self.cpu.enter(),
        })
    }

    /// A slot for one more open subscription stream, held until the stream
    /// ends, or `None` at once when the tenant has `limits.streams` open.
    pub fn admit_stream(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.streams.try_admit_owned()
    }

    /// Whether every one of its concurrency slots is taken now: a call that
    /// arrives meanwhile is refused as busy.
    pub fn saturated(&self) -> bool {
        self.permits.saturated()
    }

    /// The plugin that answers `request`: by RPC method (exact, then
    /// `namespace:` prefix) or channel namespace, then the kind's default.
    pub fn route(&self, request: &Request) -> Result<&Target, CallError> {
        self.route_as(kind_of(request), request)
    }

    /// The plugin that answers `request` as a call of `kind`: a stream's
    /// opening `subscribe` request is routed as `subscribe_stream`.
    pub fn route_as(&self, kind: RequestKind, request: &Request) -> Result<&Target, CallError> {
        let no_route = || CallError::NoRoute(kind.name().to_owned());
        let routes = self.handlers.get(&kind).ok_or_else(no_route)?;
        let naming = &self.naming;
        let by_channel = |channel: &str| {
            naming
                .channel_namespace(channel)
                .and_then(|namespace| routes.refined.get(namespace))
        };
        let channel = crate::contract::request_parts::channel(request);
        let refined = match request {
            Request::Rpc(r) => routes.refined.get(&r.method).or_else(|| {
                let namespace = naming.method_namespace(&r.method)?;
                routes.refined.get(&format!("{namespace}:"))
            }),
            _ => channel.and_then(by_channel),
        };
        refined
            .or(routes.default.as_ref())
            .ok_or_else(|| match request {
                Request::Rpc(r) => CallError::NoRoute(format!("rpc method `{}`", r.method)),
                Request::Subscribe(r) => CallError::NoRoute(format!("{kind} to `{}`", r.channel)),
                Request::Publish(r) => CallError::NoRoute(format!("publish to `{}`", r.channel)),
                _ => match channel {
                    Some(channel) => CallError::NoRoute(format!("{kind} of `{channel}`")),
                    None => no_route(),
                },
            })
    }

    /// Every handler target of `kind`: the default and the refined ones.
    pub fn handler_targets(&self, kind: RequestKind) -> impl Iterator<Item = &Target> {
        self.handlers
            .get(&kind)
            .into_iter()
            .flat_map(|routes| routes.default.iter().chain(routes.refined.values()))
    }

    /// The interceptor chain of `kind`, outermost first.
    pub fn chain(&self, kind: RequestKind) -> &[Step] {
        self.chains.get(&kind).map_or(&[], Vec::as_slice)
    }
}

/// Loads every plugin `config` names, reusing from `loaded` those whose file
/// is unchanged (same path and content hash). Compiles: call it off the
/// async runtime.
pub fn load_plugins(
    engine: &Engine,
    config: &Config,
    loaded: &BTreeMap<String, Arc<Plugin>>,
) -> Result<BTreeMap<String, Arc<Plugin>>, RegistryError> {
    let mut plugins = BTreeMap::new();
    for (tenant, plugin) in config.plugins() {
        let key = tenant.plugin_key(&plugin.name);
        let failed = |source| RegistryError::Plugin {
            name: key.clone(),
            path: plugin.path.clone(),
            source,
        };
        let bytes = std::fs::read(&plugin.path).map_err(|source| {
            failed(PluginError::Read {
                path: plugin.path.clone(),
                source,
            })
        })?;
        let reusable = loaded.get(&key).filter(|old| {
            old.path() == plugin.path && old.sha256() == crate::digest::sha256_hex(&bytes)
        });
        let ready = match reusable {
            Some(old) => old.clone(),
            None => {
                Arc::new(Plugin::from_bytes(engine, &key, &plugin.path, &bytes).map_err(failed)?)
            }
        };
        plugins.insert(key, ready);
    }
    Ok(plugins)
}

/// The kind of a request.
pub fn kind_of(request: &Request) -> RequestKind {
    match request {
        Request::Connect(_) => RequestKind::Connect,
        Request::Refresh(_) => RequestKind::Refresh,
        Request::Subscribe(_) => RequestKind::Subscribe,
        Request::Publish(_) => RequestKind::Publish,
        Request::Rpc(_) => RequestKind::Rpc,
        Request::SubRefresh(_) => RequestKind::SubRefresh,
        Request::MapPublish(_) => RequestKind::MapPublish,
        Request::MapRemove(_) => RequestKind::MapRemove,
        Request::SharedPollRefresh(_) => RequestKind::SharedPollRefresh,
        Request::NotifyCacheEmpty(_) => RequestKind::NotifyCacheEmpty,
        Request::NotifyChannelState(_) => RequestKind::NotifyChannelState,
    }
}

/// The live routes; readers never wait for a swap.
#[derive(Debug)]
pub struct PluginRegistry {
    current: ArcSwap<Routes>,
    /// Counts swaps: what long-lived calls (streams) watch to learn that
    /// their plugin may have changed.
    swaps: tokio::sync::watch::Sender<u64>,
}

impl PluginRegistry {
    /// A registry serving `routes`.
    pub fn new(routes: Routes) -> PluginRegistry {
        PluginRegistry {
            current: ArcSwap::from_pointee(routes),
            swaps: tokio::sync::watch::Sender::new(0),
        }
    }

    /// The routes now: a call keeps this snapshot until it ends.
    pub fn snapshot(&self) -> Arc<Routes> {
        self.current.load_full()
    }

    /// Makes `routes` live for every call that starts from now on, with
    /// their tenants' concurrency and CPU limits. Calls in flight finish on
    /// the routes they started with.
    pub fn swap(&self, routes: Routes) {
        for tenant in routes.tenants.values() {
            tenant.permits.set_limit(tenant.limits.concurrency);
            tenant.cpu.set_limit(tenant.limits.cpu);
            tenant.streams.set_limit(tenant.limits.streams);
        }
        self.current.store(Arc::new(routes));
        self.swaps.send_modify(|swaps| *swaps += 1);
    }

    /// Sees every swap from now on: it changes when new routes go live.
    pub fn swaps(&self) -> tokio::sync::watch::Receiver<u64> {
        self.swaps.subscribe()
    }
}
