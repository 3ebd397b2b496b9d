//! A plugin: a compiled, linked and validated component with what it
//! exports, ready to be instantiated once per call.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use wasmtime::Store;
use wasmtime::component::{Component, Instance, InstancePre};

use crate::contract::kind::RequestKind;
use crate::contract::wit;
use crate::contract::wit::types::{Reply, Request};
use crate::error::PluginError;
use crate::policy::Grants;
use crate::runtime::engine::Engine;
use crate::runtime::store::{CallState, by_deadline};

/// The interceptor interface's name.
pub const INTERCEPTOR_INTERFACE: &str = wit::wit_interface!("interceptor");

/// A component ready to serve calls.
pub struct Plugin {
    name: String,
    path: PathBuf,
    sha256: String,
    loaded_at: SystemTime,
    pre: InstancePre<CallState>,
    handlers: Handlers,
    interceptor: Option<wit::interceptor::GuestIndices>,
    imports: Vec<String>,
}

/// The handler exports of a component, found once at load time.
#[derive(Default)]
struct Handlers {
    connect: Option<wit::connect_handler::GuestIndices>,
    refresh: Option<wit::refresh_handler::GuestIndices>,
    subscribe: Option<wit::subscribe_handler::GuestIndices>,
    publish: Option<wit::publish_handler::GuestIndices>,
    rpc: Option<wit::rpc_handler::GuestIndices>,
    sub_refresh: Option<wit::sub_refresh_handler::GuestIndices>,
    map_publish: Option<wit::map_publish_handler::GuestIndices>,
    map_remove: Option<wit::map_remove_handler::GuestIndices>,
    shared_poll_refresh: Option<wit::shared_poll_refresh_handler::GuestIndices>,
    notify_cache_empty: Option<wit::notify_cache_empty_handler::GuestIndices>,
    notify_channel_state: Option<wit::notify_channel_state_handler::GuestIndices>,
    stream: Option<wit::stream_handler::GuestIndices>,
}

impl Plugin {
    /// Reads, compiles, links and inspects the component at `path`.
    ///
    /// Compiling is CPU-heavy: call this off the async runtime.
    pub fn load(engine: &Engine, name: &str, path: &Path) -> Result<Plugin, PluginError> {
        let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
            path: path.to_owned(),
            source,
        })?;
        Plugin::from_bytes(engine, name, path, &bytes)
    }

    /// Compiles, links and inspects a component from its bytes.
    pub fn from_bytes(
        engine: &Engine,
        name: &str,
        path: &Path,
        bytes: &[u8],
    ) -> Result<Plugin, PluginError> {
        let component = engine.compile(bytes)?;
        let pre = engine
            .linker()
            .instantiate_pre(&component)
            .map_err(|error| PluginError::Imports(format!("{error:#}")))?;
        let handlers = Handlers {
            connect: wit::connect_handler::GuestIndices::new(&pre).ok(),
            refresh: wit::refresh_handler::GuestIndices::new(&pre).ok(),
            subscribe: wit::subscribe_handler::GuestIndices::new(&pre).ok(),
            publish: wit::publish_handler::GuestIndices::new(&pre).ok(),
            rpc: wit::rpc_handler::GuestIndices::new(&pre).ok(),
            sub_refresh: wit::sub_refresh_handler::GuestIndices::new(&pre).ok(),
            map_publish: wit::map_publish_handler::GuestIndices::new(&pre).ok(),
            map_remove: wit::map_remove_handler::GuestIndices::new(&pre).ok(),
            shared_poll_refresh: wit::shared_poll_refresh_handler::GuestIndices::new(&pre).ok(),
            notify_cache_empty: wit::notify_cache_empty_handler::GuestIndices::new(&pre).ok(),
            notify_channel_state: wit::notify_channel_state_handler::GuestIndices::new(&pre).ok(),
            stream: wit::stream_handler::GuestIndices::new(&pre).ok(),
        };
        let interceptor = wit::interceptor::GuestIndices::new(&pre).ok();
        let plugin = Plugin {
            name: name.to_owned(),
            path: path.to_owned(),
            sha256: crate::digest::sha256_hex(bytes),
            loaded_at: SystemTime::now(),
            imports: import_names(engine, &component),
            pre,
            handlers,
            interceptor,
        };
        if plugin.kinds().is_empty() && !plugin.is_interceptor() {
            return Err(PluginError::NoExports);
        }
        Ok(plugin)
    }

    /// The name the configuration gives it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SHA-256 of the component's bytes, in hex: its version.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// When it was loaded.
    pub fn loaded_at(&self) -> SystemTime {
        self.loaded_at
    }

    /// The request kinds it has handlers for.
    pub fn kinds(&self) -> Vec<RequestKind> {
        RequestKind::ALL
            .into_iter()
            .filter(|kind| self.handles(*kind))
            .collect()
    }

    /// Whether it exports the handler interface for `kind`.
    pub fn handles(&self, kind: RequestKind) -> bool {
        let h = &self.handlers;
        match kind {
            RequestKind::Connect => h.connect.is_some(),
            RequestKind::Refresh => h.refresh.is_some(),
            RequestKind::Subscribe => h.subscribe.is_some(),
            RequestKind::Publish => h.publish.is_some(),
            RequestKind::Rpc => h.rpc.is_some(),
            RequestKind::SubRefresh => h.sub_refresh.is_some(),
            RequestKind::MapPublish => h.map_publish.is_some(),
            RequestKind::MapRemove => h.map_remove.is_some(),
            RequestKind::SharedPollRefresh => h.shared_poll_refresh.is_some(),
            RequestKind::NotifyCacheEmpty => h.notify_cache_empty.is_some(),
            RequestKind::NotifyChannelState => h.notify_channel_state.is_some(),
            RequestKind::SubscribeStream => h.stream.is_some(),
        }
    }

    /// Whether it exports the interceptor interface.
    pub fn is_interceptor(&self) -> bool {
        self.interceptor.is_some()
    }

    /// The Rotor interfaces it exports.
    pub fn exports(&self) -> Vec<&'static str> {
        let mut exports: Vec<_> = self
            .kinds()
            .into_iter()
            .map(RequestKind::handler_interface)
            .collect();
        if self.is_interceptor() {
            exports.push(INTERCEPTOR_INTERFACE);
        }
        exports
    }

    /// The interfaces it imports.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// Fails unless `tenant`, with `grants`, may use everything it imports.
    pub fn require_grants(&self, tenant: &str, grants: &Grants) -> Result<(), PluginError> {
        match self.imports.iter().find(|import| !grants.allows(import)) {
            None => Ok(()),
            Some(import) => Err(PluginError::NotGranted {
                import: import.clone(),
                tenant: tenant.to_owned(),
                grants: *grants,
            }),
        }
    }

    /// Fails unless it exports the handler for `kind`.
    pub fn require_handler(&self, kind: RequestKind) -> Result<(), PluginError> {
        if self.handles(kind) {
            return Ok(());
        }
        Err(PluginError::MissingExport {
            needed: kind.handler_interface(),
            exports: self.describe_exports(),
        })
    }

    /// Fails unless it exports the interceptor interface.
    pub fn require_interceptor(&self) -> Result<(), PluginError> {
        if self.is_interceptor() {
            return Ok(());
        }
        Err(PluginError::MissingExport {
            needed: INTERCEPTOR_INTERFACE,
            exports: self.describe_exports(),
        })
    }

    fn describe_exports(&self) -> String {
        let exports = self.exports();
        if exports.is_empty() {
            "nothing Rotor uses".into()
        } else {
            exports.join(", ")
        }
    }

    /// Instantiates the component in `store` and calls the handler of the
    /// request's kind.
    pub async fn handle(
        &self,
        store: &mut Store<CallState>,
        request: Request,
    ) -> wasmtime::Result<Reply> {
        let instance = self.instantiate(store).await?;
        let deadline = store.data().deadline();
        by_deadline(
            deadline,
            self.call_handler_unbounded(store, instance, &mut None, request),
        )
        .await
    }

    /// Instantiates the component in `store`, by the store's deadline.
    pub async fn instantiate(&self, store: &mut Store<CallState>) -> wasmtime::Result<Instance> {
        let deadline = store.data().deadline();
        by_deadline(deadline, self.pre.instantiate_async(&mut *store)).await
    }

    /// Calls the handler of the request's kind on `live`, an instance of
    /// this component; the call ends by the store's deadline, host imports
    /// included.
    pub async fn call_handler(&self, live: &mut Live, request: Request) -> wasmtime::Result<Reply> {
        let deadline = live.store.data().deadline();
        by_deadline(
            deadline,
            self.call_handler_unbounded(&mut live.store, live.instance, &mut live.handler, request),
        )
        .await
    }

    /// Calls the handler of the request's kind on `instance`. `loaded` is
    /// the handler export already looked up on this instance, if any: it is
    /// used when it is of the request's kind, and otherwise replaced.
    async fn call_handler_unbounded(
        &self,
        store: &mut Store<CallState>,
        instance: Instance,
        loaded: &mut Option<LoadedHandler>,
        request: Request,
    ) -> wasmtime::Result<Reply> {
        let h = &self.handlers;
        let missing = || wasmtime::format_err!("the plugin has no handler for this request type");
        // Finds the export of one handler interface (on this instance's
        // first call of that kind: looking it up type-checks its functions)
        // and calls its `handle`.
        macro_rules! call {
            ($export:ident, $variant:ident, $request:expr) => {{
                let guest = match loaded {
                    Some(LoadedHandler::$variant(guest)) => guest.clone(),
                    _ => {
                        let guest = h
                            .$export
                            .as_ref()
                            .ok_or_else(missing)?
                            .load(&mut *store, &instance)?;
                        *loaded = Some(LoadedHandler::$variant(guest.clone()));
                        guest
                    }
                };
                Reply::$variant(guest.call_handle(&mut *store, &$request).await?)
            }};
        }
        Ok(match request {
            Request::Connect(r) => call!(connect, Connect, r),
            Request::Refresh(r) => call!(refresh, Refresh, r),
            Request::Subscribe(r) => call!(subscribe, Subscribe, r),
            Request::Publish(r) => call!(publish, Publish, r),
            Request::Rpc(r) => call!(rpc, Rpc, r),
            Request::SubRefresh(r) => call!(sub_refresh, SubRefresh, r),
            Request::MapPublish(r) => call!(map_publish, MapPublish, r),
            Request::MapRemove(r) => call!(map_remove, MapRemove, r),
            Request::SharedPollRefresh(r) => call!(shared_poll_refresh, SharedPollRefresh, r),
            Request::NotifyCacheEmpty(r) => call!(notify_cache_empty, NotifyCacheEmpty, r),
            Request::NotifyChannelState(r) => call!(notify_channel_state, NotifyChannelState, r),
        })
    }
}

impl Plugin {
    /// The stream handler of `instance`, an instance of this component in
    /// `store`: what a subscription stream calls for its whole life.
    pub fn stream_handler_of(
        &self,
        store: &mut Store<CallState>,
        instance: &Instance,
    ) -> wasmtime::Result<wit::stream_handler::Guest> {
        self.handlers
            .stream
            .as_ref()
            .ok_or_else(|| wasmtime::format_err!("the plugin has no stream handler"))?
            .load(store, instance)
    }

    /// The interceptor of `live`, an instance of this component (looked up
    /// once per instance: a warm one keeps it).
    pub fn interceptor_of(&self, mut live: Live) -> wasmtime::Result<InterceptorInstance> {
        let guest = match live.interceptor.take() {
            Some(guest) => guest,
            None => self
                .interceptor
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("the plugin is not an interceptor"))?
                .load(&mut live.store, &live.instance)?,
        };
        Ok(InterceptorInstance { live, guest })
    }
}

/// An instance with its store: what a warm pool keeps between calls, with
/// the exports already looked up on it, so that a warm instance's calls do
/// not look them up (and type-check them) again.
pub struct Live {
    /// The instance's store.
    pub store: Store<CallState>,
    /// The instance.
    pub instance: Instance,
    handler: Option<LoadedHandler>,
    interceptor: Option<wit::interceptor::Guest>,
}

impl Live {
    /// A new instance in its store, nothing looked up on it yet.
    pub fn new(store: Store<CallState>, instance: Instance) -> Live {
        Live {
            store,
            instance,
            handler: None,
            interceptor: None,
        }
    }
}

/// The handler export last called on an instance.
enum LoadedHandler {
    Connect(wit::connect_handler::Guest),
    Refresh(wit::refresh_handler::Guest),
    Subscribe(wit::subscribe_handler::Guest),
    Publish(wit::publish_handler::Guest),
    Rpc(wit::rpc_handler::Guest),
    SubRefresh(wit::sub_refresh_handler::Guest),
    MapPublish(wit::map_publish_handler::Guest),
    MapRemove(wit::map_remove_handler::Guest),
    SharedPollRefresh(wit::shared_poll_refresh_handler::Guest),
    NotifyCacheEmpty(wit::notify_cache_empty_handler::Guest),
    NotifyChannelState(wit::notify_channel_state_handler::Guest),
}

/// An interceptor's instance for one call: `before` and `after` run on the
/// same instance, so the guest may keep per-call state between them.
pub struct InterceptorInstance {
    live: Live,
    guest: wit::interceptor::Guest,
}

impl InterceptorInstance {
    /// The instance's store.
    pub fn store(&self) -> &Store<CallState> {
        &self.live.store
    }

    /// The instance's store, to prepare it for a step.
    pub fn store_mut(&mut self) -> &mut Store<CallState> {
        &mut self.live.store
    }

    /// The instance and its store, to keep warm, with its interceptor
    /// export.
    pub fn into_live(self) -> Live {
        let mut live = self.live;
        live.interceptor = Some(self.guest);
        live
    }

    /// Calls `before`, by the store's deadline.
    pub async fn before(
        &mut self,
        context: &wit::interceptor::CallContext,
        request: &Request,
    ) -> wasmtime::Result<wit::interceptor::Decision> {
        let deadline = self.live.store.data().deadline();
        by_deadline(
            deadline,
            self.guest
                .call_before(&mut self.live.store, context, request),
        )
        .await
    }

    /// Calls `after`, by the store's deadline.
    pub async fn after(
        &mut self,
        context: &wit::interceptor::CallContext,
        reply: &Reply,
    ) -> wasmtime::Result<Option<Reply>> {
        let deadline = self.live.store.data().deadline();
        by_deadline(
            deadline,
            self.guest.call_after(&mut self.live.store, context, reply),
        )
        .await
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
            .field("exports", &self.exports())
            .finish_non_exhaustive()
    }
}

fn import_names(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine.wasmtime())
        .map(|(name, _)| name.to_owned())
        .collect()
}
