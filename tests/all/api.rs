//! Guests call Centrifugo's server API through the host: a test double of
//! `CentrifugoApi` records what they asked for, with the ticket-booking
//! example as the guest.

use std::sync::{Arc, Mutex};

use rotor::proto::api as api_pb;
use rotor::proto::api::centrifugo_api_server::{CentrifugoApi, CentrifugoApiServer};
use rotor::proto::proxy as pb;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

use crate::support::{ScratchDir, TestServer, json, plugin_dir, request};

const API_KEY: &str = "test-api-key";

/// One publish Centrifugo received.
#[derive(Debug, Clone)]
struct Published {
    channel: String,
    data: serde_json::Value,
    authorization: Option<String>,
}

/// Plays Centrifugo's server API: records publishes, and the size of each
/// batch and broadcast; the channel `event:broken` does not exist.
#[derive(Clone, Default)]
struct FakeCentrifugo {
    published: Arc<Mutex<Vec<Published>>>,
    /// Commands of each batch, channels of each broadcast, as received.
    bulk: Arc<Mutex<Vec<usize>>>,
}

#[tonic::async_trait]
impl CentrifugoApi for FakeCentrifugo {
    async fn publish(
        &self,
        request: Request<api_pb::PublishRequest>,
    ) -> Result<Response<api_pb::PublishResponse>, Status> {
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let message = request.into_inner();
        if message.channel == "event:broken" {
            return Ok(Response::new(api_pb::PublishResponse {
                error: Some(api_pb::Error {
                    code: 102,
                    message: "unknown channel".into(),
                }),
                result: None,
            }));
        }
        let mut published = self.published.lock().expect("the log");
        published.push(Published {
            channel: message.channel,
            data: json(&message.data),
            authorization,
        });
        Ok(Response::new(api_pb::PublishResponse {
            error: None,
            result: Some(api_pb::PublishResult {
                offset: published.len() as u64,
                epoch: "ep".into(),
            }),
        }))
    }

    async fn batch(
        &self,
        request: Request<api_pb::BatchRequest>,
    ) -> Result<Response<api_pb::BatchResponse>, Status> {
        let commands = request.into_inner().commands.len();
        self.bulk.lock().expect("the log").push(commands);
        Ok(Response::new(api_pb::BatchResponse {
            replies: vec![api_pb::Reply::default(); commands],
        }))
    }

    async fn broadcast(
        &self,
        request: Request<api_pb::BroadcastRequest>,
    ) -> Result<Response<api_pb::BroadcastResponse>, Status> {
        let channels = request.into_inner().channels.len();
        self.bulk.lock().expect("the log").push(channels);
        Ok(Response::new(api_pb::BroadcastResponse {
            error: None,
            result: Some(api_pb::BroadcastResult {
                responses: vec![api_pb::PublishResponse::default(); channels],
            }),
        }))
    }
}

impl FakeCentrifugo {
    async fn start() -> (FakeCentrifugo, String) {
        let fake = FakeCentrifugo::default();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding loopback");
        let address = listener.local_addr().expect("an address");
        let service = CentrifugoApiServer::new(fake.clone());
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpListenerStream::new(listener))
                .await;
        });
        (fake, format!("http://{address}"))
    }

    fn published(&self) -> Vec<Published> {
        self.published.lock().expect("the log").clone()
    }

    fn bulk(&self) -> Vec<usize> {
        self.bulk.lock().expect("the log").clone()
    }
}

async fn booking_server(api: &str, extra: &str) -> TestServer {
    let dir = ScratchDir::new();
    std::fs::write(dir.path().join("api.key"), format!("{API_KEY}\n")).expect("writing the key");
    let config = format!(
        "[plugins]\ndir = {:?}\n[handlers]\nrpc = \"ticket-booking.wasm\"\n\
         [centrifugo]\napi = \"{api}\"\napi_key_file = \"api.key\"\ntimeout = \"300ms\"\nnamespaces = [\"event\"]\n{extra}",
        plugin_dir().display().to_string()
    );
    TestServer::start_in(dir, &config).await
}

async fn book(server: &mut TestServer, user: &str, event: &str, seat: &str) -> pb::RpcResponse {
    let message = pb::RpcRequest {
        user: user.into(),
        method: "booking:book".into(),
        data: serde_json::to_vec(&serde_json::json!({"event": event, "seat": seat})).expect("JSON"),
        ..Default::default()
    };
    server
        .client
        .rpc(request(message, &[]))
        .await
        .expect("an OK response")
        .into_inner()
}

#[tokio::test]
async fn a_booking_publishes_the_seat_map_with_the_api_key() {
    let (centrifugo, address) = FakeCentrifugo::start().await;
    let mut server = booking_server(&address, "").await;

    let reply = book(&mut server, "42", "e1", "A1").await;
    let data = json(&reply.result.expect("booked").data);
    assert_eq!(
        data,
        serde_json::json!({"event": "e1", "seat": "A1", "published": true})
    );

    let taken = book(&mut server, "43", "e1", "A1").await;
    assert_eq!(
        taken.error,
        Some(pb::Error {
            code: 1409,
            message: "seat is taken".into(),
            temporary: false
        })
    );
    let other = book(&mut server, "43", "e1", "A2").await;
    assert!(other.result.is_some());

    let published = centrifugo.published();
    assert_eq!(published.len(), 2, "{published:?}");
    assert!(published.iter().all(|p| p.channel == "event:e1"));
    assert!(
        published
            .iter()
            .all(|p| p.authorization.as_deref() == Some("apikey test-api-key"))
    );
    assert_eq!(
        published[1].data,
        serde_json::json!({"event": "e1", "booked": {"A1": "42", "A2": "43"}})
    );
    let metrics = server.rotor.metrics_text();
    assert!(
        metrics.contains(
            r#"rotor_host_calls_total{tenant="default",import="centrifugo-api",call="publish",outcome="ok"} 2"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"rotor_host_call_duration_seconds_count{import="centrifugo-api",call="publish"} 2"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.lines().any(|line| line
            .starts_with(r#"rotor_host_calls_total{tenant="default",import="kv","#)
            && line.contains(r#"outcome="ok""#)),
        "the booking's kv calls are counted: {metrics}"
    );
}

#[tokio::test]
async fn api_errors_reach_the_guest_as_values() {
    let (centrifugo, address) = FakeCentrifugo::start().await;
    let mut server = booking_server(&address, "").await;
    // Centrifugo answers 102 unknown channel: the booking stands, unpublished.
    let reply = book(&mut server, "42", "broken", "A1").await;
    assert_eq!(
        json(&reply.result.expect("booked").data)["published"],
        false
    );
    assert!(centrifugo.published().is_empty());
    let metrics = server.rotor.metrics_text();
    assert!(
        metrics.contains(
            r#"rotor_host_calls_total{tenant="default",import="centrifugo-api",call="publish",outcome="centrifugo"} 1"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn channels_outside_the_granted_namespaces_are_denied() {
    let (centrifugo, address) = FakeCentrifugo::start().await;
    let mut server = booking_server(
        &address,
        "[settings.\"ticket-booking.wasm\"]\nchannel_prefix = \"admin:\"\n",
    )
    .await;
    let reply = book(&mut server, "42", "e1", "A1").await;
    assert_eq!(
        json(&reply.result.expect("booked").data)["published"],
        false
    );
    assert!(
        centrifugo.published().is_empty(),
        "the host must not call Centrifugo"
    );
}

#[tokio::test]
async fn an_unreachable_api_fails_the_api_call_not_the_host() {
    // A port that was just free: nothing listens there.
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding");
        format!("http://{}", listener.local_addr().expect("an address"))
    };
    let mut server = booking_server(&address, "").await;
    let reply = book(&mut server, "42", "e1", "A1").await;
    assert_eq!(
        json(&reply.result.expect("booked").data)["published"],
        false
    );
    // The host still serves.
    let seats = pb::RpcRequest {
        user: "42".into(),
        method: "booking:seats".into(),
        data: br#"{"event":"e1"}"#.to_vec(),
        ..Default::default()
    };
    let reply = server
        .client
        .rpc(request(seats, &[]))
        .await
        .expect("OK")
        .into_inner();
    assert_eq!(
        json(&reply.result.expect("a result").data)["booked"]["A1"],
        "42"
    );
}

/// Finding 12: the API budget counted a `batch` or a `broadcast` as one
/// call, whatever its size. Now each command and channel counts, against
/// the tenant's `api_calls` limit (16 by default).
#[tokio::test]
async fn a_batch_or_broadcast_counts_each_command_against_the_api_budget() {
    let (centrifugo, address) = FakeCentrifugo::start().await;
    let config = |limits: &str| {
        format!(
            "[handlers]\nrpc = \"test-host-calls.wasm\"\n\
             [centrifugo]\napi = \"{address}\"\ntimeout = \"300ms\"\n{limits}"
        )
    };
    let server = TestServer::start(&config("")).await;
    let call = |method: &'static str, input: serde_json::Value| {
        let server = &server;
        async move {
            let reply = server.rpc(method, input.to_string().as_bytes(), &[]).await;
            json(&reply.result.expect("an answer").data)
        }
    };

    // Within the default budget of 16.
    let batch = call("api-batch", serde_json::json!({"count": 16})).await;
    assert_eq!(batch, serde_json::json!({"done": 16, "error": null}));
    let broadcast = call("api-broadcast", serde_json::json!({"count": 16})).await;
    assert_eq!(broadcast["done"], 16);
    // One over: refused before Centrifugo sees it.
    for method in ["api-batch", "api-broadcast"] {
        let over = call(method, serde_json::json!({"count": 17})).await;
        assert_eq!(over["done"], 0, "{method}: {over}");
        let error = over["error"].as_str().expect("an error");
        assert!(
            error.contains("Denied") && error.contains("api_calls"),
            "{error}"
        );
    }
    // Two batches of 10 in one call: the second is over the budget.
    let twice = call("api-batch", serde_json::json!({"count": 10, "repeat": 2})).await;
    assert_eq!(twice["done"], 10, "{twice}");
    assert_eq!(centrifugo.bulk(), vec![16, 16, 10]);
    drop(server);

    // A tenant's `api_calls` raises (or lowers) the cap.
    let server = TestServer::start(&config("[limits]\napi_calls = 40\n")).await;
    let reply = server.rpc("api-broadcast", br#"{"count": 40}"#, &[]).await;
    assert_eq!(json(&reply.result.expect("an answer").data)["done"], 40);
    assert_eq!(centrifugo.bulk(), vec![16, 16, 10, 40]);
}
