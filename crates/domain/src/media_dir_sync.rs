//! Group commit for directory fsyncs. Every durable write renames a file into a directory and must
//! then fsync that directory, and at a thousand faces a second nearly all of them land in the same
//! day directory: one fsync started after a rename makes that rename durable, so every rename that
//! happened before it can share it. A caller either starts the next sync itself or waits for the
//! one that will start after its rename; the syncs of one directory never overlap.
//!
//! Callers are blocking threads (the writes run on `spawn_blocking`), so this waits on a condvar.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

#[derive(Default)]
pub struct DirSyncs {
    dirs: Mutex<HashMap<PathBuf, Arc<DirSync>>>,
}

#[derive(Default)]
struct DirSync {
    state: Mutex<SyncState>,
    done: Condvar,
}

#[derive(Default)]
struct SyncState {
    /// Tickets handed out: one per rename waiting for durability.
    issued: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    syncing: bool,
    /// Callers inside `sync` (the map entry goes when the last one leaves).
    callers: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves counters that are still consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DirSyncs {
    /// Returns once `dir` has been fsync'd after this call began, by this thread or another one.
    pub fn sync(&self, dir: &Path) -> std::io::Result<()> {
        let entry = {
            let mut dirs = lock(&self.dirs);
            let entry = dirs.entry(dir.to_path_buf()).or_default().clone();
            lock(&entry.state).callers += 1;
            entry
        };
        let result = entry.wait_durable(dir);
        let mut dirs = lock(&self.dirs);
        let mut state = lock(&entry.state);
        state.callers -= 1;
        if state.callers == 0 {
            dirs.remove(dir);
        }
        result
    }
}

impl DirSync {
    fn wait_durable(&self, dir: &Path) -> std::io::Result<()> {
        let mut state = lock(&self.state);
        state.issued += 1;
        let ticket = state.issued;
        loop {
            if state.durable >= ticket {
                return Ok(());
            }
            if state.syncing {
                state = self.done.wait(state).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Everything issued so far renamed before this sync starts, so this sync covers it.
            let covers = state.issued;
            state.syncing = true;
            drop(state);
            let result = std::fs::File::open(dir).and_then(|d| d.sync_all());
            state = lock(&self.state);
            state.syncing = false;
            if result.is_ok() {
                state.durable = state.durable.max(covers);
            }
            self.done.notify_all();
            // On failure the waiters try again themselves, each getting its own error if it recurs.
            result?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_callers_all_return_and_the_map_empties() {
        let dir = std::env::temp_dir().join(format!("ffsec-dirsync-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let syncs = Arc::new(DirSyncs::default());
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (syncs, dir) = (syncs.clone(), dir.clone());
                std::thread::spawn(move || (0..20).map(|_| syncs.sync(&dir)).collect::<std::io::Result<Vec<()>>>())
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        assert!(lock(&syncs.dirs).is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_for_its_caller() {
        let syncs = DirSyncs::default();
        let missing = std::env::temp_dir().join(format!("ffsec-dirsync-missing-{}", uuid::Uuid::now_v7()));
        assert!(syncs.sync(&missing).is_err());
        assert!(lock(&syncs.dirs).is_empty());
    }
}
