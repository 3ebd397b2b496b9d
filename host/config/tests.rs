//! Tests of the config: parsing, validation and their error messages.

use super::units::{parse_duration, parse_size};
use super::*;

fn dir_with(files: &[&str]) -> tempdir::Dir {
    tempdir::Dir::with_files(files)
}

/// A throwaway directory for config tests, removed on drop.
mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn with_files(files: &[&str]) -> Dir {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "rotor-config-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).expect("create temp dir");
            for file in files {
                std::fs::write(path.join(file), b"").expect("write temp file");
            }
            Dir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn full_config() {
    let dir = dir_with(&["auth.wasm", "acl.wasm", "rpc.wasm", "booking.wasm"]);
    let config = Config::parse(
        r#"
        listen = "127.0.0.1:9999"
        [handlers]
        connect = "auth.wasm"
        subscribe = { default = "acl.wasm", namespaces = { chat = "acl.wasm" } }
        [handlers.rpc]
        default = "rpc.wasm"
        methods = { "booking:" = "booking.wasm" }
        [limits]
        memory = "16MiB"
        timeout = "100ms"
        concurrency = 8
        [settings."auth.wasm"]
        secret = "s3cret"
        "#,
        dir.path(),
    )
    .expect("valid config");
    assert_eq!(config.listen.port(), 9999);
    let tenant = &config.tenants[DEFAULT_TENANT];
    assert_eq!(tenant.limits.memory, 16 << 20);
    assert_eq!(tenant.limits.timeout, Duration::from_millis(100));
    assert_eq!(tenant.limits.concurrency, 8);
    assert_eq!(tenant.grants, Grants::ALL);
    let rpc = &tenant.handlers[&RequestKind::Rpc];
    assert_eq!(rpc.refined["booking:"].name, "booking.wasm");
    assert_eq!(tenant.settings["auth.wasm"]["secret"], "s3cret");
    assert_eq!(config.plugins().len(), 4);
    assert_eq!(config.tenancy, Tenancy::single());
}

#[test]
fn interceptor_chains() {
    let dir = dir_with(&["t.wasm", "rl.wasm", "h.wasm"]);
    let config = Config::parse(
        r#"
        [handlers]
        publish = "h.wasm"
        [interceptors]
        "*" = ["t.wasm"]
        publish = [{ plugin = "rl.wasm", fail_open = true, settings = { limit = "5" } }, "t.wasm"]
        [settings."rl.wasm"]
        window = "1s"
        "#,
        dir.path(),
    )
    .expect("valid config");
    let interceptors = &config.first_tenant().interceptors;
    let chain: Vec<_> = interceptors
        .chain(RequestKind::Publish)
        .map(|i| i.plugin.name.as_str())
        .collect();
    assert_eq!(chain, ["t.wasm", "rl.wasm", "t.wasm"]);
    assert_eq!(interceptors.chain(RequestKind::Connect).count(), 1);
    assert_eq!(interceptors.longest(), 3);
    let rate_limit = &interceptors.by_kind[&RequestKind::Publish][0];
    assert!(rate_limit.fail_open);
    assert_eq!(rate_limit.settings["limit"], "5");
    assert_eq!(config.plugins().len(), 3);

    for (text, key) in [
        ("[interceptors]\npublsh = [\"t.wasm\"]", "publsh"),
        (
            r#"interceptors = { "*" = ["gone.wasm"] }"#,
            r#"interceptors."*"[0]"#,
        ),
        (
            r#"interceptors = { "*" = [{ plugin = "t.wasm", fail_opn = true }] }"#,
            "fail_opn",
        ),
    ] {
        let error = Config::parse(text, dir.path()).unwrap_err().to_string();
        assert!(error.contains(key), "{text}: {error}");
    }
}

#[test]
fn unknown_keys_are_named() {
    let dir = dir_with(&[]);
    let error = Config::parse("lisen = \"x\"", dir.path()).unwrap_err();
    assert!(error.to_string().contains("lisen"), "{error}");
    let error = Config::parse("[handlers]\nconect = \"a.wasm\"", dir.path()).unwrap_err();
    assert!(error.to_string().contains("conect"), "{error}");
    let error = Config::parse(
        "[handlers.rpc]\ndefault = \"a\"\nnamspaces = {}",
        dir.path(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("namspaces"), "{error}");
}

#[test]
fn missing_plugin_names_key_and_file() {
    let dir = dir_with(&[]);
    let error = Config::parse("[handlers]\nconnect = \"gone.wasm\"", dir.path()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("handlers.connect.default"), "{message}");
    assert!(message.contains("gone.wasm"), "{message}");
}

#[test]
fn refinements_must_fit_the_kind() {
    let dir = dir_with(&["a.wasm"]);
    for text in [
        "[handlers.connect]\ndefault = \"a.wasm\"\nnamespaces = { x = \"a.wasm\" }",
        "[handlers.rpc]\ndefault = \"a.wasm\"\nnamespaces = { x = \"a.wasm\" }",
        "[handlers.publish]\ndefault = \"a.wasm\"\nmethods = { x = \"a.wasm\" }",
        "[handlers.rpc]\n",
    ] {
        let error = Config::parse(text, dir.path()).unwrap_err();
        assert!(
            matches!(error, ConfigError::Invalid { .. }),
            "{text}: {error}"
        );
    }
}

#[test]
fn bad_values_are_named() {
    let dir = dir_with(&[]);
    for (text, key) in [
        ("listen = \"nowhere\"", "listen"),
        ("[limits]\nmemory = \"16 parsecs\"", "limits.memory"),
        ("[limits]\ntimeout = \"100\"", "limits.timeout"),
        ("[limits]\nconcurrency = 0", "limits.concurrency"),
        ("[plugins]\ndir = \"no/such/dir\"", "plugins.dir"),
        (
            "[settings.\"a.wasm\"]\nkey = { env = \"ROTOR_TEST_UNSET_VARIABLE\" }",
            "settings",
        ),
    ] {
        let error = Config::parse(text, dir.path()).unwrap_err().to_string();
        assert!(error.contains(key), "{text}: {error}");
    }
}

#[test]
fn kv_and_api_budgets_are_limits_with_defaults() {
    let dir = dir_with(&[]);
    let defaults = Config::parse("", dir.path()).expect("valid config");
    let limits = defaults.first_tenant().limits;
    assert_eq!(
        (limits.kv_bytes, limits.kv_ops, limits.api_calls),
        (DEFAULT_KV_BYTES, DEFAULT_KV_OPS, DEFAULT_API_CALLS)
    );
    let text = "[limits]\nkv_bytes = \"1MiB\"\nkv_ops = 8\napi_calls = 100\n";
    let limits = Config::parse(text, dir.path()).expect("valid config");
    let limits = limits.first_tenant().limits;
    assert_eq!(
        (limits.kv_bytes, limits.kv_ops, limits.api_calls),
        (1 << 20, 8, 100)
    );
    for (text, key) in [
        ("kv_bytes = \"100B\"", "limits.kv_bytes"),
        ("kv_bytes = \"lots\"", "limits.kv_bytes"),
        ("kv_ops = 0", "limits.kv_ops"),
        ("api_calls = 0", "limits.api_calls"),
    ] {
        let error = Config::parse(&format!("[limits]\n{text}"), dir.path())
            .unwrap_err()
            .to_string();
        assert!(error.contains(key), "{text}: {error}");
    }
}

#[test]
fn tenants_inherit_and_override() {
    let dir = dir_with(&[]);
    for (tenant, files) in [("acme", ["auth.wasm"]), ("globex", ["auth.wasm"])] {
        std::fs::create_dir(dir.path().join(tenant)).unwrap();
        for file in files {
            std::fs::write(dir.path().join(tenant).join(file), b"").unwrap();
        }
    }
    let config = Config::parse(
        r#"
        [centrifugo]
        api = "http://127.0.0.1:10000"
        [limits]
        memory = "8MiB"
        concurrency = 10
        [tenancy]
        by = "namespace"
        fallback = "acme"
        [tenants.acme]
        namespaces = ["acme", "shop"]
        grants = ["log", "centrifugo-api"]
        handlers = { connect = "auth.wasm" }
        limits = { concurrency = 2, fuel = 1000000, cpu = 0.25, max_reply = "4KiB" }
        settings = { "auth.wasm" = { secret = "a" } }
        [tenants.globex]
        namespaces = ["globex"]
        handlers = { connect = "auth.wasm" }
        "#,
        dir.path(),
    )
    .expect("valid config");
    let acme = &config.tenants["acme"];
    assert_eq!(acme.limits.memory, 8 << 20);
    assert_eq!(acme.limits.concurrency, 2);
    assert_eq!(acme.limits.fuel, Some(1_000_000));
    assert_eq!(acme.limits.cpu, Some(250));
    assert_eq!(acme.limits.max_reply, 4096);
    assert!(acme.grants.centrifugo_api && !acme.grants.kv);
    assert_eq!(
        acme.api_namespaces.as_deref(),
        Some(&["acme".into(), "shop".into()][..])
    );
    assert_eq!(acme.plugin_dir, dir.path().join("acme"));
    assert_eq!(acme.plugin_key("auth.wasm"), "acme/auth.wasm");
    let globex = &config.tenants["globex"];
    assert_eq!(globex.limits.concurrency, 10);
    assert_eq!(globex.limits.cpu, None);
    assert_eq!(globex.grants, Grants::DEFAULT);
    assert_eq!(config.plugins().len(), 2);
    let pool = config.pool_limits();
    assert_eq!(
        (pool.instances, pool.memory, pool.fuel),
        (13, 8 << 20, true)
    );
    let TenantRule::Namespace { owners } = &config.tenancy.rule else {
        panic!("namespace rule expected");
    };
    assert_eq!(owners["shop"], "acme");
}

#[test]
fn bad_tenants_are_named() {
    let dir = dir_with(&["a.wasm"]);
    std::fs::create_dir(dir.path().join("t")).unwrap();
    for (text, key) in [
        ("[tenants.t]\n", "tenancy.by"),
        ("[tenancy]\nby = \"metadata\"\n", "tenancy.by"),
        (
            "[handlers]\nconnect = \"a.wasm\"\n[tenancy]\nby = \"metadata\"\n[tenants.t]\n",
            "handlers",
        ),
        (
            "[tenancy]\nby = \"metadata\"\n[tenants.t]\nnamespaces = [\"x\"]\n",
            "tenants.t.namespaces",
        ),
        (
            "[tenancy]\nby = \"listener\"\n[tenants.t]\n",
            "tenants.t.listen",
        ),
        (
            "[tenancy]\nby = \"metadata\"\nfallback = \"u\"\n[tenants.t]\n",
            "tenancy.fallback",
        ),
        (
            "[tenancy]\nby = \"metadata\"\n[tenants.t]\ngrants = [\"files\"]\n",
            "tenants.t.grants",
        ),
        (
            "[tenancy]\nby = \"metadata\"\n[tenants.t]\ngrants = [\"centrifugo-api\"]\n",
            "tenants.t.grants",
        ),
        (
            "[tenancy]\nby = \"metadata\"\n[tenants.nodir]\n",
            "tenants.nodir.dir",
        ),
        (
            "[tenancy]\nby = \"metadata\"\n[tenants.t]\nlimits = { fuel = 0 }\n",
            "tenants.t.limits.fuel",
        ),
        (
            "[tenancy]\nby = \"metadata\"\n[tenants.t]\nlimits = { cpu = 0 }\n",
            "tenants.t.limits.cpu",
        ),
        ("[limits]\ncpu = nan\n", "limits.cpu"),
        (
            "[tenancy]\nby = \"metadata\"\n[tenants.t]\nhandlers = { connect = \"a.wasm\" }\n",
            "tenants.t.handlers.connect",
        ),
        (
            "[tenancy]\nby = \"metadata\"\n[tenants.canary]\ndir = \"t\"\n",
            "tenants.canary",
        ),
        (
            "[tenancy]\nby = \"namespace\"\n[tenants.t]\nnamespaces = [\"x\"]\n[tenants.u]\ndir = \"t\"\nnamespaces = [\"x\"]\n",
            "tenants.u.namespaces",
        ),
    ] {
        let error = Config::parse(text, dir.path()).unwrap_err().to_string();
        assert!(error.contains(key), "{text}: {error}");
    }
}

#[test]
fn naming_and_refresh_failures() {
    let dir = dir_with(&["a.wasm"]);
    std::fs::create_dir(dir.path().join("t")).unwrap();
    std::fs::create_dir(dir.path().join("u")).unwrap();
    let config = Config::parse(
        r#"
        on_refresh_failure = "expire"
        [naming]
        private_prefix = "private-"
        namespace_boundary = "."
        [tenancy]
        by = "namespace"
        [tenants.t]
        namespaces = ["chat"]
        [tenants.u]
        namespaces = ["shop"]
        on_refresh_failure = "extend"
        "#,
        dir.path(),
    )
    .expect("valid config");
    let naming = &config.tenancy.naming;
    assert_eq!(naming.private_prefix, "private-");
    assert_eq!(naming.namespace_boundary, ".");
    assert_eq!(naming.rpc_namespace_boundary, ":");
    assert_eq!(
        config.tenants["t"].on_refresh_failure,
        RefreshFailure::Expire
    );
    assert_eq!(
        config.tenants["u"].on_refresh_failure,
        RefreshFailure::Extend
    );

    let single = Config::parse("[handlers]\nrpc = \"a.wasm\"\n", dir.path()).unwrap();
    assert_eq!(single.tenancy.naming, Naming::default());
    assert_eq!(
        single.tenants[DEFAULT_TENANT].on_refresh_failure,
        RefreshFailure::Extend
    );

    // Names no channel can have: Centrifugo strips `$` first, and a
    // namespace never contains the boundary.
    for (text, key) in [
        (
            "[tenancy]\nby = \"namespace\"\n[tenants.t]\nnamespaces = [\"$chat\"]\n",
            "tenants.t.namespaces",
        ),
        (
            "[handlers.publish]\nnamespaces = { \"$chat\" = \"a.wasm\" }\n",
            "handlers.publish",
        ),
        (
            "[handlers.subscribe]\nnamespaces = { \"a:b\" = \"a.wasm\" }\n",
            "handlers.subscribe",
        ),
        (
            "[centrifugo]\napi = \"http://127.0.0.1:1\"\nnamespaces = [\"$chat\"]\n",
            "centrifugo.namespaces",
        ),
        ("on_refresh_failure = \"retry\"\n", "on_refresh_failure"),
    ] {
        let error = Config::parse(text, dir.path()).unwrap_err().to_string();
        assert!(error.contains(key), "{text}: {error}");
    }
}

#[test]
fn a_proxy_beyond_loopback_without_auth_is_reported() {
    let dir = dir_with(&["secret"]);
    std::fs::write(dir.path().join("secret"), "s3cret").unwrap();
    let exposed = |text: &str| {
        Config::parse(text, dir.path())
            .expect("a valid config")
            .unauthenticated_listeners()
    };
    assert!(exposed("listen = \"127.0.0.1:10001\"").is_empty());
    assert!(exposed("listen = \"[::1]:10001\"").is_empty());
    assert_eq!(
        exposed("listen = \"0.0.0.0:10001\""),
        ["0.0.0.0:10001".parse().unwrap()]
    );
    assert_eq!(
        exposed("listen = \"[::]:10001\""),
        ["[::]:10001".parse().unwrap()]
    );
    assert!(
        exposed(
            "listen = \"0.0.0.0:10001\"\n[auth]\nkey = \"x-proxy-secret\"\nvalue_file = \"secret\"\n"
        )
        .is_empty()
    );
}

#[test]
fn an_empty_admin_token_refuses_to_start() {
    let dir = dir_with(&["empty-token", "token"]);
    std::fs::write(dir.path().join("empty-token"), "\n").unwrap();
    std::fs::write(dir.path().join("token"), "s3cret\n").unwrap();
    let error = Config::parse(
        "[admin]\nlisten = \"127.0.0.1:9901\"\ntoken_file = \"empty-token\"\n",
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("admin.token_file") && error.contains("empty"),
        "{error}"
    );
    let config = Config::parse(
        "[admin]\nlisten = \"0.0.0.0:9901\"\ntoken_file = \"token\"\nhosts = [\"Rotor.Internal\"]\n",
        dir.path(),
    )
    .expect("a token from a file");
    let admin = config.admin.expect("[admin]");
    assert_eq!(admin.token.as_deref(), Some("s3cret"));
    assert_eq!(admin.hosts, ["rotor.internal"]);
    for (text, key) in [
        (
            "[admin]\nlisten = \"127.0.0.1:9901\"\ntoken_env = \"A\"\ntoken_file = \"token\"\n",
            "admin.token_env",
        ),
        (
            "[admin]\nlisten = \"127.0.0.1:9901\"\nhosts = [\"rotor:9901\"]\n",
            "admin.hosts",
        ),
    ] {
        let error = Config::parse(text, dir.path()).unwrap_err().to_string();
        assert!(error.contains(key), "{text}: {error}");
    }
}

/// Finding 13 of the hardening review: the default tenant's
/// `shop/x.wasm` and tenant `shop`'s `x.wasm` had one key, so one
/// plugin served both.
#[test]
fn plugin_keys_never_collide() {
    assert_eq!(plugin_key(DEFAULT_TENANT, "x.wasm"), "x.wasm");
    assert_eq!(plugin_key("shop", "x.wasm"), "shop/x.wasm");
    assert_eq!(
        plugin_key(DEFAULT_TENANT, "shop/x.wasm"),
        "default/shop/x.wasm"
    );
    assert_ne!(
        plugin_key(DEFAULT_TENANT, "shop/x.wasm"),
        plugin_key("shop", "x.wasm")
    );
}

#[test]
fn sizes_and_durations() {
    assert_eq!(parse_size("16MiB"), Ok(16 << 20));
    assert_eq!(parse_size("1000"), Ok(1000));
    assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
    assert!(parse_size("MiB").is_err());
    assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
    assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
    assert!(parse_duration("2h").is_err());
}

/// Finding 13 of the hardening review: `timeout = "99999999999m"`
/// parsed, and the first call panicked adding it to `Instant::now()`.
#[test]
fn a_huge_timeout_is_a_config_error_not_an_instant_overflow() {
    let dir = dir_with(&[]);
    for (text, key) in [
        ("[limits]\ntimeout = \"99999999999m\"", "limits.timeout"),
        ("[limits]\ntimeout = \"3601s\"", "limits.timeout"),
        (
            "[centrifugo]\napi = \"http://127.0.0.1:1\"\ntimeout = \"99999999999m\"",
            "centrifugo.timeout",
        ),
        (
            "[centrifugo]\napi = \"http://127.0.0.1:1\"\ntimeout = \"0ms\"",
            "centrifugo.timeout",
        ),
    ] {
        let error = Config::parse(text, dir.path()).unwrap_err().to_string();
        assert!(
            error.contains(key) && error.contains("at most 3600s"),
            "{text}: {error}"
        );
    }
    let config = Config::parse("[limits]\ntimeout = \"60m\"", dir.path()).expect("an hour");
    let timeout = config.first_tenant().limits.timeout;
    assert_eq!(timeout, MAX_TIMEOUT);
    assert!(std::time::Instant::now().checked_add(timeout).is_some());
}

/// Finding 13 of the hardening review: `Debug` of a config printed the
/// server API key, the admin token, secret settings and a Redis
/// password.
#[tokio::test]
async fn config_debug_redacts_the_api_key_admin_token_and_secrets() {
    let dir = dir_with(&["auth.wasm", "rl.wasm", "api-key", "admin-token"]);
    std::fs::write(dir.path().join("api-key"), "api-key-value-1").unwrap();
    std::fs::write(dir.path().join("admin-token"), "admin-token-value-2").unwrap();
    let text = r#"
        [handlers]
        connect = "auth.wasm"
        [interceptors]
        connect = [{ plugin = "rl.wasm", settings = { token = "interceptor-secret-3" } }]
        [settings."auth.wasm"]
        secret = "jwt-secret-4"
        [centrifugo]
        api = "http://127.0.0.1:10000"
        api_key_file = "api-key"
        [admin]
        listen = "127.0.0.1:9901"
        token_file = "admin-token"
        [kv]
        backend = "redis"
        url = "redis://rotor:redis-password-5@127.0.0.1:6379/0"
    "#;
    let config = Config::parse(text, dir.path()).expect("a valid config");
    let debug = format!("{config:?} {config:#?}");
    for secret in [
        "api-key-value-1",
        "admin-token-value-2",
        "interceptor-secret-3",
        "jwt-secret-4",
        "redis-password-5",
    ] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    // What is not secret still shows, secrets as `<redacted>`.
    assert!(
        debug.contains("secret") && debug.contains(REDACTED),
        "{debug}"
    );
    assert!(
        debug.contains("redis://rotor:<redacted>@127.0.0.1:6379/0"),
        "{debug}"
    );
    assert_eq!(
        redact_url("redis://127.0.0.1:6379/0"),
        "redis://127.0.0.1:6379/0"
    );
    assert_eq!(
        redact_url("redis://:pw@h/0?x=@"),
        "redis://:<redacted>@h/0?x=@"
    );
}

#[test]
fn telemetry_is_off_unless_otlp_is_set() {
    let dir = dir_with(&[]);
    let config = Config::parse("", dir.path()).expect("an empty config");
    assert_eq!(config.telemetry, TelemetryConfig::default());

    let config = Config::parse("[telemetry]\notlp = \"http://127.0.0.1:4317\"", dir.path())
        .expect("OTLP with defaults");
    let otlp = config.telemetry.otlp.expect("OTLP export");
    assert_eq!(otlp.endpoint, "http://127.0.0.1:4317");
    assert_eq!(otlp.service_name, DEFAULT_SERVICE_NAME);
    assert!((otlp.sample_ratio - 1.0).abs() < f64::EPSILON);

    let config = Config::parse(
        "[telemetry]\notlp = \"http://otel-collector:4317/\"\n\
         service_name = \"rotor-eu\"\nsample_ratio = 0.25",
        dir.path(),
    )
    .expect("OTLP with every key");
    let otlp = config.telemetry.otlp.expect("OTLP export");
    assert_eq!(otlp.service_name, "rotor-eu");
    assert!((otlp.sample_ratio - 0.25).abs() < f64::EPSILON);
}

#[test]
fn telemetry_errors_name_the_key() {
    let dir = dir_with(&[]);
    for (text, key, says) in [
        (
            "otlp = \"localhost:4317\"",
            "telemetry.otlp",
            "not an http://",
        ),
        ("otlp = \"https://c:4317\"", "telemetry.otlp", "TLS"),
        ("otlp = \"http://c\"", "telemetry.otlp", "no port"),
        ("otlp = \"http://:4317\"", "telemetry.otlp", "no host"),
        ("otlp = \"http://c:99999\"", "telemetry.otlp", "not a port"),
        (
            "otlp = \"http://c:4317/v1/traces\"",
            "telemetry.otlp",
            "host and port only",
        ),
        (
            "otlp = \"http://c:4317\"\nsample_ratio = 1.5",
            "telemetry.sample_ratio",
            "between 0 and 1",
        ),
        (
            "otlp = \"http://c:4317\"\nservice_name = \" \"",
            "telemetry.service_name",
            "empty",
        ),
        (
            "sample_ratio = 0.5",
            "telemetry.sample_ratio",
            "only with `otlp`",
        ),
        (
            "service_name = \"x\"",
            "telemetry.service_name",
            "only with `otlp`",
        ),
        (
            "otlp = \"http://c:4317\"\nendpoint = \"x\"",
            "endpoint",
            "unknown field",
        ),
    ] {
        let text = format!("[telemetry]\n{text}");
        let error = Config::parse(&text, dir.path()).unwrap_err().to_string();
        assert!(
            error.contains(key) && error.contains(says),
            "{text}: {error}"
        );
    }
}

#[test]
fn pool_keep_resident_is_a_size_with_a_default() {
    let dir = dir_with(&["a.wasm"]);
    let handlers = "[handlers]\nconnect = \"a.wasm\"\n";
    let config = Config::parse(handlers, dir.path()).expect("valid");
    assert_eq!(config.pool_limits().keep_resident, DEFAULT_KEEP_RESIDENT);
    let text = format!("{handlers}[pool]\nkeep_resident = \"64MiB\"\n");
    let config = Config::parse(&text, dir.path()).expect("valid");
    assert_eq!(config.pool_limits().keep_resident, 64 << 20);
    for (value, says) in [
        ("\"lots\"", "pool.keep_resident"),
        ("\"5GiB\"", "more than the largest linear memory"),
        ("16", "keep_resident"),
    ] {
        let text = format!("{handlers}[pool]\nkeep_resident = {value}\n");
        let error = Config::parse(&text, dir.path()).unwrap_err().to_string();
        assert!(error.contains(says), "{value}: {error}");
    }
}
