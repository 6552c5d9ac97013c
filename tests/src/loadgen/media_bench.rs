//! `media`: what the durable image store costs per face, as ingest uses it (a crop and a frame per
//! face, `concurrency` faces at once, all in one day directory). Five ways, same disk, same run:
//! - `per-write`: what each face paid first: per file a temporary file, its fsync, the rename and
//!   the directory's fsync, crop then frame;
//! - `side-by-side`: two `LocalMedia::put` calls at once (what ingest did until put_all);
//! - `LocalMedia`: ffsec's store with MEDIA_SYNC = "file" (`put_all`: one blocking job per face,
//!   both files fsync'd and renamed, one directory fsync);
//! - `fdatasync`: the same with `fdatasync` for the two files (the directory still fsync'd);
//! - `syncfs`: ffsec's store with MEDIA_SYNC = "filesystem" (files renamed without fsync, then
//!   concurrent faces share one `syncfs` of the filesystem).
//!
//! The `syncfs` work runs partly in kernel threads (the flusher), so each way prints two CPU
//! figures per face: this process plus every kernel thread (from /proc/<pid>/stat: what the
//! store costs, even on a busy machine, give or take other programs' writeback), and the whole
//! machine's busy time (from /proc/stat, as scripts/bench/p1.sh reads it: other programs count).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use domain::config::MediaSync;
use domain::media::{LocalMedia, MediaStore};

use crate::event_bench::percentile;

/// `only`: one of the ways (to count its syscalls with `strace -c`), or both when `None`.
pub async fn media(
    root: &Path,
    faces: usize,
    concurrency: usize,
    crop_bytes: usize,
    only: Option<&str>,
) -> anyhow::Result<()> {
    let crop = Bytes::from(vec![0x5a; crop_bytes]);
    let frame = Bytes::from(vec![0xa5; crop_bytes * 4]);
    let ways = ["per-write", "side-by-side", "LocalMedia", "fdatasync", "syncfs"];
    for way in ways.into_iter().filter(|w| only.is_none_or(|o| o == *w)) {
        let dir = root.join(format!("{way}-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(dir.join("events/day"))?;
        let sync = if way == "syncfs" { MediaSync::Filesystem } else { MediaSync::File };
        let store: Arc<dyn MediaStore> = Arc::new(LocalMedia::with_sync(&dir, sync));
        // Start from a clean page cache so one way's dirty pages are not flushed by the next.
        std::process::Command::new("sync").status()?;
        let (busy_before, ours_before) = (machine_busy_seconds(), own_and_kernel_seconds());
        let started = Instant::now();
        let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..faces {
            let permit = semaphore.clone().acquire_owned().await?;
            let (crop, frame, store, dir) = (crop.clone(), frame.clone(), store.clone(), dir.clone());
            tasks.spawn(async move {
                let _permit = permit;
                let sent = Instant::now();
                let (face, full) = (format!("events/day/{n}_face.jpg"), format!("events/day/{n}_frame.jpg"));
                if way == "per-write" {
                    tokio::task::spawn_blocking(move || {
                        write_then_sync_dir(&dir.join(face), &crop)?;
                        write_then_sync_dir(&dir.join(full), &frame)
                    })
                    .await??;
                } else if way == "fdatasync" {
                    tokio::task::spawn_blocking(move || write_pair_fdatasync(&dir, [(face, &crop), (full, &frame)]))
                        .await??;
                } else if way == "side-by-side" {
                    futures_util::try_join!(store.put(face, crop), store.put(full, frame))?;
                } else {
                    store.put_all(vec![(face, crop), (full, frame)]).await?;
                }
                anyhow::Ok(sent.elapsed())
            });
        }
        let mut latencies: Vec<Duration> = Vec::with_capacity(faces);
        while let Some(done) = tasks.join_next().await {
            latencies.push(done??);
        }
        let elapsed = started.elapsed();
        let busy = machine_busy_seconds() - busy_before;
        let ours = own_and_kernel_seconds() - ours_before;
        latencies.sort();
        println!(
            "media {way}: {faces} faces (crop {crop_bytes} B + frame {} B) at concurrency {concurrency}: \
             {:.0} faces/s, per face p50 {:.1?} p99 {:.1?}; CPU per face: this process + kernel threads \
             {:.0} us, whole machine {:.0} us",
            crop_bytes * 4,
            faces as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            ours / faces as f64 * 1e6,
            busy / faces as f64 * 1e6,
        );
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

/// `LocalMedia` with MEDIA_SYNC = "file" but `fdatasync` for the files: both written and
/// fdatasync'd, renamed, their (shared) directory fsync'd once. `names` are relative to `root`.
fn write_pair_fdatasync(root: &Path, names: [(String, &Bytes); 2]) -> std::io::Result<()> {
    for (name, bytes) in &names {
        let mut file = std::fs::File::create(root.join(format!("{name}.tmp")))?;
        file.write_all(bytes)?;
        file.sync_data()?;
    }
    for (name, _) in &names {
        std::fs::rename(root.join(format!("{name}.tmp")), root.join(name))?;
    }
    let target = root.join(&names[0].0);
    std::fs::File::open(target.parent().unwrap_or(root))?.sync_all()
}

/// Busy CPU seconds of the whole machine since boot (user, nice, system, irq, softirq), as
/// scripts/bench/p1.sh reads them: kernel flusher threads included, other programs too.
fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| l.split_whitespace().skip(1).enumerate().filter(|(i, _)| [0, 1, 2, 5, 6].contains(i)))
        .into_iter()
        .flatten()
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on every Linux ABI in practice.
    ticks as f64 / 100.0
}

/// CPU seconds (user + system) of this process and of every kernel thread (children of
/// kthreadd, pid 2: the flusher and block-layer workers that do part of a sync's work).
fn own_and_kernel_seconds() -> f64 {
    let stat_of = |path: &Path| -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string(path).ok()?;
        // Fields after the command name (which may hold spaces): state ppid ... utime stime.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some((fields.get(1)?.parse().ok()?, ticks))
    };
    let own = stat_of(Path::new("/proc/self/stat")).map_or(0, |(_, ticks)| ticks);
    let kernel: u64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|entry| stat_of(&entry.path().join("stat")))
        .filter(|(ppid, _)| *ppid == 2)
        .map(|(_, ticks)| ticks)
        .sum();
    // USER_HZ is 100 on every Linux ABI in practice.
    (own + kernel) as f64 / 100.0
}

fn write_then_sync_dir(target: &PathBuf, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = target.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, target)?;
    std::fs::File::open(target.parent().unwrap_or(Path::new(".")))?.sync_all()
}
