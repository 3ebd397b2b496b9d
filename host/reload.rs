//! Hot reload: a changed plugin file or config goes live atomically, a
//! broken one never does.
//!
//! A reload reads the file, compiles it off the async runtime, checks that
//! it exports what every route using it needs, and only then swaps the
//! registry: calls that started before the swap finish on the version they
//! started with (they hold the old snapshot), calls after it use the new one.
//! Anything that fails on the way is logged and counted, and the last good
//! version keeps serving.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use crate::config::{Config, ConfigError};
use crate::engine::Engine;
use crate::error::PluginError;
use crate::plugin::Plugin;
use crate::registry::{PluginRegistry, RegistryError, Routes, load_plugins};
use crate::sandbox::Services;

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
    /// The plugin directory cannot be watched.
    #[error("cannot watch the plugin directory: {0}")]
    Watch(String),
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
    config: Mutex<Config>,
    stats: ReloadStats,
}

impl Reloader {
    /// A reloader for `registry`, which serves `config`.
    pub fn new(
        engine: Arc<Engine>,
        services: Services,
        registry: Arc<PluginRegistry>,
        config: Config,
    ) -> Reloader {
        Reloader {
            engine,
            services,
            registry,
            config: Mutex::new(config),
            stats: ReloadStats::default(),
        }
    }

    /// Counts of applied and rejected reloads.
    pub fn stats(&self) -> &ReloadStats {
        &self.stats
    }

    /// Reloads the plugins whose files are among `changed`.
    pub async fn reload_files(&self, changed: &BTreeSet<PathBuf>) {
        let config = self.config.lock().await;
        let current = self.registry.snapshot();
        let mut plugins = current.plugin_map().clone();
        let mut replaced = Vec::new();
        for plugin in config.plugins() {
            if !changed.contains(&normalize(&plugin.path)) {
                continue;
            }
            let bytes = match std::fs::read(&plugin.path) {
                Ok(bytes) => bytes,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(plugin = %plugin.name, "plugin file removed; the last good version keeps serving");
                    continue;
                }
                Err(error) => {
                    self.reject(
                        &plugin.name,
                        &format!("cannot read {}: {error}", plugin.path.display()),
                    );
                    continue;
                }
            };
            let sha256 = crate::plugin::sha256_hex(&bytes);
            if plugins
                .get(&plugin.name)
                .is_some_and(|old| old.sha256() == sha256)
            {
                continue;
            }
            let engine = self.engine.clone();
            let (name, path) = (plugin.name.clone(), plugin.path.clone());
            let compiled = tokio::task::spawn_blocking(move || {
                Plugin::from_bytes(&engine, &name, &path, &bytes)
            })
            .await;
            match compiled {
                Ok(Ok(new)) => {
                    plugins.insert(plugin.name.clone(), Arc::new(new));
                    replaced.push(plugin.name.clone());
                }
                Ok(Err(error)) => self.reject(&plugin.name, &error.to_string()),
                Err(error) => self.reject(&plugin.name, &format!("the compiler panicked: {error}")),
            }
        }
        if replaced.is_empty() {
            return;
        }
        match Routes::build(&config, plugins, &self.services) {
            Ok(routes) => {
                self.registry.swap(routes);
                self.stats.applied.fetch_add(1, Ordering::Relaxed);
                for name in &replaced {
                    let live = self.registry.snapshot();
                    let sha = live
                        .plugin_map()
                        .get(name)
                        .map(|p| p.sha256()[..12].to_owned())
                        .unwrap_or_default();
                    tracing::info!(plugin = %name, sha256 = %sha, "plugin reloaded");
                }
            }
            Err(error) => self.reject(&replaced.join(", "), &error.to_string()),
        }
    }

    /// Reads the config file again and swaps in its routes and plugins if
    /// every part of it is valid; otherwise nothing changes. Limits and the
    /// listen address apply at the next restart.
    pub async fn reload_config(&self) -> Result<(), ReloadError> {
        let mut config = self.config.lock().await;
        let path = config.source.clone().ok_or(ReloadError::NoConfigFile)?;
        let result = async {
            let new = Config::from_file(&path)?;
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
            let routes = Routes::build(&new, plugins, &self.services)?;
            Ok::<_, ReloadError>((new, routes))
        }
        .await;
        match result {
            Ok((new, routes)) => {
                if new.limits != config.limits || new.listen != config.listen {
                    tracing::warn!("changes to `listen` and `[limits]` apply at the next restart");
                }
                self.registry.swap(routes);
                *config = new;
                self.stats.applied.fetch_add(1, Ordering::Relaxed);
                tracing::info!(config = %path.display(), "configuration reloaded");
                Ok(())
            }
            Err(error) => {
                self.reject("(config)", &error.to_string());
                Err(error)
            }
        }
    }

    fn reject(&self, plugin: &str, reason: &str) {
        self.stats.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::error!(%plugin, "reload rejected, the last good version keeps serving: {reason}");
    }

    /// Watches the plugin directory and reloads changed plugins until the
    /// returned guard is dropped.
    pub fn watch(self: &Arc<Self>, dir: &Path) -> Result<PluginWatcher, notify::Error> {
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
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
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
        tracing::info!(dir = %dir.display(), "watching plugins for changes");
        Ok(PluginWatcher {
            _watcher: watcher,
            task,
        })
    }
}

/// Watches plugin files while alive; dropping it stops watching.
pub struct PluginWatcher {
    _watcher: notify::RecommendedWatcher,
    task: JoinHandle<()>,
}

impl Drop for PluginWatcher {
    fn drop(&mut self) {
        self.task.abort();
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
