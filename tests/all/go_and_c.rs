//! Plugins written in Go and C: the examples in `plugins/go-*` and
//! `plugins/c-*`, built with the SDKs in `guest-sdk/go` and `guest-sdk/c`,
//! driven over gRPC with the same assertions as their counterparts in other
//! languages, and checked with `rotor check`.
//!
//! Go needs the go command; C needs clang, wasm-ld and wasi-libc. Without
//! them these tests print a notice and pass, unless `ROTOR_REQUIRE_GUESTS`
//! is set (CI sets it), in which case they fail and say what is missing.
//! Both install wasm-tools, wit-bindgen and the WASI adapter under
//! target/tools on first use (scripts/guest-tools), which takes minutes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use rotor::proto::proxy as pb;
use serde_json::json;

use crate::languages::{
    check, check_header_auth, check_jwt_accepts, check_jwt_refuses, check_rpc_router,
    check_subscribe_acl, error, rpc, start_shared,
};
use crate::support::{ScratchDir, TestServer, json, plugin_dir};

/// The repository's root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `program` runs with `arg` and exits 0.
fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// What a language's toolchain lacks here.
fn missing(language: &str) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if language == "go" {
        if !runs("go", "version") {
            missing.push("go");
        }
    } else {
        if !runs("clang", "--version") {
            missing.push("clang");
        }
        if !runs("wasm-ld", "--version") {
            missing.push("wasm-ld (lld)");
        }
        if !Path::new("/usr/lib/wasm32-wasi/libc.a").exists() {
            missing.push("wasi-libc");
        }
    }
    missing
}

/// Builds the examples of `language` (`go` or `c`) once and returns the
/// folder of built plugins, or `None` (after a notice) when the toolchain is
/// missing and not required.
fn built(
    language: &'static str,
    cell: &'static OnceLock<Option<PathBuf>>,
) -> Option<&'static Path> {
    /// One build at a time: both languages share the tools they install.
    static BUILDING: Mutex<()> = Mutex::new(());
    cell.get_or_init(|| {
        let missing = missing(language);
        if !missing.is_empty() {
            let message = format!(
                "the {language} plugin tests need {} on PATH",
                missing.join(", ")
            );
            assert!(
                std::env::var_os("ROTOR_REQUIRE_GUESTS").is_none(),
                "{message} (ROTOR_REQUIRE_GUESTS is set)"
            );
            eprintln!("skipping: {message}");
            return None;
        }
        // The Rust plugins (test-mirror) come from the common build.
        let dist = plugin_dir().to_path_buf();
        let _building = BUILDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let status = Command::new("bash")
            .arg(root().join("scripts/build-guest-examples"))
            .arg(language)
            .status()
            .expect("running scripts/build-guest-examples");
        assert!(
            status.success(),
            "scripts/build-guest-examples {language} failed"
        );
        Some(dist)
    })
    .as_deref()
}

fn go_dir() -> Option<&'static Path> {
    static DIST: OnceLock<Option<PathBuf>> = OnceLock::new();
    built("go", &DIST)
}

fn c_dir() -> Option<&'static Path> {
    static DIST: OnceLock<Option<PathBuf>> = OnceLock::new();
    built("c", &DIST)
}

/// The server of the Go examples: JWT connect auth and the RPC router.
fn go_server() -> Option<SocketAddr> {
    static ADDRESS: OnceLock<SocketAddr> = OnceLock::new();
    let dist = go_dir()?;
    Some(*ADDRESS.get_or_init(|| {
        start_shared(
            dist,
            r#"
[handlers]
connect = "go-connect-jwt.wasm"
rpc = "go-rpc-router.wasm"
[settings."go-connect-jwt.wasm"]
secret = "e2e-secret"
"#,
        )
    }))
}

/// The server of the C examples: the channel ACL and the RPC router.
fn c_server() -> Option<SocketAddr> {
    static ADDRESS: OnceLock<SocketAddr> = OnceLock::new();
    let dist = c_dir()?;
    Some(*ADDRESS.get_or_init(|| {
        start_shared(
            dist,
            r#"
[handlers]
subscribe = "c-subscribe-acl.wasm"
rpc = "c-rpc-router.wasm"
[settings."c-subscribe-acl.wasm"]
public_namespaces = "news"
"#,
        )
    }))
}

#[tokio::test]
async fn go_connect_jwt_accepts_valid_tokens_with_their_claims() {
    let Some(address) = go_server() else { return };
    check_jwt_accepts(address).await;
}

#[tokio::test]
async fn go_connect_jwt_refuses_bad_signatures_and_expired_tokens() {
    let Some(address) = go_server() else { return };
    check_jwt_refuses(address).await;
}

#[tokio::test]
async fn go_rpc_router_answers_its_methods_and_104_for_others() {
    let Some(address) = go_server() else { return };
    check_rpc_router(address).await;
}

#[tokio::test]
async fn go_header_auth_admits_known_keys_and_names_the_caller() {
    let Some(_) = go_dir() else { return };
    check_header_auth("go-header-auth.wasm").await;
}

#[tokio::test]
async fn c_subscribe_acl_opens_own_and_public_channels_only() {
    let Some(address) = c_server() else { return };
    check_subscribe_acl(address).await;
}

#[tokio::test]
async fn c_rpc_router_answers_its_methods_and_104_for_others() {
    let Some(address) = c_server() else { return };
    check_rpc_router(address).await;
}

/// Asserts that `rotor check` lists exactly `exports` and, of the host
/// interfaces, exactly `imports` for the component `name`.
fn assert_checked(dist: &Path, name: &str, exports: &[&str], imports: &[&str]) {
    let stdout = check(&dist.join(format!("{name}.wasm")));
    for export in [
        "connect-handler",
        "refresh-handler",
        "subscribe-handler",
        "publish-handler",
        "rpc-handler",
        "sub-refresh-handler",
        "interceptor",
    ] {
        assert_eq!(
            stdout.contains(&format!("exports  rotor:centrifugo/{export}@0.1.0")),
            exports.contains(&export),
            "{name} and {export}: {stdout}"
        );
    }
    for host in ["log", "config", "kv", "centrifugo-api"] {
        assert_eq!(
            stdout.contains(&format!("imports  rotor:centrifugo/{host}@0.1.0")),
            imports.contains(&host),
            "{name} and {host}: {stdout}"
        );
    }
}

#[test]
fn check_accepts_the_go_components_and_lists_what_they_use() {
    let Some(dist) = go_dir() else { return };
    assert_checked(
        dist,
        "go-connect-jwt",
        &["connect-handler"],
        &["log", "config"],
    );
    assert_checked(dist, "go-header-auth", &["interceptor"], &["log", "config"]);
    assert_checked(dist, "go-rpc-router", &["rpc-handler"], &[]);
}

#[test]
fn check_accepts_the_c_components_and_lists_what_they_use() {
    let Some(dist) = c_dir() else { return };
    assert_checked(dist, "c-subscribe-acl", &["subscribe-handler"], &["config"]);
    assert_checked(dist, "c-rpc-router", &["rpc-handler"], &[]);
}

/// Runs `go` with `args` in `dir` and asserts it succeeds.
fn go(dir: &Path, args: &[&str]) {
    let output = Command::new("go")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running go");
    assert!(
        output.status.success(),
        "go {} in {}:\n{}{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn go_sdk_and_example_unit_tests_pass() {
    let Some(_) = go_dir() else { return };
    let mut dirs = vec![root().join("guest-sdk/go")];
    for entry in std::fs::read_dir(root().join("plugins")).expect("plugins/") {
        let path = entry.expect("an entry").path();
        if path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("go-"))
        {
            dirs.push(path);
        }
    }
    for dir in dirs {
        go(&dir, &["vet", "./..."]);
        go(&dir, &["test", "./..."]);
    }
}

/// Builds `source` as `file` (main.go for Go, a .c file for C), the only
/// file of a plugin, into `dir`; returns whether it built and the stderr.
fn build_one(dir: &Path, file: &str, source: &str) -> (bool, String) {
    let input = dir.join(file);
    std::fs::write(&input, source).expect("writing the plugin");
    let builder = if file.ends_with(".go") {
        "guest-sdk/go/rotor-build"
    } else {
        "guest-sdk/c/rotor-build"
    };
    let output = Command::new(root().join(builder))
        .arg(&input)
        .arg("-o")
        .arg(dir.join("plugin.wasm"))
        .output()
        .expect("running rotor-build");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn builders_refuse_plugins_that_register_no_handler() {
    if go_dir().is_some() {
        let dir = ScratchDir::new();
        let (built, stderr) = build_one(
            dir.path(),
            "main.go",
            "package main\n\nimport _ \"rotor.dev/rotor\"\n\nfunc main() {}\n",
        );
        assert!(!built, "{stderr}");
        assert!(stderr.contains("registers no handler"), "{stderr}");
    }
    if c_dir().is_some() {
        let dir = ScratchDir::new();
        let (built, stderr) = build_one(dir.path(), "plugin.c", "#include \"rotor.h\"\n");
        assert!(!built, "{stderr}");
        assert!(stderr.contains("registers no handler"), "{stderr}");
    }
}

/// A Go plugin, built in the test from one main.go, whose RPC methods end
/// the call in each way the SDK maps, and count in the kv store.
const GO_OUTCOMES: &str = r#"package main

import (
	"errors"
	"strconv"

	"rotor.dev/rotor"
	"rotor.dev/rotor/kv"
)

func init() {
	rotor.RPC(func(request rotor.RPCRequest) (rotor.RPCResult, error) {
		switch request.Method {
		case "plain":
			return rotor.RPCResult{}, errors.New("not a rotor error")
		case "panic":
			panic("the handler panicked")
		case "retry":
			return rotor.RPCResult{}, rotor.Reject(1004, "busy").Retry()
		case "wrapped":
			return rotor.RPCResult{}, errors.Join(errors.New("context"), rotor.PermissionDenied())
		case "disconnect":
			return rotor.RPCResult{}, rotor.Disconnect(4001, "bye")
		case "count":
			count, err := kv.Increment("calls", 1, 0)
			if err != nil {
				return rotor.RPCResult{}, err
			}
			return rotor.RPCResult{Data: []byte(strconv.FormatInt(count, 10))}, nil
		}
		return rotor.RPCResult{}, rotor.MethodNotFound()
	})
}

func main() {}
"#;

#[tokio::test]
async fn go_errors_map_to_replies_and_other_failures_to_internal_errors() {
    let Some(_) = go_dir() else { return };
    let dir = ScratchDir::new();
    let (built, stderr) = build_one(dir.path(), "main.go", GO_OUTCOMES);
    assert!(built, "{stderr}");
    let stdout = check(&dir.path().join("plugin.wasm"));
    assert!(
        stdout.contains("imports  rotor:centrifugo/kv@0.1.0")
            && !stdout.contains("imports  rotor:centrifugo/log@0.1.0"),
        "{stdout}"
    );
    let config = format!(
        "[plugins]\ndir = {:?}\n[handlers]\nrpc = \"plugin.wasm\"\n",
        dir.path().display().to_string()
    );
    let mut server = TestServer::start_in(dir, &config).await;
    let client = &mut server.client;

    for method in ["plain", "panic"] {
        let response = rpc(client, method, b"{}", &[]).await;
        assert_eq!(response.error, crate::support::internal_error(), "{method}");
        assert_eq!(response.result, None, "{method}");
    }
    let response = rpc(client, "retry", b"{}", &[]).await;
    assert_eq!(response.error, error(1004, "busy", true));
    let response = rpc(client, "wrapped", b"{}", &[]).await;
    assert_eq!(response.error, error(103, "permission denied", false));
    let response = rpc(client, "disconnect", b"{}", &[]).await;
    assert_eq!(
        response.disconnect,
        Some(pb::Disconnect {
            code: 4001,
            reason: "bye".into()
        })
    );
    // Each call is a fresh instance; the count lives in the host's store.
    for expected in 1..=3 {
        let response = rpc(client, "count", b"{}", &[]).await;
        let data = response.result.expect("count answers").data;
        assert_eq!(json(&data), json!(expected));
    }
}

/// Reused instances of a Go and a C plugin answer call after call, each
/// with its own arguments: nothing of one call's request or reply leaks into
/// the next.
#[tokio::test]
async fn reused_go_and_c_instances_keep_answering() {
    for (dist, router) in [
        (go_dir(), "go-rpc-router.wasm"),
        (c_dir(), "c-rpc-router.wasm"),
    ] {
        if dist.is_none() {
            continue;
        }
        let server = TestServer::start(&format!(
            "[handlers]\nrpc = \"{router}\"\n[isolation.\"{router}\"]\nmode = \"reuse\"\nmax_idle = 1\n"
        ))
        .await;
        for call in 1..=200_u64 {
            let numbers = vec![call; usize::try_from(call).expect("small")];
            let data = json!({ "numbers": numbers }).to_string();
            let response = server.rpc("sum", data.as_bytes(), &[]).await;
            let result = response
                .result
                .unwrap_or_else(|| panic!("{router}, call {call}: {:?}", response.error));
            assert_eq!(
                json(&result.data),
                json!({"sum": call * call}),
                "{router}, call {call}"
            );
        }
    }
}
