//! The `rotor` command line: `check` and `call` on real components.

use std::process::Command;

use crate::support::{ScratchDir, plugin};

fn rotor(args: &[&str]) -> (bool, String, String) {
    rotor_logging(args, "warn")
}

fn rotor_logging(args: &[&str], level: &str) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_rotor"))
        .args(args)
        .env("RUST_LOG", level)
        .env("NO_COLOR", "1")
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

#[test]
fn json_logs_carry_the_calls_span_and_trace_context() {
    let faulty = plugin("test-faulty");
    // The call span is an `info` span: at `warn`, fault lines carry their own
    // fields only.
    let (_, stdout, stderr) = rotor_logging(
        &[
            "--log-format",
            "json",
            "call",
            "rpc",
            "--plugin",
            faulty.to_str().expect("a UTF-8 path"),
            "--request",
            r#"{"method":"trap"}"#,
            "--header",
            "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ],
        "info",
    );
    assert!(stdout.contains("\"code\": 100"), "{stdout}");
    let line = stderr
        .lines()
        .find(|line| line.contains("plugin failed"))
        .unwrap_or_else(|| panic!("a fault log line: {stderr}"));
    let logged: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    let span = &logged["span"];
    assert_eq!(span["name"], "call");
    assert_eq!(span["kind"], "rpc");
    assert_eq!(span["tenant"], "default");
    assert_eq!(span["plugin"], "test-faulty.wasm");
    assert_eq!(span["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(span["parent_id"], "00f067aa0ba902b7");
    assert_eq!(span["version"].as_str().map(str::len), Some(12));
}

/// `rotor call subscribe_stream --stream` on the Rust stream ticker, with
/// `stdin` written to its standard input (then closed): its exit status,
/// its lines of JSON and its standard error.
fn follow_ticker(args: &[&str], stdin: &str) -> (bool, Vec<serde_json::Value>, String) {
    use std::io::Write as _;
    use std::process::Stdio;

    let ticker = plugin("stream-ticker");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rotor"))
        .args(["call", "subscribe_stream", "--stream", "--plugin"])
        .arg(&ticker)
        .args(args)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running rotor");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("writing to rotor");
    let output = child.wait_with_output().expect("rotor ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line:?}")))
        .collect();
    (
        output.status.success(),
        lines,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn call_stream_prints_the_reply_then_each_tick_as_it_arrives() {
    let started = std::time::Instant::now();
    let (ok, lines, stderr) = follow_ticker(
        &[
            "--request",
            r#"{"user":"42","channel":"ticks:a"}"#,
            "--setting",
            "interval_ms=100",
            "--for",
            "1500ms",
        ],
        "",
    );
    assert!(ok, "{stderr}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(1500));
    let (reply, ticks) = lines.split_first().expect("the reply first");
    assert!(reply["result"].is_object(), "{reply}");
    assert!(reply["error"].is_null(), "{reply}");
    // One tick per 100 ms from the open on, in order; the compile before
    // the open leaves some of the 1.5 s, and the test machine may be busy.
    assert!(ticks.len() >= 3 && ticks.len() <= 15, "{lines:?}");
    for (n, tick) in (1..).zip(ticks) {
        assert_eq!(
            tick["data"],
            serde_json::json!({"tick": n, "channel": "ticks:a"}),
            "{lines:?}"
        );
    }
}

#[test]
fn call_stream_bidirectional_sends_standard_input_as_client_data() {
    // No ticks within the time: only the echoes come back. The end of
    // standard input does not end the stream; `--for` does.
    let (ok, lines, stderr) = follow_ticker(
        &[
            "--bidirectional",
            "--request",
            r#"{"user":"42","channel":"chat:a"}"#,
            "--setting",
            "interval_ms=600000",
            "--for",
            "2s",
        ],
        "{\"text\":\"hi\"}\n\"again\"\n",
    );
    assert!(ok, "{stderr}");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0]["result"].is_object(), "{lines:?}");
    assert_eq!(
        lines[1]["data"],
        serde_json::json!({"echo": {"text": "hi"}})
    );
    assert_eq!(lines[2]["data"], serde_json::json!({"echo": "again"}));
}

#[test]
fn call_stream_stops_when_the_stream_ends() {
    // The ticker refuses anonymous clients: the reply, then the end of the
    // stream, well before `--for`.
    let started = std::time::Instant::now();
    let (ok, lines, stderr) = follow_ticker(
        &["--request", r#"{"channel":"ticks:a"}"#, "--for", "60s"],
        "",
    );
    assert!(ok, "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["error"]["code"], 103, "{lines:?}");
}

#[test]
fn call_says_how_to_follow_a_stream() {
    let ticker = plugin("stream-ticker");
    let ticker = ticker.to_str().expect("a UTF-8 path");
    let (ok, _, stderr) = rotor(&["call", "subscribe_stream", "--plugin", ticker]);
    assert!(!ok);
    assert!(stderr.contains("--stream"), "{stderr}");
    let router = plugin("rpc-router");
    let (ok, _, stderr) = rotor(&[
        "call",
        "rpc",
        "--stream",
        "--plugin",
        router.to_str().expect("a UTF-8 path"),
    ]);
    assert!(!ok);
    assert!(stderr.contains("subscribe_stream"), "{stderr}");
    let (ok, _, stderr) = rotor(&[
        "call",
        "subscribe_stream",
        "--stream",
        "--for",
        "soon",
        "--plugin",
        ticker,
    ]);
    assert!(!ok);
    assert!(stderr.contains("soon"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_stream_to_follows_a_stream_of_a_running_rotor() {
    let server = crate::support::TestServer::start(
        "[handlers]\nsubscribe_stream = \"stream-ticker.wasm\"\n[settings.\"stream-ticker.wasm\"]\ninterval_ms = \"100\"\n",
    )
    .await;
    let address = server.address.to_string();
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || {
        rotor(&[
            "call",
            "subscribe_stream",
            "--stream",
            "--to",
            &address,
            "--for",
            "1s",
            "--request",
            r#"{"user":"42","channel":"ticks:b"}"#,
        ])
    })
    .await
    .expect("the command ran");
    assert!(ok, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert!(lines[0]["result"].is_object(), "{stdout}");
    assert!(lines.len() >= 4, "the reply and a few ticks: {stdout}");
    assert_eq!(
        lines[1]["data"],
        serde_json::json!({"tick": 1, "channel": "ticks:b"})
    );
}
