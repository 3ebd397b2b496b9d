//! The live set of plugins and the routes to them, swapped atomically: a
//! call takes a snapshot and keeps it to the end, whatever is swapped in.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::{Config, InterceptorRef, PluginRef};
use crate::engine::Engine;
use crate::error::{CallError, PluginError};
use crate::kind::{RequestKind, channel_namespace};
use crate::plugin::{DEFAULT_TENANT, Plugin};
use crate::sandbox::{Guest, Services};
use crate::wit::types::Request;

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
}

/// One interceptor of a chain.
#[derive(Debug, Clone)]
pub struct Step {
    /// The interceptor.
    pub target: Target,
    /// Whether the call goes on without it when it fails.
    pub fail_open: bool,
}

/// Which plugins answer and intercept which calls.
#[derive(Debug, Default)]
pub struct Routes {
    handlers: BTreeMap<RequestKind, KindRoutes>,
    chains: BTreeMap<RequestKind, Vec<Step>>,
    plugins: BTreeMap<String, Arc<Plugin>>,
}

#[derive(Debug, Default)]
struct KindRoutes {
    default: Option<Target>,
    refined: BTreeMap<String, Target>,
}

/// Builds [`Routes`] from a config: knows the loaded plugins and the shared
/// state their guests reach.
struct RouteBuilder<'a> {
    config: &'a Config,
    plugins: &'a BTreeMap<String, Arc<Plugin>>,
    services: &'a Services,
}

impl RouteBuilder<'_> {
    fn target(&self, plugin: &PluginRef, overrides: &BTreeMap<String, String>) -> Target {
        let mut settings = self
            .config
            .settings
            .get(&plugin.name)
            .cloned()
            .unwrap_or_default();
        settings.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        Target {
            plugin: self.plugins[&plugin.name].clone(),
            guest: Arc::new(Guest {
                plugin: plugin.name.clone(),
                tenant: DEFAULT_TENANT.to_owned(),
                settings,
                services: self.services.clone(),
            }),
        }
    }

    fn handler(
        &self,
        kind: RequestKind,
        key: String,
        plugin: &PluginRef,
    ) -> Result<Target, RegistryError> {
        let target = self.target(plugin, &BTreeMap::new());
        target
            .plugin
            .require_handler(kind)
            .map_err(|source| RegistryError::Route {
                key,
                name: plugin.name.clone(),
                source,
            })?;
        Ok(target)
    }

    fn step(&self, key: String, interceptor: &InterceptorRef) -> Result<Step, RegistryError> {
        let target = self.target(&interceptor.plugin, &interceptor.settings);
        target
            .plugin
            .require_interceptor()
            .map_err(|source| RegistryError::Route {
                key,
                name: interceptor.plugin.name.clone(),
                source,
            })?;
        Ok(Step {
            target,
            fail_open: interceptor.fail_open,
        })
    }
}

impl Routes {
    /// Loads every plugin `config` names (each once) and checks that each
    /// exports what its routes need. Compiles: call it off the async runtime.
    pub fn load(
        engine: &Engine,
        config: &Config,
        services: &Services,
    ) -> Result<Routes, RegistryError> {
        let plugins = load_plugins(engine, config, &BTreeMap::new())?;
        Routes::build(config, plugins, services)
    }

    /// Builds the routes of `config` over already loaded `plugins`, checking
    /// that each exports what its routes need. Does not compile.
    pub fn build(
        config: &Config,
        plugins: BTreeMap<String, Arc<Plugin>>,
        services: &Services,
    ) -> Result<Routes, RegistryError> {
        let builder = RouteBuilder {
            config,
            plugins: &plugins,
            services,
        };
        let mut handlers = BTreeMap::new();
        for (&kind, configured) in &config.handlers {
            let default = configured
                .default
                .as_ref()
                .map(|plugin| builder.handler(kind, format!("handlers.{kind}.default"), plugin))
                .transpose()?;
            let refined = configured
                .refined
                .iter()
                .map(|(key, plugin)| {
                    let target =
                        builder.handler(kind, format!("handlers.{kind}.\"{key}\""), plugin)?;
                    Ok((key.clone(), target))
                })
                .collect::<Result<_, RegistryError>>()?;
            handlers.insert(kind, KindRoutes { default, refined });
        }
        let mut chains = BTreeMap::new();
        for kind in RequestKind::ALL {
            let chain = config
                .interceptors
                .chain(kind)
                .enumerate()
                .map(|(index, interceptor)| {
                    builder.step(
                        format!("interceptors ({kind} chain, step {index})"),
                        interceptor,
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            if !chain.is_empty() {
                chains.insert(kind, chain);
            }
        }
        Ok(Routes {
            handlers,
            chains,
            plugins,
        })
    }

    /// Routes every call of `kind` to `plugin`, with `settings`.
    pub fn single(
        kind: RequestKind,
        plugin: Arc<Plugin>,
        settings: BTreeMap<String, String>,
        services: &Services,
    ) -> Result<Routes, RegistryError> {
        plugin
            .require_handler(kind)
            .map_err(|source| RegistryError::Route {
                key: format!("handlers.{kind}"),
                name: plugin.name().to_owned(),
                source,
            })?;
        let target = Target {
            guest: Arc::new(Guest {
                plugin: plugin.name().to_owned(),
                tenant: DEFAULT_TENANT.to_owned(),
                settings,
                services: services.clone(),
            }),
            plugin: plugin.clone(),
        };
        let mut routes = Routes::default();
        routes.plugins.insert(plugin.name().to_owned(), plugin);
        routes.handlers.insert(
            kind,
            KindRoutes {
                default: Some(target),
                refined: BTreeMap::new(),
            },
        );
        Ok(routes)
    }

    /// The plugin that answers `request`: by RPC method (exact, then
    /// `namespace:` prefix) or channel namespace, then the kind's default.
    pub fn route(&self, request: &Request) -> Result<&Target, CallError> {
        let kind = kind_of(request);
        let no_route = || CallError::NoRoute(kind.name().to_owned());
        let routes = self.handlers.get(&kind).ok_or_else(no_route)?;
        let refined = match request {
            Request::Rpc(r) => routes.refined.get(&r.method).or_else(|| {
                let namespace = channel_namespace(&r.method)?;
                routes.refined.get(&format!("{namespace}:"))
            }),
            Request::Subscribe(r) => {
                channel_namespace(&r.channel).and_then(|ns| routes.refined.get(ns))
            }
            Request::Publish(r) => {
                channel_namespace(&r.channel).and_then(|ns| routes.refined.get(ns))
            }
            Request::SubRefresh(r) => {
                channel_namespace(&r.channel).and_then(|ns| routes.refined.get(ns))
            }
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

    /// Every loaded plugin, by name.
    pub fn plugins(&self) -> impl Iterator<Item = &Arc<Plugin>> {
        self.plugins.values()
    }

    /// The loaded plugins by name, to build new routes from.
    pub fn plugin_map(&self) -> &BTreeMap<String, Arc<Plugin>> {
        &self.plugins
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
    for plugin in config.plugins() {
        let failed = |source| RegistryError::Plugin {
            name: plugin.name.clone(),
            path: plugin.path.clone(),
            source,
        };
        let bytes = std::fs::read(&plugin.path).map_err(|source| {
            failed(PluginError::Read {
                path: plugin.path.clone(),
                source,
            })
        })?;
        let reusable = loaded.get(&plugin.name).filter(|old| {
            old.path() == plugin.path && old.sha256() == crate::plugin::sha256_hex(&bytes)
        });
        let ready = match reusable {
            Some(old) => old.clone(),
            None => Arc::new(
                Plugin::from_bytes(engine, &plugin.name, &plugin.path, &bytes).map_err(failed)?,
            ),
        };
        plugins.insert(plugin.name.clone(), ready);
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
