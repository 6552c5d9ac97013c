//! The S3-compatible image store, through `object_store`, configured by a URL
//! (`s3://bucket/prefix?endpoint=...&region=...`; credentials from the usual AWS_* environment
//! variables). A PUT is durable once S3 answers it, so there is nothing more to fsync.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use crate::media::{MediaStore, StoredObject, plain_relative};

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

    /// The object key of a stored path; `None` for a path that is not plain segments, so a
    /// crafted URL can never name a key outside the prefix.
    fn key(&self, relative: &str) -> Option<Path> {
        plain_relative(relative)?;
        let key = if self.prefix.is_empty() { relative.to_string() } else { format!("{}/{relative}", self.prefix) };
        Path::parse(key).ok()
    }

    async fn put_object(&self, relative: String, bytes: Bytes) -> std::io::Result<String> {
        let path = self.key(&relative).ok_or_else(|| std::io::Error::other("media path is not plain segments"))?;
        self.store.put(&path, PutPayload::from(bytes)).await.map_err(std::io::Error::other)?;
        Ok(relative)
    }

    async fn get_object(&self, relative: String) -> std::io::Result<Option<StoredObject>> {
        let Some(path) = self.key(&relative) else {
            return Ok(None);
        };
        let found = match self.store.get(&path).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(std::io::Error::other(e)),
        };
        let meta = found.meta.clone();
        let bytes = found.bytes().await.map_err(std::io::Error::other)?;
        // S3's ETag is already quoted; a store without one gets size and time instead.
        let etag = meta.e_tag.unwrap_or_else(|| {
            format!("\"{:x}-{:x}\"", meta.size, meta.last_modified.timestamp_nanos_opt().unwrap_or(0))
        });
        Ok(Some(StoredObject { bytes, modified: Some(meta.last_modified.into()), etag }))
    }

    async fn delete_object(&self, relative: String) -> std::io::Result<()> {
        let Some(path) = self.key(&relative) else {
            return Ok(());
        };
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

impl MediaStore for S3Media {
    fn put(&self, relative: String, bytes: Bytes) -> BoxFuture<'_, std::io::Result<String>> {
        Box::pin(self.put_object(relative, bytes))
    }

    fn get(&self, relative: String) -> BoxFuture<'_, std::io::Result<Option<StoredObject>>> {
        Box::pin(self.get_object(relative))
    }

    fn delete(&self, relative: String) -> BoxFuture<'_, std::io::Result<()>> {
        Box::pin(self.delete_object(relative))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn reads_the_media_url() {
        let store = S3Media::from_url("s3://bucket/a/b/?endpoint=http://127.0.0.1:9000&region=eu-west-1").unwrap();
        assert_eq!(store.prefix, "a/b");
        assert_eq!(store.key("events/x.jpg").map(|p| p.to_string()), Some("a/b/events/x.jpg".to_string()));
        assert!(store.key("../x.jpg").is_none(), "no escape from the prefix");
        assert!(S3Media::from_url("s3:///x").is_err(), "no bucket");
        assert!(S3Media::from_url("s3://bucket?colour=red").is_err(), "unknown option");
        let mut config = Config::default();
        config.facerouter.media_url = "file:///tmp/elsewhere".into();
        assert!(crate::media::from_config(&config).is_ok());
    }
}
