//! Picks the image store from FACEROUTER.MEDIA_URL: MEDIA_ROOT on local disk by default, or an
//! S3-compatible bucket through `object_store` (`s3://bucket/prefix?endpoint=...&region=...`;
//! credentials from the usual AWS_* environment variables).

use std::sync::Arc;

use bytes::Bytes;
use domain::Config;
use domain::media::{LocalMedia, MediaStore};
use futures_util::future::BoxFuture;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

pub fn from_config(config: &Config) -> anyhow::Result<Arc<dyn MediaStore>> {
    let url = config.facerouter.media_url.trim();
    if url.is_empty() {
        return Ok(Arc::new(LocalMedia::new(&config.media_root)));
    }
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(Arc::new(LocalMedia::new(path)));
    }
    Ok(Arc::new(S3Media::from_url(url)?))
}

/// An S3-compatible bucket. A PUT is durable once S3 answers it, so nothing more to fsync.
pub struct S3Media {
    store: AmazonS3,
    prefix: String,
}

impl S3Media {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let (location, query) = url.split_once('?').unwrap_or((url, ""));
        let rest = location.strip_prefix("s3://").ok_or_else(|| anyhow::anyhow!("MEDIA_URL must start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        anyhow::ensure!(!bucket.is_empty(), "MEDIA_URL names no bucket");
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            builder = match key {
                "endpoint" => builder.with_endpoint(value).with_allow_http(value.starts_with("http://")),
                "region" => builder.with_region(value),
                "virtual_hosted" => builder.with_virtual_hosted_style_request(value == "true"),
                // Anonymous requests: for a bucket that needs no credentials (or a test server).
                "skip_signature" => builder.with_skip_signature(value == "true"),
                other => anyhow::bail!("MEDIA_URL: unknown option {other}"),
            };
        }
        Ok(Self { store: builder.build()?, prefix: prefix.trim_matches('/').to_string() })
    }

    async fn put_object(&self, relative: String, bytes: Bytes) -> std::io::Result<String> {
        let key = if self.prefix.is_empty() { relative.clone() } else { format!("{}/{relative}", self.prefix) };
        let path = Path::parse(&key).map_err(std::io::Error::other)?;
        self.store.put(&path, PutPayload::from(bytes)).await.map_err(std::io::Error::other)?;
        Ok(relative)
    }
}

impl MediaStore for S3Media {
    fn put(&self, relative: String, bytes: Bytes) -> BoxFuture<'_, std::io::Result<String>> {
        Box::pin(self.put_object(relative, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_media_url() {
        let store = S3Media::from_url("s3://bucket/a/b/?endpoint=http://127.0.0.1:9000&region=eu-west-1").unwrap();
        assert_eq!(store.prefix, "a/b");
        assert!(S3Media::from_url("s3:///x").is_err(), "no bucket");
        assert!(S3Media::from_url("s3://bucket?colour=red").is_err(), "unknown option");
        let mut config = Config::default();
        config.facerouter.media_url = "file:///tmp/elsewhere".into();
        assert!(from_config(&config).is_ok());
    }
}
