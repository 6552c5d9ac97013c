//! Retention's last step on local disk: once every event of an hour has expired (and retention
//! has deleted them with their images), whatever is still in that hour's directory is an image no
//! event refers to, and the whole directory goes. That reclaims, in both layouts, the images of
//! faces stored and then refused (answered 503: the broker was down, the search queue was full),
//! the bytes written before a crash, and images whose one-by-one delete failed:
//! - "packs": the hour's pack files, once no process can still write to them;
//! - "files": the files in the hour's bucket directories (`events/YYYY/MM/DD/HH/xx/`).
//!
//! Both kinds are swept whatever FACEROUTER.MEDIA_LAYOUT says now: the layout can change with a
//! restart, and older hours keep the layout they were written in. An image goes with its hour
//! by the event's `created_date` (ingest names the directory after it), so a face that a worker
//! sends with a detection time already past retention can lose its images before its event is
//! recorded; that event itself is purged at retention's next run.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::media::prune_empty_dirs;
use crate::media_pack::{PACKED_PREFIX, PackRules, all_digits, created_of};

/// Removes what the hours that ended before `expired_before` still hold (see the module's
/// comment); returns how many files. An entry that cannot be removed is logged and the sweep goes
/// on: one stuck file must not keep every later hour's.
pub fn sweep(root: &Path, expired_before: SystemTime, rules: &PackRules, now: SystemTime) -> std::io::Result<usize> {
    let mut removed = 0;
    let events = root.join(PACKED_PREFIX.trim_end_matches('/'));
    for (dir, started) in hour_dirs(&events)? {
        if started + Duration::from_secs(3600) > expired_before {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".pack") {
                if created_of(name).is_some_and(|created| rules.closed(created, now)) {
                    removed += remove(root, &entry.path());
                }
            } else if is_bucket(name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
                removed += sweep_bucket(root, &entry.path());
            }
        }
    }
    Ok(removed)
}

/// Removes every file of a "files" bucket directory (images, and temporaries a crash left).
fn sweep_bucket(root: &Path, bucket: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(bucket) else { return 0 };
    entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_file())).map(|e| remove(root, &e.path())).sum()
}

/// Removes one file and the directories it leaves empty; 1 if it went.
fn remove(root: &Path, path: &Path) -> usize {
    match std::fs::remove_file(path) {
        Ok(()) => {
            prune_empty_dirs(root, path);
            1
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove an expired image file: {e}");
            0
        }
    }
}

/// `xx`: the two hex digits of a "files" bucket (the event id's last byte).
fn is_bucket(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The `events/YYYY/MM/DD/HH` directories below `events` with the time their hour starts.
fn hour_dirs(events: &Path) -> std::io::Result<Vec<(PathBuf, SystemTime)>> {
    let mut found = Vec::new();
    let mut level: Vec<(PathBuf, Vec<u32>)> = vec![(events.to_path_buf(), Vec::new())];
    for digits in [4, 2, 2, 2] {
        let mut next = Vec::new();
        for (dir, parts) in level {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(n) =
                    name.to_str().filter(|n| n.len() == digits && all_digits(n)).and_then(|n| n.parse::<u32>().ok())
                else {
                    continue;
                };
                let mut parts = parts.clone();
                parts.push(n);
                next.push((entry.path(), parts));
            }
        }
        level = next;
    }
    for (dir, parts) in level {
        if let [year, month, day, hour] = parts[..]
            && let Some(start) = chrono::NaiveDate::from_ymd_opt(year as i32, month, day)
                .and_then(|d| d.and_hms_opt(hour, 0, 0))
                .map(|t| t.and_utc())
        {
            let secs = u64::try_from(start.timestamp()).unwrap_or(0);
            found.push((dir, SystemTime::UNIX_EPOCH + Duration::from_secs(secs)));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::config::MediaLayout;
    use crate::media::{LocalMedia, MediaStore};

    const OLD_HOUR: &str = "events/2026/11/27/09";
    const RECENT_HOUR: &str = "events/2026/11/28/15";
    /// 2026-11-27 10:40 UTC: the 09 hour has ended before it, the 15 hour of the next day not.
    const EXPIRED_BEFORE: u64 = 1_795_776_000;

    fn scratch() -> PathBuf {
        std::env::temp_dir().join(format!("ffsec-sweep-{}", uuid::Uuid::now_v7()))
    }

    /// A face's crop and frame as ingest names them, in `hour`.
    fn face(hour: &str, n: u32) -> Vec<(String, Bytes)> {
        let image = |kind: &str| {
            let bytes = Bytes::from(vec![0xFF, 0xD8, 0xFF, n as u8 + 1, 7, 7, 7]);
            (format!("{hour}/{:02x}/{n}_{kind}.jpg", n % 256), bytes)
        };
        vec![image("face"), image("frame")]
    }

    async fn exists(media: &LocalMedia, path: &str) -> bool {
        media.get(path.to_string()).await.unwrap().is_some()
    }

    #[tokio::test]
    async fn sweeps_packs_of_expired_hours_once_closed() {
        let root = scratch();
        let media = LocalMedia::new(&root).with_layout(MediaLayout::Packs);
        let old = media.put_all(face(OLD_HOUR, 1)).await.unwrap();
        let recent = media.put_all(face(RECENT_HOUR, 2)).await.unwrap();
        let rules = PackRules::default();
        let expired_before = SystemTime::UNIX_EPOCH + Duration::from_secs(EXPIRED_BEFORE);
        let later = SystemTime::now() + Duration::from_secs(86_400);
        // Packs still open for writing stay, whatever their hour.
        assert_eq!(sweep(&root, expired_before, &rules, SystemTime::now()).unwrap(), 0);
        assert!(exists(&media, &old[0]).await);
        assert_eq!(sweep(&root, expired_before, &rules, later).unwrap(), 1);
        assert!(!exists(&media, &old[0]).await);
        assert!(!root.join(OLD_HOUR).exists());
        assert!(exists(&media, &recent[0]).await, "an hour not expired keeps its pack");
        std::fs::remove_dir_all(&root).ok();
    }

    #[tokio::test]
    async fn sweeps_files_left_in_expired_hours_in_both_layouts() {
        let root = scratch();
        let files = LocalMedia::new(&root).with_layout(MediaLayout::Files);
        let packs = LocalMedia::new(&root).with_layout(MediaLayout::Packs);
        // Images no event refers to any more (their event was never recorded), in an expired
        // hour: files of two buckets, a crash's temporary, and a pack written before a layout
        // change. A recent hour's file stays, and so does what is not ours beside the buckets.
        let mut orphans = files.put_all(face(OLD_HOUR, 1)).await.unwrap();
        orphans.extend(files.put_all(face(OLD_HOUR, 2)).await.unwrap());
        std::fs::write(root.join(OLD_HOUR).join("01/.tmp-crash"), b"partial").unwrap();
        let packed = packs.put_all(face(OLD_HOUR, 3)).await.unwrap();
        std::fs::write(root.join(OLD_HOUR).join("README"), b"an operator's note").unwrap();
        let recent = files.put_all(face(RECENT_HOUR, 4)).await.unwrap();
        let expired_before = SystemTime::UNIX_EPOCH + Duration::from_secs(EXPIRED_BEFORE);
        let later = SystemTime::now() + Duration::from_secs(86_400);

        assert_eq!(sweep(&root, expired_before, &PackRules::default(), later).unwrap(), 4 + 1 + 1);
        for path in orphans.iter().chain(&packed) {
            assert!(!exists(&files, path).await, "{path} swept");
        }
        assert!(!root.join(OLD_HOUR).join("01").exists(), "emptied bucket directories go");
        assert!(root.join(OLD_HOUR).join("README").exists(), "what is not an image bucket stays");
        for path in &recent {
            assert!(exists(&files, path).await, "{path} of an hour not expired stays");
        }
        // Nothing is left to sweep: a second pass removes nothing.
        assert_eq!(sweep(&root, expired_before, &PackRules::default(), later).unwrap(), 0);
        std::fs::remove_dir_all(&root).ok();
    }
}
