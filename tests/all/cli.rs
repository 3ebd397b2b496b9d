//! The `rotor` command line: `check` and `call` on real components.

use std::process::Command;

use crate::support::{ScratchDir, plugin};

fn rotor(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_rotor"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running rotor");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_lists_exports_and_imports() {
    let mirror = plugin("test-mirror");
    let (ok, stdout, stderr) = rotor(&["check", mirror.to_str().expect("a UTF-8 path")]);
    assert!(ok, "{stdout}{stderr}");
    for interface in [
        "connect-handler",
        "refresh-handler",
        "subscribe-handler",
        "publish-handler",
        "rpc-handler",
        "sub-refresh-handler",
    ] {
        assert!(
            stdout.contains(&format!("exports  rotor:centrifugo/{interface}@0.1.0")),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("imports  rotor:centrifugo/types@0.1.0"),
        "{stdout}"
    );
}

#[test]
fn check_rejects_what_is_not_a_component() {
    let dir = ScratchDir::new();
    let bogus = dir.path().join("bogus.wasm");
    std::fs::write(&bogus, b"\0asm but not really").expect("writing");
    let (ok, stdout, _) = rotor(&["check", bogus.to_str().expect("a UTF-8 path")]);
    assert!(!ok);
    assert!(stdout.contains("invalid"), "{stdout}");
}

#[test]
fn call_runs_one_request_and_prints_json() {
    let router = plugin("rpc-router");
    let (ok, stdout, stderr) = rotor(&[
        "call",
        "rpc",
        "--plugin",
        router.to_str().expect("a UTF-8 path"),
        "--request",
        r#"{"user":"42","method":"sum","data":{"numbers":[1,2,3.5]}}"#,
    ]);
    assert!(ok, "{stdout}{stderr}");
    let reply: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(reply["result"]["data"]["sum"], 6.5, "{stdout}");

    let (ok, stdout, _) = rotor(&[
        "call",
        "rpc",
        "--plugin",
        router.to_str().expect("a UTF-8 path"),
        "--request",
        r#"{"method":"nope"}"#,
    ]);
    assert!(ok);
    let reply: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(reply["error"]["code"], 104, "{stdout}");
}

#[test]
fn call_refuses_a_plugin_without_the_handler() {
    let router = plugin("rpc-router");
    let (ok, _, stderr) = rotor(&[
        "call",
        "connect",
        "--plugin",
        router.to_str().expect("a UTF-8 path"),
    ]);
    assert!(!ok);
    assert!(stderr.contains("connect-handler"), "{stderr}");
}

#[test]
fn check_with_a_config_shows_each_tenants_routes_and_modes() {
    let dir = ScratchDir::new();
    let config = dir.path().join("rotor.toml");
    std::fs::write(
        &config,
        format!(
            r#"
            [plugins]
            dir = {:?}
            cache = false
            [tenancy]
            by = "metadata"
            [tenants.shop]
            dir = "."
            handlers = {{ rpc = "rpc-router.wasm" }}
            interceptors = {{ rpc = ["test-interceptor.wasm"] }}
            isolation = {{ "test-interceptor.wasm" = {{ mode = "reuse" }} }}
            limits = {{ concurrency = 7 }}
            "#,
            crate::support::plugin_dir().display().to_string()
        ),
    )
    .expect("writing the config");
    let (ok, stdout, stderr) = rotor(&["check", "--config", config.to_str().expect("UTF-8")]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("tenant shop (grants: log, config, kv)"),
        "{stdout}"
    );
    assert!(stdout.contains("concurrency 7"), "{stdout}");
    assert!(stdout.contains("shop/rpc-router.wasm (fresh)"), "{stdout}");
    assert!(
        stdout.contains("shop/test-interceptor.wasm (reuse)"),
        "{stdout}"
    );

    // A config whose plugin lacks the export its route needs fails, naming it.
    std::fs::write(
        &config,
        format!(
            "[plugins]\ndir = {:?}\n[handlers]\nconnect = \"rpc-router.wasm\"\n",
            crate::support::plugin_dir().display().to_string()
        ),
    )
    .expect("writing the config");
    let (ok, stdout, stderr) = rotor(&["check", "--config", config.to_str().expect("UTF-8")]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("connect-handler"), "{stderr}");
}
