//! Where images go. [`MediaStore`] is the one interface every service writes, reads and deletes
//! through; [`LocalMedia`] is the MEDIA_ROOT back end and [`crate::media_s3::S3Media`] the
//! S3-compatible one, picked by [`from_config`]. A local file gets its name only once it is whole
//! (an anonymous file linked into place, or a temporary renamed: `media_place`), and is durable
//! before `put_all` returns, so a 2xx never points at a file a crash can lose or leave
//! half-written. How (FACEROUTER.MEDIA_SYNC):
//! - "file": each file fsync'd before it gets its name, the directory fsync'd after: three fsyncs per
//!   face ([`MediaStore::put_all`] writes a face's crop and frame in one blocking job with one
//!   directory fsync). On a disk without a journal every fsync is its own synchronous writes.
//! - "filesystem": no fsync per face; concurrent faces share one `syncfs(2)` of the filesystem
//!   (`media_group_commit`). A group commit of *directory fsyncs* in user space was tried before
//!   and was slower (it serialised fsyncs the disk would have overlapped); one `syncfs` instead
//!   replaces all of a round's fsyncs with one pass of writeback, and cost less CPU per face
//!   (docs/benchmarks.md, P1). It flushes other programs' data on that filesystem too, so it
//!   suits a volume of MEDIA_ROOT's own.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::Config;
use crate::config::{MediaLayout, MediaSync};
use crate::media_group_commit::{Answer, GroupCommit, committed};
use crate::media_pack::{self, PackRules, PackWriter};
use crate::media_place::Placement;
use crate::media_s3::S3Media;
use crate::media_sweep;

/// A stored image read back, with what HTTP caching needs.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub bytes: Bytes,
    pub modified: Option<SystemTime>,
    /// A validator that changes whenever the content could have (quoted, as in an `ETag`).
    pub etag: String,
}

/// A durable blob store addressed by relative paths (forward slashes, no `..`).
pub trait MediaStore: Send + Sync {
    /// Stores `bytes` at `relative` durably (it survives a crash once this returns) and returns
    /// the path to record.
    fn put(&self, relative: String, bytes: Bytes) -> BoxFuture<'_, std::io::Result<String>>;
    /// Stores several objects durably (as [`MediaStore::put`] each) and returns their paths in
    /// order; on an error some of them may have been stored. A store that can share work among
    /// them (one blocking job, one directory fsync) overrides this; the default puts them side by
    /// side.
    fn put_all(&self, objects: Vec<(String, Bytes)>) -> BoxFuture<'_, std::io::Result<Vec<String>>> {
        Box::pin(futures_util::future::try_join_all(
            objects.into_iter().map(|(relative, bytes)| self.put(relative, bytes)),
        ))
    }
    /// The object at `relative`, or `None` when there is none (or the path could leave the store).
    fn get(&self, relative: String) -> BoxFuture<'_, std::io::Result<Option<StoredObject>>>;
    /// Removes the object at `relative`; removing one that is not there is not an error.
    fn delete(&self, relative: String) -> BoxFuture<'_, std::io::Result<()>>;
    /// Removes what is left of the images of events created before `expired_before`, once
    /// retention has deleted those events: images no event refers to (`media_sweep`); returns
    /// how many files went. A store with nothing of the kind to find does nothing.
    fn sweep_expired(&self, _expired_before: SystemTime) -> BoxFuture<'_, std::io::Result<usize>> {
        Box::pin(std::future::ready(Ok(0)))
    }
}

/// The store the configuration names: FACEROUTER.MEDIA_URL empty means MEDIA_ROOT on local disk,
/// `file:///dir` another local directory, `s3://bucket/prefix?...` an S3-compatible bucket. Every
/// service builds it from the same file, so what ingest writes gateway-api serves and purges.
pub fn from_config(config: &Config) -> anyhow::Result<Arc<dyn MediaStore>> {
    let url = config.facerouter.media_url.trim();
    let local = |root: &Path| -> Arc<dyn MediaStore> {
        Arc::new(LocalMedia::with_sync(root, config.facerouter.media_sync).with_layout(config.facerouter.media_layout))
    };
    if url.is_empty() {
        return Ok(local(Path::new(&config.media_root)));
    }
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(local(Path::new(path)));
    }
    Ok(Arc::new(S3Media::from_url(url)?))
}

/// `relative` as a path of plain segments, or `None` for anything that could name something
/// outside the store (absolute, `..`, `.`, empty).
pub fn plain_relative(relative: &str) -> Option<&Path> {
    let path = Path::new(relative);
    let plain = !relative.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    plain.then_some(path)
}

impl MediaStore for LocalMedia {
    fn put(&self, relative: String, bytes: Bytes) -> BoxFuture<'_, std::io::Result<String>> {
        Box::pin(LocalMedia::put(self, relative, bytes))
    }

    fn put_all(&self, objects: Vec<(String, Bytes)>) -> BoxFuture<'_, std::io::Result<Vec<String>>> {
        Box::pin(LocalMedia::put_all(self, objects))
    }

    fn get(&self, relative: String) -> BoxFuture<'_, std::io::Result<Option<StoredObject>>> {
        Box::pin(self.read(relative))
    }

    fn delete(&self, relative: String) -> BoxFuture<'_, std::io::Result<()>> {
        Box::pin(self.remove(relative))
    }

    fn sweep_expired(&self, expired_before: SystemTime) -> BoxFuture<'_, std::io::Result<usize>> {
        let (root, rules) = (self.root.clone(), self.pack_rules);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || media_sweep::sweep(&root, expired_before, &rules, SystemTime::now()))
                .await
                .map_err(std::io::Error::other)?
        })
    }
}

#[derive(Debug, Clone)]
pub struct LocalMedia {
    root: PathBuf,
    sync: MediaSync,
    /// The "filesystem" group commit, started by the first write (`None` inside: not available
    /// on this kernel, so every write fsyncs its own files).
    group: Arc<OnceLock<Option<GroupCommit>>>,
    /// "file": directories whose entries (and their parents') this store has fsync'd. A directory
    /// another write is still making can already exist; a face written into it must not be
    /// answered before that directory's entry is durable, so the first write to see a directory
    /// fsyncs its parents too.
    durable_dirs: Arc<Mutex<HashSet<PathBuf>>>,
    /// How files get their names ([`Placement`]).
    placement: Arc<Placement>,
    /// FACEROUTER.MEDIA_LAYOUT: where event images go (reads and deletes follow the path).
    layout: MediaLayout,
    /// The "packs" layout's writer, started by the first event image.
    packs: Arc<tokio::sync::OnceCell<PackWriter>>,
    pack_rules: PackRules,
}

impl LocalMedia {
    /// A store whose writes fsync their own files ("file"); see [`LocalMedia::with_sync`].
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self::with_sync(root, MediaSync::File)
    }

    /// A store that makes writes durable as `sync` says (FACEROUTER.MEDIA_SYNC).
    pub fn with_sync(root: impl Into<PathBuf>, sync: MediaSync) -> Self {
        Self {
            root: root.into(),
            sync,
            group: Arc::default(),
            durable_dirs: Arc::default(),
            placement: Arc::default(),
            layout: MediaLayout::default(),
            packs: Arc::default(),
            pack_rules: PackRules::default(),
        }
    }

    /// The same store with event images laid out as `layout` says.
    pub fn with_layout(self, layout: MediaLayout) -> Self {
        Self { layout, ..self }
    }

    /// The same store with other pack rules (tests: a short write window).
    pub fn with_pack_rules(self, pack_rules: PackRules) -> Self {
        Self { pack_rules, ..self }
    }

    /// Stores `bytes` at `relative` (forward slashes, no `..`) and returns the same relative path.
    pub async fn put(&self, relative: String, bytes: Bytes) -> std::io::Result<String> {
        let mut stored = self.put_all(vec![(relative, bytes)]).await?;
        stored.pop().ok_or_else(|| std::io::Error::other("media store returned no path"))
    }

    /// Stores every object in one blocking job: all written and placed under their names, then made
    /// durable. "file": each file fsync'd before it gets its name and each directory fsync'd once after
    /// (a face's crop and frame share a directory: one thread hop and three fsyncs per face).
    /// "filesystem": no fsync here; the face then joins the next shared `syncfs`
    /// ([`GroupCommit`]), and returns once it has completed.
    /// "packs" layout: event images are appended to this process's pack of their hour instead
    /// (`media_pack`).
    pub async fn put_all(&self, objects: Vec<(String, Bytes)>) -> std::io::Result<Vec<String>> {
        if self.layout == MediaLayout::Packs
            && !objects.is_empty()
            && objects.iter().all(|(relative, _)| media_pack::packs(relative))
        {
            let writer =
                self.packs.get_or_try_init(|| async { PackWriter::start(self.root.clone(), self.pack_rules) }).await?;
            return writer.append(objects).await;
        }
        let root = self.root.clone();
        let (relatives, targets): (Vec<String>, Vec<(PathBuf, Bytes)>) = objects
            .into_iter()
            .map(|(relative, bytes)| {
                let target = root.join(&relative);
                (relative, (target, bytes))
            })
            .unzip();
        let group = (self.sync == MediaSync::Filesystem).then(|| self.group.clone());
        let (known, placement) = (self.durable_dirs.clone(), self.placement.clone());
        let pending = tokio::task::spawn_blocking(move || {
            write_all_durably(&root, &targets, group.as_deref(), &known, &placement)
        })
        .await
        .map_err(std::io::Error::other)??;
        if let Some(answer) = pending {
            committed(answer).await?;
        }
        Ok(relatives)
    }

    async fn read(&self, relative: String) -> std::io::Result<Option<StoredObject>> {
        if media_pack::parse(&relative).is_some() {
            let root = self.root.clone();
            return tokio::task::spawn_blocking(move || match media_pack::parse(&relative) {
                Some(range) => media_pack::read(&root, &range),
                None => Ok(None),
            })
            .await
            .map_err(std::io::Error::other)?;
        }
        let Some(file) = plain_relative(&relative).map(|p| self.root.join(p)) else {
            return Ok(None);
        };
        // Defence in depth against a symlink planted inside MEDIA_ROOT: the real file must be
        // inside the real root.
        let (Ok(real_root), Ok(real_file)) =
            (tokio::fs::canonicalize(&self.root).await, tokio::fs::canonicalize(&file).await)
        else {
            return Ok(None);
        };
        if !real_file.starts_with(&real_root) {
            return Ok(None);
        }
        // A file removed meanwhile (retention) is simply not there.
        let found = async {
            Ok::<_, std::io::Error>((tokio::fs::metadata(&real_file).await?, tokio::fs::read(&real_file).await?))
        };
        let (metadata, bytes) = match found.await {
            Ok(found) => found,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if !metadata.is_file() {
            return Ok(None);
        }
        let bytes = Bytes::from(bytes);
        let modified = metadata.modified().ok();
        let nanos = modified.and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        Ok(Some(StoredObject { etag: format!("\"{:x}-{nanos:x}\"", bytes.len()), bytes, modified }))
    }

    /// Removes the file and the directories it leaves empty ([`prune_empty_dirs`]), or punches a
    /// pack range out of its pack ([`media_pack::delete`]).
    async fn remove(&self, relative: String) -> std::io::Result<()> {
        let (root, rules) = (self.root.clone(), self.pack_rules);
        tokio::task::spawn_blocking(move || {
            if let Some(range) = media_pack::parse(&relative) {
                return media_pack::delete(&root, &range, &rules, SystemTime::now());
            }
            let Some(file) = plain_relative(&relative).map(|p| root.join(p)) else {
                return Ok(());
            };
            match std::fs::remove_file(&file) {
                // Removed before (a path deleted twice: a crop that is also the frame): whatever
                // is in its directory now is none of this delete's business.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                other => other?,
            }
            prune_empty_dirs(&root, &file);
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

/// Removes each directory above `removed` that its removal left empty (up to, not including,
/// `root`): event images sit in a directory per hour and bucket, thousands a day, which
/// retention would otherwise leave behind empty for ever. `remove_dir` removes only an empty
/// directory, so a directory another file still uses stays. A writer that made a directory just
/// before it went makes it again (`media_place`, `media_pack`).
pub(crate) fn prune_empty_dirs(root: &Path, removed: &Path) {
    let mut dir = removed.parent();
    while let Some(d) = dir.filter(|d| *d != root && d.starts_with(root)) {
        if std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Writes each file and gives it its name (`media_place`), and makes it durable: with no
/// `group`, or one that does not cover a directory written to, each file is fsync'd before its
/// naming and each distinct directory once after every file is in place (and so are the parents of
/// a directory not known durable yet, so a new directory survives a crash too). With a `group` that covers
/// them, no fsync here: the answer is the `syncfs` round the caller must wait for before the
/// files count as stored. A temporary file left by an error is removed; a file already named when
/// a later one fails stays, unreferenced, as after a crash (it may have replaced an earlier copy
/// that an event refers to, so it is not removed).
///
/// In the group commit a placed file can be read (served) before it is durable, and a crash
/// before the `syncfs` completes can lose it or leave it empty. That is harmless: nothing refers
/// to it until ingest publishes the face's event, which it does only after the `syncfs`; the
/// face is answered 503 (or not at all) and the worker sends it again, which rewrites it.
fn write_all_durably(
    root: &Path,
    targets: &[(PathBuf, Bytes)],
    group: Option<&OnceLock<Option<GroupCommit>>>,
    known: &Mutex<HashSet<PathBuf>>,
    placement: &Placement,
) -> std::io::Result<Option<Answer>> {
    let mut dirs: Vec<(&Path, std::fs::Metadata)> = Vec::with_capacity(1);
    let mut created: Vec<PathBuf> = Vec::new();
    for (target, _) in targets {
        let dir = target.parent().ok_or_else(|| std::io::Error::other("media path has no parent"))?;
        if !dirs.iter().any(|(d, _)| *d == dir) {
            dirs.push((dir, create_dirs(root, dir, &mut created)?));
        }
    }
    let group = match group {
        Some(group) => group_commit(group, root)?,
        None => None,
    };
    let group = group.filter(|g| dirs.iter().all(|(_, metadata)| g.covers(metadata)));
    if group.is_none() {
        for (dir, _) in &dirs {
            make_entries_durable(root, dir, known, &created)?;
        }
    }
    for (target, bytes) in targets {
        placement.place(root, target, bytes, group.is_none())?;
    }
    match group {
        Some(group) => group.join().map(Some),
        None => dirs.iter().try_for_each(|(dir, _)| sync_dir(dir)).map(|()| None),
    }
}

/// The store's group commit, started on first use (it needs the root to exist); `None` where the
/// kernel cannot do it. A failed start is not remembered: the next write tries again.
fn group_commit<'a>(group: &'a OnceLock<Option<GroupCommit>>, root: &Path) -> std::io::Result<Option<&'a GroupCommit>> {
    if let Some(started) = group.get() {
        return Ok(started.as_ref());
    }
    let started = GroupCommit::start(root)?;
    if started.is_none() {
        tracing::warn!("FACEROUTER.MEDIA_SYNC = \"filesystem\" needs Linux 5.8 or later; fsyncing each file instead");
    }
    // Two first writes at once may both start one: the loser's thread ends with its handle.
    Ok(group.get_or_init(|| started).as_ref())
}

/// Creates `dir` and any missing parents below `root` (for a directory retention removed since
/// it was made); with `sync`, fsyncs the parent of each one made.
pub(crate) fn create_dirs_durably(root: &Path, dir: &Path, sync: bool) -> std::io::Result<()> {
    let mut made = Vec::new();
    create_dirs(root, dir, &mut made)?;
    if sync {
        made.iter().try_for_each(|d| d.parent().map_or(Ok(()), sync_dir))?;
    }
    Ok(())
}

/// "file": fsyncs the parent of `dir` and of each directory above it (below `root`) that this
/// store has not made durable before, or that this write just `created` (the set may remember an
/// earlier one of that name that retention removed), top down, then remembers them. Another write
/// may have just made `dir` and not yet fsync'd its parent. Steady state: one set lookup.
fn make_entries_durable(
    root: &Path,
    dir: &Path,
    known: &Mutex<HashSet<PathBuf>>,
    created: &[PathBuf],
) -> std::io::Result<()> {
    /// Past this many, the set starts over (old hours are not written to again).
    const REMEMBERED: usize = 100_000;
    let unknown: Vec<&Path> = {
        let known = known.lock().unwrap_or_else(PoisonError::into_inner);
        let durable = |d: &Path| known.contains(d) && !created.iter().any(|c| c == d);
        dir.ancestors().take_while(|d| *d != root && d.starts_with(root) && !durable(d)).collect()
    };
    if unknown.is_empty() {
        return Ok(());
    }
    for d in unknown.iter().rev() {
        d.parent().map_or(Ok(()), sync_dir)?;
    }
    let mut known = known.lock().unwrap_or_else(PoisonError::into_inner);
    if known.len() > REMEMBERED {
        known.clear();
    }
    known.extend(unknown.iter().map(|d| d.to_path_buf()));
    Ok(())
}

/// Creates `dir` and any missing parents below `root`, noting each directory it created (their
/// parents must be made durable too: a new directory must survive a crash, not only the files in
/// it), and returns `dir`'s metadata. The common case is one `metadata` call.
fn create_dirs(root: &Path, dir: &Path, created: &mut Vec<PathBuf>) -> std::io::Result<std::fs::Metadata> {
    if let Ok(metadata) = std::fs::metadata(dir)
        && metadata.is_dir()
    {
        return Ok(metadata);
    }
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| *d != root && !d.is_dir()).collect();
    std::fs::create_dir_all(dir)?;
    created.extend(missing.iter().rev().map(|d| d.to_path_buf()));
    std::fs::metadata(dir)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        std::env::temp_dir().join(format!("ffsec-media-{}", uuid::Uuid::now_v7()))
    }

    #[tokio::test]
    async fn writes_and_leaves_no_temporary_file() {
        let root = scratch();
        let media = LocalMedia::new(&root);
        let path = media.put("a/b/c.jpg".into(), Bytes::from_static(b"x")).await.unwrap();
        assert_eq!(std::fs::read(root.join(&path)).unwrap(), b"x");
        assert_eq!(std::fs::read_dir(root.join("a/b")).unwrap().count(), 1);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn puts_several_at_once_in_order_and_leaves_no_temporary_file() {
        let root = scratch();
        let store: Arc<dyn MediaStore> = Arc::new(LocalMedia::new(&root));
        let objects = vec![
            ("e/2026/11/27/1_face.jpg".to_string(), Bytes::from_static(b"crop")),
            ("e/2026/11/27/1_frame.jpg".to_string(), Bytes::from_static(b"frame")),
            ("e/other/2_face.png".to_string(), Bytes::from_static(b"png")),
        ];
        let stored = store.put_all(objects.clone()).await.unwrap();
        assert_eq!(stored, objects.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
        for (path, bytes) in &objects {
            assert_eq!(std::fs::read(root.join(path)).unwrap(), &bytes[..], "{path}");
        }
        assert_eq!(std::fs::read_dir(root.join("e/2026/11/27")).unwrap().count(), 2, "no temporary file left");
        // A failing write (a directory where the file should go) reports the error and cleans up.
        std::fs::create_dir_all(root.join("e/x/3_face.jpg")).unwrap();
        let failed = store.put_all(vec![("e/x/3_face.jpg".into(), Bytes::from_static(b"c"))]).await;
        assert!(failed.is_err());
        assert_eq!(std::fs::read_dir(root.join("e/x")).unwrap().count(), 1, "only the blocking directory");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn group_commit_stores_complete_files_and_leaves_no_temporary_file() {
        let root = scratch();
        let store: Arc<dyn MediaStore> = Arc::new(LocalMedia::with_sync(&root, MediaSync::Filesystem));
        let objects = vec![
            ("e/2026/11/27/1_face.jpg".to_string(), Bytes::from(vec![7u8; 3000])),
            ("e/2026/11/27/1_frame.jpg".to_string(), Bytes::from(vec![9u8; 12_000])),
        ];
        let stored = store.put_all(objects.clone()).await.unwrap();
        assert_eq!(stored, objects.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
        for (path, bytes) in &objects {
            assert_eq!(std::fs::read(root.join(path)).unwrap(), &bytes[..], "{path}");
        }
        assert_eq!(std::fs::read_dir(root.join("e/2026/11/27")).unwrap().count(), 2, "no temporary file left");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn group_commit_answers_every_concurrent_write() {
        let root = scratch();
        let store: Arc<dyn MediaStore> = Arc::new(LocalMedia::with_sync(&root, MediaSync::Filesystem));
        let mut writes = tokio::task::JoinSet::new();
        for n in 0..200 {
            let store = store.clone();
            writes.spawn(async move {
                let bytes = Bytes::from(format!("face {n}"));
                store
                    .put_all(vec![(format!("day/{n}_face.jpg"), bytes.clone()), (format!("day/{n}_frame.jpg"), bytes)])
                    .await
            });
        }
        let mut answered = 0;
        while let Some(done) = writes.join_next().await {
            assert_eq!(done.unwrap().unwrap().len(), 2);
            answered += 1;
        }
        assert_eq!(answered, 200);
        for n in 0..200 {
            assert_eq!(std::fs::read(root.join(format!("day/{n}_frame.jpg"))).unwrap(), format!("face {n}").as_bytes());
        }
        assert_eq!(std::fs::read_dir(root.join("day")).unwrap().count(), 400, "no temporary file left");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn group_commit_reports_a_failed_write_and_cleans_up() {
        let root = scratch();
        let store = LocalMedia::with_sync(&root, MediaSync::Filesystem);
        store.put("e/x/1_face.jpg".into(), Bytes::from_static(b"ok")).await.unwrap();
        // A directory where the file should go: the rename fails, nothing is committed.
        std::fs::create_dir_all(root.join("e/x/2_face.jpg")).unwrap();
        let failed = store
            .put_all(vec![
                ("e/x/2_frame.jpg".into(), Bytes::from_static(b"f")),
                ("e/x/2_face.jpg".into(), Bytes::from_static(b"c")),
            ])
            .await;
        assert!(failed.is_err());
        let mut left: Vec<String> = std::fs::read_dir(root.join("e/x"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        // The frame renamed before the failure stays (unreferenced, as after a crash); no
        // temporary file does.
        assert_eq!(left, ["1_face.jpg", "2_face.jpg", "2_frame.jpg"]);
        // The root removed under a running store: the next write recreates it and is committed.
        std::fs::remove_dir_all(&root).unwrap();
        store.put("e/y/3_face.jpg".into(), Bytes::from_static(b"again")).await.unwrap();
        assert_eq!(std::fs::read(root.join("e/y/3_face.jpg")).unwrap(), b"again");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn reads_back_and_deletes_through_the_interface() {
        let root = scratch();
        let store: Arc<dyn MediaStore> = Arc::new(LocalMedia::new(&root));
        store.put("x/y.jpg".into(), Bytes::from_static(b"abc")).await.unwrap();
        let object = store.get("x/y.jpg".into()).await.unwrap().unwrap();
        assert_eq!(&object.bytes[..], b"abc");
        assert!(object.etag.starts_with("\"3-"), "{}", object.etag);
        store.delete("x/y.jpg".into()).await.unwrap();
        store.delete("x/y.jpg".into()).await.unwrap();
        assert!(store.get("x/y.jpg".into()).await.unwrap().is_none());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn directories_are_made_durable_once_each() {
        let root = scratch();
        std::fs::create_dir_all(root.join("e/2026/01")).unwrap();
        let known = Mutex::new(HashSet::new());
        make_entries_durable(&root, &root.join("e/2026/01"), &known, &[]).unwrap();
        let mut held: Vec<PathBuf> = known.lock().unwrap().iter().cloned().collect();
        held.sort();
        assert_eq!(held, [root.join("e"), root.join("e/2026"), root.join("e/2026/01")], "the root is not its to sync");
        std::fs::create_dir_all(root.join("e/2026/02")).unwrap();
        make_entries_durable(&root, &root.join("e/2026/02"), &known, &[]).unwrap();
        assert_eq!(known.lock().unwrap().len(), 4, "only the new directory joins");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn a_delete_removes_the_directories_it_empties_and_no_other() {
        let root = scratch();
        let store = LocalMedia::new(&root);
        for file in ["e/2026/01/a/1.jpg", "e/2026/01/a/2.jpg", "e/2026/01/b/3.jpg"] {
            store.put(file.into(), Bytes::from_static(b"x")).await.unwrap();
        }
        store.delete("e/2026/01/a/1.jpg".into()).await.unwrap();
        assert!(root.join("e/2026/01/a/2.jpg").is_file(), "a directory still in use stays");
        store.delete("e/2026/01/a/2.jpg".into()).await.unwrap();
        assert!(!root.join("e/2026/01/a").exists(), "an emptied directory goes");
        assert!(root.join("e/2026/01/b/3.jpg").is_file());
        store.delete("e/2026/01/b/3.jpg".into()).await.unwrap();
        assert!(!root.join("e").exists(), "every emptied directory up to the root goes");
        // A second delete of a path already gone leaves alone a directory made again since.
        std::fs::create_dir_all(root.join("e/2026/01/b")).unwrap();
        store.delete("e/2026/01/b/3.jpg".into()).await.unwrap();
        assert!(root.join("e/2026/01/b").is_dir());
        std::fs::remove_dir_all(root.join("e")).unwrap();
        assert!(root.is_dir(), "the root stays");
        // A write into a directory removed since the last write there makes it again.
        store.put("e/2026/01/b/4.jpg".into(), Bytes::from_static(b"y")).await.unwrap();
        assert_eq!(std::fs::read(root.join("e/2026/01/b/4.jpg")).unwrap(), b"y");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn nothing_outside_the_root_can_be_named() {
        let root = scratch();
        let outside = scratch();
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), b"s").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.join("secret"), root.join("link")).unwrap();
        let store = LocalMedia::new(&root);
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "./x", "link"] {
            assert!(store.read(bad.into()).await.unwrap().is_none(), "{bad}");
        }
        assert_eq!(plain_relative("events/2026/a.jpg"), Some(Path::new("events/2026/a.jpg")));
        std::fs::remove_dir_all(root).unwrap();
        std::fs::remove_dir_all(outside).unwrap();
    }
}
