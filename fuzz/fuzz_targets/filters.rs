//! The event list / WebSocket filters (a query string) and the webhook filter object (JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = form_pairs(data);
    let _ = domain::list_filters::EventListFilters::parse(&pairs);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(pairs) = domain::query_params::from_json_object(&value, "filters") {
            let _ = domain::list_filters::EventListFilters::parse(&pairs);
        }
        let _ = serde_json::from_value::<domain::filters::EventFilters>(value);
    }
});

/// `a=1&b=2` split without decoding, as a query string arrives.
fn form_pairs(data: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(data)
        .split('&')
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
