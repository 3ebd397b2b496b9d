//! Sizes, durations and CPU cores as the config file writes them (`64MiB`,
//! `500ms`, `0.5`), and the limits written in them, checked against their
//! bounds.

use std::time::Duration;

use crate::config::DEFAULT_KEEP_RESIDENT;
use crate::config::raw::{RawLimits, RawPool, RawTransport};
use crate::config::{ConfigError, Limits, PoolLimits, TransportLimits, invalid};
use crate::policy::{CORE, MAX_MESSAGE};

/// The most `[pool] keep_resident` may be: the largest linear memory of a
/// 32-bit guest.
const MAX_KEEP_RESIDENT: u64 = 4 << 30;

impl RawTransport {
    pub(super) fn validate(self) -> Result<TransportLimits, ConfigError> {
        let defaults = TransportLimits::default();
        let max_header_bytes = match self.max_header_bytes {
            Some(text) => {
                let bytes = parse_size(&text)
                    .map_err(|message| invalid("transport.max_header_bytes", &message))?;
                u32::try_from(bytes)
                    .ok()
                    .filter(|bytes| (1 << 10..=MAX_HEADER_BYTES).contains(bytes))
                    .ok_or_else(|| {
                        invalid(
                            "transport.max_header_bytes",
                            &format!("must be between 1KiB and {}KiB", MAX_HEADER_BYTES >> 10),
                        )
                    })?
            }
            None => defaults.max_header_bytes,
        };
        let request_timeout = match self.request_timeout {
            Some(text) => parse_duration(&text)
                .map_err(|message| invalid("transport.request_timeout", &message))?,
            None => defaults.request_timeout,
        };
        if request_timeout.is_zero() || request_timeout > MAX_REQUEST_TIMEOUT {
            return Err(invalid(
                "transport.request_timeout",
                &format!(
                    "must be greater than zero and at most {}s",
                    MAX_REQUEST_TIMEOUT.as_secs()
                ),
            ));
        }
        let limits = TransportLimits {
            max_streams: self.max_streams.unwrap_or(defaults.max_streams),
            max_header_bytes,
            request_timeout,
            max_connections: self.max_connections.unwrap_or(defaults.max_connections),
        };
        for (key, value) in [
            ("transport.max_streams", limits.max_streams),
            ("transport.max_connections", limits.max_connections),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        Ok(limits)
    }
}

/// The largest `transport.max_header_bytes`: 1 MiB of metadata is already
/// far more than any proxy call carries.
pub(super) const MAX_HEADER_BYTES: u32 = 1 << 20;

/// The longest `transport.request_timeout`: an hour.
pub(super) const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);

impl RawLimits {
    /// Validates these limits, taking what is not set from `defaults`; `key`
    /// is the dotted key of the section.
    pub(super) fn validate(self, key: &str, defaults: Limits) -> Result<Limits, ConfigError> {
        let named = |field: &str, message: String| ConfigError::Invalid {
            key: format!("{key}.{field}"),
            message,
        };
        let size = |field: &str, text: Option<String>, default: u64| match text {
            Some(text) => parse_size(&text).map_err(|message| named(field, message)),
            None => Ok(default),
        };
        let memory = size("memory", self.memory, defaults.memory)?;
        let max_request = size("max_request", self.max_request, defaults.max_request)?;
        let max_reply = size("max_reply", self.max_reply, defaults.max_reply)?;
        let kv_bytes = size("kv_bytes", self.kv_bytes, defaults.kv_bytes)?;
        let kv_ops = self.kv_ops.unwrap_or(defaults.kv_ops);
        let api_calls = self.api_calls.unwrap_or(defaults.api_calls);
        let log_rate = self.log_rate.unwrap_or(defaults.log_rate);
        let timeout = match self.timeout {
            Some(text) => parse_duration(&text).map_err(|message| named("timeout", message))?,
            None => defaults.timeout,
        };
        let concurrency = self.concurrency.unwrap_or(defaults.concurrency);
        let streams = self.streams.unwrap_or(defaults.streams);
        let stream_idle = match self.stream_idle {
            Some(text) => parse_duration(&text).map_err(|message| named("stream_idle", message))?,
            None => defaults.stream_idle,
        };
        if stream_idle.is_zero() || stream_idle > MAX_STREAM_IDLE {
            return Err(named(
                "stream_idle",
                format!(
                    "must be greater than zero and at most {}h",
                    MAX_STREAM_IDLE.as_secs() / 3600
                ),
            ));
        }
        let fuel = self.fuel.or(defaults.fuel);
        if memory < 1 << 20 {
            return Err(named("memory", "must be at least 1MiB".into()));
        }
        if timeout.is_zero() || timeout > MAX_TIMEOUT {
            return Err(named(
                "timeout",
                format!(
                    "must be greater than zero and at most {}s",
                    MAX_TIMEOUT.as_secs()
                ),
            ));
        }
        if concurrency == 0 {
            return Err(named("concurrency", "must be at least 1".into()));
        }
        if fuel == Some(0) {
            return Err(named("fuel", "must be at least 1".into()));
        }
        if kv_bytes < MIN_KV_BYTES {
            return Err(named("kv_bytes", "must be at least 1KiB".into()));
        }
        for (field, count) in [
            ("kv_ops", kv_ops),
            ("api_calls", api_calls),
            ("log_rate", log_rate),
        ] {
            if count == 0 {
                return Err(named(field, "must be at least 1".into()));
            }
        }
        let cpu = match self.cpu {
            Some(cores) => Some(millicores(cores).map_err(|message| named("cpu", message))?),
            None => defaults.cpu,
        };
        for (field, bytes) in [("max_request", max_request), ("max_reply", max_reply)] {
            if bytes == 0 || bytes > MAX_MESSAGE {
                return Err(named(
                    field,
                    format!("must be between 1B and {}MiB", MAX_MESSAGE >> 20),
                ));
            }
        }
        Ok(Limits {
            memory,
            timeout,
            concurrency,
            fuel,
            cpu,
            max_request,
            max_reply,
            kv_bytes,
            kv_ops,
            api_calls,
            log_rate,
            streams,
            stream_idle,
        })
    }
}

/// The longest `stream_idle`: a day. Streams that publish or hear from
/// their client never go idle, so only a stream that does nothing at all
/// would wait longer.
pub(super) const MAX_STREAM_IDLE: Duration = Duration::from_secs(24 * 3600);

/// The longest `timeout` (a guest's deadline, or one server API call): an
/// hour, far past any proxy timeout, and short enough that a deadline
/// computed from it is always a valid instant.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// The smallest `kv_bytes`: room for a few small entries.
pub(super) const MIN_KV_BYTES: u64 = 1 << 10;

/// The most cores a `cpu` limit may name.
pub(super) const MAX_CPU_CORES: f64 = 4096.0;

/// `cores` (a `cpu` limit) in millicores: at least one hundredth of a core.
pub(super) fn millicores(cores: f64) -> Result<u32, String> {
    if !(0.01..=MAX_CPU_CORES).contains(&cores) {
        return Err(format!(
            "must be a number of cores between 0.01 and {MAX_CPU_CORES}, not {cores}"
        ));
    }
    // In range, so the cast is exact enough and cannot overflow.
    Ok((cores * f64::from(CORE)).round() as u32)
}

/// Parses a byte size such as `16MiB`, `512KiB`, `1GiB` or `65536`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 16MiB"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KiB, MiB or GiB)"
            ));
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Parses a duration such as `100ms`, `2s`, `250us`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 100ms"))?;
    match unit.trim() {
        "us" | "µs" => Ok(Duration::from_micros(number)),
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number.saturating_mul(60))),
        "" => Err(format!("`{text}` needs a unit: us, ms, s or m")),
        other => Err(format!(
            "unknown duration unit `{other}` (use us, ms, s or m)"
        )),
    }
}

impl RawPool {
    /// `[pool]` with its memory size parsed.
    pub(super) fn validate(self) -> Result<PoolLimits, ConfigError> {
        let memory = match self.memory {
            Some(text) => parse_size(&text).map_err(|message| invalid("pool.memory", &message))?,
            None => 0,
        };
        let keep_resident = match self.keep_resident {
            Some(text) => {
                parse_size(&text).map_err(|message| invalid("pool.keep_resident", &message))?
            }
            None => DEFAULT_KEEP_RESIDENT,
        };
        if keep_resident > MAX_KEEP_RESIDENT {
            return Err(invalid(
                "pool.keep_resident",
                &format!(
                    "{keep_resident} bytes is more than the largest linear memory a slot can \
                     have ({MAX_KEEP_RESIDENT} bytes, 4 GiB)"
                ),
            ));
        }
        Ok(PoolLimits {
            instances: self.instances.unwrap_or(0),
            memory,
            fuel: self.fuel.unwrap_or(false),
            keep_resident,
        })
    }
}
