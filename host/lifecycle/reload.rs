//! Hot reload: a changed plugin file or config goes live atomically, a
//! broken one never does.
//!
//! A reload reads the file, compiles it off the async runtime, checks that
//! it exports what every route using it needs, and only then swaps the
//! registry: calls that started before the swap finish on the version they
//! started with (they hold the old snapshot), calls after it use the new one.
//! Anything that fails on the way is logged and counted, and the last good
//! version keeps serving.
//!
//! A config reload may add, change and remove tenants and the `[tenancy]`
//! rule. A removed tenant's calls in flight finish on the routes they
//! started with; new calls that would have been its get the no-tenant
//! answer. A changed tenant keeps its warm instances only for plugins whose
//! bytes did not change, and its new limits hold for every call admitted
//! after the swap. What only a restart can give is refused by name: a
//! listener that is not bound, a pool larger than the running one, requests
//! larger than the listeners decode.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use crate::backends::oci::{OciClient, OciStore};
use crate::config::oci::OciRef;
use crate::config::{Config, ConfigError, PluginRef};
use crate::error::PluginError;
use crate::routing::registry::{PluginRegistry, RegistryError, Routes, load_plugins};
use crate::runtime::engine::Engine;
use crate::runtime::plugin::Plugin;
use crate::runtime::store::Services;
use crate::telemetry::Metrics;
use std::net::SocketAddr;

/// Quiet time after the last file event before a reload starts: one editor
/// save or `cp` is one reload, and writes in progress settle first.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A plugin of the new configuration failed to load or fit its routes.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// There is no config file to reload from.
    #[error("this Rotor was not started from a config file")]
    NoConfigFile,
    /// The new routes failed a check (an export, a canary).
    #[error("{0}")]
    Rejected(String),
    /// The plugin directory cannot be watched.
    #[error("cannot watch the plugin directory: {0}")]
    Watch(String),
    /// A plugin named by an OCI reference could not be pulled.
    #[error(transparent)]
    Oci(#[from] crate::backends::oci::OciError),
}

/// Counts of reloads, for logs, tests and metrics.
#[derive(Debug, Default)]
pub struct ReloadStats {
    /// Reloads that went live.
    pub applied: AtomicU64,
    /// Reloads refused; the previous version kept serving.
    pub rejected: AtomicU64,
}

/// Reloads plugins and configuration into a live registry.
pub struct Reloader {
    engine: Arc<Engine>,
    services: Services,
    registry: Arc<PluginRegistry>,
    state: Mutex<State>,
    stats: ReloadStats,
    metrics: Arc<Metrics>,
    /// What the running Rotor was built for and only a restart changes.
    fixed: Fixed,
}

/// What a running Rotor was started with and a reload must fit.
struct Fixed {
    /// The tenant listeners bound at start, by tenant.
    listeners: BTreeMap<String, SocketAddr>,
    /// The largest request the proxy listeners decode, in bytes.
    max_decoded: u64,
}

/// What reloads change, one reload at a time.
struct State {
    config: Config,
    /// The version each plugin had before its last reload: what a rollback restores.
    previous: BTreeMap<String, Arc<Plugin>>,
}

/// A live plugin's version, for operators.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginVersion {
    /// The name the config gives it.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// The SHA-256 of the live version.
    pub sha256: String,
    /// When the live version was loaded, in Unix seconds.
    pub loaded_at: u64,
    /// The Rotor interfaces it exports.
    pub exports: Vec<&'static str>,
    /// The SHA-256 of the version a rollback would restore.
    pub previous_sha256: Option<String>,
}

impl Reloader {
    /// A reloader for `registry`, which serves `config`.
    pub fn new(
        engine: Arc<Engine>,
        services: Services,
        registry: Arc<PluginRegistry>,
        config: Config,
        metrics: Arc<Metrics>,
    ) -> Reloader {
        let fixed = Fixed {
            listeners: config
                .tenants
                .values()
                .filter_map(|tenant| Some((tenant.name.clone(), tenant.listen?)))
                .collect(),
            max_decoded: config.max_request(),
        };
        Reloader {
            engine,
            services,
            registry,
            fixed,
            state: Mutex::new(State {
                config,
                previous: BTreeMap::new(),
            }),
            stats: ReloadStats::default(),
            metrics,
        }
    }

    /// Counts of applied and rejected reloads.
    pub fn stats(&self) -> &ReloadStats {
        &self.stats
    }

    /// Reloads the plugins whose files are among `changed`.
    pub async fn reload_files(&self, changed: &BTreeSet<PathBuf>) {
        let mut state = self.state.lock().await;
        let config = state.config.clone();
        self.reload_plugins(&mut state, &config, |plugin| {
            changed.contains(&normalize(&plugin.path))
        })
        .await;
    }

    /// Puts the components in `moved` (by reference: tags that resolved to
    /// new digests) live, through the same checks as a changed file. The
    /// config keeps the new paths even if a check fails, so the same digest
    /// is not tried again until its tag moves once more.
    pub async fn reload_oci(&self, moved: &BTreeMap<OciRef, PathBuf>) {
        let mut state = self.state.lock().await;
        state.config.resolve_oci(moved);
        let config = state.config.clone();
        self.reload_plugins(&mut state, &config, |plugin| {
            plugin
                .oci
                .as_ref()
                .is_some_and(|oci| moved.contains_key(oci))
        })
        .await;
    }

    /// Reloads the plugins of `config` that `changed` picks, whose content
    /// differs from the live version; swaps them in if they pass.
    async fn reload_plugins(
        &self,
        state: &mut State,
        config: &Config,
        changed: impl Fn(&PluginRef) -> bool,
    ) {
        let current = self.registry.snapshot();
        let mut plugins = current.plugin_map().clone();
        let mut replaced = Vec::new();
        for (tenant, plugin) in config.plugins() {
            if !changed(plugin) {
                continue;
            }
            let key = tenant.plugin_key(&plugin.name);
            let bytes = match std::fs::read(&plugin.path) {
                Ok(bytes) => bytes,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(plugin = %key, "plugin file removed; the last good version keeps serving");
                    continue;
                }
                Err(error) => {
                    self.reject(
                        &key,
                        &format!("cannot read {}: {error}", plugin.path.display()),
                    );
                    continue;
                }
            };
            let sha256 = crate::digest::sha256_hex(&bytes);
            if plugins.get(&key).is_some_and(|old| old.sha256() == sha256) {
                continue;
            }
            let engine = self.engine.clone();
            let (name, path) = (key.clone(), plugin.path.clone());
            let compiled = tokio::task::spawn_blocking(move || {
                Plugin::from_bytes(&engine, &name, &path, &bytes)
            })
            .await;
            match compiled {
                Ok(Ok(new)) => {
                    plugins.insert(key.clone(), Arc::new(new));
                    replaced.push(key);
                }
                Ok(Err(error)) => self.reject(&key, &error.to_string()),
                Err(error) => self.reject(&key, &format!("the compiler panicked: {error}")),
            }
        }
        if replaced.is_empty() {
            return;
        }
        match self.go_live(state, config, plugins).await {
            Ok(()) => {
                self.stats.applied.fetch_add(1, Ordering::Relaxed);
                self.metrics.reload(true);
                let live = self.registry.snapshot();
                for name in &replaced {
                    if let Some(plugin) = live.plugin_map().get(name) {
                        tracing::info!(plugin = %name, sha256 = %&plugin.sha256()[..12], "plugin reloaded");
                    }
                }
            }
            Err(reason) => self.reject(&replaced.join(", "), &reason),
        }
    }

    /// Builds the routes of `config` over `plugins`, runs the canaries of
    /// the plugins that change, and swaps the routes in; remembers the
    /// versions they replace for rollbacks.
    async fn go_live(
        &self,
        state: &mut State,
        config: &Config,
        plugins: BTreeMap<String, Arc<Plugin>>,
    ) -> Result<(), String> {
        let current = self.registry.snapshot();
        let changed: Vec<(String, Option<Arc<Plugin>>)> = plugins
            .iter()
            .filter(|(name, new)| {
                current
                    .plugin_map()
                    .get(*name)
                    .is_none_or(|old| old.sha256() != new.sha256())
            })
            .map(|(name, _)| (name.clone(), current.plugin_map().get(name).cloned()))
            .collect();
        let routes = Routes::build(config, plugins, &self.services, Some(&current))
            .map_err(|error| error.to_string())?;
        for (name, _) in &changed {
            crate::lifecycle::canary::run(&self.engine, &self.services, config, &routes, name)
                .await?;
        }
        self.registry.swap(routes);
        crate::lifecycle::series::zero(&self.metrics, &self.registry.snapshot());
        for (name, old) in changed {
            if let Some(old) = old {
                state.previous.insert(name, old);
            }
        }
        Ok(())
    }

    /// Puts back the version `plugin` had before its last reload; a second
    /// rollback undoes the first. Holds until the plugin's file changes again.
    pub async fn rollback(&self, plugin: &str) -> Result<String, String> {
        let mut state = self.state.lock().await;
        let previous = state
            .previous
            .get(plugin)
            .cloned()
            .ok_or_else(|| format!("no earlier version of `{plugin}` is kept"))?;
        let mut plugins = self.registry.snapshot().plugin_map().clone();
        plugins.insert(plugin.to_owned(), previous.clone());
        let config = state.config.clone();
        self.go_live(&mut state, &config, plugins).await?;
        tracing::warn!(%plugin, sha256 = %&previous.sha256()[..12], "plugin rolled back");
        Ok(previous.sha256().to_owned())
    }

    /// The live plugins and the versions a rollback would restore.
    pub async fn versions(&self) -> Vec<PluginVersion> {
        let state = self.state.lock().await;
        self.registry
            .snapshot()
            .plugins()
            .map(|plugin| PluginVersion {
                name: plugin.name().to_owned(),
                path: plugin.path().to_owned(),
                sha256: plugin.sha256().to_owned(),
                loaded_at: plugin
                    .loaded_at()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |since| since.as_secs()),
                exports: plugin.exports(),
                previous_sha256: state
                    .previous
                    .get(plugin.name())
                    .map(|p| p.sha256().to_owned()),
            })
            .collect()
    }

    /// Reads the config file again and swaps in its tenants, routes, limits
    /// and plugins if every part of it is valid and fits the running Rotor;
    /// otherwise nothing changes. The main `listen` address, `[pool]`,
    /// `[transport]`, `[tls]`, `[auth]` and `[telemetry]` apply at the next
    /// restart.
    pub async fn reload_config(&self) -> Result<(), ReloadError> {
        let mut state = self.state.lock().await;
        let path = state
            .config
            .source
            .clone()
            .ok_or(ReloadError::NoConfigFile)?;
        let loaded = async {
            let mut new = Config::from_file(&path)?;
            crate::backends::oci::resolve_config(&mut new).await?;
            let engine = self.engine.clone();
            let loaded = self.registry.snapshot().plugin_map().clone();
            let for_load = new.clone();
            let plugins =
                tokio::task::spawn_blocking(move || load_plugins(&engine, &for_load, &loaded))
                    .await
                    .map_err(|error| RegistryError::Plugin {
                        name: "(config)".into(),
                        path: path.clone(),
                        source: PluginError::Compile(format!("the compiler panicked: {error}")),
                    })??;
            Ok::<_, ReloadError>((new, plugins))
        }
        .await;
        let (new, plugins) = match loaded.and_then(|(new, plugins)| {
            self.fits_running(&new)?;
            Ok((new, plugins))
        }) {
            Ok(loaded) => loaded,
            Err(error) => {
                self.reject("(config)", &error.to_string());
                return Err(error);
            }
        };
        if let Err(reason) = self.go_live(&mut state, &new, plugins).await {
            self.reject("(config)", &reason);
            return Err(ReloadError::Rejected(reason));
        }
        if new.listen != state.config.listen || new.pool != state.config.pool {
            tracing::warn!("changes to `listen` and `[pool]` apply at the next restart");
        }
        if new.telemetry != state.config.telemetry {
            tracing::warn!("changes to `[telemetry]` apply at the next restart");
        }
        log_tenant_changes(&state.config, &new);
        state.config = new;
        self.stats.applied.fetch_add(1, Ordering::Relaxed);
        self.metrics.reload(true);
        tracing::info!(config = %path.display(), "configuration reloaded");
        Ok(())
    }

    fn reject(&self, plugin: &str, reason: &str) {
        self.stats.rejected.fetch_add(1, Ordering::Relaxed);
        self.metrics.reload(false);
        // A canary's failure may carry what the guest sent or wrote.
        let reason = crate::runtime::guest_log::escape_control(reason);
        tracing::error!(%plugin, "reload rejected, the last good version keeps serving: {reason}");
    }

    /// Watches the plugin directory and reloads changed plugins until the
    /// returned guard is dropped.
    pub fn watch(self: &Arc<Self>, dirs: &[&Path]) -> Result<PluginWatcher, notify::Error> {
        let (events, mut receiver) = mpsc::unbounded_channel::<PathBuf>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if matches!(event.kind, EventKind::Access(_)) {
                    return;
                }
                for path in event.paths {
                    let _ = events.send(path);
                }
            })?;
        for dir in dirs {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
        let reloader = self.clone();
        let task = tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut changed = BTreeSet::from([normalize(&first)]);
                // Debounce: gather events until the directory is quiet.
                while let Ok(Some(path)) = tokio::time::timeout(DEBOUNCE, receiver.recv()).await {
                    changed.insert(normalize(&path));
                }
                reloader.reload_files(&changed).await;
            }
        });
        for dir in dirs {
            tracing::info!(dir = %dir.display(), "watching plugins for changes");
        }
        let registries = self
            .state
            .try_lock()
            .map_or(true, |state| {
                state.config.oci_refs().iter().any(|r| !r.is_pinned())
            })
            .then(|| self.poll_registries());
        Ok(PluginWatcher {
            _watcher: watcher,
            task,
            registries,
        })
    }
}

impl Reloader {
    /// Refuses a config that needs what only a restart gives: a tenant
    /// listener that is not bound, more of the instance pool than it holds,
    /// or requests larger than the proxy listeners decode.
    fn fits_running(&self, new: &Config) -> Result<(), ReloadError> {
        for tenant in new.tenants.values() {
            let Some(listen) = tenant.listen else {
                continue;
            };
            if self.fixed.listeners.get(&tenant.name) != Some(&listen) {
                return Err(ReloadError::Rejected(format!(
                    "`tenants.{}.listen`: {listen} is not a listener of this tenant in the \
                     running Rotor; a new listener needs a restart",
                    tenant.name
                )));
            }
        }
        if let Some(lack) = self.engine.pool().lacks(&new.pool_needs()) {
            return Err(ReloadError::Rejected(format!(
                "{lack}: raise `[pool]` and restart Rotor to make room for this config"
            )));
        }
        let max_request = new.max_request();
        if max_request > self.fixed.max_decoded {
            return Err(ReloadError::Rejected(format!(
                "a tenant's `max_request` is {max_request} bytes but the running listeners \
                 decode at most {}: restart Rotor to raise it",
                self.fixed.max_decoded
            )));
        }
        Ok(())
    }
}

/// Logs the tenants a config reload adds, changes and removes.
fn log_tenant_changes(old: &Config, new: &Config) {
    for name in new.tenants.keys() {
        match old.tenants.get(name) {
            None => tracing::info!(tenant = %name, "tenant added"),
            Some(before) if before != &new.tenants[name] => {
                tracing::info!(tenant = %name, "tenant changed");
            }
            Some(_) => {}
        }
    }
    for name in old
        .tenants
        .keys()
        .filter(|name| !new.tenants.contains_key(*name))
    {
        tracing::info!(tenant = %name, "tenant removed; its calls in flight finish");
    }
    if old.tenancy != new.tenancy {
        tracing::info!("`[tenancy]` changed");
    }
}

impl Reloader {
    /// Resolves the tags among the config's plugin references every
    /// `[oci] poll` and puts a tag's new digest live (see
    /// [`Reloader::reload_oci`]) until the returned task is aborted.
    fn poll_registries(self: &Arc<Self>) -> JoinHandle<()> {
        let reloader = self.clone();
        tokio::spawn(async move {
            let mut failing = BTreeSet::new();
            loop {
                let config = reloader.state.lock().await.config.clone();
                tokio::time::sleep(config.oci.poll).await;
                let client =
                    OciClient::new(&config.oci, OciStore::for_cache(&config.compile_cache));
                let mut moved = BTreeMap::new();
                for reference in config.oci_refs() {
                    if reference.is_pinned() {
                        continue;
                    }
                    match client.pull(&reference).await {
                        Ok(resolved) => {
                            if failing.remove(&reference) {
                                tracing::info!(%reference, "the registry answers again");
                            }
                            let live = config.plugins().into_iter().any(|(_, plugin)| {
                                plugin.oci.as_ref() == Some(&reference)
                                    && plugin.path == resolved.path
                            });
                            if !live {
                                tracing::info!(%reference, digest = %resolved.manifest, "tag moved");
                                moved.insert(reference, resolved.path);
                            }
                        }
                        Err(error) => {
                            if failing.insert(reference.clone()) {
                                tracing::warn!(%reference, "cannot resolve the tag; the live version keeps serving: {error}");
                            }
                        }
                    }
                }
                if !moved.is_empty() {
                    reloader.reload_oci(&moved).await;
                }
            }
        })
    }
}

/// Watches plugin files (and tags in registries) while alive; dropping it
/// stops watching.
pub struct PluginWatcher {
    _watcher: notify::RecommendedWatcher,
    task: JoinHandle<()>,
    registries: Option<JoinHandle<()>>,
}

impl Drop for PluginWatcher {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(task) = &self.registries {
            task.abort();
        }
    }
}

/// A path in a form that file events and configured paths agree on: the
/// canonical directory joined with the file name (the file itself may be
/// gone or not yet there).
fn normalize(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            std::fs::canonicalize(dir)
                .unwrap_or_else(|_| dir.to_owned())
                .join(name)
        }
        _ => path.to_owned(),
    }
}
