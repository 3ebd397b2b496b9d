//! Fuzz target `parse_config`: A configuration file.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rotor::fuzz::parse_config(data);
});
