//! What the `rotor` command says when something is wrong, and how it logs:
//! each error says what is wrong once, names the config key where there is
//! one, and comes before any line that suggests success; logs are coloured
//! only on a terminal. Also `rotor call`'s request checks, its compile cache
//! and `--to`.

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::{ScratchDir, plugin, plugin_dir};

/// Runs `rotor` with `args` at log level `level`, with `NO_COLOR` unset.
fn rotor(args: &[&str], level: &str) -> (bool, String, String) {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_rotor"))
        .args(args)
        .env("RUST_LOG", level)
        .env_remove("NO_COLOR")
        .output()
        .expect("running rotor");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn path(path: &std::path::Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

#[test]
fn a_missing_export_is_said_once_and_call_names_no_config_key() {
    let router = plugin("rpc-router");
    let (ok, _, stderr) = rotor(&["call", "subscribe", "--plugin", path(&router)], "warn");
    assert!(!ok);
    assert_eq!(stderr.matches("does not export").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("it exports").count(), 1, "{stderr}");
    assert!(stderr.contains("subscribe-handler"), "{stderr}");
    assert!(stderr.contains("rpc-router.wasm"), "{stderr}");
    assert!(
        !stderr.contains("handlers."),
        "no config is involved: {stderr}"
    );
}

#[test]
fn a_missing_export_in_a_config_names_its_key_once() {
    let dir = ScratchDir::new();
    let config = dir.path().join("rotor.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins]\ndir = {:?}\ncache = false\n[handlers]\nconnect = \"rpc-router.wasm\"\n",
            path(plugin_dir())
        ),
    )
    .expect("writing the config");
    let (ok, _, stderr) = rotor(&["check", "--config", path(&config)], "warn");
    assert!(!ok);
    assert_eq!(stderr.matches("does not export").count(), 1, "{stderr}");
    assert!(stderr.contains("`handlers.connect"), "{stderr}");
}

/// A config that serves the RPC router on `listen`, with an admin listener
/// on `admin`.
fn serve_config(dir: &ScratchDir, listen: &str, admin: &str) -> String {
    let config = dir.path().join("rotor.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{listen}\"\n[admin]\nlisten = \"{admin}\"\n[plugins]\ndir = {:?}\ncache = false\n[handlers]\nrpc = \"rpc-router.wasm\"\n",
            path(plugin_dir())
        ),
    )
    .expect("writing the config");
    path(&config).to_owned()
}

/// Runs `rotor serve` on a config whose port is taken: it must fail at once,
/// saying so before anything else.
fn serve_on_a_taken_port(listen: &str, admin: &str, key: &str) {
    let dir = ScratchDir::new();
    let config = serve_config(&dir, listen, admin);
    let started = Instant::now();
    let (ok, _, stderr) = rotor(&["serve", "--config", &config], "info");
    assert!(!ok, "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "the error is the only line:\n{stderr}");
    assert!(lines[0].starts_with("error: cannot listen on"), "{stderr}");
    assert!(lines[0].contains(&format!("(`{key}`)")), "{stderr}");
    let os_error = std::io::Error::from(std::io::ErrorKind::AddrInUse).to_string();
    let said = lines[0].to_lowercase().matches("in use").count();
    assert_eq!(said, 1, "the OS error ({os_error}) once: {stderr}");
}

#[test]
fn a_taken_proxy_port_names_listen_once_before_anything_else() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("binding loopback");
    let address = taken.local_addr().expect("an address").to_string();
    serve_on_a_taken_port(&address, "127.0.0.1:0", "listen");
}

#[test]
fn a_taken_admin_port_names_admin_listen_before_plugins_load() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("binding loopback");
    let address = taken.local_addr().expect("an address").to_string();
    serve_on_a_taken_port("127.0.0.1:0", &address, "admin.listen");
}

#[test]
fn a_misspelt_request_field_is_an_error_naming_it_before_any_compilation() {
    let router = plugin("rpc-router");
    let (ok, _, stderr) = rotor(
        &[
            "call",
            "rpc",
            "--plugin",
            path(&router),
            "--request",
            r#"{"usr":"42","method":"sum"}"#,
        ],
        "warn",
    );
    assert!(!ok);
    assert!(stderr.contains("unknown field `usr`"), "{stderr}");

    // The request is read first: a bad one is reported even when the
    // component does not exist.
    let (ok, _, stderr) = rotor(
        &[
            "call",
            "rpc",
            "--plugin",
            "no-such-plugin.wasm",
            "--request",
            "{not json",
        ],
        "warn",
    );
    assert!(!ok);
    assert!(stderr.contains("not a valid rpc request"), "{stderr}");
    assert!(!stderr.contains("no-such-plugin"), "{stderr}");
}

#[test]
fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let router = plugin("rpc-router");
    let (ok, _, stderr) = rotor(
        &[
            "call",
            "rpc",
            "--plugin",
            path(&router),
            "--cache",
            "off",
            "--request",
            r#"{"method":"echo"}"#,
        ],
        "info",
    );
    assert!(ok, "{stderr}");
    assert!(stderr.contains("INFO"), "some log lines: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in a pipe: {stderr:?}"
    );
}

#[test]
fn check_and_call_keep_compiled_components_in_the_cache() {
    let cache = ScratchDir::new();
    let mirror = plugin("test-mirror");
    let check = || {
        rotor(
            &["check", "--cache", path(cache.path()), path(&mirror)],
            "warn",
        )
    };
    let (ok, first, stderr) = check();
    assert!(ok, "{stderr}");
    assert!(first.contains(": ok (compiled in"), "{first}");
    let (ok, second, stderr) = check();
    assert!(ok, "{stderr}");
    assert!(
        second.contains(": ok (loaded from the compile cache in"),
        "{second}"
    );

    // `call` uses the same cache, with the same engine settings: what a
    // call compiled, `check` then loads.
    let router = plugin("rpc-router");
    let (ok, stdout, stderr) = rotor(
        &[
            "call",
            "rpc",
            "--plugin",
            path(&router),
            "--cache",
            path(cache.path()),
            "--request",
            r#"{"method":"sum","data":{"numbers":[1,2,3]}}"#,
        ],
        "warn",
    );
    assert!(ok, "{stderr}");
    let reply: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(reply["result"]["data"]["sum"], 6, "{stdout}");
    let (ok, stdout, stderr) = rotor(
        &["check", "--cache", path(cache.path()), path(&router)],
        "warn",
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(": ok (loaded from the compile cache in"),
        "{stdout}"
    );
}

#[test]
fn check_explains_the_wasi_imports_a_guest_gets_nothing_from() {
    let router = plugin("rpc-router");
    let (ok, stdout, stderr) = rotor(&["check", "--cache", "off", path(&router)], "warn");
    assert!(ok, "{stderr}");
    let environment = stdout
        .lines()
        .find(|line| line.contains("imports  wasi:cli/environment"))
        .unwrap_or_else(|| panic!("a Rust component imports the environment: {stdout}"));
    assert!(environment.contains("(empty"), "{environment}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_to_sends_the_request_to_a_running_rotor() {
    let dir = ScratchDir::new();
    let config_path = dir.path().join("rotor.toml");
    std::fs::write(
        &config_path,
        format!(
            "[plugins]\ndir = {:?}\ncache = false\n[handlers]\nrpc = \"rpc-router.wasm\"\n",
            path(plugin_dir())
        ),
    )
    .expect("writing the config");
    let config = rotor::Config::from_file(&config_path).expect("a valid config");
    let server = rotor::Rotor::new(&config).await.expect("Rotor starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding loopback");
    let address = listener.local_addr().expect("an address").to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));

    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || {
        rotor(
            &[
                "call",
                "rpc",
                "--to",
                &address,
                "--request",
                r#"{"user":"42","method":"whoami"}"#,
            ],
            "warn",
        )
    })
    .await
    .expect("the command ran");
    let _ = stop.send(());
    let _ = served.await;
    assert!(ok, "{stderr}");
    let reply: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(reply["result"]["data"]["user"], "42", "{stdout}");
}
