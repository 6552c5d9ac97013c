//! The config loader on an arbitrary file.
#![no_main]

use domain::config::{Config, Overrides, Service};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = std::env::temp_dir().join(format!("ffsec-fuzz-config-{}.toml", std::process::id()));
    if std::fs::write(&file, data).is_ok() {
        let _ = Config::load(Some(&file), Vec::new(), &Overrides::default(), Service::Ingest);
    }
});
