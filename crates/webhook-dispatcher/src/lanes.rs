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
use crate::lane_clock::LaneClocks;
use crate::parking::Parking;

/// One event with its webhook JSON, rendered once and shared by every hook it goes to.
#[derive(Clone)]
pub struct Item {
    pub event: Arc<FaceEvent>,
    pub json: Arc<Vec<u8>>,
}

impl Item {
    pub fn new(links: &crate::payload::MediaLinks, event: FaceEvent) -> Self {
        let json = serde_json::to_vec(&crate::payload::event_json(links, &event)).unwrap_or_default();
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

/// How long a message waits for room in a full lane before its delivery is parked instead. Lanes
/// hold as many jobs as the consumers take messages, so one is full only when it holds them all.
const LANE_WAIT: Duration = Duration::from_millis(50);

/// How often a lane waiting for a free slot asks its clock whether to park what waits in it.
const RECHECK: Duration = Duration::from_millis(20);

pub struct Lanes {
    lanes: Mutex<HashMap<i64, mpsc::Sender<Job>>>,
    clocks: Arc<LaneClocks>,
    parking: Arc<Parking>,
    hold: Duration,
    capacity: usize,
    linger: Duration,
    hook_concurrency: usize,
    /// Shutdown: lanes stop starting attempts and park what waits in them, so stopping takes at
    /// most one request timeout even with a dead hook's lane full.
    closing: CancellationToken,
}

impl Lanes {
    /// `messages` is how many bus messages the consumers hold at once: a lane that can queue that
    /// many never makes a message wait for room, only (when its hook keeps up) for its turn.
    pub fn new(
        hook_concurrency: usize,
        messages: usize,
        linger: Duration,
        hold: Duration,
        parking: Arc<Parking>,
        closing: CancellationToken,
    ) -> Self {
        Self {
            lanes: Mutex::new(HashMap::new()),
            clocks: Arc::default(),
            parking,
            hold,
            capacity: messages.max(hook_concurrency * 2),
            linger,
            hook_concurrency,
            closing,
        }
    }

    /// The least delay for work parked because a lane does not admit it: a hook whose attempts
    /// hang tells nothing new before they time out, so its backlog should not come back sooner.
    pub fn hold(&self) -> Duration {
        self.hold
    }

    /// Whether the hook's lane takes more work now (see [`LaneClocks::admits`]).
    pub fn admits(&self, hook_id: i64) -> bool {
        let queued = self
            .lanes
            .lock()
            .ok()
            .and_then(|lanes| lanes.get(&hook_id).map(|s| self.capacity - s.capacity()))
            .unwrap_or(0);
        self.clocks.admits(hook_id, queued, self.hook_concurrency)
    }

    /// Hands `job` to the hook's lane; gives it back when the lane does not admit it (its hook
    /// hangs or lags) or stays full, so the caller can park it instead.
    pub async fn submit(&self, deliverer: &Arc<Deliverer>, hook_id: i64, job: Job) -> Result<(), Job> {
        let sender = {
            let Ok(mut lanes) = self.lanes.lock() else { return Err(job) };
            lanes
                .entry(hook_id)
                .or_insert_with(|| {
                    let (sender, receiver) = mpsc::channel(self.capacity);
                    let lane = Lane {
                        hook_id,
                        linger: self.linger,
                        slots: Arc::new(Semaphore::new(self.hook_concurrency)),
                        hook_concurrency: self.hook_concurrency,
                        clocks: self.clocks.clone(),
                        parking: self.parking.clone(),
                        hold: self.hold,
                        closing: self.closing.clone(),
                    };
                    tokio::spawn(lane.run(receiver, deliverer.clone()));
                    sender
                })
                .clone()
        };
        if !self.clocks.admits(hook_id, self.capacity - sender.capacity(), self.hook_concurrency) {
            return Err(job);
        }
        sender.send_timeout(job, LANE_WAIT).await.map_err(|e| match e {
            mpsc::error::SendTimeoutError::Timeout(job) | mpsc::error::SendTimeoutError::Closed(job) => job,
        })
    }
}

struct Lane {
    hook_id: i64,
    linger: Duration,
    slots: Arc<Semaphore>,
    hook_concurrency: usize,
    clocks: Arc<LaneClocks>,
    parking: Arc<Parking>,
    hold: Duration,
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
                park_unattempted(&deliverer, self.hook_id, first, None).await;
                continue;
            }
            let Some(hook) = deliverer.hook(self.hook_id) else {
                // Deleted or switched off since: nothing more is owed to it.
                let _ = first.done.send(true);
                continue;
            };
            // Wait for a slot before batching, so a busy hook's batches fill up meanwhile; what
            // waits here is parked once the hook hangs or lags.
            let turn = loop {
                tokio::select! {
                    slot = self.slots.clone().acquire_owned() => break slot.ok(),
                    () = self.closing.cancelled() => break None,
                    () = tokio::time::sleep(RECHECK) => {
                        if !self.clocks.admits(self.hook_id, receiver.len() + 1, self.hook_concurrency) {
                            break None;
                        }
                    }
                }
            };
            let Some(slot) = turn else {
                if self.closing.is_cancelled() {
                    park_unattempted(&deliverer, self.hook_id, first, None).await;
                } else {
                    self.spill(&deliverer, first, &mut receiver).await;
                }
                continue;
            };
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
            let (deliverer, clocks) = (deliverer.clone(), self.clocks.clone());
            clocks.started(self.hook_id);
            tokio::spawn(async move {
                let started = tokio::time::Instant::now();
                deliverer.deliver(&hook, batch).await;
                clocks.finished(hook.id, started.elapsed());
                drop(slot);
            });
        }
    }
}

impl Lane {
    /// Parks the jobs waiting in a lane whose hook hangs or lags, oldest first, until it admits
    /// again: fresh events in groups, retries one by one (no attempt spent either way).
    async fn spill(&self, deliverer: &Arc<Deliverer>, first: Job, receiver: &mut mpsc::Receiver<Job>) {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            if job.is_fresh() {
                self.parking.defer(deliverer, self.hook_id, job, Some(self.hold));
            } else {
                park_unattempted(deliverer, self.hook_id, job, Some(self.hold)).await;
            }
            if !self.clocks.admits(self.hook_id, receiver.len(), self.hook_concurrency) {
                next = receiver.try_recv().ok();
            }
        }
    }
}

/// A job that gets no attempt now (hook failing or saturated, or shutdown) goes to the delay queue.
/// `hold`: the least delay, for a hook whose attempts hang (see [`Lanes::hold`]).
pub async fn park_unattempted(deliverer: &Deliverer, hook_id: i64, job: Job, hold: Option<Duration>) {
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
    let parked = deliverer.park(&retry, rung, hold).await;
    let _ = job.done.send(parked);
}
