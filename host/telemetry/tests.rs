//! Tests of the metrics: their names, labels and zero series.

use super::*;

#[test]
fn trace_parents_are_parsed_strictly() {
    let headers = |value: &str| vec![("traceparent".to_owned(), value.to_owned())];
    let parsed = TraceParent::from_headers(&headers(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ))
    .expect("valid");
    assert_eq!(parsed.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(parsed.parent_id, "00f067aa0ba902b7");
    assert_eq!(parsed.flags, 1);
    for bad in [
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "garbage",
    ] {
        assert_eq!(TraceParent::from_headers(&headers(bad)), None, "{bad}");
    }
    assert_eq!(TraceParent::from_headers(&[]), None);
}

#[test]
fn encodes_counters_and_histograms() {
    let metrics = Metrics::new();
    metrics.call("default", RequestKind::Rpc, "accept", 0.0002);
    metrics.fault("p.wasm", "trap");
    metrics.reload(false);
    {
        let _call = metrics.in_flight();
        assert!(metrics.encode().contains("rotor_calls_in_flight 1"));
    }
    let text = metrics.encode();
    assert!(
        text.contains(r#"rotor_calls_total{tenant="default",kind="rpc",outcome="accept"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"rotor_guest_faults_total{plugin="p.wasm",fault="trap"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"rotor_reloads_total{result="rejected"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("rotor_call_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("rotor_calls_in_flight 0"), "{text}");
}
