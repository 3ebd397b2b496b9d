//! Writing to the host's log.
//!
//! The host tags each line with the tenant and plugin, may cut long lines and
//! may drop lines past a per-call budget. Outside a component (in native
//! unit tests) lines go to standard error instead.

#[doc(inline)]
pub use crate::bindings::shared::rotor::centrifugo::log::Level;

/// Writes one line at `level`.
pub fn write(level: Level, message: impl AsRef<str>) {
    let message = message.as_ref();
    #[cfg(target_arch = "wasm32")]
    crate::bindings::shared::rotor::centrifugo::log::write(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{}: {message}", level_name(level));
}

#[cfg(not(target_arch = "wasm32"))]
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

/// Writes one line at `trace` level.
pub fn trace(message: impl AsRef<str>) {
    write(Level::Trace, message);
}

/// Writes one line at `debug` level.
pub fn debug(message: impl AsRef<str>) {
    write(Level::Debug, message);
}

/// Writes one line at `info` level.
pub fn info(message: impl AsRef<str>) {
    write(Level::Info, message);
}

/// Writes one line at `warn` level.
pub fn warn(message: impl AsRef<str>) {
    write(Level::Warn, message);
}

/// Writes one line at `error` level.
pub fn error(message: impl AsRef<str>) {
    write(Level::Error, message);
}
