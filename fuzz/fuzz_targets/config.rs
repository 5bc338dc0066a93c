#![no_main]
//! The config file parser: any text is a configuration or a clear error, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(config) = hafen::Config::from_toml_str(text) {
        let _ = config.listen_addr();
        let _ = config.database();
        let _ = config.recovery_recipients();
        let _ = config.posture(true);
        let _ = config.posture(false);
    }
});
