//! Building one tenant's routes from its config: its targets, chains,
//! warm pools, instance share and the services its guests reach.

use super::*;

/// Builds one tenant's routes: knows the loaded plugins and the shared
/// state its guests reach.
pub(super) struct RouteBuilder<'a> {
    pub(super) tenant: &'a TenantConfig,
    pub(super) tenancy: &'a Tenancy,
    pub(super) plugins: &'a BTreeMap<String, Arc<Plugin>>,
    pub(super) services: Services,
    pub(super) cpu: Arc<TenantCpu>,
    pub(super) instances: Arc<Semaphore>,
    pub(super) share: u32,
    pub(super) log_rate: Arc<LogRate>,
    pub(super) pools: BTreeMap<String, (Arc<Plugin>, Arc<WarmPool>)>,
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
            metrics: Arc::new(self.services.metrics.plugin_metrics(&id)),
            plugin: loaded,
            guest: Arc::new(Guest {
                plugin: id,
                tenant: self.tenant.name.clone(),
                settings,
                services: self.services.clone(),
                cpu: self.cpu.clone(),
                instances: self.instances.clone(),
                log_rate: self.log_rate.clone(),
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

    pub(super) fn build(
        &self,
        previous: Option<&TenantRoutes>,
    ) -> Result<TenantRoutes, RegistryError> {
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
        // The slots carry over a reload, so calls in flight keep counting;
        // the new limits apply when these routes go live (see
        // `PluginRegistry::swap`).
        let permits = match previous {
            Some(previous) => previous.permits.clone(),
            None => Arc::new(Admission::new(tenant.limits.concurrency)),
        };
        // Open streams keep their slots over a reload in the same way.
        let streams = match previous {
            Some(previous) => previous.streams.clone(),
            None => Arc::new(Admission::new(tenant.limits.streams)),
        };
        Ok(TenantRoutes {
            name: tenant.name.clone(),
            grants: tenant.grants,
            handlers,
            chains,
            limits: tenant.limits,
            permits,
            streams,
            cpu: self.cpu.clone(),
            instances: self.instances.clone(),
            share: self.share,
            log_rate: self.log_rate.clone(),
            pools: self.pools.clone(),
            naming: self.tenancy.naming.clone(),
            grant_scope: grant_scope(self.tenancy, tenant),
            on_refresh_failure: tenant.on_refresh_failure,
            calls: self.services.metrics.tenant_calls(&tenant.name),
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
/// plugin whose version (its bytes) and reuse policy did not change, while
/// the tenant's memory limit, which its instances were made with, did not
/// either; new otherwise (the old pool retires with the routes that held
/// it).
pub(super) fn warm_pools(
    tenant: &TenantConfig,
    plugins: &BTreeMap<String, Arc<Plugin>>,
    previous: Option<&TenantRoutes>,
    metrics: &Metrics,
) -> BTreeMap<String, (Arc<Plugin>, Arc<WarmPool>)> {
    let mut pools = BTreeMap::new();
    for (name, policy) in &tenant.reuse {
        let key = tenant.plugin_key(name);
        let Some(plugin) = plugins.get(&key) else {
            continue;
        };
        let kept = previous
            .filter(|routes| routes.limits.memory == tenant.limits.memory)
            .and_then(|routes| routes.pools.get(&key))
            .filter(|(old, pool)| Arc::ptr_eq(old, plugin) && pool.policy() == policy)
            .map(|(_, pool)| pool.clone());
        let pool =
            kept.unwrap_or_else(|| Arc::new(WarmPool::new(*policy, metrics.warm_counters(&key))));
        pools.insert(key, (plugin.clone(), pool));
    }
    pools
}

/// A tenant's share of the instance pool: `instances` permits.
pub(super) fn instance_share(instances: u32) -> Semaphore {
    Semaphore::new(usize::try_from(instances).unwrap_or(usize::MAX))
}

/// The services a tenant's guests reach: only the server API if granted,
/// and then only within the tenant's namespaces.
pub(super) fn tenant_services(
    tenant: &TenantConfig,
    naming: &Naming,
    services: &Services,
) -> Services {
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
