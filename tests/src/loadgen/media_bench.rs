//! `media`: what the durable image store costs per face, as ingest uses it (a crop and a frame per
//! face, `concurrency` faces at once, all in one day directory). Three ways, same disk, same run:
//! - `per-write`: what each face paid first: per file a temporary file, its fsync, the rename and
//!   the directory's fsync, crop then frame;
//! - `side-by-side`: two `LocalMedia::put` calls at once (what ingest did until put_all);
//! - `LocalMedia`: ffsec's store as ingest calls it now (`put_all`: one blocking job per face, both
//!   files fsync'd and renamed, one directory fsync).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
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
    for way in ["per-write", "side-by-side", "LocalMedia"].into_iter().filter(|w| only.is_none_or(|o| o == *w)) {
        let dir = root.join(format!("{way}-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(dir.join("events/day"))?;
        let store: Arc<dyn MediaStore> = Arc::new(LocalMedia::new(&dir));
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
        latencies.sort();
        println!(
            "media {way}: {faces} faces (crop {crop_bytes} B + frame {} B) at concurrency {concurrency}: \
             {:.0} faces/s, per face p50 {:.1?} p99 {:.1?}",
            crop_bytes * 4,
            faces as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
        );
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

fn write_then_sync_dir(target: &PathBuf, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = target.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, target)?;
    std::fs::File::open(target.parent().unwrap_or(Path::new(".")))?.sync_all()
}
