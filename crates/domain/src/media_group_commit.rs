//! The group commit of the local image store (FACEROUTER.MEDIA_SYNC = "filesystem"): concurrent
//! writes share one `syncfs(2)` of MEDIA_ROOT's filesystem instead of fsyncing their own files and
//! directory.
//!
//! A writer renames its files into place, then [`GroupCommit::join`]s: its request goes to one
//! thread that takes every request waiting, runs one `syncfs`, and answers them all with its
//! result. A request sent while a `syncfs` runs waits for the next one, so every waiter is
//! answered by a `syncfs` that *started* after its renames: its data, inodes and directory entries
//! (and any new directory) were in the page cache by then and are on disk when it returns.
//! Since Linux 5.8 `syncfs` reports writeback errors (any since the previous call on the same
//! file, which is why the thread keeps one descriptor of the root open); before that it always
//! succeeds, so the group commit is only used from 5.8 on. A failed `syncfs` fails every waiter
//! of that round (ingest answers 503 and the worker retries).

use std::fs::File;
use std::path::Path;
use std::sync::mpsc;

use tokio::sync::oneshot;

/// What one `syncfs` round answered (an `io::Error` is not `Clone`, so its kind and text).
type RoundResult = Result<(), (std::io::ErrorKind, String)>;
type Waiter = oneshot::Sender<RoundResult>;
/// What a write in the group commit waits for: the answer of the `syncfs` round it joined.
pub(crate) type Answer = oneshot::Receiver<RoundResult>;

/// The handle writers join; dropping the last one ends the thread.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    /// The device of the synced filesystem: a directory on another one (a mount below the root)
    /// is not covered by this `syncfs`.
    device: u64,
    requests: mpsc::Sender<Waiter>,
}

impl GroupCommit {
    /// Starts the thread that syncs the filesystem holding `root` (which must exist), or `None`
    /// where `syncfs` does not report errors (not Linux, or a kernel before 5.8).
    pub(crate) fn start(root: &Path) -> std::io::Result<Option<Self>> {
        if !syncfs_reports_errors() {
            return Ok(None);
        }
        let root = File::open(root)?;
        let device = device_of(&root.metadata()?);
        let (requests, waiting) = mpsc::channel();
        std::thread::Builder::new().name("media-syncfs".into()).spawn(move || sync_rounds(&root, &waiting))?;
        Ok(Some(Self { device, requests }))
    }

    /// Whether a `syncfs` of this filesystem covers a file in the directory `dir` describes.
    pub(crate) fn covers(&self, dir: &std::fs::Metadata) -> bool {
        device_of(dir) == self.device
    }

    /// Asks for a `syncfs` that starts after this call (so after every write this thread made
    /// before it); the receiver answers once it has completed.
    pub(crate) fn join(&self) -> std::io::Result<Answer> {
        let (done, answer) = oneshot::channel();
        self.requests.send(done).map_err(|_| std::io::Error::other("the media syncfs thread has stopped"))?;
        Ok(answer)
    }
}

/// Waits for the `syncfs` a [`GroupCommit::join`] asked for.
pub(crate) async fn committed(answer: Answer) -> std::io::Result<()> {
    match answer.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err((kind, message))) => {
            Err(std::io::Error::new(kind, format!("syncfs of the media filesystem: {message}")))
        }
        Err(_) => Err(std::io::Error::other("the media syncfs thread stopped before answering")),
    }
}

/// One round per wake-up: every request waiting now shares the next `syncfs`.
fn sync_rounds(root: &File, waiting: &mpsc::Receiver<Waiter>) {
    while let Ok(first) = waiting.recv() {
        let mut round = vec![first];
        round.extend(waiting.try_iter());
        let result = syncfs(root).map_err(|e| (e.kind(), e.to_string()));
        for waiter in round {
            // A waiter that went away (its request was dropped) needs no answer.
            let _ = waiter.send(result.clone());
        }
    }
}

#[cfg(target_os = "linux")]
fn syncfs(root: &File) -> std::io::Result<()> {
    rustix::fs::syncfs(root).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn syncfs(_root: &File) -> std::io::Result<()> {
    Err(std::io::Error::other("syncfs needs Linux"))
}

#[cfg(unix)]
fn device_of(metadata: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::dev(metadata)
}

#[cfg(not(unix))]
fn device_of(_metadata: &std::fs::Metadata) -> u64 {
    0
}

/// Linux 5.8 or later (`syncfs` returns writeback errors since then).
#[cfg(target_os = "linux")]
fn syncfs_reports_errors() -> bool {
    let uname = rustix::system::uname();
    kernel_at_least(&uname.release().to_string_lossy(), (5, 8))
}

#[cfg(not(target_os = "linux"))]
fn syncfs_reports_errors() -> bool {
    false
}

/// Whether a kernel release string ("6.18.44-fc-v595") is at least `(major, minor)`.
fn kernel_at_least(release: &str, wanted: (u32, u32)) -> bool {
    let mut numbers = release.split(|c: char| !c.is_ascii_digit()).map(|n| n.parse::<u32>().ok());
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= wanted,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_round_fails_its_waiters() {
        let (done, answer) = oneshot::channel();
        done.send(Err((std::io::ErrorKind::StorageFull, "No space left on device".into()))).unwrap();
        let failed = committed(answer).await.unwrap_err();
        assert_eq!(failed.kind(), std::io::ErrorKind::StorageFull);
        assert!(failed.to_string().contains("syncfs"), "{failed}");
        let (done, answer) = oneshot::channel::<RoundResult>();
        drop(done);
        assert!(committed(answer).await.is_err(), "a round never answered is a failure");
    }

    #[tokio::test]
    async fn one_round_answers_everyone_waiting() {
        let root = std::env::temp_dir();
        let Some(group) = GroupCommit::start(&root).unwrap() else {
            return; // a kernel before 5.8: no group commit to test
        };
        assert!(group.covers(&std::fs::metadata(&root).unwrap()));
        let answers: Vec<Answer> = (0..50).map(|_| group.join().unwrap()).collect();
        for answer in answers {
            committed(answer).await.unwrap();
        }
    }

    #[test]
    fn reads_kernel_releases() {
        assert!(kernel_at_least("6.18.44-fc-v595", (5, 8)));
        assert!(kernel_at_least("5.8.0", (5, 8)));
        assert!(!kernel_at_least("5.4.0-150-generic", (5, 8)));
        assert!(!kernel_at_least("4.19", (5, 8)));
        assert!(!kernel_at_least("weird", (5, 8)));
    }
}
