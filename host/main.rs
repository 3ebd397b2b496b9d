//! The `rotor` command: serve Centrifugo's proxy, check a component, or try
//! one call locally.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use rotor::config::{CompileCache, PoolLimits};
use rotor::proto::proxy as pb;
use rotor::scaffold::{Language, Template};
use rotor::{Config, Engine, Limits, Plugin, RequestKind, Rotor};

mod cli;

use cli::logs::LogFormat;

/// Answers Centrifugo's proxy calls with sandboxed WebAssembly components.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// How log lines are written to stderr: `text` (coloured only on a
    /// terminal and without `NO_COLOR`) or `json` (one object per line,
    /// with the call's span fields).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Centrifugo's gRPC proxy with the plugins of a config file.
    Serve {
        /// The configuration file.
        #[arg(long, short, default_value = "rotor.toml")]
        config: PathBuf,
    },
    /// Validate components and show what they export and import; with
    /// `--config`, validate a whole configuration and show its routes.
    Check {
        /// Component files (`.wasm`).
        #[arg(required_unless_present = "config")]
        plugins: Vec<PathBuf>,
        /// A configuration file: loads every plugin it names, checks them
        /// against their routes and grants, and prints each tenant's routes
        /// with their isolation mode.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Where compiled components are kept: a directory, or `off`.
        /// Default: the same cache as `serve` (on Linux `~/.cache/wasmtime`).
        #[arg(long, value_name = "DIR|off", value_parser = compile_cache)]
        cache: Option<CompileCache>,
    },
    /// Run one call through a component and print the reply as JSON.
    Call {
        /// The request type: connect, refresh, subscribe, publish, rpc, sub_refresh,
        /// map_publish, …, or subscribe_stream (with `--stream`).
        kind: RequestKind,
        /// The component file.
        #[arg(long, required_unless_present = "to")]
        plugin: Option<PathBuf>,
        /// Instead of a component: the address of a running Rotor
        /// (`host:port`) to send the request to, as Centrifugo would.
        #[arg(long, conflicts_with_all = ["plugin", "setting", "cache"])]
        to: Option<String>,
        /// The request in Centrifugo's proxy JSON, or `@file` to read it from a file.
        #[arg(long, default_value = "{}")]
        request: String,
        /// A plugin setting, `key=value`; repeatable.
        #[arg(long = "setting", id = "setting", value_parser = key_value)]
        settings: Vec<(String, String)>,
        /// A forwarded header, `name=value`; repeatable.
        #[arg(long = "header", value_parser = key_value)]
        headers: Vec<(String, String)>,
        /// Where compiled components are kept: a directory, or `off`.
        /// Default: the same cache as `serve` (on Linux `~/.cache/wasmtime`).
        #[arg(long, value_name = "DIR|off", value_parser = compile_cache)]
        cache: Option<CompileCache>,
        /// For `subscribe_stream`: open the stream and print the subscribe
        /// response, then each publication, as JSON lines as they arrive,
        /// until the stream ends, `--for` runs out or Ctrl-C.
        #[arg(long)]
        stream: bool,
        /// With `--stream`: the bidirectional form, where each line of
        /// standard input is sent as the client's publication.
        #[arg(long, requires = "stream")]
        bidirectional: bool,
        /// With `--stream`: stop following the stream after this long
        /// (`500ms`, `10s`, `2m`).
        #[arg(long = "for", value_name = "DURATION", requires = "stream", value_parser = rotor::config::parse_duration)]
        duration: Option<std::time::Duration>,
    },
    /// Publish a component to an OCI registry (the wasm artifact layout), for
    /// `oci://` plugin references. Credentials, if the registry asks for
    /// them: ROTOR_REGISTRY_USERNAME and ROTOR_REGISTRY_PASSWORD.
    Push {
        /// The component file (`.wasm`).
        file: PathBuf,
        /// Where to: `oci://host:port/repo/name:tag`.
        reference: String,
        /// Speak plain HTTP to the registry (one on loopback, say).
        #[arg(long)]
        insecure: bool,
    },
    /// Write a new plugin project: the plugin's source, a copy of the SDK,
    /// a one-line build script and a README.
    New {
        /// What it answers: connect, refresh, subscribe, publish, rpc,
        /// sub_refresh, subscribe_stream, or interceptor.
        kind: Template,
        /// Its language: rust, js, ts or python.
        #[arg(long)]
        lang: Language,
        /// Its folder, which must not exist or be empty; its name names the
        /// plugin. Default: `my-<kind>`.
        dir: Option<PathBuf>,
    },
}

fn compile_cache(text: &str) -> Result<CompileCache, String> {
    match text {
        "" => Err("name a directory, or `off`".to_owned()),
        "off" => Ok(CompileCache::Off),
        dir => Ok(CompileCache::Dir(
            std::path::absolute(dir).unwrap_or_else(|_| dir.into()),
        )),
    }
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("`{text}` is not key=value"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` starts its logs once its config says where spans go.
    if !matches!(cli.command, Command::Serve { .. }) {
        cli::logs::init(cli.log_format, None);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, cli.log_format)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", cli::report::report(&error));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, log_format: LogFormat) -> Result<ExitCode> {
    match command {
        Command::Serve { config } => serve(config, log_format).await,
        Command::Check {
            plugins,
            config,
            cache,
        } => {
            let mut code = ExitCode::SUCCESS;
            if let Some(config) = config {
                code = check_config(config).await?;
            }
            if !plugins.is_empty() && code == ExitCode::SUCCESS {
                code = check(plugins, cache.unwrap_or(CompileCache::Default)).await?;
            }
            Ok(code)
        }
        Command::Call {
            kind,
            plugin,
            to,
            request,
            settings,
            headers,
            cache,
            stream,
            bidirectional,
            duration,
        } => {
            let target = match (plugin, to) {
                (_, Some(address)) => Target::Remote(address),
                (Some(plugin), None) => Target::Plugin(plugin),
                (None, None) => bail!("name a component with --plugin, or a server with --to"),
            };
            let settings = settings.into_iter().collect();
            let cache = cache.unwrap_or(CompileCache::Default);
            match (kind.is_stream(), stream) {
                (true, true) => {
                    let options = cli::stream::StreamOptions {
                        bidirectional,
                        duration,
                    };
                    call_stream(target, request, settings, headers, cache, options).await
                }
                (false, true) => bail!(
                    "--stream opens a subscription stream: use it with `rotor call subscribe_stream`"
                ),
                (_, false) => call(kind, target, request, settings, headers, cache).await,
            }
        }
        Command::Push {
            file,
            reference,
            insecure,
        } => {
            cli::push::run(&file, &reference, insecure).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::New { kind, lang, dir } => {
            cli::new::run(kind, lang, dir)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(path: PathBuf, log_format: LogFormat) -> Result<ExitCode> {
    let config = Config::from_file(&path)?;
    let export = config
        .telemetry
        .otlp
        .as_ref()
        .map(rotor::OtlpExport::start)
        .transpose()?;
    cli::logs::init(log_format, export.as_ref());
    if let Some(otlp) = &config.telemetry.otlp {
        tracing::info!(collector = %otlp.endpoint, "exporting call spans over OTLP");
    }
    // The proxy ports first: one that is taken fails at once, before the
    // plugins compile and before any line that suggests a start. Connections
    // queue until the plugins are loaded and the listeners are served.
    let listeners = Rotor::bind(&config).await?;
    let admin_listener = match &config.admin {
        Some(admin) => Some(
            tokio::net::TcpListener::bind(admin.listen)
                .await
                .with_context(|| format!("cannot listen on {} (`admin.listen`)", admin.listen))?,
        ),
        None => None,
    };
    let rotor = Rotor::new(&config).await?;
    let _watcher = if config.watch {
        Some(rotor.watch_plugins(&config)?)
    } else {
        None
    };
    reload_on_sighup(rotor.clone());

    // On SIGTERM or Ctrl-C: stop accepting, let calls in flight finish, but
    // exit after SHUTDOWN_GRACE whatever is still running.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let stopped = |mut stopping: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    // `/readyz` says ready from the moment the proxy listeners are bound
    // until shutdown starts.
    let ready = Arc::new(AtomicBool::new(false));
    if let (Some(admin), Some(listener)) = (&config.admin, admin_listener) {
        tracing::info!(address = %admin.listen, "admin endpoints");
        let not_ready = ready.clone();
        let mut shutting_down = stopping.clone();
        tokio::spawn(async move {
            let _ = shutting_down.wait_for(|stop| *stop).await;
            not_ready.store(false, Ordering::Relaxed);
        });
        // The admin listener answers until the process exits, so probes see
        // `/readyz` turn 503 while calls drain.
        let served = rotor::admin::serve(
            rotor.clone(),
            listener,
            admin.clone(),
            ready.clone(),
            std::future::pending(),
        );
        tokio::spawn(async move {
            if let Err(error) = served.await {
                tracing::error!("admin listener failed: {error}");
            }
        });
    }
    let grace_over = {
        let stopped = stopped(stopping.clone());
        async move {
            stopped.await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        }
    };
    ready.store(true, Ordering::SeqCst);
    // A shutdown that began while binding keeps `/readyz` at 503.
    if *stopping.borrow() {
        ready.store(false, Ordering::SeqCst);
    }
    tokio::select! {
        served = rotor.serve(listeners, stopped(stopping)) => served?,
        () = grace_over => tracing::warn!("calls still in flight after {SHUTDOWN_GRACE:?}; exiting"),
    }
    if let Some(export) = export {
        export.shutdown().await;
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// How long calls in flight may take to finish once shutdown starts:
/// longer than any proxy call Centrifugo waits for (1 s by default).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Reloads the config file and the TLS certificates on every SIGHUP; a
/// refused reload changes nothing.
fn reload_on_sighup(rotor: Rotor) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot listen for SIGHUP: config reload is off");
            return;
        };
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the configuration");
            if let Err(error) = rotor.reload_config().await {
                tracing::error!("configuration not reloaded: {error}");
            }
            match rotor.reload_tls() {
                Ok(true) => tracing::info!("TLS certificates reloaded"),
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(
                        "TLS certificates not reloaded, the previous ones serve: {error}"
                    )
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = rotor;
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!("cannot listen for SIGTERM: {error}");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down: finishing calls in flight");
}

async fn check(paths: Vec<PathBuf>, cache: CompileCache) -> Result<ExitCode> {
    let engine = std::sync::Arc::new(Engine::with_pool(
        &PoolLimits::for_limits(&Limits::default(), 1),
        &cache,
    )?);
    let mut failed = false;
    for path in paths {
        let started = Instant::now();
        let name = path.display().to_string();
        let hits = engine.compile_cache_hits();
        let loaded = {
            let engine = engine.clone();
            let path = path.clone();
            let name = name.clone();
            tokio::task::spawn_blocking(move || Plugin::load(&engine, &name, &path)).await?
        };
        match loaded {
            Ok(plugin) => {
                let how = if engine.compile_cache_hits() > hits {
                    "loaded from the compile cache"
                } else {
                    "compiled"
                };
                println!("{name}: ok ({how} in {:.1?})", started.elapsed());
                println!("  sha256   {}", plugin.sha256());
                for export in plugin.exports() {
                    println!("  exports  {export}");
                }
                for import in plugin.imports() {
                    match cli::imports::note(import) {
                        Some(note) => println!("  imports  {import}  ({note})"),
                        None => println!("  imports  {import}"),
                    }
                }
            }
            Err(error) => {
                failed = true;
                println!("{name}: invalid: {error}");
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn check_config(path: PathBuf) -> Result<ExitCode> {
    let started = Instant::now();
    let config = Config::from_file(&path)?;
    let rotor = Rotor::new(&config).await?;
    println!(
        "{}: ok ({} plugins compiled and checked in {:.1?})",
        path.display(),
        rotor.registry().snapshot().plugins().count(),
        started.elapsed()
    );
    for tenant in rotor.tenants() {
        let limits = &tenant.limits;
        println!("tenant {} (grants: {})", tenant.name, tenant.grants);
        println!(
            "  limits   memory {} MiB, timeout {} ms, concurrency {}, fuel {}, cpu {}, request ≤ {} B, reply ≤ {} B",
            limits.memory >> 20,
            limits.timeout_ms,
            limits.concurrency,
            limits
                .fuel
                .map_or_else(|| "unmetered".to_owned(), |fuel| fuel.to_string()),
            limits
                .cpu_cores
                .map_or_else(|| "fair share".to_owned(), |cores| format!("{cores} cores")),
            limits.max_request,
            limits.max_reply
        );
        println!(
            "  budgets  kv ≤ {} B, {} kv operations and {} API calls per call",
            limits.kv_bytes, limits.kv_ops, limits.api_calls
        );
        for (kind, routes) in &tenant.handlers {
            if let Some(route) = &routes.default {
                println!("  {kind:<11} {} ({})", route.plugin, route.mode);
            }
            for (refinement, route) in &routes.refined {
                println!(
                    "  {kind:<11} {refinement} → {} ({})",
                    route.plugin, route.mode
                );
            }
        }
        for (kind, steps) in &tenant.chains {
            let chain: Vec<String> = steps
                .iter()
                .map(|step| format!("{} ({})", step.plugin, step.mode))
                .collect();
            println!("  chain {kind:<5} {}", chain.join(" → "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `rotor call` sends its request to.
enum Target {
    /// A component file, run here.
    Plugin(PathBuf),
    /// A running Rotor at this address.
    Remote(String),
}

async fn call(
    kind: RequestKind,
    target: Target,
    request: String,
    settings: BTreeMap<String, String>,
    headers: Vec<(String, String)>,
    cache: CompileCache,
) -> Result<ExitCode> {
    if kind.is_stream() {
        anyhow::bail!(
            "a subscription stream answers with a reply and then publications, not one reply: \
             add --stream to open one and follow it"
        );
    }
    let text = request_text(request)?;
    // The request is read before the component compiles, which can take
    // seconds, so a malformed one fails at once.
    // One arm per kind: the request type decides the proxy message.
    macro_rules! answer_as {
        ($($kind:ident => $message:ty),* $(,)?) => {
            match kind {$(
                RequestKind::$kind => {
                    answer::<$message>(kind, &target, settings, &cache, &text, headers).await?
                }
            )*}
        };
    }
    let reply = answer_as! {
        Connect => pb::ConnectRequest,
        Refresh => pb::RefreshRequest,
        Subscribe => pb::SubscribeRequest,
        Publish => pb::PublishRequest,
        Rpc => pb::RpcRequest,
        SubRefresh => pb::SubRefreshRequest,
        MapPublish => pb::MapPublishRequest,
        MapRemove => pb::MapRemoveRequest,
        SharedPollRefresh => pb::SharedPollRefreshRequest,
        NotifyCacheEmpty => pb::NotifyCacheEmptyRequest,
        NotifyChannelState => pb::NotifyChannelStateRequest,
        // Refused above.
        SubscribeStream => pb::SubscribeRequest,
    };
    println!("{reply}");
    Ok(ExitCode::SUCCESS)
}

/// The request's JSON: the text itself, or the file named after `@`.
fn request_text(request: String) -> Result<String> {
    match request.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file).with_context(|| format!("cannot read {file}")),
        None => Ok(request),
    }
}

/// `rotor call subscribe_stream --stream`: follows a stream of a running
/// Rotor, or of a component served here on a loopback port for as long as
/// the stream lasts (streams are gRPC streams: the same client follows
/// both).
async fn call_stream(
    target: Target,
    request: String,
    settings: BTreeMap<String, String>,
    headers: Vec<(String, String)>,
    cache: CompileCache,
    options: cli::stream::StreamOptions,
) -> Result<ExitCode> {
    let text = request_text(request)?;
    let message: pb::SubscribeRequest = serde_json::from_str(&text)
        .context("the request is not a valid subscribe_stream request in proxy JSON")?;
    let mut stdout = std::io::stdout();
    match target {
        Target::Remote(address) => {
            cli::stream::follow(&address, message, headers, options, &mut stdout).await?;
        }
        Target::Plugin(plugin) => {
            let rotor =
                Rotor::single(RequestKind::SubscribeStream, &plugin, settings, &cache).await?;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .context("binding a loopback port to serve the stream on")?;
            let address = listener.local_addr()?.to_string();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(rotor.serve(listener, async {
                let _ = stopped.await;
            }));
            let followed =
                cli::stream::follow(&address, message, headers, options, &mut stdout).await;
            // The stream's client is gone; nothing else is served.
            let _ = stop.send(());
            server.abort();
            followed?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn answer<C>(
    kind: RequestKind,
    target: &Target,
    settings: BTreeMap<String, String>,
    cache: &CompileCache,
    text: &str,
    headers: Vec<(String, String)>,
) -> Result<String>
where
    C: cli::remote::ProxyMethod + serde::de::DeserializeOwned,
    C::Response: serde::Serialize,
{
    let message: C = serde_json::from_str(text)
        .with_context(|| format!("the request is not a valid {kind} request in proxy JSON"))?;
    let answered = match target {
        Target::Plugin(plugin) => {
            let rotor = Rotor::single(kind, plugin, settings, cache).await?;
            rotor.answer(message, headers, None).await
        }
        Target::Remote(address) => cli::remote::call(address, message, headers).await?,
    };
    match answered {
        Ok(response) => Ok(serde_json::to_string_pretty(&response)?),
        Err(status) => bail!("{}: {}", status.code(), status.message()),
    }
}
