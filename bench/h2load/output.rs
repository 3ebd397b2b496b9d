//! What h2load is given and what it prints: the gRPC frame of a request
//! body, and the summary h2load writes at the end of a run.
//!
//! This file needs nothing but the standard library and serde's derive
//! (its tests use the crate's protobuf types), so the integration test
//! binary includes it too
//! and runs its tests (the benchmark itself has no test harness):
//! `cargo test --test all h2load`.

use std::time::Duration;

use serde::Serialize;

/// `message`, protobuf bytes, as one gRPC message on the wire: a zero
/// compression flag, the length as a big-endian `u32`, then the bytes.
pub fn grpc_frame(message: &[u8]) -> Result<Vec<u8>, String> {
    let length = u32::try_from(message.len())
        .map_err(|_| format!("a gRPC message of {} bytes is too long", message.len()))?;
    let mut frame = Vec::with_capacity(5 + message.len());
    frame.push(0);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(message);
    Ok(frame)
}

/// The `<DURATION>` argument h2load takes for `duration`: whole
/// milliseconds (h2load accepts integers only, with a unit).
pub fn duration_argument(duration: Duration) -> String {
    format!("{}ms", duration.as_millis().max(1))
}

/// The figures of h2load's summary. Requests count HTTP/2 streams: h2load
/// cannot read the gRPC status, which comes in trailers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Requests done per second of the measured window (`finished in ...`).
    pub requests_per_sec: f64,
    /// Requests done in the window.
    pub done: u64,
    /// Requests answered with a complete response.
    pub succeeded: u64,
    /// Requests that got no complete response (`errored` and `timeout` are
    /// counted in here too).
    pub failed: u64,
    /// Requests that failed for a connection or protocol error.
    pub errored: u64,
    /// Requests that timed out.
    pub timeout: u64,
    /// Responses by HTTP status class: 2xx, 3xx, 4xx, 5xx.
    pub status: [u64; 4],
    /// Response body bytes received. In a timed run they include the
    /// warm-up's, so they are at least `succeeded` × one answer's size.
    pub data_bytes: u64,
    /// The time of a request from its first byte sent to its last one
    /// received, if h2load measured any.
    pub request_time: Option<RequestTime>,
}

/// The request times h2load reports (it keeps no percentiles).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RequestTime {
    /// The shortest, µs.
    pub min_us: f64,
    /// The longest, µs.
    pub max_us: f64,
    /// The mean, µs.
    pub mean_us: f64,
    /// The standard deviation, µs.
    pub sd_us: f64,
}

impl Summary {
    /// Reads h2load's standard output; an error names the line that is
    /// missing or not understood.
    pub fn parse(text: &str) -> Result<Summary, String> {
        let line = |prefix: &str| {
            text.lines()
                .map(str::trim_start)
                .find_map(|line| line.strip_prefix(prefix))
                .ok_or_else(|| format!("h2load printed no `{prefix}` line"))
        };
        let finished = line("finished in ")?;
        let requests_per_sec = finished
            .split(", ")
            .find_map(|part| part.strip_suffix(" req/s"))
            .and_then(|rate| rate.trim().parse().ok())
            .ok_or_else(|| format!("no req/s in `finished in {finished}`"))?;
        let requests = line("requests: ")?;
        let count = |text: &str, name: &str| -> Result<u64, String> {
            text.split(", ")
                .find_map(|part| part.trim().strip_suffix(name)?.trim().parse().ok())
                .ok_or_else(|| format!("no `{}` count in `{text}`", name.trim()))
        };
        let status = line("status codes: ")?;
        let traffic = line("traffic: ")?;
        // `681.74KB (698098) data`: the exact count is in parentheses.
        let data_bytes = traffic
            .split(", ")
            .find_map(|part| part.strip_suffix(" data"))
            .and_then(|part| part.split_once('(')?.1.split_once(')')?.0.parse().ok())
            .ok_or_else(|| format!("no data bytes in `traffic: {traffic}`"))?;
        let request_time = match line("time for request:") {
            Ok(times) => request_time(times)?,
            Err(_) => None,
        };
        Ok(Summary {
            requests_per_sec,
            done: count(requests, " done")?,
            succeeded: count(requests, " succeeded")?,
            failed: count(requests, " failed")?,
            errored: count(requests, " errored")?,
            timeout: count(requests, " timeout")?,
            status: [
                count(status, " 2xx")?,
                count(status, " 3xx")?,
                count(status, " 4xx")?,
                count(status, " 5xx")?,
            ],
            data_bytes,
            request_time,
        })
    }

    /// Why the run's throughput is not a valid figure, or `None` if it is:
    /// requests that failed or got another status than 2xx, or response
    /// bytes fewer than one right answer (`answer_bytes`, a protobuf
    /// message, as one gRPC frame) per request, which means some carried
    /// none: a gRPC error status alone comes in headers, without a message.
    /// h2load counts a failed request as `failed` and once more as
    /// `errored` or `timeout`, so those two are not added to it.
    pub fn problem(&self, answer_bytes: usize) -> Option<String> {
        let [ok, redirect, client, server] = self.status;
        let mut problems = Vec::new();
        if self.failed > 0 {
            problems.push(format!(
                "{} failed ({} errored, {} timed out)",
                self.failed, self.errored, self.timeout
            ));
        }
        if redirect + client + server > 0 {
            problems.push(format!(
                "HTTP status 3xx {redirect}, 4xx {client}, 5xx {server}"
            ));
        }
        let frame = answer_bytes as u64 + 5;
        if self.data_bytes < self.succeeded * frame {
            problems.push(format!(
                "{} response bytes for {} requests, less than one {frame}-byte answer each: some were gRPC errors",
                self.data_bytes, self.succeeded
            ));
        }
        if ok == 0 && problems.is_empty() {
            problems.push("no request answered".into());
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

/// `min max mean sd +/-sd` of the request time line, or `None` when no
/// request finished (h2load prints zeros then).
fn request_time(text: &str) -> Result<Option<RequestTime>, String> {
    let values: Vec<f64> = text
        .split_whitespace()
        .take(4)
        .map(|value| micros(value).ok_or_else(|| format!("no time in `{value}`")))
        .collect::<Result<_, _>>()?;
    let [min_us, max_us, mean_us, sd_us] = values[..] else {
        return Err(format!("four times expected in `{text}`"));
    };
    Ok((max_us > 0.0).then_some(RequestTime {
        min_us,
        max_us,
        mean_us,
        sd_us,
    }))
}

/// `67us`, `44.59ms` or `1.30s` in µs.
fn micros(value: &str) -> Option<f64> {
    let (number, scale) = if let Some(number) = value.strip_suffix("us") {
        (number, 1.0)
    } else if let Some(number) = value.strip_suffix("ms") {
        (number, 1e3)
    } else {
        (value.strip_suffix('s')?, 1e6)
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

// The benchmark is built with `cfg(test)` too, but without a harness:
// its build drops the tests and would warn about what only they use.
#[cfg(test)]
#[allow(
    dead_code,
    unused_imports,
    reason = "the benchmark's build has no harness; the integration tests run these"
)]
mod tests {
    use super::*;

    /// h2load 1.52 against the native handler of the benchmark, `noop`, 2
    /// connections × 4 streams, 300 ms warm-up and 1 s measured.
    const ANSWERED: &str = include_str!("testdata/answered.txt");
    /// 20 requests (`-n 20`) sent to a loopback port where nothing listens.
    const REFUSED: &str = include_str!("testdata/refused.txt");
    /// 20 requests to the native handler for a method it does not have:
    /// each answered `200` with the gRPC status `UNIMPLEMENTED` and no
    /// message.
    const UNIMPLEMENTED: &str = include_str!("testdata/unimplemented.txt");
    /// The size of the right `noop` answer of the benchmark.
    const ECHO_ANSWER: usize = 33;

    #[test]
    fn a_grpc_frame_is_a_zero_flag_the_big_endian_length_and_the_message() {
        let message: Vec<u8> = (0..300u16).map(|n| n as u8).collect();
        let frame = grpc_frame(&message).expect("a short message");
        assert_eq!(frame[..5], [0, 0, 0, 1, 44]);
        assert_eq!(frame[5..], message[..]);
        assert_eq!(grpc_frame(&[]).expect("an empty message"), [0, 0, 0, 0, 0]);
    }

    #[test]
    fn a_framed_proxy_request_reads_back_as_the_same_request() {
        use prost::Message as _;
        let request = rotor::proto::proxy::RpcRequest {
            method: "echo".into(),
            data: br#"{"n":1}"#.to_vec(),
            ..Default::default()
        };
        let frame = grpc_frame(&request.encode_to_vec()).expect("a short message");
        let length = u32::from_be_bytes(frame[1..5].try_into().expect("four bytes"));
        assert_eq!(length as usize, frame.len() - 5);
        let read = rotor::proto::proxy::RpcRequest::decode(&frame[5..]).expect("a request");
        assert_eq!(read, request);
    }

    #[test]
    fn durations_are_whole_milliseconds() {
        assert_eq!(duration_argument(Duration::from_secs_f64(1.5)), "1500ms");
        assert_eq!(duration_argument(Duration::from_micros(10)), "1ms");
    }

    #[test]
    fn the_summary_of_an_answered_run_is_read() {
        let summary = Summary::parse(ANSWERED).expect("h2load's summary");
        assert_eq!(
            summary,
            Summary {
                requests_per_sec: 14673.0,
                done: 14673,
                succeeded: 14673,
                failed: 0,
                errored: 0,
                timeout: 0,
                status: [14673, 0, 0, 0],
                data_bytes: 698098,
                request_time: Some(RequestTime {
                    min_us: 67.0,
                    max_us: 44590.0,
                    mean_us: 536.0,
                    sd_us: 763.0,
                }),
            }
        );
        assert_eq!(summary.problem(ECHO_ANSWER), None);
    }

    #[test]
    fn failed_requests_are_a_problem_never_throughput() {
        let summary = Summary::parse(REFUSED).expect("h2load's summary");
        assert_eq!((summary.failed, summary.errored, summary.done), (20, 20, 0));
        assert_eq!(summary.request_time, None);
        assert_eq!(
            summary.problem(ECHO_ANSWER).as_deref(),
            Some("20 failed (20 errored, 0 timed out)")
        );
    }

    #[test]
    fn other_statuses_than_2xx_are_a_problem() {
        let text = ANSWERED.replace(
            "status codes: 14673 2xx, 0 3xx, 0 4xx, 0 5xx",
            "status codes: 14600 2xx, 0 3xx, 70 4xx, 3 5xx",
        );
        let summary = Summary::parse(&text).expect("h2load's summary");
        assert_eq!(
            summary.problem(ECHO_ANSWER).as_deref(),
            Some("HTTP status 3xx 0, 4xx 70, 5xx 3")
        );
    }

    #[test]
    fn answers_without_a_message_are_a_problem_though_http_says_2xx() {
        let summary = Summary::parse(UNIMPLEMENTED).expect("h2load's summary");
        assert_eq!((summary.succeeded, summary.status[0]), (20, 20));
        assert_eq!(
            summary.problem(ECHO_ANSWER).as_deref(),
            Some(
                "0 response bytes for 20 requests, less than one 38-byte answer each: some were gRPC errors"
            )
        );
        // The answered run's bytes hold one answer per request, and more
        // (its warm-up's), but not a larger answer each.
        let answered = Summary::parse(ANSWERED).expect("h2load's summary");
        assert_eq!(answered.problem(ECHO_ANSWER), None);
        assert!(answered.problem(60).is_some());
    }

    #[test]
    fn output_without_a_summary_is_an_error() {
        let error = Summary::parse("starting benchmark...\n").expect_err("no summary");
        assert_eq!(error, "h2load printed no `finished in ` line");
        let text = ANSWERED.replace("14673.00 req/s", "fast");
        let error = Summary::parse(&text).expect_err("no rate");
        assert!(error.starts_with("no req/s in"), "{error}");
    }
}
