//! The `rotor serve` process: health, and graceful shutdown on SIGTERM with
//! a call in flight.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rotor::proto::proxy as pb;
use rotor::proto::proxy::centrifugo_proxy_client::CentrifugoProxyClient;
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{ScratchDir, plugin_dir, request};

#[tokio::test]
async fn sigterm_finishes_calls_in_flight_then_exits_cleanly() {
    let (mut child, address, _dir) = spawn_rotor(&format!(
        "listen = \"127.0.0.1:0\"\n[plugins]\ndir = {:?}\n[handlers]\nrpc = \"test-faulty.wasm\"\n[limits]\ntimeout = \"800ms\"\n",
        plugin_dir().display().to_string()
    ));
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .expect("an endpoint")
        .connect()
        .await
        .expect("connecting");

    let mut health = HealthClient::new(channel.clone());
    for service in ["", "centrifugal.centrifugo.proxy.CentrifugoProxy"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("a health answer")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "service `{service}`");
    }

    // A call that runs until its 800 ms deadline, in flight during shutdown.
    let mut client = CentrifugoProxyClient::new(channel);
    let in_flight = tokio::spawn(async move {
        let message = pb::RpcRequest {
            method: "loop".into(),
            ..Default::default()
        };
        let mut call = request(message, &[]);
        call.set_timeout(Duration::from_secs(5));
        client.rpc(call).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("sending SIGTERM");
    assert!(killed.success());

    let response = in_flight
        .await
        .expect("the call task")
        .expect("the call in flight got its answer")
        .into_inner();
    assert_eq!(
        response.error.map(|e| e.code),
        Some(100),
        "the looping guest was stopped"
    );

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for rotor") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "rotor did not exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "rotor exited with {status}");
}

#[tokio::test]
async fn grpc_reflection_lists_the_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let server = crate::support::TestServer::start("[handlers]\nrpc = \"rpc-router.wasm\"").await;
    let mut client = ServerReflectionClient::new(server.channel.clone());
    let ask = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([ask]))
        .await
        .expect("reflection answers")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("a reflection message")
        .expect("one answer");
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("a list of services: {answer:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for service in [
        "centrifugal.centrifugo.proxy.CentrifugoProxy",
        "centrifugal.centrifugo.api.CentrifugoApi",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(&service), "{names:?}");
    }
}

/// `rotor serve` on `config_text` (written to a scratch dir); the child, its
/// address, and the scratch dir that must outlive it.
fn spawn_rotor(config_text: &str) -> (std::process::Child, String, ScratchDir) {
    let dir = ScratchDir::new();
    let config = dir.path().join("rotor.toml");
    std::fs::write(&config, config_text).expect("writing the config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rotor"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting rotor serve");
    let (lines, log) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let address = loop {
        let line = log
            .recv_timeout(Duration::from_secs(60))
            .expect("rotor logs where it listens");
        if let Some(rest) = line.split("address=").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .expect("an address")
                .to_owned();
        }
    };
    (child, address, dir)
}

/// The resident memory of process `pid`, in KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS")
}

#[tokio::test]
async fn memory_returns_to_its_baseline_after_hostile_calls() {
    let (mut child, address, _dir) = spawn_rotor(&format!(
        "listen = \"127.0.0.1:0\"\n[plugins]\ndir = {:?}\ncache = false\n[handlers]\nrpc = \"test-faulty.wasm\"\n\
         [limits]\nmemory = \"32MiB\"\ntimeout = \"50ms\"\n",
        plugin_dir().display().to_string()
    ));
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .expect("an endpoint")
        .connect()
        .await
        .expect("connecting");
    let client = CentrifugoProxyClient::new(channel);
    let round = |client: CentrifugoProxyClient<tonic::transport::Channel>| async move {
        let mut callers = Vec::new();
        for caller in 0..4 {
            let mut client = client.clone();
            callers.push(tokio::spawn(async move {
                for method in ["oom", "trap", "stack", "loop", "echo"] {
                    let message = pb::RpcRequest {
                        method: method.into(),
                        data: vec![b'x'; 64 << caller],
                        ..Default::default()
                    };
                    let reply = client.rpc(request(message, &[])).await.expect("a reply");
                    let reply = reply.into_inner();
                    assert_eq!(reply.result.is_some(), method == "echo", "{method}");
                }
            }));
        }
        for caller in callers {
            caller.await.expect("a caller");
        }
    };
    // Warm up: the pool's slots, the allocator's arenas, tokio's threads.
    for _ in 0..3 {
        round(client.clone()).await;
    }
    let baseline = resident_kib(child.id());
    for _ in 0..15 {
        round(client.clone()).await;
    }
    let after = resident_kib(child.id());
    // Each round has instances grow to their 32 MiB limit; none of it stays.
    assert!(
        after <= baseline + 16 * 1024,
        "resident memory grew from {baseline} KiB to {after} KiB"
    );
    let _ = child.kill();
    let _ = child.wait();
}
