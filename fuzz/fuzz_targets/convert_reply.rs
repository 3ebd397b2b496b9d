//! Fuzz target `convert_reply`: A guest reply built from the bytes, converted into Centrifugo's response; its size must stay linear in what the guest sent.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rotor::fuzz::convert_reply(data);
});
