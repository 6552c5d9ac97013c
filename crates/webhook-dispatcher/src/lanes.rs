//! Per-hook lanes: each hook has its own bounded queue and its own concurrency slots, so a slow
//! or dead hook only ever waits on itself. A lane batches fresh events (up to the hook's
//! batch_size, for at most WEBHOOKS.BATCH_LINGER_MS, within WEBHOOKS.MAX_PAYLOAD_BYTES).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::event::FaceEvent;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::deliverer::Deliverer;

/// One event with its webhook JSON, rendered once and shared by every hook it goes to.
#[derive(Clone)]
pub struct Item {
    pub event: Arc<FaceEvent>,
    pub json: Arc<Vec<u8>>,
}

impl Item {
    pub fn new(base: &str, event: FaceEvent) -> Self {
        let json = serde_json::to_vec(&crate::payload::event_json(base, &event)).unwrap_or_default();
        Self { event: Arc::new(event), json: Arc::new(json) }
    }
}

/// What a bus message owes one hook. `done` reports true once it was delivered, parked for a
/// retry, or given up for good: then the message may be acked.
pub struct Job {
    pub items: Vec<Item>,
    /// Set for a retry (the webhook-id stays the same across attempts); fresh events get theirs
    /// when their batch is formed.
    pub message_id: Option<String>,
    pub attempts: u32,
    /// Times this delivery was parked without an attempt.
    pub deferrals: u32,
    pub done: oneshot::Sender<bool>,
}

impl Job {
    pub fn is_fresh(&self) -> bool {
        self.message_id.is_none() && self.attempts == 0
    }

    pub fn body_len(&self) -> usize {
        self.items.iter().map(|i| i.json.len() + 1).sum()
    }
}

/// How long a message waits for room in a busy lane before its delivery is parked instead: long
/// enough for a healthy hook's slots to turn over, short enough that a dead hook holds a bus
/// message only briefly.
const LANE_WAIT: Duration = Duration::from_millis(50);

/// A lane that stayed full and has finished no attempt for this long is stuck (its hook hangs):
/// new events then skip it without waiting, so a dead hook costs other hooks' messages nothing.
/// A lane that is merely busy keeps finishing attempts and keeps its backpressure.
const STUCK_AFTER: Duration = Duration::from_secs(1);

pub struct Lanes {
    lanes: Mutex<HashMap<i64, mpsc::Sender<Job>>>,
    saturated: Mutex<HashMap<i64, tokio::time::Instant>>,
    capacity: usize,
    linger: Duration,
    hook_concurrency: usize,
    /// Shutdown: lanes stop starting attempts and park what waits in them, so stopping takes at
    /// most one request timeout even with a dead hook's lane full.
    closing: CancellationToken,
}

impl Lanes {
    pub fn new(hook_concurrency: usize, linger: Duration, closing: CancellationToken) -> Self {
        // Enough to keep every slot busy, small enough that a dead hook holds few bus messages:
        // the rest are parked in the delay queues.
        Self {
            lanes: Mutex::new(HashMap::new()),
            saturated: Mutex::new(HashMap::new()),
            capacity: hook_concurrency * 2,
            linger,
            hook_concurrency,
            closing,
        }
    }

    /// Hands `job` to the hook's lane, waiting up to [`LANE_WAIT`] for room; gives it back when the
    /// lane stays full (a hook that is down or far behind), so the caller can park it instead.
    pub async fn submit(&self, deliverer: &Arc<Deliverer>, hook_id: i64, job: Job) -> Result<(), Job> {
        let now = tokio::time::Instant::now();
        let was_full = self.saturated.lock().is_ok_and(|s| s.contains_key(&hook_id));
        if was_full && job.is_fresh() && deliverer.idle_for(hook_id, now) > STUCK_AFTER {
            return Err(job);
        }
        let sender = {
            let Ok(mut lanes) = self.lanes.lock() else { return Err(job) };
            lanes
                .entry(hook_id)
                .or_insert_with(|| {
                    deliverer.touch(hook_id);
                    let (sender, receiver) = mpsc::channel(self.capacity);
                    let lane = Lane {
                        hook_id,
                        linger: self.linger,
                        slots: Arc::new(Semaphore::new(self.hook_concurrency)),
                        closing: self.closing.clone(),
                    };
                    tokio::spawn(lane.run(receiver, deliverer.clone()));
                    sender
                })
                .clone()
        };
        let result = sender.send_timeout(job, LANE_WAIT).await.map_err(|e| match e {
            mpsc::error::SendTimeoutError::Timeout(job) | mpsc::error::SendTimeoutError::Closed(job) => job,
        });
        if let Ok(mut saturated) = self.saturated.lock() {
            match result {
                Err(_) => saturated.insert(hook_id, now),
                Ok(()) => saturated.remove(&hook_id),
            };
        }
        result
    }
}

struct Lane {
    hook_id: i64,
    linger: Duration,
    slots: Arc<Semaphore>,
    closing: CancellationToken,
}

impl Lane {
    async fn run(self, mut receiver: mpsc::Receiver<Job>, deliverer: Arc<Deliverer>) {
        let mut held: Option<Job> = None;
        loop {
            let first = match held.take() {
                Some(job) => job,
                None => match receiver.recv().await {
                    Some(job) => job,
                    None => return,
                },
            };
            if self.closing.is_cancelled() {
                park_unattempted(&deliverer, self.hook_id, first).await;
                continue;
            }
            let Some(hook) = deliverer.hook(self.hook_id) else {
                // Deleted or switched off since: nothing more is owed to it.
                let _ = first.done.send(true);
                continue;
            };
            // Wait for a slot before batching, so a busy hook's batches fill up meanwhile.
            let slot = tokio::select! {
                slot = self.slots.clone().acquire_owned() => slot,
                () = self.closing.cancelled() => {
                    park_unattempted(&deliverer, self.hook_id, first).await;
                    continue;
                }
            };
            let Ok(slot) = slot else { return };
            let mut batch = vec![first];
            if batch[0].is_fresh() && hook.batch_size > 1 {
                let mut size = batch[0].body_len();
                let deadline = tokio::time::Instant::now() + self.linger;
                while batch.len() < hook.batch_size {
                    match tokio::time::timeout_at(deadline, receiver.recv()).await {
                        Ok(Some(job)) if job.is_fresh() && size + job.body_len() <= deliverer.max_payload() => {
                            size += job.body_len();
                            batch.push(job);
                        }
                        Ok(Some(job)) => {
                            held = Some(job);
                            break;
                        }
                        _ => break,
                    }
                }
            }
            let deliverer = deliverer.clone();
            tokio::spawn(async move {
                deliverer.deliver(&hook, batch).await;
                drop(slot);
            });
        }
    }
}

/// A job that gets no attempt now (hook failing or saturated, or shutdown) goes to the delay queue.
pub async fn park_unattempted(deliverer: &Deliverer, hook_id: i64, job: Job) {
    let items: Vec<&Item> = job.items.iter().collect();
    let retry = domain::messages::DeliveryRetry {
        hook_id,
        message_id: job.message_id.clone().unwrap_or_else(|| crate::deliverer::message_id(hook_id, &items)),
        attempts: job.attempts,
        deferrals: job.deferrals + 1,
        events: job.items.iter().map(|i| (*i.event).clone()).collect(),
    };
    // Wait longer the more often it was deferred and the longer its hook has been failing.
    let rung = retry.deferrals.max(deliverer.failures(hook_id));
    let parked = deliverer.park(&retry, rung, None).await;
    let _ = job.done.send(parked);
}
