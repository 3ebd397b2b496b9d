//! Where log lines go and how they look: stderr, as text coloured only when
//! stderr is a terminal and `NO_COLOR` is unset (see no-color.org), or as
//! one JSON object per line.

use std::ffi::OsString;
use std::io::IsTerminal as _;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the call's span fields.
    Json,
}

/// Sends log lines to stderr in `format`, at the level `RUST_LOG` sets
/// (`info` by default).
pub fn init(format: LogFormat) {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs
            .with_ansi(colour(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR"),
            ))
            .init(),
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }
}

/// Whether text logs are coloured: only on a terminal, and not when
/// `NO_COLOR` is set to anything but the empty string.
fn colour(terminal: bool, no_color: Option<OsString>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsString::new())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
        assert!(!colour(false, Some("1".into())));
    }
}
