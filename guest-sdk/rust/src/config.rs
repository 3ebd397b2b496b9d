//! This plugin's settings, from the host's configuration file.
//!
//! Read settings inside the handler and pass the values to plain functions:
//! those functions can then be unit-tested natively, where there is no host.

/// The value of setting `key`, if the host's configuration sets it.
///
/// Outside a component (in native unit tests) there is no host, and every
/// key reads as unset.
pub fn get(key: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::shared::rotor::centrifugo::config::get(key);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = key;
        None
    }
}
