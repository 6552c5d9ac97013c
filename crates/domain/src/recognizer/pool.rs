//! A bounded pool of inference threads. Each thread owns an [`Engine`] (its own sessions, one
//! core); jobs wait in a queue of RECOGNIZER.QUEUE places, and a job that finds it full is refused
//! at once with [`RecognizeError::Saturated`] (503), so a burst never queues without bound and
//! HTTP threads never run inference themselves.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};

use tokio::sync::oneshot;

use super::{Engine, Face, RecognizeError, Select, Settings, View};
use crate::config;

type Job = Box<dyn FnOnce(&mut Engine) + Send>;

pub struct Pool {
    queue: SyncSender<Job>,
    workers: usize,
    /// Jobs accepted and not yet answered (queued or running), for metrics and tests.
    pending: Arc<AtomicUsize>,
}

impl Pool {
    /// Loads one engine per worker before answering, so a missing model fails start-up.
    pub fn start(config: &config::Recognizer, settings: Settings) -> Result<Arc<Self>, String> {
        let workers = config.workers();
        let (queue, jobs) = mpsc::sync_channel::<Job>(config.queue);
        let jobs = Arc::new(Mutex::new(jobs));
        for n in 0..workers {
            let mut engine = Engine::load(config, settings)?;
            let jobs = Arc::clone(&jobs);
            std::thread::Builder::new()
                .name(format!("recognizer-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while taking a job, not while running it.
                        let job = match jobs.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut engine),
                            // Every sender dropped: the pool is gone.
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| format!("cannot start a recognizer thread: {e}"))?;
        }
        Ok(Arc::new(Self { queue, workers, pending: Arc::new(AtomicUsize::new(0)) }))
    }

    /// A service's start-up: the pool for its configuration, the models loaded on the blocking
    /// pool (a second or so); the error names the missing file or library.
    pub async fn start_for(config: &Arc<crate::Config>) -> anyhow::Result<Arc<Self>> {
        let threshold = config.ffsecurity.confidence_threshold;
        if threshold > super::RECOMMENDED_THRESHOLD + 0.15 {
            // Not an error: a deployment may want few false matches. But with SFace, two photos of
            // one person score about 0.7-0.8, so a threshold this high misses many of them.
            tracing::warn!(
                threshold,
                recommended = super::RECOMMENDED_THRESHOLD,
                "FFSECURITY.CONFIDENCE_THRESHOLD {threshold} is high for the built-in recognizer (recommended {}; docs/recognizer.md)",
                super::RECOMMENDED_THRESHOLD
            );
        }
        let config = Arc::clone(config);
        tokio::task::spawn_blocking(move || {
            let settings = Settings::from_config(&config.recognizer, config.facerouter.max_image_pixels);
            Self::start(&config.recognizer, settings)
        })
        .await?
        .map_err(|e| anyhow::anyhow!("FACEROUTER.RECOGNITION_BACKEND = \"builtin\": {e}"))
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Runs `work` on an inference thread; `Saturated` at once when the queue is full.
    pub async fn run<T, F>(&self, work: F) -> Result<T, RecognizeError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Engine) -> Result<T, RecognizeError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let pending = Arc::clone(&self.pending);
        pending.fetch_add(1, Ordering::Relaxed);
        let job: Job = Box::new(move |engine| {
            // A caller that gave up (client gone) is not worth the inference.
            let result = if reply.is_closed() { None } else { Some(work(engine)) };
            // Counted out before the answer, so a caller that has its answer sees the job gone.
            pending.fetch_sub(1, Ordering::Relaxed);
            if let Some(result) = result {
                let _ = reply.send(result);
            }
        });
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.pending.fetch_sub(1, Ordering::Relaxed);
                return Err(RecognizeError::Saturated);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.pending.fetch_sub(1, Ordering::Relaxed);
                return Err(RecognizeError::Engine("the recognizer threads are gone".into()));
            }
        }
        answer.await.map_err(|_| RecognizeError::Engine("a recognizer thread stopped mid-job".into()))?
    }

    /// The faces of an image (see [`Engine::faces`]).
    pub async fn faces(&self, image: bytes::Bytes, select: Select) -> Result<Vec<Face>, RecognizeError> {
        self.faces_in(image, select, View::default()).await
    }

    /// The faces of a full frame seen through `view` (see [`Engine::faces_in`]).
    pub async fn faces_in(&self, image: bytes::Bytes, select: Select, view: View) -> Result<Vec<Face>, RecognizeError> {
        self.run(move |engine| engine.faces_in(&image, select, view)).await
    }
}
