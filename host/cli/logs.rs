//! Where log lines go and how they look: stderr, as text coloured only when
//! stderr is a terminal and `NO_COLOR` is unset (see no-color.org), or as
//! one JSON object per line; and, with `[telemetry] otlp`, where call spans
//! are exported.

use std::ffi::OsString;
use std::io::IsTerminal as _;

use rotor::{OtlpExport, STEP_TARGET};
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{FilterExt as _, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the call's span fields.
    Json,
}

/// Sends log lines to stderr in `format`, at the level `RUST_LOG` sets
/// (`info` by default), and call spans to `export`'s collector if given.
///
/// Each has its own filter: `RUST_LOG` says what is logged, never what is
/// exported, and the spans of a call's steps are exported, never logged.
pub fn init(format: LogFormat, export: Option<&OtlpExport>) {
    let level =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    subscriber(format, level, export, std::io::stderr).init();
}

/// The subscriber [`init`] installs, writing log lines to `writer`.
///
/// Without an export it has the log layer alone. A layer that is there
/// but empty (an `Option` that is `None`) would say it wants every span
/// and event; beside the log layer's own filter, that makes every
/// callsite the filter refuses one that is asked again on each use, and
/// every span of the libraries under the server (h2 opens several per
/// frame) gets built and closed in the registry: that was most of a
/// served call's CPU.
fn subscriber<W>(
    format: LogFormat,
    level: tracing_subscriber::EnvFilter,
    export: Option<&OtlpExport>,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let logs = tracing_subscriber::fmt::layer().with_writer(writer);
    let logs = match format {
        LogFormat::Text => logs
            .with_ansi(colour(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR"),
            ))
            .boxed(),
        LogFormat::Json => logs.json().with_current_span(true).boxed(),
    };
    // The step filter adds no bound of its own, and says so: without a
    // hint the pair would have none, and the `log` records of the crates
    // below (wasmtime's, at trace level) would all be made and then
    // refused one by one.
    let not_steps =
        filter_fn(|meta| meta.target() != STEP_TARGET).with_max_level_hint(LevelFilter::TRACE);
    let logged = level.and(not_steps);
    let logging = tracing_subscriber::registry().with(logs.with_filter(logged));
    match export {
        Some(export) => Box::new(logging.with(export.layer())),
        None => Box::new(logging),
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

    /// A served call's h2 and hyper spans (trace level, other targets)
    /// must never be built when nothing logs or exports them.
    #[test]
    fn spans_nobody_wants_are_never_built() {
        for format in [LogFormat::Text, LogFormat::Json] {
            let subscriber = subscriber(format, "info".into(), None, std::io::sink);
            tracing::subscriber::with_default(subscriber, || {
                let library = tracing::trace_span!(target: "h2::proto", "poll");
                assert!(library.is_disabled(), "{format:?}: {library:?}");
                let debug = tracing::debug_span!(target: "rotor", "step");
                assert!(debug.is_disabled(), "{format:?}: {debug:?}");
                let logged = tracing::info_span!(target: "rotor", "call");
                assert!(!logged.is_disabled(), "{format:?}: {logged:?}");
            });
        }
    }

    /// The most verbose level logged bounds what the `log` crate's records
    /// may be: below it they are refused before they are made.
    #[test]
    fn the_log_level_is_a_hint_the_log_crate_can_use() {
        for (level, hint) in [("info", LevelFilter::INFO), ("debug", LevelFilter::DEBUG)] {
            let subscriber = subscriber(LogFormat::Text, level.into(), None, std::io::sink);
            assert_eq!(subscriber.max_level_hint(), Some(hint), "{level}");
        }
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsString::new())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
        assert!(!colour(false, Some("1".into())));
    }
}
