//! Where images go. [`MediaStore`] is the one interface the services write through; [`LocalMedia`]
//! is the MEDIA_ROOT back end (facerouter-ingest adds an S3-compatible one). Local writes go to a
//! temporary name, are fsync'd, renamed into place and the directory fsync'd, so a 2xx never
//! points at a file a crash can lose or leave half-written.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

/// A durable blob store addressed by relative paths (forward slashes, no `..`).
pub trait MediaStore: Send + Sync {
    /// Stores `bytes` at `relative` durably (it survives a crash once this returns) and returns
    /// the path to record.
    fn put(&self, relative: String, bytes: bytes::Bytes) -> BoxFuture<'_, std::io::Result<String>>;
}

impl MediaStore for LocalMedia {
    fn put(&self, relative: String, bytes: bytes::Bytes) -> BoxFuture<'_, std::io::Result<String>> {
        Box::pin(LocalMedia::put(self, relative, bytes))
    }
}

#[derive(Debug, Clone)]
pub struct LocalMedia {
    root: PathBuf,
}

impl LocalMedia {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Stores `bytes` at `relative` (forward slashes, no `..`) and returns the same relative path.
    pub async fn put(&self, relative: String, bytes: bytes::Bytes) -> std::io::Result<String> {
        let target = self.root.join(&relative);
        tokio::task::spawn_blocking(move || write_durably(&target, &bytes)).await.map_err(std::io::Error::other)??;
        Ok(relative)
    }
}

fn write_durably(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = target.parent().ok_or_else(|| std::io::Error::other("media path has no parent"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = target.with_extension(format!("tmp-{}", uuid::Uuid::now_v7().simple()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, target)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_and_leaves_no_temporary_file() {
        let root = std::env::temp_dir().join(format!("ffsec-media-{}", uuid::Uuid::now_v7()));
        let media = LocalMedia::new(&root);
        let path = media.put("a/b/c.jpg".into(), bytes::Bytes::from_static(b"x")).await.unwrap();
        assert_eq!(std::fs::read(root.join(&path)).unwrap(), b"x");
        assert_eq!(std::fs::read_dir(root.join("a/b")).unwrap().count(), 1);
        std::fs::remove_dir_all(root).unwrap();
    }
}
