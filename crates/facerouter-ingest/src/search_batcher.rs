//! The gallery search threads. A face's query waits in a bounded queue; a few threads (one per
//! core by default) each take every waiting query, up to SEARCH_BATCH, and answer them all in one
//! pass over the gallery, so a replica under load reads the gallery's memory once per batch
//! instead of once per face. A lone query is taken at once: there is no timer waiting for
//! company, and batches only form when faces arrive faster than passes end.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};

use prometheus::Histogram;
use tokio::sync::oneshot;

use crate::face_index::{Match, Query};
use crate::gallery::GalleryData;

/// How the search threads are set up (FACEROUTER.SEARCH_THREADS / _BATCH / _QUEUE).
#[derive(Debug, Clone, Copy)]
pub struct SearchSettings {
    /// 0 = one per core.
    pub threads: usize,
    pub batch: usize,
    pub queue: usize,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self { threads: 0, batch: 32, queue: 1024 }
    }
}

/// Why a query got no answer.
#[derive(Debug, PartialEq, Eq)]
pub enum SearchError {
    /// SEARCH_QUEUE faces are already waiting: back-pressure, the worker retries.
    Busy,
    /// No search thread could be started, or the one holding the query failed.
    Stopped,
}

struct Job {
    query: Vec<f32>,
    fallback: f32,
    answer: oneshot::Sender<Option<Match>>,
}

#[derive(Default)]
struct Waiting {
    jobs: VecDeque<Job>,
    /// Set when the last gallery handle is gone: the threads drain what is left and stop.
    closed: bool,
}

#[derive(Default)]
struct Queue {
    waiting: Mutex<Waiting>,
    ready: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub struct SearchBatcher {
    queue: Arc<Queue>,
    data: Arc<RwLock<GalleryData>>,
    settings: SearchSettings,
    batch_sizes: Histogram,
    /// Threads started (on the first query, so galleries that never search cost none).
    threads: OnceLock<usize>,
}

impl SearchBatcher {
    pub fn new(data: Arc<RwLock<GalleryData>>, settings: SearchSettings, batch_sizes: Histogram) -> Self {
        Self { queue: Arc::default(), data, settings, batch_sizes, threads: OnceLock::new() }
    }

    /// Queues `query`; the receiver gets its best match once a search thread has passed.
    pub fn submit(&self, query: Vec<f32>, fallback: f32) -> Result<oneshot::Receiver<Option<Match>>, SearchError> {
        if *self.threads.get_or_init(|| self.start()) == 0 {
            return Err(SearchError::Stopped);
        }
        let (answer, receiver) = oneshot::channel();
        let mut waiting = self.queue.lock();
        if waiting.jobs.len() >= self.settings.queue {
            return Err(SearchError::Busy);
        }
        waiting.jobs.push_back(Job { query, fallback, answer });
        drop(waiting);
        self.queue.ready.notify_one();
        Ok(receiver)
    }

    fn start(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let wanted = if self.settings.threads == 0 { cores } else { self.settings.threads };
        let mut started = 0;
        for n in 0..wanted {
            let (queue, data, hist) = (self.queue.clone(), self.data.clone(), self.batch_sizes.clone());
            let batch = self.settings.batch;
            match std::thread::Builder::new().name(format!("gallery-search-{n}")).spawn(move || {
                serve(&queue, &data, batch, &hist);
            }) {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "cannot start gallery search thread {n}: {e}"),
            }
        }
        started
    }
}

impl Drop for SearchBatcher {
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.ready.notify_all();
    }
}

/// One search thread: take what is waiting (up to `batch`), answer it in one pass, repeat.
fn serve(queue: &Queue, data: &RwLock<GalleryData>, batch: usize, batch_sizes: &Histogram) {
    loop {
        let mut jobs = {
            let mut waiting = queue.lock();
            while waiting.jobs.is_empty() && !waiting.closed {
                waiting = queue.ready.wait(waiting).unwrap_or_else(PoisonError::into_inner);
            }
            if waiting.jobs.is_empty() {
                return;
            }
            let take = waiting.jobs.len().min(batch);
            let jobs: Vec<Job> = waiting.jobs.drain(..take).collect();
            if !waiting.jobs.is_empty() {
                // More than one batch waits: another thread can start on it now.
                queue.ready.notify_one();
            }
            jobs
        };
        // A request that gave up (its client went away) needs no answer.
        jobs.retain(|job| !job.answer.is_closed());
        if jobs.is_empty() {
            continue;
        }
        batch_sizes.observe(jobs.len() as f64);
        let queries: Vec<Query<'_>> = jobs.iter().map(|j| Query { vector: &j.query, fallback: j.fallback }).collect();
        let answers = catch_unwind(AssertUnwindSafe(|| {
            data.read().unwrap_or_else(PoisonError::into_inner).best_matches(&queries)
        }));
        drop(queries);
        match answers {
            Ok(answers) => {
                for (job, answer) in jobs.into_iter().zip(answers) {
                    // The requester may have gone meanwhile; nothing to do then.
                    let _ = job.answer.send(answer);
                }
            }
            // Dropping the jobs answers their requests with an error; the thread carries on.
            Err(_) => tracing::error!("gallery search failed; {} faces answered with an error", jobs.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use domain::config::GalleryIndex;
    use domain::event::IdName;

    use super::*;
    use crate::face_index::{FaceMeta, ListEntry};
    use crate::gallery::FaceRecord;

    fn gallery(faces: i64) -> Arc<RwLock<GalleryData>> {
        let mut data = GalleryData::new(GalleryIndex::Flat);
        let lists: Arc<[ListEntry]> = vec![ListEntry { id: 1, name: "l".into(), threshold: None }].into();
        for id in 0..faces {
            let mut vector = vec![0.0; 8];
            vector[id as usize % 8] = 1.0;
            let meta = FaceMeta {
                face_id: id,
                dossier: IdName { id, name: String::new() },
                lists: lists.clone(),
                photo: String::new(),
            };
            data.upsert_face(FaceRecord { meta, vector });
        }
        Arc::new(RwLock::new(data))
    }

    fn histogram() -> Histogram {
        Histogram::with_opts(prometheus::HistogramOpts::new("h", "h")).unwrap()
    }

    fn axis(n: usize) -> Vec<f32> {
        let mut v = vec![0.0; 8];
        v[n] = 1.0;
        v
    }

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn queued_faces_share_a_pass_and_a_full_queue_refuses() {
        let data = gallery(8);
        let hist = histogram();
        let batcher = SearchBatcher::new(data.clone(), SearchSettings { threads: 1, batch: 8, queue: 3 }, hist.clone());
        // Hold the thread off the gallery so that faces pile up behind the first one.
        let write = data.write().unwrap();
        let first = batcher.submit(axis(0), 0.5).unwrap();
        wait_until("the thread to take the first face", || batcher.queue.lock().jobs.is_empty());
        let queued: Vec<_> = (1..4).map(|n| batcher.submit(axis(n), 0.5).unwrap()).collect();
        assert_eq!(batcher.submit(axis(4), 0.5).unwrap_err(), SearchError::Busy);
        drop(write);
        assert_eq!(first.blocking_recv().unwrap().unwrap().face.face_id, 0);
        for (n, answer) in (1..).zip(queued) {
            assert_eq!(answer.blocking_recv().unwrap().unwrap().face.face_id, n);
        }
        // One pass for the first face, one for the three that waited together.
        assert_eq!(hist.get_sample_count(), 2);
        assert_eq!(hist.get_sample_sum(), 4.0);
        // A wrong dimension is no match, not an error.
        assert!(batcher.submit(vec![1.0; 3], 0.5).unwrap().blocking_recv().unwrap().is_none());
    }

    #[test]
    fn threads_stop_with_the_last_handle() {
        let data = gallery(2);
        let batcher = SearchBatcher::new(data.clone(), SearchSettings { threads: 2, batch: 4, queue: 4 }, histogram());
        assert!(batcher.submit(axis(1), 0.5).unwrap().blocking_recv().unwrap().is_some());
        drop(batcher);
        // Each thread held a reference to the gallery; they let go as they stop.
        wait_until("the search threads to stop", || Arc::strong_count(&data) == 1);
    }
}
