//! Fuzz target `decode_request`: A proxy request as Centrifugo sends it: a type byte, then protobuf.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rotor::fuzz::decode_request(data);
});
