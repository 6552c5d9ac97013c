//! Genetec Security Center alarms (INTEGRATIONS = ["genetec"]): a consumer of `event.created` on a
//! durable queue of its own (`<p>.genetec`, declared only while the integration is on), which
//! raises the configured alarm through the Web SDK for each matched face on a linked camera.
//! At-least-once like the webhooks: a message is acked once its alarm was sent, given up, or not
//! owed; one cut off by a shutdown is redelivered, and the log keeps a redelivered event from
//! raising a second alarm.

use std::sync::Arc;

use domain::bus::topology::ROUTE_EVENT_CREATED;
use domain::bus::{Bus, Source, ack, reject_poison, run_consumer};
use domain::config::Genetec as Settings;
use domain::db::DbPool;
use domain::genetec::WebSdk;
use domain::messages::{EventCreated, decode};
use futures_util::StreamExt;
use lapin::options::BasicNackOptions;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

mod alarm;
mod rate_limit;

use crate::metrics::DispatcherMetrics;
use crate::payload::MediaLinks;

pub struct Alarms {
    pub settings: Settings,
    pub sdk: WebSdk,
    pub pool: DbPool,
    pub links: MediaLinks,
    pub metrics: DispatcherMetrics,
    pub limiter: rate_limit::RateLimit,
}

impl Alarms {
    pub fn new(
        settings: &Settings,
        pool: DbPool,
        links: MediaLinks,
        metrics: DispatcherMetrics,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            sdk: WebSdk::new(settings)?,
            limiter: rate_limit::RateLimit::new(std::time::Duration::from_secs(settings.rate_limit_seconds)),
            settings: settings.clone(),
            pool,
            links,
            metrics,
        })
    }
}

/// Consumes until `cancel`; each message is handled in a task of its own (at most `prefetch` at
/// once), so a retry waiting on a down Web SDK holds back no other alarm.
pub async fn run(alarms: Arc<Alarms>, bus: Bus, prefetch: u16, cancel: CancellationToken) {
    let names = bus.names().clone();
    let source = Source::Durable {
        queue: names.genetec_queue(),
        exchange: names.events_exchange(),
        routing_key: ROUTE_EVENT_CREATED.into(),
        dead_queue: names.dead_queue(),
    };
    run_consumer(&bus, source, prefetch, &cancel, |mut consumer, _| {
        let alarms = alarms.clone();
        let cancel = cancel.clone();
        async move {
            let mut tasks = JoinSet::new();
            loop {
                let delivery = tokio::select! {
                    () = cancel.cancelled() => break,
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                    next = consumer.next() => match next {
                        Some(Ok(d)) => d,
                        _ => break,
                    },
                };
                let alarms = alarms.clone();
                let cancel = cancel.clone();
                tasks.spawn(async move {
                    let event = match decode::<EventCreated>(&delivery.data) {
                        Ok(EventCreated(event)) => event,
                        Err(e) => return reject_poison(&delivery, &e.to_string()).await,
                    };
                    match alarm::handle(&alarms, &event, &cancel).await {
                        alarm::Disposition::Ack => {
                            ack(&delivery).await;
                        }
                        alarm::Disposition::Requeue => {
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                            let _ = delivery.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await;
                        }
                        // Cut off by a shutdown: not acked, so it comes back to a running replica.
                        alarm::Disposition::Leave => {}
                    }
                });
            }
            // In-flight alarms finish (or stop at their next retry wait) before the link closes.
            while tasks.join_next().await.is_some() {}
        }
    })
    .await;
}
