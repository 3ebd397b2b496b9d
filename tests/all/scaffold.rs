//! `rotor new`: projects of every kind build outside the repository with the
//! command `rotor new` prints, and answer the request it suggests.
//!
//! Every Rust template is built (they share one target folder, so only the
//! first build compiles the SDK's dependencies); JavaScript and Python are
//! built for one kind each, beside the README walkthroughs that build others.

use std::path::Path;

use serde_json::Value;

use crate::support::ScratchDir;
use crate::walkthrough::{Ran, RotorOnPath, run_as_user, tools_present};

/// Runs `command` in `dir` as a user would and fails the test if it fails.
fn run(command: &str, dir: &Path, bin: &RotorOnPath) -> Ran {
    let ran = run_as_user(command, dir, bin);
    assert!(
        ran.ok,
        "`{command}` failed\nstdout:\n{}\nstderr:\n{}",
        ran.stdout, ran.stderr
    );
    ran
}

/// Writes a project with `rotor new KIND --lang LANGUAGE NAME` in `dir`,
/// builds it with the command `rotor new` prints, and returns the command
/// it suggests to try it.
fn new_and_build(
    kind: &str,
    language: &str,
    name: &str,
    dir: &Path,
    env: &str,
    bin: &RotorOnPath,
) -> String {
    let written = run(
        &format!("rotor new {kind} --lang {language} {name}"),
        dir,
        bin,
    );
    let line = |prefix: &str| {
        written
            .stdout
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
            .unwrap_or_else(|| panic!("`rotor new` says no `{prefix}`:\n{}", written.stdout))
            .to_owned()
    };
    let build = line("build it:");
    let built = run(&format!("{env}{build}"), dir, bin);
    eprintln!("{language} {kind}: `{build}` took {:.1?}", built.took);
    assert!(dir.join(name).join(format!("{name}.wasm")).is_file());
    line("try it:")
}

/// Whether a reply accepts the call: no error and no disconnect. (A
/// publish accepted as it is has no result either.)
fn accepted(reply: &Value) -> bool {
    reply["error"].is_null() && reply["disconnect"].is_null()
}

fn json(ran: &Ran) -> Value {
    serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|error| panic!("not JSON ({error}):\n{}", ran.stdout))
}

/// What a stream template's `rotor call --stream` printed, one JSON value a
/// line, after asserting that the stream was accepted and then sent
/// `{"count":1}`, `{"count":2}`, … in order: at least one within the
/// suggested `--for`.
fn assert_counts(ran: &Ran) {
    let lines: Vec<Value> = ran
        .stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
        })
        .collect();
    let (reply, counts) = lines
        .split_first()
        .unwrap_or_else(|| panic!("no reply: {}", ran.stdout));
    assert!(accepted(reply), "{reply}");
    assert!(!counts.is_empty(), "no publication: {}", ran.stdout);
    for (n, publication) in (1..).zip(counts) {
        assert_eq!(
            publication["data"],
            serde_json::json!({"count": n}),
            "{}",
            ran.stdout
        );
    }
}

#[test]
fn every_rust_template_builds_and_answers() {
    if !tools_present(
        "building Rust templates",
        &[&["cargo", "--version"], &["rustup", "--version"]],
    ) {
        return;
    }
    let bin = RotorOnPath::new();
    let scratch = ScratchDir::new();
    // One target folder for every template, kept between runs.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/scaffold-rust");
    let env = format!("CARGO_TARGET_DIR='{}' ", target.display());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    for kind in [
        "connect",
        "refresh",
        "subscribe",
        "publish",
        "rpc",
        "sub_refresh",
        "subscribe_stream",
        "interceptor",
    ] {
        let name = format!("rs-{}", kind.replace('_', "-"));
        let try_it = new_and_build(kind, "rust", &name, scratch.path(), &env, &bin);
        let answer = run(&try_it, scratch.path(), &bin);
        if kind == "interceptor" {
            assert!(
                answer
                    .stdout
                    .contains("exports  rotor:centrifugo/interceptor@0.1.0"),
                "{}",
                answer.stdout
            );
            continue;
        }
        if kind == "subscribe_stream" {
            assert_counts(&answer);
            continue;
        }
        let reply = json(&answer);
        assert!(accepted(&reply), "{kind}: {reply}");
        let result = &reply["result"];
        match kind {
            "connect" => assert_eq!(result["user"], "42", "{reply}"),
            "refresh" | "sub_refresh" => {
                let expires = result["expire_at"].as_u64().unwrap_or_default();
                assert!(expires > now + 3000, "{kind}: {reply}");
            }
            "rpc" => assert_eq!(result["data"], serde_json::json!({"hello": "42"})),
            _ => {}
        }
    }
    // A refusal, to see the template decide rather than accept everything.
    let refused = run(
        r#"rotor call publish --plugin rs-publish/rs-publish.wasm --request '{"data":{"text":""}}'"#,
        scratch.path(),
        &bin,
    );
    assert_eq!(json(&refused)["error"]["code"], 107, "{}", refused.stdout);
}

#[test]
fn a_javascript_project_builds_and_answers() {
    if !tools_present(
        "building a JavaScript template",
        &[&["node", "--version"], &["npm", "--version"]],
    ) {
        return;
    }
    let bin = RotorOnPath::new();
    let scratch = ScratchDir::new();
    let try_it = new_and_build("connect", "js", "js-auth", scratch.path(), "", &bin);
    assert!(try_it.contains("--header x-user-id=42"), "{try_it}");
    let reply = json(&run(&try_it, scratch.path(), &bin));
    assert_eq!(reply["result"]["user"], "42", "{reply}");
    let refused = json(&run(
        "rotor call connect --plugin js-auth/js-auth.wasm",
        scratch.path(),
        &bin,
    ));
    assert_eq!(refused["error"]["code"], 101, "{refused}");
}

#[test]
fn a_python_project_builds_and_answers() {
    if !tools_present(
        "building a Python template",
        &[&["python3", "-m", "venv", "--help"]],
    ) {
        return;
    }
    let bin = RotorOnPath::new();
    let scratch = ScratchDir::new();
    let try_it = new_and_build("publish", "python", "py-check", scratch.path(), "", &bin);
    let reply = json(&run(&try_it, scratch.path(), &bin));
    assert!(accepted(&reply), "{reply}");
    let refused = json(&run(
        r#"rotor call publish --plugin py-check/py-check.wasm --request '{"data":{"text":"   "}}'"#,
        scratch.path(),
        &bin,
    ));
    assert_eq!(refused["error"]["code"], 107, "{refused}");
}

#[test]
fn a_typescript_stream_project_builds_and_streams() {
    if !tools_present(
        "building a TypeScript stream template",
        &[&["node", "--version"], &["npm", "--version"]],
    ) {
        return;
    }
    let bin = RotorOnPath::new();
    let scratch = ScratchDir::new();
    let try_it = new_and_build(
        "subscribe_stream",
        "ts",
        "ts-ticks",
        scratch.path(),
        "",
        &bin,
    );
    assert!(try_it.contains("--stream"), "{try_it}");
    assert_counts(&run(&try_it, scratch.path(), &bin));
}

#[test]
fn a_python_stream_project_builds_and_streams() {
    if !tools_present(
        "building a Python stream template",
        &[&["python3", "-m", "venv", "--help"]],
    ) {
        return;
    }
    let bin = RotorOnPath::new();
    let scratch = ScratchDir::new();
    let try_it = new_and_build(
        "subscribe-stream",
        "python",
        "py-ticks",
        scratch.path(),
        "",
        &bin,
    );
    assert_counts(&run(&try_it, scratch.path(), &bin));
    // Anonymous users are refused: the reply, then the end of the stream.
    let refused = run(
        "rotor call subscribe_stream --stream --for 30s --plugin py-ticks/py-ticks.wasm",
        scratch.path(),
        &bin,
    );
    assert_eq!(json(&refused)["error"]["code"], 103, "{}", refused.stdout);
}

#[test]
fn new_refuses_a_folder_with_files_and_says_so_once() {
    let bin = RotorOnPath::new();
    let scratch = ScratchDir::new();
    std::fs::create_dir(scratch.path().join("taken")).expect("a folder");
    std::fs::write(scratch.path().join("taken/notes.txt"), "mine").expect("a file");
    let ran = run_as_user("rotor new rpc --lang rust taken", scratch.path(), &bin);
    assert!(!ran.ok);
    assert_eq!(
        ran.stderr.trim(),
        "error: taken is not empty: name a new folder",
        "{}",
        ran.stderr
    );
    assert_eq!(
        std::fs::read_to_string(scratch.path().join("taken/notes.txt")).expect("kept"),
        "mine"
    );
}
