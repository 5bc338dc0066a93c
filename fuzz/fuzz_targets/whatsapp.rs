#![no_main]
//! The whatsapp webhook parser must never panic, whatever the (signed) body holds.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = hafen::messages::parse::whatsapp::parse(body);
});
