//! `[telemetry]`: where call spans are exported over OTLP, under which
//! service name, and how many of the traces that start at Rotor are kept.
//!
//! ```toml
//! [telemetry]
//! otlp = "http://127.0.0.1:4317"
//! service_name = "rotor"
//! sample_ratio = 0.25
//! ```

use super::raw::RawTelemetry;
use super::{ConfigError, DEFAULT_SERVICE_NAME, invalid};

/// What `[telemetry]` asks for: no export at all unless `otlp` is set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TelemetryConfig {
    /// The OTLP/gRPC export of call spans, if configured.
    pub otlp: Option<OtlpConfig>,
}

/// Export of spans to an OpenTelemetry collector over OTLP/gRPC.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    /// The collector's gRPC endpoint: `http://host:port`.
    pub endpoint: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// The share of traces that start at Rotor (calls without a sampled
    /// `traceparent`) that are exported, from 0 to 1. A call that continues
    /// a caller's trace follows the caller's sampling decision.
    pub sample_ratio: f64,
}

impl RawTelemetry {
    pub(super) fn validate(self) -> Result<TelemetryConfig, ConfigError> {
        let Some(endpoint) = self.otlp else {
            for (key, set) in [
                ("telemetry.service_name", self.service_name.is_some()),
                ("telemetry.sample_ratio", self.sample_ratio.is_some()),
            ] {
                if set {
                    return Err(invalid(key, "applies only with `otlp` set"));
                }
            }
            return Ok(TelemetryConfig::default());
        };
        check_endpoint(&endpoint).map_err(|message| invalid("telemetry.otlp", &message))?;
        let service_name = self
            .service_name
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());
        if service_name.trim().is_empty() {
            return Err(invalid("telemetry.service_name", "must not be empty"));
        }
        let sample_ratio = self.sample_ratio.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&sample_ratio) {
            return Err(invalid(
                "telemetry.sample_ratio",
                &format!("{sample_ratio} is not between 0 and 1"),
            ));
        }
        Ok(TelemetryConfig {
            otlp: Some(OtlpConfig {
                endpoint,
                service_name,
                sample_ratio,
            }),
        })
    }
}

/// Accepts `http://host:port` with an optional trailing `/`: the OTLP/gRPC
/// endpoint of a collector. A port is required, since gRPC collectors listen
/// on 4317 and not on HTTP's 80.
fn check_endpoint(text: &str) -> Result<(), String> {
    let example = "like http://127.0.0.1:4317";
    if text.starts_with("https://") {
        return Err(format!(
            "`{text}`: TLS to the collector is not supported; export to a collector or agent \
             on the same host or network, {example}"
        ));
    }
    let Some(rest) = text.strip_prefix("http://") else {
        return Err(format!("`{text}` is not an http:// URL {example}"));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "`{text}`: an OTLP/gRPC endpoint is a host and port only, {example}"
        ));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port),
        _ => return Err(format!("`{text}` names no port, {example}")),
    };
    if host.is_empty() || host == "[]" {
        return Err(format!("`{text}` names no host, {example}"));
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(()),
        _ => Err(format!("`{text}`: `{port}` is not a port number")),
    }
}
