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
use crate::routing::scope::{GrantScope, Namespaces};
use crate::runtime::cpu::{InFlight, TenantCpu};
use crate::runtime::engine::Engine;
use crate::runtime::plugin::Plugin;
use crate::runtime::store::{Guest, Services};
use crate::runtime::warm::WarmPool;

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
    permits: Arc<Semaphore>,
    cpu: Arc<TenantCpu>,
    /// Warm pools by plugin key, with the plugin version they hold.
    pools: BTreeMap<String, (Arc<Plugin>, Arc<WarmPool>)>,
    /// How namespaces are read, to route by them.
    naming: Naming,
    /// The channels its connect and refresh replies may grant.
    grant_scope: GrantScope,
    /// What a refresh answers when the tenant is busy or a plugin fails.
    on_refresh_failure: RefreshFailure,
}

#[derive(Debug, Default)]
struct KindRoutes {
    default: Option<Target>,
    refined: BTreeMap<String, Target>,
}

/// Builds one tenant's routes: knows the loaded plugins and the shared
/// state its guests reach.
struct RouteBuilder<'a> {
    tenant: &'a TenantConfig,
    tenancy: &'a Tenancy,
    plugins: &'a BTreeMap<String, Arc<Plugin>>,
    services: Services,
    cpu: Arc<TenantCpu>,
    pools: BTreeMap<String, (Arc<Plugin>, Arc<WarmPool>)>,
}

impl RouteBuilder<'_> {
    fn target(
        &self,
        key: &str,
        plugin: &PluginRef,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Target, RegistryError> {
        let mut settings = self
            .tenant
            .settings
            .get(&plugin.name)
            .cloned()
            .unwrap_or_default();
        settings.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        let id = self.tenant.plugin_key(&plugin.name);
        let loaded = self.plugins[&id].clone();
        loaded
            .require_grants(&self.tenant.name, &self.tenant.grants)
            .map_err(|source| RegistryError::Route {
                key: key.to_owned(),
                name: id.clone(),
                source,
            })?;
        let warm = self.pools.get(&id).map(|(_, pool)| pool.clone());
        Ok(Target {
            plugin: loaded,
            guest: Arc::new(Guest {
                plugin: id,
                tenant: self.tenant.name.clone(),
                settings,
                services: self.services.clone(),
                cpu: self.cpu.clone(),
            }),
            warm,
        })
    }

    fn handler(
        &self,
        kind: RequestKind,
        key: String,
        plugin: &PluginRef,
    ) -> Result<Target, RegistryError> {
        let target = self.target(&key, plugin, &BTreeMap::new())?;
        target
            .plugin
            .require_handler(kind)
            .map_err(|source| RegistryError::Route {
                key,
                name: target.guest.plugin.clone(),
                source,
            })?;
        Ok(target)
    }

    fn step(&self, key: String, interceptor: &InterceptorRef) -> Result<Step, RegistryError> {
        let target = self.target(&key, &interceptor.plugin, &interceptor.settings)?;
        target
            .plugin
            .require_interceptor()
            .map_err(|source| RegistryError::Route {
                key,
                name: target.guest.plugin.clone(),
                source,
            })?;
        Ok(Step {
            target,
            fail_open: interceptor.fail_open,
        })
    }

    fn build(&self, previous: Option<&TenantRoutes>) -> Result<TenantRoutes, RegistryError> {
        let tenant = self.tenant;
        let prefix = if tenant.name == DEFAULT_TENANT {
            String::new()
        } else {
            format!("tenants.{}.", tenant.name)
        };
        let mut handlers = BTreeMap::new();
        for (&kind, configured) in &tenant.handlers {
            let default = configured
                .default
                .as_ref()
                .map(|plugin| {
                    self.handler(kind, format!("{prefix}handlers.{kind}.default"), plugin)
                })
                .transpose()?;
            let refined = configured
                .refined
                .iter()
                .map(|(key, plugin)| {
                    let target =
                        self.handler(kind, format!("{prefix}handlers.{kind}.\"{key}\""), plugin)?;
                    Ok((key.clone(), target))
                })
                .collect::<Result<_, RegistryError>>()?;
            handlers.insert(kind, KindRoutes { default, refined });
        }
        let mut chains = BTreeMap::new();
        for kind in RequestKind::ALL {
            let chain = tenant
                .interceptors
                .chain(kind)
                .enumerate()
                .map(|(index, interceptor)| {
                    self.step(
                        format!("{prefix}interceptors ({kind} chain, step {index})"),
                        interceptor,
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            if !chain.is_empty() {
                chains.insert(kind, chain);
            }
        }
        // Limits and admission carry over a reload: they change at restart.
        let (limits, permits) = match previous {
            Some(previous) => (previous.limits, previous.permits.clone()),
            None => (tenant.limits, Arc::new(permits(&tenant.limits))),
        };
        Ok(TenantRoutes {
            name: tenant.name.clone(),
            grants: tenant.grants,
            handlers,
            chains,
            limits,
            permits,
            cpu: self.cpu.clone(),
            pools: self.pools.clone(),
            naming: self.tenancy.naming.clone(),
            grant_scope: grant_scope(self.tenancy, tenant),
            on_refresh_failure: tenant.on_refresh_failure,
        })
    }
}

/// The channels `tenant`'s replies may grant (see [`crate::routing::scope`]).
fn grant_scope(tenancy: &Tenancy, tenant: &TenantConfig) -> GrantScope {
    let namespaces = match &tenancy.rule {
        TenantRule::Single => Namespaces::Any,
        TenantRule::Namespace { owners } => {
            let (own, others) = owners
                .iter()
                .partition::<Vec<_>, _>(|(_, owner)| **owner == tenant.name);
            Namespaces::Owned {
                own: own.into_iter().map(|(ns, _)| ns.clone()).collect(),
                others: others.into_iter().map(|(ns, _)| ns.clone()).collect(),
                fallback: tenancy.fallback.as_deref() == Some(tenant.name.as_str()),
            }
        }
        TenantRule::Metadata { .. } | TenantRule::Listener => match &tenant.api_namespaces {
            Some(listed) => Namespaces::Listed(listed.iter().cloned().collect()),
            None => Namespaces::Any,
        },
    };
    GrantScope::new(namespaces, tenancy.naming.clone())
}

/// The warm pools of `tenant`'s reused plugins: kept from `previous` for a
/// plugin whose version did not change, new otherwise (the old pool retires
/// with the routes that held it).
fn warm_pools(
    tenant: &TenantConfig,
    plugins: &BTreeMap<String, Arc<Plugin>>,
    previous: Option<&TenantRoutes>,
) -> BTreeMap<String, (Arc<Plugin>, Arc<WarmPool>)> {
    let mut pools = BTreeMap::new();
    for (name, policy) in &tenant.reuse {
        let key = tenant.plugin_key(name);
        let Some(plugin) = plugins.get(&key) else {
            continue;
        };
        let kept = previous
            .and_then(|routes| routes.pools.get(&key))
            .filter(|(old, pool)| Arc::ptr_eq(old, plugin) && pool.policy() == policy)
            .map(|(_, pool)| pool.clone());
        let pool = kept.unwrap_or_else(|| Arc::new(WarmPool::new(*policy)));
        pools.insert(key, (plugin.clone(), pool));
    }
    pools
}

fn permits(limits: &Limits) -> Semaphore {
    Semaphore::new(usize::try_from(limits.concurrency).unwrap_or(usize::MAX))
}

/// The services a tenant's guests reach: only the server API if granted,
/// and then only within the tenant's namespaces.
fn tenant_services(tenant: &TenantConfig, naming: &Naming, services: &Services) -> Services {
    let api = services
        .api
        .as_ref()
        .filter(|_| tenant.grants.centrifugo_api)
        .map(|api| {
            api.for_tenant(
                &tenant.name,
                tenant.api_namespaces.clone(),
                naming.clone(),
                services.metrics.clone(),
            )
        });
    Services {
        kv: services.kv.clone(),
        api,
        cpu: services.cpu.clone(),
        metrics: services.metrics.clone(),
    }
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
    /// also has keep its limits and admission.
    pub fn build(
        config: &Config,
        plugins: BTreeMap<String, Arc<Plugin>>,
        services: &Services,
        previous: Option<&Routes>,
    ) -> Result<Routes, RegistryError> {
        let mut tenants = BTreeMap::new();
        for tenant in config.tenants.values() {
            let old = previous.and_then(|routes| routes.tenants.get(&tenant.name));
            // Like limits, a tenant's CPU meter carries over a reload.
            let cpu = old.map_or_else(
                || services.cpu.tenant(&tenant.name, tenant.limits.cpu),
                |old| old.cpu.clone(),
            );
            let builder = RouteBuilder {
                tenant,
                tenancy: &config.tenancy,
                plugins: &plugins,
                services: tenant_services(tenant, &config.tenancy.naming, services),
                cpu,
                pools: warm_pools(tenant, &plugins, old),
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
        let target = Target {
            guest: Arc::new(Guest {
                plugin: plugin.name().to_owned(),
                tenant: DEFAULT_TENANT.to_owned(),
                settings,
                services: services.clone(),
                cpu: cpu.clone(),
            }),
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
            permits: Arc::new(permits(&limits)),
            cpu,
            pools: BTreeMap::new(),
            naming: Naming::default(),
            grant_scope: GrantScope::any(),
            on_refresh_failure: RefreshFailure::default(),
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
            in_flight: usize::try_from(limits.concurrency)
                .unwrap_or(usize::MAX)
                .saturating_sub(self.permits.available_permits()),
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

    /// The limits of its calls.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The channels its connect and refresh replies may grant.
    pub fn grant_scope(&self) -> &GrantScope {
        &self.grant_scope
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
        let permit = self.permits.try_acquire().map_err(|_| CallError::Busy)?;
        Ok(Admitted {
            _permit: permit,
            _in_flight: self.cpu.enter(),
        })
    }

    /// The plugin that answers `request`: by RPC method (exact, then
    /// `namespace:` prefix) or channel namespace, then the kind's default.
    pub fn route(&self, request: &Request) -> Result<&Target, CallError> {
        let kind = kind_of(request);
        let no_route = || CallError::NoRoute(kind.name().to_owned());
        let routes = self.handlers.get(&kind).ok_or_else(no_route)?;
        let naming = &self.naming;
        let by_channel = |channel: &str| {
            naming
                .channel_namespace(channel)
                .and_then(|namespace| routes.refined.get(namespace))
        };
        let refined = match request {
            Request::Rpc(r) => routes.refined.get(&r.method).or_else(|| {
                let namespace = naming.method_namespace(&r.method)?;
                routes.refined.get(&format!("{namespace}:"))
            }),
            Request::Subscribe(r) => by_channel(&r.channel),
            Request::Publish(r) => by_channel(&r.channel),
            Request::SubRefresh(r) => by_channel(&r.channel),
            Request::Connect(_) | Request::Refresh(_) => None,
        };
        refined
            .or(routes.default.as_ref())
            .ok_or_else(|| match request {
                Request::Rpc(r) => CallError::NoRoute(format!("rpc method `{}`", r.method)),
                Request::Subscribe(r) => {
                    CallError::NoRoute(format!("subscribe to `{}`", r.channel))
                }
                Request::Publish(r) => CallError::NoRoute(format!("publish to `{}`", r.channel)),
                Request::SubRefresh(r) => {
                    CallError::NoRoute(format!("sub_refresh of `{}`", r.channel))
                }
                _ => no_route(),
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

/// A tenant as operators see it (`/admin/tenants`, `rotor check --config`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantSummary {
    /// Its name.
    pub name: String,
    /// The host imports it is granted.
    pub grants: String,
    /// Its limits.
    pub limits: LimitsSummary,
    /// Its calls being answered now.
    pub in_flight: usize,
    /// Its handlers by request type.
    pub handlers: BTreeMap<String, HandlerSummary>,
    /// Its interceptor chains by request type, outermost first.
    pub chains: BTreeMap<String, Vec<RouteSummary>>,
}

/// A tenant's limits, in plain units.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LimitsSummary {
    /// Bytes of linear memory per instance.
    pub memory: u64,
    /// CPU deadline per step, in milliseconds.
    pub timeout_ms: u64,
    /// Calls at once.
    pub concurrency: u32,
    /// Fuel per step, if metered.
    pub fuel: Option<u64>,
    /// Cores the tenant's guests may use, if limited (otherwise a fair
    /// share).
    pub cpu_cores: Option<f64>,
    /// Largest request, in bytes.
    pub max_request: u64,
    /// Largest reply, in bytes.
    pub max_reply: u64,
    /// What its `kv` entries may cost in all, in bytes.
    pub kv_bytes: u64,
    /// `kv` operations per guest call.
    pub kv_ops: u32,
    /// Server API calls per guest call.
    pub api_calls: u32,
}

/// The handlers of one request type.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HandlerSummary {
    /// The default handler.
    pub default: Option<RouteSummary>,
    /// Handlers by namespace or method.
    pub refined: BTreeMap<String, RouteSummary>,
}

/// One plugin on a route.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RouteSummary {
    /// The plugin's key.
    pub plugin: String,
    /// The live version's SHA-256.
    pub sha256: String,
    /// `fresh` or `reuse`.
    pub mode: &'static str,
    /// For interceptors: whether the call goes on when it fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_open: Option<bool>,
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
            old.path() == plugin.path && old.sha256() == crate::runtime::plugin::sha256_hex(&bytes)
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
    }
}

/// The live routes; readers never wait for a swap.
#[derive(Debug)]
pub struct PluginRegistry {
    current: ArcSwap<Routes>,
}

impl PluginRegistry {
    /// A registry serving `routes`.
    pub fn new(routes: Routes) -> PluginRegistry {
        PluginRegistry {
            current: ArcSwap::from_pointee(routes),
        }
    }

    /// The routes now: a call keeps this snapshot until it ends.
    pub fn snapshot(&self) -> Arc<Routes> {
        self.current.load_full()
    }

    /// Makes `routes` live for every call that starts from now on.
    pub fn swap(&self, routes: Routes) {
        self.current.store(Arc::new(routes));
    }
}
