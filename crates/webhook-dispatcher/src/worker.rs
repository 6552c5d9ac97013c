//! Turns stored events into deliveries. Each event goes to every active hook whose filters match;
//! a failed attempt is parked in a durable delay queue (message TTL, dead-lettered back into the
//! deliveries queue) and tried again there. A message is acked only once every delivery it owes
//! has either succeeded or been parked, so nothing is lost across restarts.

use std::sync::Arc;
use std::time::Duration;

use domain::bus::{Bus, Source, ack, reject_poison, run_consumer};
use domain::db::DbPool;
use domain::event::FaceEvent;
use domain::messages::{DeliveryRetry, EventCreated, decode, encode};
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::BasicNackOptions;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::hooks_cache::{ActiveHook, HookCache};
use crate::metrics::DispatcherMetrics;
use crate::{delivery, payload};

pub struct Worker {
    pub bus: Bus,
    pub pool: DbPool,
    pub hooks: HookCache,
    pub client: reqwest::Client,
    pub metrics: DispatcherMetrics,
    pub external_base: String,
    pub retry_delays_ms: Vec<u64>,
    pub concurrency: usize,
}

/// What the consumer of a queue does with one message.
#[derive(Clone, Copy)]
enum Kind {
    NewEvent,
    Retry,
}

impl Worker {
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let events = tokio::spawn(self.clone().consume(Kind::NewEvent, cancel.clone()));
        let retries = tokio::spawn(self.consume(Kind::Retry, cancel));
        let _ = tokio::join!(events, retries);
    }

    async fn consume(self: Arc<Self>, kind: Kind, cancel: CancellationToken) {
        let names = self.bus.names();
        let queue = match kind {
            Kind::NewEvent => names.webhooks_queue(),
            Kind::Retry => names.deliveries_queue(),
        };
        let prefetch = u16::try_from(self.concurrency).unwrap_or(u16::MAX);
        run_consumer(&self.bus.clone(), Source::Shared(queue), prefetch, &cancel, |mut consumer, _| {
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
                // Deliveries already started finish (and ack) before the link is closed.
                while in_flight.join_next().await.is_some() {}
            }
        })
        .await;
    }

    async fn handle(&self, kind: Kind, message: Delivery) {
        let handled = match kind {
            Kind::NewEvent => match decode::<EventCreated>(&message.data) {
                Ok(EventCreated(event)) => self.fan_out(event).await,
                Err(e) => return reject_poison(&message, &e.to_string()).await,
            },
            Kind::Retry => match decode::<DeliveryRetry>(&message.data) {
                Ok(retry) => self.retry(retry).await,
                Err(e) => return reject_poison(&message, &e.to_string()).await,
            },
        };
        if handled {
            ack(&message).await;
        } else {
            // Could not park a failed delivery (bus trouble): let the message come back later.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = message.acker.nack(BasicNackOptions { requeue: true, multiple: false }).await;
        }
    }

    /// First attempt to every matching hook. True when each one succeeded or was parked for retry.
    async fn fan_out(&self, event: FaceEvent) -> bool {
        let hooks = self.hooks.current();
        let matching: Vec<&ActiveHook> = hooks.iter().filter(|h| h.filters.matches(&event)).collect();
        let event = Arc::new(event);
        let attempts = matching.into_iter().map(|hook| {
            let event = event.clone();
            async move {
                // Stable per (event, hook): consumers de-duplicate repeats with it.
                let message_id = format!("msg_{}_{}", event.id.simple(), hook.id);
                self.attempt(
                    hook,
                    DeliveryRetry { hook_id: hook.id, message_id, attempts: 0, events: vec![(*event).clone()] },
                )
                .await
            }
        });
        futures_util::future::join_all(attempts).await.into_iter().all(|ok| ok)
    }

    async fn retry(&self, retry: DeliveryRetry) -> bool {
        match self.hooks.get(retry.hook_id) {
            Some(hook) => self.attempt(&hook, retry).await,
            None => {
                tracing::info!(
                    hook.id = retry.hook_id,
                    "dropping retry for deleted or inactive hook {}",
                    retry.hook_id
                );
                true
            }
        }
    }

    /// One attempt; on failure parks the next one. True when nothing more is owed by this message.
    async fn attempt(&self, hook: &ActiveHook, mut retry: DeliveryRetry) -> bool {
        retry.attempts += 1;
        let body = payload::body(&self.external_base, &retry.events);
        let outcome = delivery::send(&self.client, hook, &retry.message_id, body).await;
        let event_ids = retry.events.iter().map(|e| e.id).collect();
        delivery::log(&self.pool, hook, &retry.message_id, event_ids, retry.attempts, &outcome).await;
        let label = if outcome.success { "success" } else { "failure" };
        self.metrics.attempts.with_label_values(&[label]).inc();
        if outcome.success {
            return true;
        }
        tracing::info!(hook.id = hook.id, attempt = retry.attempts, error = %outcome.error,
            "delivery {} to hook {} failed (attempt {}): {}", retry.message_id, hook.id, retry.attempts, outcome.error);
        if hook.send_attempts != 0 && retry.attempts >= hook.send_attempts {
            tracing::warn!(
                hook.id = hook.id,
                "giving up delivery {} after {} attempts",
                retry.message_id,
                retry.attempts
            );
            self.metrics.gave_up.inc();
            return true;
        }
        self.park(retry).await
    }

    async fn park(&self, retry: DeliveryRetry) -> bool {
        let index = (retry.attempts as usize).saturating_sub(1).min(self.retry_delays_ms.len().saturating_sub(1));
        let Some(&delay) = self.retry_delays_ms.get(index) else { return false };
        let names = self.bus.names();
        let Ok(payload) = encode(&retry) else { return false };
        // Straight into the delay queue through the default exchange; its TTL sends it back.
        match self.bus.publish_raw("", &names.retry_queue(delay), &payload, &retry.message_id, None).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "cannot park delivery {} for retry: {e}", retry.message_id);
                false
            }
        }
    }
}
