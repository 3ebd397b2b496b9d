//! The live set of plugins and the routes to them, swapped atomically: a
//! call takes a snapshot and keeps it to the end, whatever is swapped in.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::{Config, PluginRef};
use crate::engine::Engine;
use crate::error::{CallError, PluginError};
use crate::kind::{RequestKind, channel_namespace};
use crate::plugin::Plugin;
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

/// Which plugin answers which call.
#[derive(Debug, Default)]
pub struct Routes {
    handlers: BTreeMap<RequestKind, KindRoutes>,
    plugins: BTreeMap<String, Arc<Plugin>>,
}

#[derive(Debug, Default)]
struct KindRoutes {
    default: Option<Arc<Plugin>>,
    refined: BTreeMap<String, Arc<Plugin>>,
}

impl Routes {
    /// Loads every plugin `config` names (each once) and checks that each
    /// exports what its routes need. Compiles: call it off the async runtime.
    pub fn load(engine: &Engine, config: &Config) -> Result<Routes, RegistryError> {
        let mut plugins = BTreeMap::new();
        for plugin in config.plugins() {
            let settings = config.settings.get(&plugin.name).cloned().unwrap_or_default();
            let loaded = Plugin::load(engine, &plugin.name, &plugin.path, settings).map_err(|source| {
                RegistryError::Plugin {
                    name: plugin.name.clone(),
                    path: plugin.path.clone(),
                    source,
                }
            })?;
            plugins.insert(plugin.name.clone(), Arc::new(loaded));
        }

        let mut routes = Routes {
            handlers: BTreeMap::new(),
            plugins,
        };
        for (&kind, configured) in &config.handlers {
            let default = configured
                .default
                .as_ref()
                .map(|plugin| routes.handler(kind, format!("handlers.{kind}.default"), plugin))
                .transpose()?;
            let refined = configured
                .refined
                .iter()
                .map(|(key, plugin)| {
                    let handler = routes.handler(kind, format!("handlers.{kind}.\"{key}\""), plugin)?;
                    Ok((key.clone(), handler))
                })
                .collect::<Result<_, RegistryError>>()?;
            routes.handlers.insert(kind, KindRoutes { default, refined });
        }
        Ok(routes)
    }

    /// Routes every call of `kind` to `plugin`.
    pub fn single(kind: RequestKind, plugin: Arc<Plugin>) -> Result<Routes, RegistryError> {
        plugin.require_handler(kind).map_err(|source| RegistryError::Route {
            key: format!("handlers.{kind}"),
            name: plugin.name().to_owned(),
            source,
        })?;
        let mut routes = Routes::default();
        routes.plugins.insert(plugin.name().to_owned(), plugin.clone());
        routes.handlers.insert(
            kind,
            KindRoutes {
                default: Some(plugin),
                refined: BTreeMap::new(),
            },
        );
        Ok(routes)
    }

    fn handler(&self, kind: RequestKind, key: String, plugin: &PluginRef) -> Result<Arc<Plugin>, RegistryError> {
        let loaded = &self.plugins[&plugin.name];
        loaded.require_handler(kind).map_err(|source| RegistryError::Route {
            key,
            name: plugin.name.clone(),
            source,
        })?;
        Ok(loaded.clone())
    }

    /// The plugin that answers `request`: by RPC method (exact, then
    /// `namespace:` prefix) or channel namespace, then the kind's default.
    pub fn route(&self, request: &Request) -> Result<&Arc<Plugin>, CallError> {
        let kind = kind_of(request);
        let no_route = || CallError::NoRoute(kind.name().to_owned());
        let routes = self.handlers.get(&kind).ok_or_else(no_route)?;
        let refined = match request {
            Request::Rpc(r) => routes.refined.get(&r.method).or_else(|| {
                let namespace = channel_namespace(&r.method)?;
                routes.refined.get(&format!("{namespace}:"))
            }),
            Request::Subscribe(r) => channel_namespace(&r.channel).and_then(|ns| routes.refined.get(ns)),
            Request::Publish(r) => channel_namespace(&r.channel).and_then(|ns| routes.refined.get(ns)),
            Request::SubRefresh(r) => channel_namespace(&r.channel).and_then(|ns| routes.refined.get(ns)),
            Request::Connect(_) | Request::Refresh(_) => None,
        };
        refined.or(routes.default.as_ref()).ok_or_else(|| match request {
            Request::Rpc(r) => CallError::NoRoute(format!("rpc method `{}`", r.method)),
            Request::Subscribe(r) => CallError::NoRoute(format!("subscribe to `{}`", r.channel)),
            Request::Publish(r) => CallError::NoRoute(format!("publish to `{}`", r.channel)),
            Request::SubRefresh(r) => CallError::NoRoute(format!("sub_refresh of `{}`", r.channel)),
            _ => no_route(),
        })
    }

    /// Every loaded plugin, by name.
    pub fn plugins(&self) -> impl Iterator<Item = &Arc<Plugin>> {
        self.plugins.values()
    }

    /// The request kinds that have a handler.
    pub fn kinds(&self) -> impl Iterator<Item = RequestKind> + '_ {
        self.handlers.keys().copied()
    }
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
