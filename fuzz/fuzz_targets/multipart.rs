//! The multipart reader with a fixed boundary, fed in small chunks.
#![no_main]

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("multipart/form-data; boundary=fuzz"));
    let chunks: Vec<Result<Bytes, actix_web::error::PayloadError>> =
        data.chunks(7).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let form = actix_multipart::Multipart::new(&headers, futures_util::stream::iter(chunks));
    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() {
        let _ = runtime.block_on(domain::multipart::read_parts(form, &["photo", "normalized"], 4096));
    }
});
