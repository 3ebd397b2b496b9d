//! From the raw config to the validated one: every key checked, paths made
//! absolute, tenants, routes and interceptors resolved, and each error
//! named by its key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::config::raw::*;
use crate::config::units::parse_duration;
use crate::config::*;
use crate::contract::kind::{Naming, Refinement, RequestKind};
use crate::policy::{CANARY_TENANT, DEFAULT_TENANT, DEFAULT_TENANT_KEY, Grants, ReusePolicy};

impl RawNaming {
    pub(super) fn validate(self) -> Naming {
        let defaults = Naming::default();
        Naming {
            private_prefix: self.private_prefix.unwrap_or(defaults.private_prefix),
            namespace_boundary: self
                .namespace_boundary
                .unwrap_or(defaults.namespace_boundary),
            rpc_namespace_boundary: self
                .rpc_namespace_boundary
                .unwrap_or(defaults.rpc_namespace_boundary),
        }
    }
}

impl RawConfig {
    pub(super) fn validate(self, base: &Path) -> Result<Config, ConfigError> {
        let listen = parse_listen("listen", self.listen.as_deref().unwrap_or(DEFAULT_LISTEN))?;
        let plugin_dir = base.join(
            self.plugins
                .dir
                .unwrap_or_else(|| DEFAULT_PLUGIN_DIR.into()),
        );
        if !plugin_dir.is_dir() {
            return Err(ConfigError::Invalid {
                key: "plugins.dir".into(),
                message: format!("{} is not a directory", plugin_dir.display()),
            });
        }

        let limits = self.limits.validate("limits", Limits::default())?;
        let admin = self.admin.map(|raw| raw.validate(base)).transpose()?;
        let auth = self.auth.map(|raw| raw.validate(base)).transpose()?;
        let tls = self.tls.map(|raw| raw.validate(base)).transpose()?;
        let transport = self.transport.validate()?;
        let pool = self.pool.validate()?;
        let telemetry = self.telemetry.validate()?;
        let oci = self
            .oci
            .map(|raw| raw.validate(base))
            .transpose()?
            .unwrap_or_default();
        for (kind, json) in &self.canary {
            crate::contract::convert::request_from_json(*kind, json).map_err(|message| {
                ConfigError::Invalid {
                    key: format!("canary.{kind}"),
                    message,
                }
            })?;
        }
        let naming = self.naming.unwrap_or_default().validate();
        let on_refresh_failure = self.on_refresh_failure.unwrap_or_default();
        let centrifugo = self
            .centrifugo
            .map(|raw| raw.validate(base, &naming))
            .transpose()?;
        let api_namespaces = centrifugo.as_ref().and_then(|api| api.namespaces.clone());

        let (tenants, tenancy) = if self.tenants.is_empty() {
            if let Some(tenancy) = self.tenancy {
                let key = match tenancy.by {
                    RawTenantRule::Metadata => "metadata",
                    RawTenantRule::Namespace => "namespace",
                    RawTenantRule::Listener => "listener",
                };
                return Err(invalid(
                    "tenancy.by",
                    &format!("maps calls by {key}, but no [tenants] are declared"),
                ));
            }
            let tenant = RawTenant {
                dir: None,
                listen: None,
                namespaces: Vec::new(),
                grants: None,
                api_namespaces,
                handlers: self.handlers,
                interceptors: self.interceptors,
                limits: RawLimits::default(),
                settings: self.settings,
                isolation: self.isolation,
                on_refresh_failure: None,
            }
            .validate(TenantScope {
                name: DEFAULT_TENANT,
                key: "",
                plugin_dir: plugin_dir.clone(),
                base,
                limits,
                grants: Grants::ALL,
                api: centrifugo.is_some(),
                on_refresh_failure,
                naming: &naming,
            })?;
            (
                BTreeMap::from([(DEFAULT_TENANT.to_owned(), tenant)]),
                Tenancy {
                    naming: naming.clone(),
                    ..Tenancy::single()
                },
            )
        } else {
            for (key, used) in [
                ("handlers", !self.handlers.is_empty()),
                ("interceptors", !self.interceptors.is_empty()),
                ("settings", !self.settings.is_empty()),
                ("isolation", !self.isolation.is_empty()),
            ] {
                if used {
                    return Err(invalid(
                        key,
                        &format!("with [tenants], `{key}` belongs in each [tenants.<name>.{key}]"),
                    ));
                }
            }
            let raw_tenancy = self.tenancy.ok_or_else(|| {
                invalid(
                    "tenancy.by",
                    "[tenants] need a rule that maps calls to them: \"metadata\", \"namespace\" or \"listener\"",
                )
            })?;
            validate_tenants(
                self.tenants,
                raw_tenancy,
                TenantScope {
                    name: "",
                    key: "",
                    plugin_dir: plugin_dir.clone(),
                    base,
                    limits,
                    grants: Grants::DEFAULT,
                    api: centrifugo.is_some(),
                    on_refresh_failure,
                    naming: &naming,
                },
                listen,
                api_namespaces.as_deref(),
            )?
        };

        Ok(Config {
            listen,
            plugin_dir,
            watch: self.plugins.watch,
            compile_cache: match self.plugins.cache {
                None | Some(RawCache::Enabled(true)) => CompileCache::Default,
                Some(RawCache::Enabled(false)) => CompileCache::Off,
                Some(RawCache::Dir(dir)) => CompileCache::Dir(absolute(&base.join(dir))),
            },
            tenants,
            tenancy,
            centrifugo,
            kv: self.kv,
            canary: self.canary,
            admin,
            auth,
            tls,
            transport,
            source: None,
            pool,
            oci,
            telemetry,
        })
    }
}

/// What a tenant's section is validated against: its place in the file and
/// the defaults it inherits.
pub(super) struct TenantScope<'a> {
    pub(super) name: &'a str,
    /// The dotted prefix of its keys: `""` for the top level.
    pub(super) key: &'a str,
    pub(super) plugin_dir: PathBuf,
    pub(super) base: &'a Path,
    pub(super) limits: Limits,
    pub(super) grants: Grants,
    /// Whether `[centrifugo]` is configured.
    pub(super) api: bool,
    /// The default of `on_refresh_failure`.
    pub(super) on_refresh_failure: RefreshFailure,
    /// How Centrifugo reads namespaces, to check the names configured.
    pub(super) naming: &'a Naming,
}

pub(super) fn validate_tenants(
    raw: BTreeMap<String, RawTenant>,
    tenancy: RawTenancy,
    scope: TenantScope<'_>,
    main_listen: SocketAddr,
    api_namespaces: Option<&[String]>,
) -> Result<(BTreeMap<String, TenantConfig>, Tenancy), ConfigError> {
    if tenancy.key.is_some() && tenancy.by != RawTenantRule::Metadata {
        return Err(invalid(
            "tenancy.key",
            "applies to `by = \"metadata\"` only",
        ));
    }
    let mut tenants = BTreeMap::new();
    let mut owners = BTreeMap::new();
    for (name, tenant) in raw {
        let key = format!("tenants.{name}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                &key,
                "a tenant name is letters, digits, `-` and `_`",
            ));
        }
        if name == CANARY_TENANT {
            return Err(invalid(&key, "`canary` is the tenant of canary calls"));
        }
        let namespaced = tenancy.by == RawTenantRule::Namespace;
        if !namespaced && !tenant.namespaces.is_empty() {
            return Err(invalid(
                &format!("{key}.namespaces"),
                "applies with `[tenancy] by = \"namespace\"` only",
            ));
        }
        if namespaced {
            for namespace in &tenant.namespaces {
                if let Some(problem) = scope.naming.impossible_namespace(namespace) {
                    return Err(invalid(
                        &format!("{key}.namespaces"),
                        &format!("`{namespace}`: {problem}"),
                    ));
                }
                if let Some(other) = owners.insert(namespace.clone(), name.clone()) {
                    return Err(invalid(
                        &format!("{key}.namespaces"),
                        &format!("namespace `{namespace}` is already claimed by tenant `{other}`"),
                    ));
                }
            }
        }
        match (&tenant.listen, tenancy.by) {
            (None, RawTenantRule::Listener) => {
                return Err(invalid(
                    &format!("{key}.listen"),
                    "each tenant needs its own listener with `by = \"listener\"`",
                ));
            }
            (Some(_), RawTenantRule::Metadata | RawTenantRule::Namespace) => {
                return Err(invalid(
                    &format!("{key}.listen"),
                    "applies with `[tenancy] by = \"listener\"` only",
                ));
            }
            _ => {}
        }
        // With namespaces, a tenant's server API calls stay in its own
        // namespaces unless it says otherwise.
        let own_namespaces =
            (namespaced && tenant.api_namespaces.is_none()).then(|| tenant.namespaces.clone());
        let inherited = own_namespaces.or_else(|| api_namespaces.map(<[String]>::to_vec));
        let plugin_dir = scope
            .plugin_dir
            .join(tenant.dir.clone().unwrap_or_else(|| name.clone().into()));
        if !plugin_dir.is_dir() {
            return Err(invalid(
                &format!("{key}.dir"),
                &format!("{} is not a directory", plugin_dir.display()),
            ));
        }
        let validated = RawTenant {
            api_namespaces: tenant.api_namespaces.clone().or(inherited),
            ..tenant
        }
        .validate(TenantScope {
            name: &name,
            key: &key,
            plugin_dir,
            ..scope
        })?;
        if let Some(listen) = validated.listen
            && (listen == main_listen
                || tenants
                    .values()
                    .any(|other: &TenantConfig| other.listen == Some(listen)))
        {
            return Err(invalid(
                &format!("{key}.listen"),
                &format!("{listen} is already the listener of another tenant or of `listen`"),
            ));
        }
        tenants.insert(name, validated);
    }
    if let Some(fallback) = &tenancy.fallback
        && !tenants.contains_key(fallback)
    {
        return Err(invalid(
            "tenancy.fallback",
            &format!("`{fallback}` is not a tenant"),
        ));
    }
    let rule = match tenancy.by {
        RawTenantRule::Metadata => TenantRule::Metadata {
            key: tenancy
                .key
                .unwrap_or_else(|| DEFAULT_TENANT_KEY.to_owned())
                .to_ascii_lowercase(),
        },
        RawTenantRule::Namespace => TenantRule::Namespace { owners },
        RawTenantRule::Listener => TenantRule::Listener,
    };
    Ok((
        tenants,
        Tenancy {
            rule,
            fallback: tenancy.fallback,
            naming: scope.naming.clone(),
        },
    ))
}

impl RawTenant {
    pub(super) fn validate(self, scope: TenantScope<'_>) -> Result<TenantConfig, ConfigError> {
        let prefix = if scope.key.is_empty() {
            String::new()
        } else {
            format!("{}.", scope.key)
        };
        let plugin_dir = &scope.plugin_dir;
        let mut handlers = BTreeMap::new();
        for (kind, raw) in self.handlers {
            handlers.insert(
                kind,
                validate_routes(&prefix, kind, raw, plugin_dir, scope.naming)?,
            );
        }

        let mut interceptors = Interceptors::default();
        for (chain, entries) in self.interceptors {
            let key = format!("{prefix}interceptors.\"{chain}\"");
            let mut steps = Vec::with_capacity(entries.len());
            for (index, entry) in entries.into_iter().enumerate() {
                steps.push(entry.validate(&format!("{key}[{index}]"), plugin_dir, scope.base)?);
            }
            if chain == "*" {
                interceptors.all = steps;
            } else {
                let kind =
                    chain
                        .parse::<RequestKind>()
                        .map_err(|message| ConfigError::Invalid {
                            key: key.clone(),
                            message: format!("{message}, or \"*\""),
                        })?;
                if kind.is_stream() {
                    return Err(ConfigError::Invalid {
                        key,
                        message: "subscription streams run no interceptors: a stream is not \
                                  one request and one reply (the \"*\" chain skips them too)"
                            .into(),
                    });
                }
                interceptors.by_kind.insert(kind, steps);
            }
        }

        let limits = self
            .limits
            .validate(&format!("{prefix}limits"), scope.limits)?;

        let mut settings = BTreeMap::new();
        for (plugin, values) in self.settings {
            let mut resolved = BTreeMap::new();
            for (key, value) in values {
                let dotted = format!("{prefix}settings.\"{plugin}\".{key}");
                resolved.insert(key, value.resolve(&dotted, scope.base)?);
            }
            settings.insert(plugin, resolved);
        }

        let grants = match &self.grants {
            Some(names) => Grants::from_names(names.iter().map(String::as_str))
                .map_err(|message| invalid(&format!("{prefix}grants"), &message))?,
            None => scope.grants,
        };
        if grants.centrifugo_api && !scope.api && self.grants.is_some() {
            return Err(invalid(
                &format!("{prefix}grants"),
                "grants `centrifugo-api`, but no [centrifugo] api is configured",
            ));
        }
        let listen = self
            .listen
            .map(|text| parse_listen(&format!("{prefix}listen"), &text))
            .transpose()?;

        let mut reuse = BTreeMap::new();
        for (plugin, raw) in self.isolation {
            let key = format!("{prefix}isolation.\"{plugin}\"");
            let used = handlers
                .values()
                .flat_map(|routes: &HandlerRoutes| {
                    routes.default.iter().chain(routes.refined.values())
                })
                .chain(
                    interceptors
                        .all
                        .iter()
                        .chain(interceptors.by_kind.values().flatten())
                        .map(|i| &i.plugin),
                )
                .any(|p| p.name == plugin);
            if !used {
                return Err(invalid(
                    &key,
                    "names a plugin that no route of this tenant uses",
                ));
            }
            if let Some(policy) = raw.validate(&key, &limits)? {
                reuse.insert(plugin, policy);
            }
        }

        if let Some(namespaces) = &self.api_namespaces {
            check_namespaces(&format!("{prefix}api_namespaces"), namespaces, scope.naming)?;
        }
        Ok(TenantConfig {
            name: scope.name.to_owned(),
            plugin_dir: scope.plugin_dir,
            handlers,
            interceptors,
            limits,
            settings,
            grants,
            api_namespaces: self.api_namespaces,
            listen,
            reuse,
            on_refresh_failure: self.on_refresh_failure.unwrap_or(scope.on_refresh_failure),
        })
    }
}

impl RawIsolation {
    /// The reuse policy, or `None` for `mode = "fresh"`.
    pub(super) fn validate(
        self,
        key: &str,
        limits: &Limits,
    ) -> Result<Option<ReusePolicy>, ConfigError> {
        if self.mode == RawMode::Fresh {
            if self.max_calls.is_some() || self.max_age.is_some() || self.max_idle.is_some() {
                return Err(invalid(
                    key,
                    "`max_calls`, `max_age` and `max_idle` apply to `mode = \"reuse\"`",
                ));
            }
            return Ok(None);
        }
        let max_age = match self.max_age {
            Some(text) => parse_duration(&text).map_err(|message| ConfigError::Invalid {
                key: format!("{key}.max_age"),
                message,
            })?,
            None => DEFAULT_REUSE_MAX_AGE,
        };
        let policy = ReusePolicy {
            max_calls: self.max_calls.unwrap_or(DEFAULT_REUSE_MAX_CALLS),
            max_age,
            max_idle: self
                .max_idle
                .unwrap_or_else(|| DEFAULT_REUSE_MAX_IDLE.min(limits.concurrency)),
        };
        for (field, zero) in [
            ("max_calls", policy.max_calls == 0),
            ("max_age", policy.max_age.is_zero()),
            ("max_idle", policy.max_idle == 0),
        ] {
            if zero {
                return Err(invalid(
                    &format!("{key}.{field}"),
                    "must be greater than zero",
                ));
            }
        }
        Ok(Some(policy))
    }
}

pub(super) fn parse_listen(key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| ConfigError::Invalid {
        key: key.to_owned(),
        message: format!("`{text}` is not a socket address like 127.0.0.1:10001"),
    })
}

/// Refuses namespace names that no channel can have under `naming` (`""`
/// stands for channels without a namespace and is allowed).
pub(super) fn check_namespaces(
    key: &str,
    namespaces: &[String],
    naming: &Naming,
) -> Result<(), ConfigError> {
    for namespace in namespaces.iter().filter(|namespace| !namespace.is_empty()) {
        if let Some(problem) = naming.impossible_namespace(namespace) {
            return Err(invalid(key, &format!("`{namespace}`: {problem}")));
        }
    }
    Ok(())
}

pub(super) fn validate_routes(
    prefix: &str,
    kind: RequestKind,
    raw: RawRoutes,
    plugin_dir: &Path,
    naming: &Naming,
) -> Result<HandlerRoutes, ConfigError> {
    let key = format!("{prefix}handlers.{kind}");
    let raw = match raw {
        FileOrTable::File(file) => RawRoutesTable {
            default: Some(file),
            namespaces: BTreeMap::new(),
            methods: BTreeMap::new(),
        },
        FileOrTable::Table(table) => table,
    };
    let refined = match kind.refinement() {
        Some(Refinement::ChannelNamespace) if !raw.methods.is_empty() => {
            return Err(invalid(&key, "`methods` applies to rpc; use `namespaces`"));
        }
        Some(Refinement::Method) if !raw.namespaces.is_empty() => {
            return Err(invalid(
                &key,
                "`namespaces` applies to channels; use `methods`",
            ));
        }
        None if !raw.methods.is_empty() || !raw.namespaces.is_empty() => {
            return Err(invalid(
                &key,
                "this request type has no channel or method to route by",
            ));
        }
        Some(Refinement::Method) => raw.methods,
        _ => raw.namespaces,
    };
    if raw.default.is_none() && refined.is_empty() {
        return Err(invalid(&key, "names no plugin"));
    }
    let default = raw
        .default
        .map(|name| plugin_ref(format!("{key}.default"), name, plugin_dir))
        .transpose()?;
    let refined = refined
        .into_iter()
        .map(|(prefix, name)| {
            if prefix.is_empty() {
                return Err(invalid(&key, "an empty namespace or method name"));
            }
            if kind.refinement() == Some(Refinement::ChannelNamespace)
                && let Some(problem) = naming.impossible_namespace(&prefix)
            {
                return Err(invalid(&format!("{key}.\"{prefix}\""), &problem));
            }
            let plugin = plugin_ref(format!("{key}.\"{prefix}\""), name, plugin_dir)?;
            Ok((prefix, plugin))
        })
        .collect::<Result<_, _>>()?;
    Ok(HandlerRoutes { default, refined })
}

impl FileOrTable<RawInterceptorTable> {
    pub(super) fn validate(
        self,
        key: &str,
        plugin_dir: &Path,
        base: &Path,
    ) -> Result<InterceptorRef, ConfigError> {
        let table = match self {
            FileOrTable::File(plugin) => RawInterceptorTable {
                plugin,
                fail_open: false,
                settings: BTreeMap::new(),
            },
            FileOrTable::Table(table) => table,
        };
        let mut settings = BTreeMap::new();
        for (name, value) in table.settings {
            settings.insert(
                name.clone(),
                value.resolve(&format!("{key}.settings.{name}"), base)?,
            );
        }
        Ok(InterceptorRef {
            plugin: plugin_ref(key.to_owned(), table.plugin, plugin_dir)?,
            settings,
            fail_open: table.fail_open,
        })
    }
}

pub(super) fn plugin_ref(
    key: String,
    name: String,
    plugin_dir: &Path,
) -> Result<PluginRef, ConfigError> {
    match OciRef::parse(&name) {
        Ok(Some(oci)) => {
            return Ok(PluginRef {
                // Until resolved: the reference, which names no file.
                path: PathBuf::from(&name),
                name,
                oci: Some(oci),
            });
        }
        Ok(None) => {}
        Err(error) => return Err(invalid(&key, &error.to_string())),
    }
    let path = plugin_dir.join(&name);
    if !path.is_file() {
        return Err(ConfigError::MissingPlugin { key, path });
    }
    Ok(PluginRef {
        name,
        path,
        oci: None,
    })
}
