//! Event images in pack files (FACEROUTER.MEDIA_LAYOUT = "packs"): each ingest process appends
//! the crops and frames of its faces to one file per event hour, instead of creating two files
//! per face. P1's profile put half of the machine's CPU per face in the per-file work (create,
//! link, directory entries, writeback of small files, `syncfs`); an append and a shared
//! `fdatasync` cost a small part of that (docs/benchmarks.md).
//!
//! - **Writing**: one thread per store takes every face waiting, appends their images with
//!   `pwritev`, `fdatasync`s each pack it wrote, then answers them all (a group commit: a face
//!   that arrives during a sync joins the next round, so its answer always follows a sync that
//!   started after its write). A pack is only ever appended to by the process that created it
//!   (`O_EXCL`, a random instance id in the name): several replicas can share MEDIA_ROOT, and a
//!   restart never appends after a torn tail. A pack takes writes for `write_window` after its
//!   creation (and up to `max_bytes`), then the next write opens a new one. Other processes judge
//!   a pack closed by the time in its name plus `SETTLE`: hosts sharing MEDIA_ROOT must keep
//!   their clocks within that of each other (NTP).
//! - **Addressing**: an image's path is `<pack path>/<offset>-<length>/<file name>`, e.g.
//!   `events/2026/11/27/09/1795770000-9f3a…-1.pack/40960-2048/<id>_face.jpg`. The path is the
//!   whole address, so any service reads it without an index, and a path of the "files" layout
//!   never looks like one.
//! - **Deleting** one image punches its range out of the pack (`fallocate(PUNCH_HOLE)`): its bytes
//!   read as zeros at once and its whole blocks go back to the filesystem. Once the pack can no
//!   longer be written, zeroed blocks before its first live byte (shared with neighbours deleted
//!   since: deletes come mostly oldest first) are punched too, and a pack left without data is
//!   removed. Zeroed blocks between live images wait for that or for the sweep.
//! - **Retention** also removes whole packs of an hour every event of which has expired
//!   ([`crate::media_sweep`]): that reclaims the images nothing refers to (a face stored, then answered 503
//!   because the broker was down; bytes written before a crash).
//!
//! Stored images always start with their format's magic bytes (ingest checks the type by its
//! bytes), never with a zero: a range that reads zeros has been deleted.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::IoSlice;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use rustix::fs::{FallocateFlags, SeekFrom};
use rustix::io::Errno;
use tokio::sync::oneshot;

use crate::media::{StoredObject, create_dirs_durably, plain_relative, prune_empty_dirs};
use crate::media_place::in_remade_dir;

/// Event images (paths under this) go to packs; anything else (dossier photos) stays a file.
pub const PACKED_PREFIX: &str = "events/";
/// `events/YYYY/MM/DD/HH`: the directory of the hour a pack belongs to.
const KEY_SEGMENTS: usize = 5;
/// The largest range a path may name, and so the most a read allocates. FACEROUTER.MAX_IMAGE_BYTES
/// may not exceed it with this layout (config validation).
pub const MAX_RANGE: u64 = 64 << 20;
/// Faces one writer round takes at most (`pwritev` takes up to 1024 slices at a time).
const MAX_ROUND: usize = 512;
const IOV_CHUNK: usize = 1024;
/// Time given to clocks and in-flight writes after a pack's window before it is removed.
const SETTLE: Duration = Duration::from_secs(600);

/// When a pack stops taking writes.
#[derive(Debug, Clone, Copy)]
pub struct PackRules {
    /// A pack takes writes this long after its creation, then the next write opens a new one.
    pub write_window: Duration,
    /// ... or once it holds this many bytes.
    pub max_bytes: u64,
}

impl Default for PackRules {
    fn default() -> Self {
        Self { write_window: Duration::from_secs(3600), max_bytes: 1 << 30 }
    }
}

impl PackRules {
    /// Whether no process can still write to a pack created at `created` (its window is over,
    /// with time to settle).
    pub(crate) fn closed(&self, created: SystemTime, now: SystemTime) -> bool {
        created.checked_add(self.write_window + SETTLE).is_some_and(|end| end <= now)
    }
}

/// One image's place in a pack, as its path names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackRange<'a> {
    /// The pack file, relative to the root.
    pub pack: &'a str,
    pub offset: u64,
    pub len: u64,
}

/// The range a pack path names, or `None` for any other path (a file of the "files" layout, or
/// something malformed).
pub fn parse(relative: &str) -> Option<PackRange<'_>> {
    plain_relative(relative)?;
    let (rest, name) = relative.rsplit_once('/')?;
    if name.is_empty() {
        return None;
    }
    let (pack, range) = rest.rsplit_once('/')?;
    if !in_hour_dir(pack) || !pack_name(pack.rsplit('/').next()?) {
        return None;
    }
    let (offset, len) = range.split_once('-')?;
    let digits = |s: &str| s.len() <= 20 && all_digits(s);
    if !digits(offset) || !digits(len) {
        return None;
    }
    let (offset, len) = (offset.parse::<u64>().ok()?, len.parse::<u64>().ok()?);
    if len == 0 || len > MAX_RANGE {
        return None;
    }
    offset.checked_add(len)?;
    Some(PackRange { pack, offset, len })
}

/// When the pack of this name was created (the name starts with its creation's Unix seconds).
pub(crate) fn created_of(pack: &str) -> Option<SystemTime> {
    let name = pack.rsplit('/').next()?;
    let secs: u64 = name.split('-').next()?.parse().ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Whether a path is an event image that this layout packs: plain segments,
/// `events/YYYY/MM/DD/HH/…/<name>`.
pub fn packs(relative: &str) -> bool {
    plain_relative(relative).is_some() && in_hour_dir(relative)
}

/// Whether `path` lies below an hour directory, `events/YYYY/MM/DD/HH/…`.
fn in_hour_dir(path: &str) -> bool {
    let mut segments = path.split('/');
    segments.next() == Some(PACKED_PREFIX.trim_end_matches('/'))
        && [4, 2, 2, 2].into_iter().all(|n| segments.next().is_some_and(|s| s.len() == n && all_digits(s)))
        && segments.next().is_some()
}

pub(crate) fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `name` is shaped as the writer names packs: `<unix seconds>-<16 hex>-<n>.pack`.
fn pack_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".pack") else { return false };
    let parts: Vec<&str> = stem.split('-').collect();
    matches!(parts[..], [secs, instance, n]
        if all_digits(secs) && secs.len() <= 19 && instance.len() == 16
            && instance.bytes().all(|b| b.is_ascii_hexdigit()) && all_digits(n) && n.len() <= 19)
}

/// What a round answers one face: its images' paths, or the failure (an `io::Error` is not
/// `Clone`: its kind and text).
type Outcome = Result<Vec<String>, (std::io::ErrorKind, String)>;

struct Request {
    /// The hour directory, `events/YYYY/MM/DD/HH`.
    key: String,
    /// Each image's file name (kept as the path's last segment) and bytes.
    images: Vec<(String, Bytes)>,
    done: oneshot::Sender<Outcome>,
}

/// The handle of a store's pack-writing thread; dropping it ends the thread.
#[derive(Debug)]
pub struct PackWriter {
    requests: mpsc::Sender<Request>,
}

impl PackWriter {
    pub fn start(root: PathBuf, rules: PackRules) -> std::io::Result<Self> {
        let (requests, waiting) = mpsc::channel();
        let instance = format!("{:016x}", rand::random::<u64>());
        std::thread::Builder::new()
            .name("media-packs".into())
            .spawn(move || write_rounds(&root, rules, &instance, &waiting))?;
        Ok(Self { requests })
    }

    /// Appends the images (all under [`PACKED_PREFIX`], in one hour directory) durably and
    /// returns their paths, in order.
    pub async fn append(&self, objects: Vec<(String, Bytes)>) -> std::io::Result<Vec<String>> {
        let key = objects.first().map(|(relative, _)| hour_key(relative).to_owned()).unwrap_or_default();
        let mut images = Vec::with_capacity(objects.len());
        for (relative, bytes) in objects {
            if hour_key(&relative) != key {
                return Err(std::io::Error::other("one face's images must share an hour"));
            }
            let name = relative.rsplit('/').next().unwrap_or_default().to_owned();
            images.push((name, bytes));
        }
        let (done, answer) = oneshot::channel();
        self.requests
            .send(Request { key, images, done })
            .map_err(|_| std::io::Error::other("the media pack writer has stopped"))?;
        match answer.await {
            Ok(Ok(paths)) => Ok(paths),
            Ok(Err((kind, message))) => Err(std::io::Error::new(kind, format!("media pack: {message}"))),
            Err(_) => Err(std::io::Error::other("the media pack writer stopped before answering")),
        }
    }
}

/// `events/YYYY/MM/DD/HH` of `events/YYYY/MM/DD/HH/<bucket>/<name>`.
fn hour_key(relative: &str) -> &str {
    relative.match_indices('/').nth(KEY_SEGMENTS - 1).map_or(relative, |(end, _)| &relative[..end])
}

/// A pack this process writes.
struct Pack {
    file: File,
    /// Its path relative to the root.
    relative: String,
    /// When it was created, by the wall clock (in its name: how other processes judge it) and
    /// by this process's monotonic clock (a wall clock stepped back must not stretch its window).
    created: SystemTime,
    opened: Instant,
    len: u64,
}

impl Pack {
    /// Whether it may take this round's writes: inside its window by both clocks, below its size
    /// cap, and still linked (a pack removed by another process, which can only happen when
    /// clocks disagree by more than `SETTLE`, is left for a new one).
    fn takes_writes(&self, rules: &PackRules) -> bool {
        let now = SystemTime::now();
        self.opened.elapsed() < rules.write_window
            && self.created.checked_add(rules.write_window).is_some_and(|end| end > now)
            && self.len < rules.max_bytes
            && linked(&self.file)
    }
}

/// Whether the file still has a name (it was not unlinked under its writer).
fn linked(file: &File) -> bool {
    file.metadata().is_ok_and(|m| m.nlink() > 0)
}

fn write_rounds(root: &Path, rules: PackRules, instance: &str, waiting: &mpsc::Receiver<Request>) {
    let mut open: HashMap<String, Pack> = HashMap::new();
    let mut made = 0u64;
    while let Ok(first) = waiting.recv() {
        let mut round = vec![first];
        round.extend(waiting.try_iter().take(MAX_ROUND - 1));
        let mut keys: Vec<String> = round.iter().map(|r| r.key.clone()).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut outcomes: Vec<Option<Outcome>> = round.iter().map(|_| None).collect();
        for key in keys {
            let mine: Vec<usize> = (0..round.len()).filter(|&i| round[i].key == key).collect();
            // Checked for each hour just before its write: a slow sync of another hour's pack
            // must not stretch a pack's window.
            if open.get(&key).is_some_and(|pack| !pack.takes_writes(&rules)) {
                open.remove(&key);
            }
            let written = (|| {
                if !open.contains_key(&key) {
                    made += 1;
                    open.insert(key.clone(), open_pack(root, &key, instance, made)?);
                }
                let pack = open.get_mut(&key).ok_or_else(|| std::io::Error::other("pack not open"))?;
                append_round(pack, mine.iter().map(|&i| &round[i]))
            })();
            match written {
                Ok(paths) => mine.iter().zip(paths).for_each(|(&i, p)| outcomes[i] = Some(Ok(p))),
                Err(e) => {
                    tracing::error!(error = %e, "media pack write failed: {e}");
                    // What a failed write or sync left in the pack is unknown: start a new one.
                    open.remove(&key);
                    mine.iter().for_each(|&i| outcomes[i] = Some(Err((e.kind(), e.to_string()))));
                }
            }
        }
        for (request, outcome) in round.into_iter().zip(outcomes) {
            // A face that went away (its request was dropped) needs no answer.
            let _ =
                request.done.send(outcome.unwrap_or_else(|| Err((std::io::ErrorKind::Other, "not written".into()))));
        }
    }
}

/// Creates a new pack in `key`'s directory and makes its entry durable (the directory and its
/// parents fsync'd: once per pack, so once an hour).
fn open_pack(root: &Path, key: &str, instance: &str, seq: u64) -> std::io::Result<Pack> {
    let dir = root.join(key);
    create_dirs_durably(root, &dir, true)?;
    let secs = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let name = format!("{secs}-{instance}-{seq}.pack");
    let path = dir.join(&name);
    let file = in_remade_dir(root, &dir, true, || OpenOptions::new().write(true).create_new(true).open(&path))?;
    for d in dir.ancestors().take_while(|d| d.starts_with(root)) {
        File::open(d)?.sync_all()?;
    }
    // The creation time as other processes read it: the name's whole seconds.
    let created = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    Ok(Pack { file, relative: format!("{key}/{name}"), created, opened: Instant::now(), len: 0 })
}

/// Appends every image of `requests` to `pack` and `fdatasync`s it; returns each request's paths.
fn append_round<'a>(pack: &mut Pack, requests: impl Iterator<Item = &'a Request>) -> std::io::Result<Vec<Vec<String>>> {
    let mut offset = pack.len;
    let mut slices: Vec<&[u8]> = Vec::new();
    let mut paths = Vec::new();
    for request in requests {
        let mut mine = Vec::with_capacity(request.images.len());
        for (name, bytes) in &request.images {
            mine.push(format!("{}/{offset}-{}/{name}", pack.relative, bytes.len()));
            offset += bytes.len() as u64;
            slices.push(bytes);
        }
        paths.push(mine);
    }
    write_all_at(&pack.file, &slices, pack.len)?;
    pack.file.sync_data()?;
    // Removed while it was written (see `Pack::takes_writes`): the bytes have no name to be read by.
    if !linked(&pack.file) {
        return Err(std::io::Error::other(format!("{} was removed while written", pack.relative)));
    }
    pack.len = offset;
    Ok(paths)
}

/// Writes the slices one after another from `offset`, `pwritev` by `pwritev`.
fn write_all_at(file: &File, parts: &[&[u8]], mut offset: u64) -> std::io::Result<()> {
    let (mut part, mut skip) = (0, 0);
    while part < parts.len() {
        if parts[part].len() == skip {
            (part, skip) = (part + 1, 0);
            continue;
        }
        let slices: Vec<IoSlice<'_>> = parts[part..]
            .iter()
            .take(IOV_CHUNK)
            .enumerate()
            .map(|(k, p)| IoSlice::new(if k == 0 { &p[skip..] } else { p }))
            .collect();
        let mut written = match rustix::io::pwritev(file, &slices, offset) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        offset += written as u64;
        while written > 0 {
            let left = parts[part].len() - skip;
            if written >= left {
                (part, skip, written) = (part + 1, 0, written - left);
            } else {
                (skip, written) = (skip + written, 0);
            }
        }
    }
    Ok(())
}

/// Reads the image at `range` (in the pack under `root`), or `None` when there is none: no such
/// pack, a range past its end, or one that was deleted (reads zeros).
pub fn read(root: &Path, range: &PackRange<'_>) -> std::io::Result<Option<StoredObject>> {
    let Some(file) = within_root(root, range.pack, false)? else {
        return Ok(None);
    };
    let metadata = file.metadata()?;
    if !metadata.is_file() || range.offset + range.len > metadata.len() {
        return Ok(None);
    }
    let mut bytes = vec![0; usize::try_from(range.len).map_err(std::io::Error::other)?];
    file.read_exact_at(&mut bytes, range.offset)?;
    if bytes.first() == Some(&0) {
        return Ok(None);
    }
    // The range never changes once written: the pack's inode and the range identify it.
    let etag = format!("\"{:x}-{:x}-{:x}\"", metadata.ino(), range.offset, range.len);
    Ok(Some(StoredObject { bytes: Bytes::from(bytes), modified: created_of(range.pack), etag }))
}

/// The pack's file when it is inside the real root (defence in depth against a symlink planted
/// under MEDIA_ROOT), opened for reading (and writing, with `write`); `None` when it is not there.
fn within_root(root: &Path, pack: &str, write: bool) -> std::io::Result<Option<File>> {
    let Some(path) = plain_relative(pack).map(|p| root.join(p)) else {
        return Ok(None);
    };
    let (real_root, real_file) = match (std::fs::canonicalize(root), std::fs::canonicalize(&path)) {
        (Ok(root), Ok(file)) => (root, file),
        (_, Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    if !real_file.starts_with(&real_root) || !std::fs::metadata(&real_file).is_ok_and(|m| m.is_file()) {
        return Ok(None);
    }
    match OpenOptions::new().read(true).write(write).open(&real_file) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes the image at `range`: its bytes are punched out of the pack (zeroed where the
/// filesystem cannot punch). Once no process can write to the pack any more, the zeros left
/// allocated before the first live byte (blocks shared with neighbours deleted since) are
/// punched too, and the pack is removed when no data is left in it.
pub fn delete(root: &Path, range: &PackRange<'_>, rules: &PackRules, now: SystemTime) -> std::io::Result<()> {
    let Some(file) = within_root(root, range.pack, true)? else {
        return Ok(());
    };
    let size = file.metadata()?.len();
    if range.offset >= size {
        return Ok(());
    }
    let end = (range.offset + range.len).min(size);
    let punched = zero_out(&file, range.offset, end - range.offset)?;
    let closed = created_of(range.pack).is_some_and(|created| rules.closed(created, now));
    if punched && closed && reclaim_leading_zeros(&file)? {
        let path = root.join(range.pack);
        match std::fs::remove_file(&path) {
            Ok(()) => prune_empty_dirs(root, &path),
            // Another replica emptied and removed it at the same moment.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Punches `[offset, offset + len)` out of the file (size kept) and returns true, or writes
/// zeros over it where the filesystem cannot punch and returns false.
fn zero_out(file: &File, offset: u64, len: u64) -> std::io::Result<bool> {
    if len == 0 {
        return Ok(true);
    }
    match rustix::fs::fallocate(file, FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE, offset, len) {
        Ok(()) => Ok(true),
        Err(Errno::OPNOTSUPP | Errno::NOSYS) => {
            let zeros = vec![0u8; usize::try_from(len).map_err(std::io::Error::other)?];
            file.write_all_at(&zeros, offset)?;
            file.sync_data()?;
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Punches the file's data that reads as zeros, from its start up to the first byte that does
/// not (deleted images leave zeroed blocks behind where they shared a block with a neighbour);
/// returns whether no data is left at all. Deletes come mostly oldest first, so the first live
/// byte is near: a call reads little. Punching zeros never changes what a read returns.
fn reclaim_leading_zeros(file: &File) -> std::io::Result<bool> {
    let mut chunk = vec![0u8; 64 * 1024];
    let mut from = 0;
    loop {
        let start = match rustix::fs::seek(file, SeekFrom::Data(from)) {
            Ok(start) => start,
            Err(Errno::NXIO) => return Ok(true),
            Err(e) => return Err(e.into()),
        };
        let end = rustix::fs::seek(file, SeekFrom::Hole(start))?;
        let mut at = start;
        while at < end {
            let n = usize::try_from(end - at).map_or(chunk.len(), |left| left.min(chunk.len()));
            file.read_exact_at(&mut chunk[..n], at)?;
            if let Some(live) = chunk[..n].iter().position(|&b| b != 0) {
                if at + live as u64 > start {
                    zero_out(file, start, at + live as u64 - start)?;
                }
                return Ok(false);
            }
            at += n as u64;
        }
        zero_out(file, start, end - start)?;
        from = end;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::MediaLayout;
    use crate::media::{LocalMedia, MediaStore};

    const HOUR: &str = "events/2026/11/27/09";

    fn scratch() -> PathBuf {
        std::env::temp_dir().join(format!("ffsec-packs-{}", uuid::Uuid::now_v7()))
    }

    fn packs_in(dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "pack")).collect()
    }

    /// A face's crop and frame as ingest names them; image bytes start with a JPEG's magic.
    fn face(n: u32) -> Vec<(String, Bytes)> {
        let image = |kind: &str, len: usize| {
            let mut bytes = vec![0xFF, 0xD8, 0xFF];
            bytes.extend(std::iter::repeat_n((n % 250) as u8 + 1, len));
            (format!("{HOUR}/{:02x}/{n}_{kind}.jpg", n % 256), Bytes::from(bytes))
        };
        vec![image("face", 2000 + n as usize), image("frame", 9000)]
    }

    fn store(root: &Path) -> LocalMedia {
        LocalMedia::new(root).with_layout(MediaLayout::Packs)
    }

    #[tokio::test]
    async fn faces_are_appended_to_one_pack_and_read_back() {
        let root = scratch();
        let media: Arc<dyn MediaStore> = Arc::new(store(&root));
        let writes = (0..200).map(|n| {
            let media = media.clone();
            tokio::spawn(async move { (n, media.put_all(face(n)).await.unwrap()) })
        });
        for written in futures_util::future::join_all(writes).await {
            let (n, paths) = written.unwrap();
            for ((_, bytes), path) in face(n).into_iter().zip(&paths) {
                let range = parse(path).unwrap_or_else(|| panic!("{path} is a pack path"));
                assert!(range.pack.starts_with(HOUR), "{path}");
                assert!(path.ends_with(&format!("/{n}_face.jpg")) || path.ends_with(&format!("/{n}_frame.jpg")));
                let stored = media.get(path.clone()).await.unwrap().unwrap();
                assert_eq!(stored.bytes, bytes, "{path}");
            }
        }
        assert_eq!(packs_in(&root.join(HOUR)).len(), 1, "one process, one hour: one pack");
        std::fs::remove_dir_all(&root).ok();
    }

    #[tokio::test]
    async fn other_paths_stay_files_and_packs_rotate() {
        let root = scratch();
        let rules = PackRules { write_window: Duration::ZERO, max_bytes: 1 << 20 };
        let media = store(&root).with_pack_rules(rules);
        let photo = media.put("dossier_faces/1/photo.jpg".into(), Bytes::from_static(b"\xFF\xD8\xFFx")).await.unwrap();
        assert_eq!(photo, "dossier_faces/1/photo.jpg");
        assert!(root.join(&photo).is_file());
        media.put_all(face(1)).await.unwrap();
        media.put_all(face(2)).await.unwrap();
        assert_eq!(packs_in(&root.join(HOUR)).len(), 2, "a pack past its window takes no more writes");
        std::fs::remove_dir_all(&root).ok();
    }

    #[tokio::test]
    async fn deleting_punches_the_range_and_an_emptied_closed_pack_goes() {
        let root = scratch();
        let media = store(&root);
        let mut paths = Vec::new();
        for n in 0..3 {
            paths.extend(media.put_all(face(n)).await.unwrap());
        }
        let rules = PackRules::default();
        let now = SystemTime::now();
        // While the pack may still be written, only the range itself goes.
        for path in &paths[..2] {
            delete(&root, &parse(path).unwrap(), &rules, now).unwrap();
            assert!(media.get(path.clone()).await.unwrap().is_none(), "{path} reads as gone");
        }
        for path in &paths[2..] {
            assert!(media.get(path.clone()).await.unwrap().is_some(), "{path} is untouched");
        }
        assert_eq!(packs_in(&root.join(HOUR)).len(), 1);
        // Once it is closed, the last deletes leave no data, and the pack and its directories go.
        let later = now + Duration::from_secs(86_400);
        for path in &paths[2..] {
            delete(&root, &parse(path).unwrap(), &rules, later).unwrap();
        }
        assert!(packs_in(&root.join(HOUR)).is_empty(), "the emptied pack is removed");
        assert!(!root.join("events").exists(), "its empty directories too");
        // Deleting again, or a pack that is gone, is not an error.
        delete(&root, &parse(&paths[0]).unwrap(), &rules, later).unwrap();
        std::fs::remove_dir_all(&root).ok();
    }

    #[test]
    fn parses_pack_paths_and_nothing_else() {
        let path = "events/2026/11/27/09/1795770000-00ff00ff00ff00ff-1.pack/4096-2048/x_face.jpg";
        let range = parse(path).unwrap();
        assert_eq!(
            range,
            PackRange { pack: "events/2026/11/27/09/1795770000-00ff00ff00ff00ff-1.pack", offset: 4096, len: 2048 }
        );
        assert_eq!(created_of(range.pack), Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_770_000)));
        const PACK: &str = "events/2026/11/27/09/1795770000-00ff00ff00ff00ff-1.pack";
        let bad: Vec<String> = [
            "0-0/x.jpg",
            "0-/x.jpg",
            "-1-10/x.jpg",
            "+1-10/x.jpg",
            "18446744073709551615-10/x.jpg",
            "0-67108865/x.jpg",
            "0-10",
            "0-10/",
        ]
        .iter()
        .map(|tail| format!("{PACK}/{tail}"))
        .chain(
            [
                "events/2026/11/27/09/f4/x_face.jpg",
                "events/2026/11/27/../1795770000-00ff00ff00ff00ff-1.pack/0-10/x.jpg",
                "/events/2026/11/27/09/1795770000-00ff00ff00ff00ff-1.pack/0-10/x.jpg",
                "dossiers/2026/11/27/09/1795770000-00ff00ff00ff00ff-1.pack/0-10/x.jpg",
                "events/2026/11/27/9/1795770000-00ff00ff00ff00ff-1.pack/0-10/x.jpg",
                "events/2026/11/27/09/a.pack/0-10/x.jpg",
                "events/2026/11/27/09/.pack/0-10/x.jpg",
                "events/2026/11/27/09/99999999999999999999-00ff00ff00ff00ff-1.pack/0-10/x.jpg",
                "events/2026/11/27/09/1795770000-00ff-1.pack/0-10/x.jpg",
            ]
            .map(String::from),
        )
        .collect();
        for bad in &bad {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_event_images_of_an_hour_are_packed() {
        assert!(packs("events/2026/11/27/09/f4/x_face.jpg"));
        assert!(packs("events/2026/11/27/09/x_face.jpg"));
        for other in [
            "events/2026/11/27/09",
            "events/2026/11/27/9/f4/x.jpg",
            "events/2026/11/27/+9/f4/x.jpg",
            "events/2026/11/27/../f4/x.jpg",
            "events//2026/11/27/09/x.jpg",
            "dossier_faces/1/photo.jpg",
            "",
        ] {
            assert!(!packs(other), "{other}");
        }
    }

    #[tokio::test]
    async fn a_closed_pack_keeps_its_live_images_while_the_ones_before_go() {
        let root = scratch();
        let media = store(&root);
        let mut faces = Vec::new();
        for n in 0..3 {
            faces.push(media.put_all(face(n)).await.unwrap());
        }
        let (rules, later) = (PackRules::default(), SystemTime::now() + Duration::from_secs(86_400));
        for (deleted, face) in faces.iter().enumerate() {
            for path in face {
                delete(&root, &parse(path).unwrap(), &rules, later).unwrap();
            }
            for (n, other) in faces.iter().enumerate().skip(deleted + 1) {
                for (path, (_, bytes)) in other.iter().zip(super::tests::face(n as u32)) {
                    let stored = media.get(path.clone()).await.unwrap();
                    assert_eq!(stored.map(|s| s.bytes), Some(bytes), "{path} outlives the deletes before it");
                }
            }
            assert_eq!(packs_in(&root.join(HOUR)).is_empty(), deleted == 2, "the pack goes with its last image");
        }
        std::fs::remove_dir_all(&root).ok();
    }

    #[tokio::test]
    async fn a_pack_removed_under_its_writer_is_left_for_a_new_one() {
        let root = scratch();
        let media = store(&root);
        media.put_all(face(1)).await.unwrap();
        let first = packs_in(&root.join(HOUR));
        std::fs::remove_file(&first[0]).unwrap();
        let paths = media.put_all(face(2)).await.unwrap();
        assert_eq!(media.get(paths[0].clone()).await.unwrap().map(|s| s.bytes), Some(face(2)[0].1.clone()));
        let now = packs_in(&root.join(HOUR));
        assert_eq!(now.len(), 1);
        assert_ne!(now, first, "the face went to a new pack");
        std::fs::remove_dir_all(&root).ok();
    }

    #[tokio::test]
    async fn a_full_pack_makes_way_for_a_new_one() {
        let root = scratch();
        let media = store(&root).with_pack_rules(PackRules { max_bytes: 20_000, ..PackRules::default() });
        let mut paths = Vec::new();
        for n in 0..4 {
            paths.push(media.put_all(face(n)).await.unwrap());
        }
        // 11 kB a face: a pack takes two faces, then is full.
        assert_eq!(packs_in(&root.join(HOUR)).len(), 2);
        for (n, face) in paths.iter().enumerate() {
            let stored = media.get(face[1].clone()).await.unwrap();
            assert_eq!(stored.map(|s| s.bytes), Some(super::tests::face(n as u32)[1].1.clone()));
        }
        assert!(media.put_all(Vec::new()).await.unwrap().is_empty(), "nothing to store is no pack");
        std::fs::remove_dir_all(&root).ok();
    }

    #[test]
    fn writes_every_slice_in_order() {
        let root = scratch();
        std::fs::create_dir_all(&root).unwrap();
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(root.join("p")).unwrap();
        let parts: Vec<Vec<u8>> = (0..3000u32).map(|n| vec![(n % 251) as u8; (n % 7) as usize]).collect();
        let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        write_all_at(&file, &slices, 10).unwrap();
        let mut read = vec![0; parts.iter().map(Vec::len).sum()];
        file.read_exact_at(&mut read, 10).unwrap();
        assert_eq!(read, parts.concat());
        std::fs::remove_dir_all(&root).ok();
    }
}
