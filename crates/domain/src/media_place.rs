//! How one image file of the local store gets its name with its whole content or not at all.
//!
//! First choice (Linux): an anonymous file in the target's directory (`O_TMPFILE`), written, then
//! linked under its name (`linkat` through `/proc/self/fd`). The name appears with the whole
//! content, as with a rename, but there is no temporary name to create and then rename away:
//! P1's profile put a quarter of ingest's CPU in `open` and `rename` of the named temporaries, and
//! the directory work is most of both. A crash leaves nothing behind (an unlinked file is
//! reclaimed). Second choice, and the fallback: a named temporary renamed over the target. It is
//! used when the name exists already (a worker's retry of the same face: `linkat` never replaces,
//! `rename` does, atomically), and for good once the filesystem or the system refuses anonymous
//! files (no `O_TMPFILE`, no `/proc`).

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use rustix::io::Errno;

use crate::media::create_dirs_durably;

/// Whether anonymous files are still worth trying on this store.
#[derive(Debug)]
pub struct Placement {
    anonymous: AtomicBool,
}

impl Default for Placement {
    fn default() -> Self {
        Self { anonymous: AtomicBool::new(true) }
    }
}

/// What stopped an anonymous file.
enum Refused {
    /// The target's name exists: replace it another way.
    Exists,
    /// This filesystem or system cannot do it: never try again on this store.
    Unsupported(std::io::Error),
    Failed(std::io::Error),
}

impl Placement {
    /// Stores `bytes` at `target` (its directory made when missing, its parents fsync'd when
    /// `sync`); with `sync`, the file is fsync'd before it gets its name. The caller makes the
    /// directory entry durable (a directory fsync or the shared `syncfs`).
    pub fn place(&self, root: &Path, target: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
        if self.anonymous.load(Ordering::Relaxed) {
            match anonymous(root, target, bytes, sync) {
                Ok(()) => return Ok(()),
                Err(Refused::Exists) => {}
                Err(Refused::Unsupported(e)) => {
                    if self.anonymous.swap(false, Ordering::Relaxed) {
                        tracing::info!(error = %e, "media store: no anonymous files here ({e}); writing named temporaries");
                    }
                }
                Err(Refused::Failed(e)) => return Err(e),
            }
        }
        named(root, target, bytes, sync)
    }
}

fn anonymous(root: &Path, target: &Path, bytes: &[u8], sync: bool) -> Result<(), Refused> {
    let dir = target.parent().ok_or_else(|| Refused::Failed(std::io::Error::other("media path has no parent")))?;
    let fd = in_remade_dir(root, dir, sync, || {
        rustix::fs::open(dir, OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC, Mode::from(0o666)).map_err(Into::into)
    })
    .map_err(|e| unsupported_or_failed(e, &[Errno::OPNOTSUPP, Errno::ISDIR, Errno::INVAL]))?;
    let mut file = File::from(fd);
    file.write_all(bytes).map_err(Refused::Failed)?;
    if sync {
        file.sync_all().map_err(Refused::Failed)?;
    }
    // An anonymous file keeps no directory entry, so its directory may go before the link too.
    let handle = format!("/proc/self/fd/{}", file.as_raw_fd());
    match in_remade_dir(root, dir, sync, || {
        rustix::fs::linkat(CWD, handle.as_str(), CWD, target, AtFlags::SYMLINK_FOLLOW).map_err(Into::into)
    }) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Refused::Exists),
        // No /proc (NOENT with the directory there), a security module refusing links of open
        // files (PERM, ACCES).
        Err(e) => Err(unsupported_or_failed(e, &[Errno::NOENT, Errno::PERM, Errno::ACCESS, Errno::XDEV])),
    }
}

/// Runs `step`, which creates something in `dir`. Retention may have removed `dir`, found empty,
/// since it was made (a face dated in an old hour, its directory's last image just purged): then
/// the directory is made again (its parents fsync'd when `sync`) and `step` runs again, a few
/// times at most.
pub(crate) fn in_remade_dir<T>(
    root: &Path,
    dir: &Path,
    sync: bool,
    mut step: impl FnMut() -> std::io::Result<T>,
) -> std::io::Result<T> {
    let mut attempts = 0;
    loop {
        match step() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 3 && !dir.is_dir() => {
                attempts += 1;
                create_dirs_durably(root, dir, sync)?;
            }
            other => return other,
        }
    }
}

fn unsupported_or_failed(e: std::io::Error, unsupported: &[Errno]) -> Refused {
    if Errno::from_io_error(&e).is_some_and(|errno| unsupported.contains(&errno)) {
        Refused::Unsupported(e)
    } else {
        Refused::Failed(e)
    }
}

/// A temporary name next to `target`, written, then renamed over it; the temporary is removed
/// on failure.
fn named(root: &Path, target: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let tmp = target.with_extension(format!("tmp-{}", uuid::Uuid::now_v7().simple()));
    let dir = target.parent().ok_or_else(|| std::io::Error::other("media path has no parent"))?;
    let written = (|| {
        let mut file = in_remade_dir(root, dir, sync, || File::create(&tmp))?;
        file.write_all(bytes)?;
        if sync {
            file.sync_all()?;
        }
        std::fs::rename(&tmp, target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("ffsec-place-{}", uuid::Uuid::now_v7()))
    }

    #[test]
    fn a_file_gets_its_name_with_its_content_and_replaces_an_old_one_whole() {
        let root = scratch();
        std::fs::create_dir_all(root.join("e")).unwrap();
        let placement = Placement::default();
        placement.place(&root, &root.join("e/a.jpg"), b"first", true).unwrap();
        assert_eq!(std::fs::read(root.join("e/a.jpg")).unwrap(), b"first");
        // The same name again (a retry of the same face): replaced, not refused.
        placement.place(&root, &root.join("e/a.jpg"), b"second", false).unwrap();
        assert_eq!(std::fs::read(root.join("e/a.jpg")).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(root.join("e")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["a.jpg"], "no temporary left");
        // Anonymous files are kept on where the filesystem takes them (the fallback did the work
        // elsewhere).
        let supported = rustix::fs::open(root.join("e"), OFlags::TMPFILE | OFlags::WRONLY, Mode::from(0o600)).is_ok();
        assert_eq!(placement.anonymous.load(Ordering::Relaxed), supported, "anonymous files given up on, or not");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_directory_removed_since_it_was_made_is_made_again() {
        let root = scratch();
        std::fs::create_dir_all(&root).unwrap();
        let supported = rustix::fs::open(&root, OFlags::TMPFILE | OFlags::WRONLY, Mode::from(0o600)).is_ok();
        for (placement, anonymous) in
            [(Placement::default(), supported), (Placement { anonymous: AtomicBool::new(false) }, false)]
        {
            let _ = std::fs::remove_dir_all(root.join("e"));
            placement.place(&root, &root.join("e/2026/x.jpg"), b"x", true).unwrap();
            assert_eq!(std::fs::read(root.join("e/2026/x.jpg")).unwrap(), b"x");
            assert_eq!(placement.anonymous.load(Ordering::Relaxed), anonymous, "a missing directory is no refusal");
        }
        std::fs::remove_dir_all(root).unwrap();
    }
}
