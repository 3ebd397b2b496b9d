//! Metrics: every family has its series on `/metrics` from the start, at
//! zero; calls add their latency per plugin and step, instantiation time,
//! and the bytes in and out.

use rotor::proto::proxy as pb;

use crate::support::{TestServer, request};

/// A handler behind two interceptors, one of them reused, with `kv`.
const CHAIN: &str = r#"
[handlers]
rpc = "rpc-router.wasm"
[interceptors]
rpc = [
  { plugin = "test-interceptor.wasm", settings = { tag = "A" } },
  { plugin = "telemetry.wasm" },
]
[isolation."telemetry.wasm"]
mode = "reuse"
"#;

/// The value of the sample `series` (name and labels, exactly as written).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// The families of the `# TYPE` lines.
fn families(metrics: &str) -> Vec<(String, String)> {
    metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| {
            let mut parts = rest.split_whitespace();
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn every_family_has_its_series_at_zero_from_the_start() {
    let server = TestServer::start(CHAIN).await;
    let metrics = server.rotor.metrics_text();
    for (family, kind) in families(&metrics) {
        let sample_name = match kind.as_str() {
            "counter" => format!("{family}_total"),
            "histogram" => format!("{family}_count"),
            _ => family.clone(),
        };
        let zeros = metrics
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter(|line| {
                line.starts_with(&format!("{sample_name}{{"))
                    || line.starts_with(&format!("{sample_name} "))
            })
            .collect::<Vec<_>>();
        assert!(
            !zeros.is_empty(),
            "{family} has no series at start: {metrics}"
        );
        assert!(
            zeros
                .iter()
                .all(|line| line.ends_with(" 0") || line.ends_with(" 0.0")),
            "{family} starts at zero: {zeros:?}"
        );
    }
    for series in [
        r#"rotor_calls_total{tenant="default",kind="rpc",outcome="accept"}"#,
        r#"rotor_calls_total{tenant="default",kind="rpc",outcome="fault"}"#,
        r#"rotor_call_duration_seconds_count{tenant="default",kind="rpc"}"#,
        r#"rotor_request_bytes_count{tenant="default",kind="rpc"}"#,
        r#"rotor_reply_bytes_count{tenant="default",kind="rpc"}"#,
        r#"rotor_step_duration_seconds_count{plugin="rpc-router.wasm",step="handler"}"#,
        r#"rotor_step_duration_seconds_count{plugin="telemetry.wasm",step="before"}"#,
        r#"rotor_step_duration_seconds_count{plugin="telemetry.wasm",step="after"}"#,
        r#"rotor_instantiate_duration_seconds_count{plugin="rpc-router.wasm"}"#,
        r#"rotor_guest_faults_total{plugin="rpc-router.wasm",fault="trap"}"#,
        r#"rotor_warm_instances_total{plugin="telemetry.wasm",event="hit"}"#,
        r#"rotor_reloads_total{result="rejected"}"#,
        r#"rotor_host_calls_total{tenant="default",import="kv",call="get",outcome="ok"}"#,
        r#"rotor_cpu_throttled_seconds_total{tenant="default"}"#,
    ] {
        assert_eq!(
            sample(&metrics, series),
            Some(0.0),
            "{series} at zero: {metrics}"
        );
    }
}

#[tokio::test]
async fn calls_count_steps_instantiations_and_bytes() {
    let server = TestServer::start(CHAIN).await;
    let message = pb::RpcRequest {
        method: "echo".into(),
        data: br#"{"n":12345}"#.to_vec(),
        ..Default::default()
    };
    let request_size = prost::Message::encoded_len(&message);
    let reply = server
        .client
        .clone()
        .rpc(request(message, &[]))
        .await
        .expect("OK")
        .into_inner();
    let reply_size = prost::Message::encoded_len(&reply);
    assert!(reply.result.is_some(), "{reply:?}");

    let metrics = server.rotor.metrics_text();
    let value =
        |series: &str| sample(&metrics, series).unwrap_or_else(|| panic!("no {series}: {metrics}"));
    assert_eq!(
        value(r#"rotor_request_bytes_sum{tenant="default",kind="rpc"}"#),
        request_size as f64
    );
    assert_eq!(
        value(r#"rotor_reply_bytes_sum{tenant="default",kind="rpc"}"#),
        reply_size as f64
    );
    for (plugin, step) in [
        ("test-interceptor.wasm", "before"),
        ("test-interceptor.wasm", "after"),
        ("telemetry.wasm", "before"),
        ("telemetry.wasm", "after"),
        ("rpc-router.wasm", "handler"),
    ] {
        let series =
            format!("rotor_step_duration_seconds_count{{plugin=\"{plugin}\",step=\"{step}\"}}");
        assert_eq!(value(&series), 1.0, "{series}");
    }
    // A fresh instance per step of the fresh plugins, one new warm one.
    for plugin in ["test-interceptor.wasm", "telemetry.wasm", "rpc-router.wasm"] {
        let series = format!("rotor_instantiate_duration_seconds_count{{plugin=\"{plugin}\"}}");
        assert_eq!(value(&series), 1.0, "{series}");
    }
    let handler =
        value(r#"rotor_step_duration_seconds_sum{plugin="rpc-router.wasm",step="handler"}"#);
    let call = value(r#"rotor_call_duration_seconds_sum{tenant="default",kind="rpc"}"#);
    assert!(
        handler > 0.0 && handler < call,
        "a step is part of its call: {handler} < {call}"
    );
}
