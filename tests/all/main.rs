//! End-to-end tests: Rotor serves real components over real gRPC on
//! loopback, and the tests play Centrifugo.

mod admin;
mod api;
mod centrifugo;
mod channel_calls;
mod cli;
mod cli_errors;
mod deploy;
mod examples;
mod faults;
mod go_and_c;
// The benchmark's reading of h2load's output: the benchmark has no test
// harness, so its tests run here.
#[path = "../../bench/h2load/output.rs"]
#[allow(dead_code, reason = "the benchmark uses what these tests do not")]
mod h2load_output;
mod interceptors;
mod isolation;
mod kv;
mod languages;
mod lifecycle;
mod live_tenants;
mod mapping;
mod metrics;
mod oci;
mod otlp;
mod reload;
mod routing;
mod scaffold;
mod streams;
mod support;
mod tenants;
mod tls;
mod transport;
mod walkthrough;
