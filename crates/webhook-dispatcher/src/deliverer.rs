//! One attempt at a batch for one hook, and what follows from its outcome: the delivery log row,
//! the hook's failure streak, and either done, a durably parked retry, or giving up.

use std::collections::HashMap;
use std::sync::Mutex;

use domain::bus::Bus;
use domain::db::DbPool;
use domain::messages::{DeliveryRetry, encode};
use domain::models::NewWebhookDelivery;

use crate::delivery::{Outcome, Sender};
use crate::delivery_log::DeliveryLog;
use crate::hook_health::{self, Policy};
use crate::hooks_cache::{ActiveHook, HookCache};
use crate::lanes::{Item, Job};
use crate::metrics::DispatcherMetrics;
use crate::schedule::Schedule;

pub struct Deliverer {
    pub bus: Bus,
    pub pool: DbPool,
    pub hooks: HookCache,
    pub sender: Sender,
    pub log: DeliveryLog,
    pub metrics: DispatcherMetrics,
    pub schedule: Schedule,
    pub policy: Policy,
    pub max_payload: usize,
    /// Consecutive failed attempts per hook from this replica: new events for a failing hook skip
    /// its lane and wait in the delay queue (a dead hook never holds bus messages for a timeout),
    /// on a rung that grows with the streak.
    failing: Mutex<HashMap<i64, u32>>,
}

/// Stable per (events, hook): consumers de-duplicate repeats by it.
pub fn message_id(hook_id: i64, items: &[&Item]) -> String {
    match items {
        [only] => format!("msg_{}_{hook_id}", only.event.id.simple()),
        [first, ..] => format!("msg_{}_{hook_id}_{}", first.event.id.simple(), items.len()),
        [] => format!("msg_empty_{hook_id}"),
    }
}

impl Deliverer {
    #[expect(clippy::too_many_arguments, reason = "built once at start-up")]
    pub fn new(
        bus: Bus,
        pool: DbPool,
        hooks: HookCache,
        sender: Sender,
        log: DeliveryLog,
        metrics: DispatcherMetrics,
        schedule: Schedule,
        policy: Policy,
        max_payload: usize,
    ) -> Self {
        Self { bus, pool, hooks, sender, log, metrics, schedule, policy, max_payload, failing: Mutex::default() }
    }

    pub fn hook(&self, id: i64) -> Option<ActiveHook> {
        self.hooks.get(id)
    }

    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    pub fn is_failing(&self, hook_id: i64) -> bool {
        self.failures(hook_id) > 0
    }

    pub fn failures(&self, hook_id: i64) -> u32 {
        self.failing.lock().map_or(0, |f| f.get(&hook_id).copied().unwrap_or(0))
    }

    fn set_failing(&self, hook_id: i64, failing: bool) {
        if let Ok(mut streaks) = self.failing.lock() {
            if failing {
                *streaks.entry(hook_id).or_default() += 1;
            } else {
                streaks.remove(&hook_id);
            }
        }
    }

    pub async fn deliver(&self, hook: &ActiveHook, jobs: Vec<Job>) {
        let attempts = jobs.first().map_or(0, |j| j.attempts) + 1;
        let items: Vec<&Item> = jobs.iter().flat_map(|j| &j.items).collect();
        let message_id = match (jobs.len(), jobs.first().and_then(|j| j.message_id.clone())) {
            (1, Some(id)) => id,
            _ => message_id(hook.id, &items),
        };
        let mut body = Vec::with_capacity(jobs.iter().map(Job::body_len).sum::<usize>() + 2);
        body.push(b'[');
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&item.json);
        }
        body.push(b']');
        let outcome = if body.len() > self.max_payload {
            Outcome {
                error: format!("payload of {} bytes exceeds WEBHOOKS.MAX_PAYLOAD_BYTES", body.len()),
                ..Outcome::default()
            }
        } else {
            self.sender.send(&hook.url, &hook.keys, &message_id, body).await
        };
        self.record(hook, &message_id, &items, attempts, &outcome);
        let settled = self.settle(hook, &message_id, &items, attempts, &outcome).await;
        for job in jobs {
            let _ = job.done.send(settled);
        }
    }

    fn record(&self, hook: &ActiveHook, message_id: &str, items: &[&Item], attempts: u32, outcome: &Outcome) {
        let result = if outcome.success { "success" } else { "failure" };
        self.metrics.attempts.with_label_values(&[result]).inc();
        self.metrics.attempt_seconds.observe(outcome.duration.as_secs_f64());
        if !outcome.success {
            tracing::info!(hook.id = hook.id, webhook.message_id = %message_id, attempt = attempts, error = %outcome.error,
                "delivery {message_id} to hook {} failed (attempt {attempts}): {}", hook.id, outcome.error);
        }
        self.log.record(NewWebhookDelivery {
            hook_id: hook.id,
            message_id: message_id.to_string(),
            event_ids: items.iter().map(|i| i.event.id).collect(),
            attempt: i32::try_from(attempts).unwrap_or(i32::MAX),
            success: outcome.success,
            response_status: outcome.status.map(i32::from),
            error: outcome.error.clone(),
            duration_ms: i32::try_from(outcome.duration.as_millis()).unwrap_or(i32::MAX),
            response_body: outcome.response_body.clone(),
        });
    }

    /// True when nothing more is owed: delivered, parked for a retry, or given up.
    async fn settle(
        &self,
        hook: &ActiveHook,
        message_id: &str,
        items: &[&Item],
        attempts: u32,
        outcome: &Outcome,
    ) -> bool {
        if outcome.success {
            let was_failing = self.is_failing(hook.id) || hook.failing;
            self.set_failing(hook.id, false);
            if was_failing && let Err(e) = hook_health::record_success(&self.pool, hook.id).await {
                tracing::warn!(hook.id = hook.id, error = %e, "cannot reset the failure streak of hook {}: {e}", hook.id);
            }
            self.metrics.deliveries.with_label_values(&["delivered"]).inc_by(items.len() as u64);
            return true;
        }
        self.set_failing(hook.id, true);
        match hook_health::record_failure(&self.pool, &self.bus, hook.id, outcome.gone, &self.policy).await {
            Ok(Some(_)) => {
                self.metrics.hooks_disabled.inc();
                self.metrics.deliveries.with_label_values(&["dropped"]).inc_by(items.len() as u64);
                return true;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(hook.id = hook.id, error = %e, "cannot record a failure of hook {}: {e}", hook.id),
        }
        if hook.send_attempts != 0 && attempts >= hook.send_attempts {
            tracing::warn!(hook.id = hook.id, webhook.message_id = %message_id, "giving up delivery {message_id} after {attempts} attempts");
            self.metrics.deliveries.with_label_values(&["gave_up"]).inc_by(items.len() as u64);
            return true;
        }
        let retry = DeliveryRetry {
            hook_id: hook.id,
            message_id: message_id.to_string(),
            attempts,
            deferrals: 0,
            events: items.iter().map(|i| (*i.event).clone()).collect(),
        };
        self.park(&retry, attempts, outcome.retry_after).await
    }

    /// Parks a delivery in the delay queue of rung `step` (1-based, clamped to the ladder);
    /// true once the broker confirmed it.
    pub async fn park(&self, retry: &DeliveryRetry, step: u32, retry_after: Option<std::time::Duration>) -> bool {
        let rung = self.schedule.rung(step, retry_after);
        let Ok(payload) = encode(retry) else { return false };
        let queue = self.bus.names().retry_queue(rung);
        let expiration = Schedule::jittered(rung);
        match self.bus.publish_raw("", &queue, &payload, &retry.message_id, Some(expiration)).await {
            Ok(()) => {
                self.metrics.deliveries.with_label_values(&["parked"]).inc_by(retry.events.len() as u64);
                true
            }
            Err(e) => {
                tracing::warn!(webhook.message_id = %retry.message_id, error = %e, "cannot park delivery {}: {e}", retry.message_id);
                false
            }
        }
    }
}
