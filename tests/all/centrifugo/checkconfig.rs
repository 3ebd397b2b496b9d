//! Every Centrifugo config the repository ships passes the real
//! Centrifugo's own check, strict about unknown keys, so a misspelt key (which
//! Centrifugo would otherwise only warn about at start) fails here.

use std::path::Path;
use std::process::Command;

use super::{centrifugo_binary, root};
use crate::support::ScratchDir;

/// `centrifugo checkconfig --strict` on `path`: whether it passed, and what
/// it printed.
fn checkconfig(binary: &Path, path: &Path) -> (bool, String) {
    let output = Command::new(binary)
        .args(["checkconfig", "--strict", "--config"])
        .arg(path)
        .output()
        .expect("running centrifugo checkconfig");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

/// The shipped configs, relative to the repository's root.
const SHIPPED: [&str; 3] = [
    "deploy/centrifugo.json",
    "deploy/compose/centrifugo.json",
    "deploy/kubernetes/examples/centrifugo.json",
];

#[test]
fn every_shipped_centrifugo_config_passes_checkconfig() {
    let Some(binary) = centrifugo_binary() else {
        return;
    };
    for file in SHIPPED {
        let (passed, printed) = checkconfig(binary, &root().join(file));
        assert!(passed, "{file}: centrifugo checkconfig --strict: {printed}");
    }
}

/// The check itself can fail: an unknown key and an invalid value are
/// refused, so the test above means something.
#[test]
fn checkconfig_refuses_an_unknown_key_and_an_invalid_proxy() {
    let Some(binary) = centrifugo_binary() else {
        return;
    };
    let dir = ScratchDir::new();
    let cases = [
        (
            "static_metadata outside the proxy's grpc object",
            r#"{"rpc": {"proxy": {"endpoint": "grpc://127.0.0.1:1", "timeout": "1s", "static_metadata": {"x-rotor-tenant": "a"}}}}"#,
        ),
        (
            "a namespace that enables a proxy without an endpoint",
            r#"{"channel": {"namespaces": [{"name": "chat", "subscribe_proxy_enabled": true}]}}"#,
        ),
    ];
    for (what, text) in cases {
        let path = dir.path().join("config.json");
        std::fs::write(&path, text).expect("writing a config");
        let (passed, printed) = checkconfig(binary, &path);
        assert!(!passed, "{what}: checkconfig passed: {printed}");
    }
}
