//! The two consumers. New events (`event.created`) go to every active hook whose filters match;
//! parked retries come back from the delay queues into the deliveries queue. A bus message is
//! acked only once every delivery it owes has been made, durably parked, or given up.

use std::sync::Arc;
use std::time::Duration;

use domain::bus::topology::ROUTE_EVENT_CREATED;
use domain::bus::{Source, ack, reject_poison, run_consumer};
use domain::event::FaceEvent;
use domain::messages::{DeliveryRetry, EventCreated, decode};
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::BasicNackOptions;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::deliverer::{Deliverer, message_id};
use crate::lanes::{Item, Job, Lanes};
use crate::parking::{Parking, is_group};

pub struct Worker {
    /// The link messages are consumed (and acked) on; the deliverer publishes on another.
    pub bus: domain::bus::Bus,
    pub deliverer: Arc<Deliverer>,
    pub lanes: Lanes,
    pub parking: Arc<Parking>,
    pub links: crate::payload::MediaLinks,
    /// Bus messages handled at once per consumer (also its prefetch).
    pub concurrency: usize,
}

#[derive(Clone, Copy)]
enum Kind {
    NewEvent,
    Retry,
}

impl Worker {
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        // Nothing is consumed before the hooks are known: an event handled against an empty cache
        // would be acked with no delivery.
        tokio::select! {
            () = cancel.cancelled() => return,
            () = self.deliverer.hooks.wait_loaded() => {}
        }
        let events = tokio::spawn(self.clone().consume(Kind::NewEvent, cancel.clone()));
        let retries = tokio::spawn(self.consume(Kind::Retry, cancel));
        let _ = tokio::join!(events, retries);
    }

    async fn consume(self: Arc<Self>, kind: Kind, cancel: CancellationToken) {
        let bus = self.bus.clone();
        let queue = match kind {
            Kind::NewEvent => bus.names().webhooks_queue(),
            Kind::Retry => bus.names().deliveries_queue(),
        };
        let prefetch = u16::try_from(self.concurrency).unwrap_or(u16::MAX);
        run_consumer(&bus, Source::Shared(queue), prefetch, &cancel, |mut consumer, _| {
            let worker = self.clone();
            let cancel = cancel.clone();
            async move {
                let slots = Arc::new(Semaphore::new(worker.concurrency));
                let mut in_flight = JoinSet::new();
                loop {
                    let delivery = tokio::select! {
                        () = cancel.cancelled() => break,
                        next = consumer.next() => match next {
                            Some(Ok(d)) => d,
                            _ => break,
                        },
                    };
                    let Ok(slot) = slots.clone().acquire_owned().await else { break };
                    let worker = worker.clone();
                    in_flight.spawn(async move {
                        worker.handle(kind, delivery).await;
                        drop(slot);
                    });
                    while in_flight.try_join_next().is_some() {}
                }
                // Messages already taken finish (and ack) before the link is closed.
                while in_flight.join_next().await.is_some() {}
            }
        })
        .await;
    }

    async fn handle(&self, kind: Kind, message: Delivery) {
        // Deployments from before the binding was narrowed to event.created still route updates here.
        if matches!(kind, Kind::NewEvent) && message.routing_key.as_str() != ROUTE_EVENT_CREATED {
            ack(&message).await;
            return;
        }
        let settled = match kind {
            Kind::NewEvent => match decode::<EventCreated>(&message.data) {
                Ok(EventCreated(event)) => self.fan_out(event).await,
                Err(e) => return reject_poison(&message, &e.to_string()).await,
            },
            Kind::Retry => match decode::<DeliveryRetry>(&message.data) {
                Ok(retry) => self.retry(retry).await,
                Err(e) => return reject_poison(&message, &e.to_string()).await,
            },
        };
        if settled {
            ack(&message).await;
        } else {
            // A delivery could not be parked (bus trouble): the message comes back later.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = message.acker.nack(BasicNackOptions { requeue: true, multiple: false }).await;
        }
    }

    async fn fan_out(&self, mut event: FaceEvent) -> bool {
        // The vector is for gateway-api's event search: no webhook body carries it, so retries
        // parked on the bus do not either.
        event.facen = None;
        let hooks = self.deliverer.hooks.current();
        let matching: Vec<_> = hooks.iter().filter(|h| h.filters.matches(&event)).collect();
        if matching.is_empty() {
            return true;
        }
        let item = Item::new(&self.links, event);
        let waits = matching.into_iter().map(|hook| {
            let (done, outcome) = oneshot::channel();
            let job = Job { items: vec![item.clone()], message_id: None, attempts: 0, deferrals: 0, done };
            self.dispatch(hook.id, job, outcome)
        });
        futures_util::future::join_all(waits).await.into_iter().all(|settled| settled)
    }

    async fn retry(&self, mut retry: DeliveryRetry) -> bool {
        if self.deliverer.hook(retry.hook_id).is_none() {
            tracing::info!(hook.id = retry.hook_id, webhook.message_id = %retry.message_id,
                "dropping delivery {} for deleted or inactive hook {}", retry.message_id, retry.hook_id);
            return true;
        }
        if is_group(&retry.message_id) {
            // While the hook hangs or lags (attempts still running), the whole group goes back to
            // the delay queue as one message. While it fails, one event of the group probes it
            // and the rest go back. Either way a dead hook's backlog costs no per-event work.
            if !self.deliverer.is_failing(retry.hook_id) && !self.lanes.admits(retry.hook_id) {
                retry.deferrals += 1;
                let step = retry.deferrals.max(self.deliverer.failures(retry.hook_id));
                return self.deliverer.park(&retry, step, Some(self.lanes.hold())).await;
            }
            let rest = if self.deliverer.is_failing(retry.hook_id) && retry.events.len() > 1 {
                let rest = DeliveryRetry {
                    events: retry.events.split_off(1),
                    deferrals: retry.deferrals + 1,
                    ..retry.clone()
                };
                let step = rest.deferrals.max(self.deliverer.failures(rest.hook_id));
                Some((rest, step))
            } else {
                None
            };
            let parked_rest = async {
                match &rest {
                    Some((r, step)) => self.deliverer.park(r, *step, None).await,
                    None => true,
                }
            };
            // The others go back through the lane one by one, as new events do; a probe gets its
            // webhook-id now, so it is attempted (or parked as a retry) even though the hook fails.
            let probing = rest.is_some();
            let waits = retry.events.into_iter().map(|event| {
                let (done, outcome) = oneshot::channel();
                let item = Item::new(&self.links, event);
                let message_id = probing.then(|| message_id(retry.hook_id, &[&item]));
                let job = Job { items: vec![item], message_id, attempts: 0, deferrals: retry.deferrals, done };
                self.dispatch(retry.hook_id, job, outcome)
            });
            let (parked, settled) = tokio::join!(parked_rest, futures_util::future::join_all(waits));
            return parked && settled.into_iter().all(|s| s);
        }
        let items: Vec<Item> = retry.events.into_iter().map(|e| Item::new(&self.links, e)).collect();
        let (done, outcome) = oneshot::channel();
        let job = Job {
            items,
            message_id: Some(retry.message_id),
            attempts: retry.attempts,
            deferrals: retry.deferrals,
            done,
        };
        self.dispatch(retry.hook_id, job, outcome).await
    }

    /// Into the hook's lane or, when its lane stays full, to the delay queue (no attempt spent),
    /// so this message never waits on a slow hook. New events for a hook whose last attempt
    /// failed go to the delay queue at once: the retry path attempts them, without holding bus
    /// messages for the dead hook's timeouts.
    async fn dispatch(&self, hook_id: i64, job: Job, outcome: oneshot::Receiver<bool>) -> bool {
        let fresh = job.message_id.is_none() && job.attempts == 0;
        let (job, hold) = if fresh && self.deliverer.is_failing(hook_id) {
            (job, None)
        } else {
            match self.lanes.submit(&self.deliverer, hook_id, job).await {
                Ok(()) => return outcome.await.unwrap_or(false),
                Err(job) => (job, Some(self.lanes.hold())),
            }
        };
        if fresh {
            self.parking.defer(&self.deliverer, hook_id, job, hold);
        } else {
            crate::lanes::park_unattempted(&self.deliverer, hook_id, job, hold).await;
        }
        outcome.await.unwrap_or(false)
    }
}
