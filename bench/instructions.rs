//! Instructions per call of `Rotor::answer`: the figures the CI guard
//! (`scripts/instruction-guard`) holds to `bench/budget.json`.
//!
//! Each case builds a Rotor in process, warms it up with a few calls, then
//! makes `--calls` steady calls. The `bare-` cases make the same calls of
//! the same component through a bare wasmtime embedding instead
//! (`bare.rs`): the guard reports them beside the matching Rotor case, and
//! the difference is Rotor's own path; they are not held to the budget,
//! since they count wasmtime, not Rotor. The guard runs a case twice under callgrind,
//! with N and 2N calls, and divides the difference of the two totals by N:
//! what both runs share cancels out. Every call is made on the main thread
//! (a current-thread runtime), so the guard reads that thread's count alone
//! and leaves out the epoch ticker's. Instruction counts repeat from run to
//! run and do not depend on what else the machine is doing, unlike times.
//!
//! ```sh
//! scripts/instruction-guard                 # measure and compare with the budget
//! cargo bench --bench instructions          # without valgrind: times per call only
//! ```
//!
//! Arguments: `--calls N` (calls measured per case, default 200),
//! `--plugins DIR` (the built components, default `plugins/dist`),
//! `--cache DIR` (the compile cache, so that a run under valgrind loads
//! the components instead of compiling them).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use hmac_sha2::Sha256;
use rotor::proto::proxy as pb;
use rotor::{Config, Rotor};
use tokio::runtime::Runtime;

use crate::bare::{BareRpc, Mode};

mod bare;

/// Calls made before the measured ones: the first instance of each
/// component, lazily built metrics and the like are not steady state.
const WARMUP_CALLS: usize = 20;
/// The token's signing key.
const SECRET: &str = "rotor-instructions-hs256-secret";
/// A fixed expiry far ahead (2100-01-01), so every run signs the same token.
const EXPIRES: i64 = 4_102_444_800;

/// One measured case: a configuration and the call it answers, by Rotor
/// or, in `bare` mode, by a bare wasmtime embedding of the handler under
/// the same configuration's pool.
struct Case {
    name: &'static str,
    config: String,
    call: Message,
    bare: Option<Mode>,
}

/// The request of a case.
#[derive(Clone)]
enum Message {
    Rpc(pb::RpcRequest),
    Connect(pb::ConnectRequest),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("instructions: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut calls = 200;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut plugins = root.join("plugins/dist");
    let mut cache: Option<PathBuf> = None;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} takes a value"));
        match arg.as_str() {
            "--calls" => {
                calls = value()?
                    .parse()
                    .map_err(|error| format!("--calls: {error}"))?;
            }
            "--plugins" => plugins = PathBuf::from(value()?),
            "--cache" => cache = Some(PathBuf::from(value()?)),
            "--case" => only = Some(value()?),
            // What `cargo bench` passes to every bench target.
            "--bench" => {}
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    for name in ["rpc-router", "connect-jwt", "test-interceptor"] {
        let path = plugins.join(format!("{name}.wasm"));
        if !path.is_file() {
            return Err(format!(
                "{} is missing: run scripts/build-plugins",
                path.display()
            ));
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let cases = cases(&plugins, cache.as_deref())
        .into_iter()
        .filter(|case| only.as_deref().is_none_or(|name| name == case.name));
    for case in cases {
        let config = Config::parse(&case.config, &plugins).map_err(|error| error.to_string())?;
        if let Some(mode) = case.bare {
            bare_case(&runtime, &config, &plugins, &case, mode, calls)?;
            continue;
        }
        let rotor = runtime
            .block_on(Rotor::new(&config))
            .map_err(|error| format!("{}: {error}", case.name))?;
        for _ in 0..WARMUP_CALLS {
            runtime.block_on(answer(&rotor, &case.call))?;
        }
        let started = Instant::now();
        steady_calls(&runtime, &rotor, &case.call, calls)
            .map_err(|error| format!("{}: {error}", case.name))?;
        let per_call = started.elapsed().as_secs_f64() * 1e6 / calls.max(1) as f64;
        println!("{}\t{calls} calls\t{per_call:.1} µs per call", case.name);
    }
    Ok(())
}

/// Counts a bare case: the RPC handler of `rpc-router.wasm` called as
/// [`steady_calls`] calls Rotor, after as many warm-up calls.
fn bare_case(
    runtime: &Runtime,
    config: &Config,
    plugins: &Path,
    case: &Case,
    mode: Mode,
    calls: usize,
) -> Result<(), String> {
    let Message::Rpc(request) = &case.call else {
        return Err(format!("{}: a bare case makes RPC calls", case.name));
    };
    let path = plugins.join("rpc-router.wasm");
    let mut rpc = runtime.block_on(BareRpc::new(config, &path, request, mode))?;
    for _ in 0..WARMUP_CALLS {
        runtime.block_on(rpc.call())?;
    }
    let started = Instant::now();
    runtime
        .block_on(async {
            for _ in 0..calls {
                std::hint::black_box(&mut rpc).call().await?;
            }
            Ok::<(), String>(())
        })
        .map_err(|error| format!("{}: {error}", case.name))?;
    let per_call = started.elapsed().as_secs_f64() * 1e6 / calls.max(1) as f64;
    println!("{}\t{calls} calls\t{per_call:.1} µs per call", case.name);
    Ok(())
}

/// The cases.
fn cases(plugins: &Path, cache: Option<&Path>) -> Vec<Case> {
    let head = |handler: &str| {
        let mut text = format!("[plugins]\ndir = {:?}\n", plugins.display().to_string());
        if let Some(cache) = cache {
            text.push_str(&format!("cache = {:?}\n", cache.display().to_string()));
        }
        // A small pool: one call at a time needs little, and valgrind cannot
        // manage the address space a default pool reserves. A long timeout:
        // under valgrind a call runs tens of times slower.
        text.push_str("[limits]\nconcurrency = 2\ntimeout = \"30s\"\n");
        text.push_str(&format!("[handlers]\n{handler}\n"));
        text
    };
    let reuse =
        |plugin: &str| format!("[isolation.\"{plugin}\"]\nmode = \"reuse\"\nmax_idle = 1\n");
    vec![
        Case {
            name: "noop-fresh",
            config: head("rpc = \"rpc-router.wasm\""),
            call: Message::Rpc(rpc_echo()),
            bare: None,
        },
        Case {
            name: "noop-reuse",
            config: head("rpc = \"rpc-router.wasm\"") + &reuse("rpc-router.wasm"),
            call: Message::Rpc(rpc_echo()),
            bare: None,
        },
        Case {
            name: "noop-1-interceptor-fresh",
            config: head("rpc = \"rpc-router.wasm\"")
                + "[interceptors]\nrpc = [\"test-interceptor.wasm\"]\n",
            call: Message::Rpc(rpc_echo()),
            bare: None,
        },
        Case {
            name: "noop-1-interceptor-reuse",
            config: head("rpc = \"rpc-router.wasm\"")
                + "[interceptors]\nrpc = [\"test-interceptor.wasm\"]\n"
                + &reuse("rpc-router.wasm")
                + &reuse("test-interceptor.wasm"),
            call: Message::Rpc(rpc_echo()),
            bare: None,
        },
        Case {
            name: "connect-hs256-fresh",
            config: head("connect = \"connect-jwt.wasm\"")
                + &format!("[settings.\"connect-jwt.wasm\"]\nsecret = {SECRET:?}\n"),
            call: Message::Connect(connect_with_token()),
            bare: None,
        },
        Case {
            name: "connect-hs256-reuse",
            config: head("connect = \"connect-jwt.wasm\"")
                + &format!("[settings.\"connect-jwt.wasm\"]\nsecret = {SECRET:?}\n")
                + &reuse("connect-jwt.wasm"),
            call: Message::Connect(connect_with_token()),
            bare: None,
        },
        // The noop cases' calls of the same component by bare wasmtime,
        // with the same pool: what Rotor's path is measured against.
        Case {
            name: "bare-noop-fresh",
            config: head("rpc = \"rpc-router.wasm\""),
            call: Message::Rpc(rpc_echo()),
            bare: Some(Mode::Fresh),
        },
        Case {
            name: "bare-noop-reuse",
            config: head("rpc = \"rpc-router.wasm\"") + &reuse("rpc-router.wasm"),
            call: Message::Rpc(rpc_echo()),
            bare: Some(Mode::Reuse),
        },
    ]
}

/// `calls` calls of `message`, one after another, on the runtime's thread.
fn steady_calls(
    runtime: &Runtime,
    rotor: &Rotor,
    message: &Message,
    calls: usize,
) -> Result<(), String> {
    runtime.block_on(async {
        for _ in 0..calls {
            answer(rotor, std::hint::black_box(message)).await?;
        }
        Ok(())
    })
}

/// One call; anything but the expected answer is an error. The request is
/// cloned per call, as the transport hands each call a message of its own.
async fn answer(rotor: &Rotor, message: &Message) -> Result<(), String> {
    match message {
        Message::Rpc(request) => {
            let response = rotor
                .answer(request.clone(), Vec::new(), None)
                .await
                .map_err(|status| status.to_string())?;
            match response.result {
                Some(result) if result.data == request.data => Ok(()),
                _ => Err(format!("not echoed: {response:?}")),
            }
        }
        Message::Connect(request) => {
            let response = rotor
                .answer(request.clone(), Vec::new(), None)
                .await
                .map_err(|status| status.to_string())?;
            match response.result {
                Some(result) if result.user == "42" => Ok(()),
                _ => Err(format!("not accepted: {response:?}")),
            }
        }
    }
}

fn rpc_echo() -> pb::RpcRequest {
    pb::RpcRequest {
        client: "7f6e3c1a-3b8e-4a4f-9a51-2a0f1c9b7d01".into(),
        transport: "websocket".into(),
        protocol: "json".into(),
        encoding: "json".into(),
        user: "42".into(),
        method: "echo".into(),
        data: br#"{"text":"hello, world","n":1}"#.to_vec(),
        ..Default::default()
    }
}

fn connect_with_token() -> pb::ConnectRequest {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"sub":"42","exp":{EXPIRES},"info":{{"name":"Ada"}}}}"#
    ));
    let signed = format!("{header}.{claims}");
    let mut mac =
        Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(signed.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    pb::ConnectRequest {
        client: "7f6e3c1a-3b8e-4a4f-9a51-2a0f1c9b7d01".into(),
        transport: "websocket".into(),
        protocol: "json".into(),
        encoding: "json".into(),
        name: "js".into(),
        version: "5.2.0".into(),
        data: format!(r#"{{"token":"{signed}.{signature}"}}"#).into_bytes(),
        ..Default::default()
    }
}
