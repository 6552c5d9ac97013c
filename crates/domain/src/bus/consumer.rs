//! Acking helpers for consumers. lapin reports an ack on a dropped channel as `Ok(false)`, not an
//! error: such a message was not acked and will be redelivered, which idempotent handlers tolerate.

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicRejectOptions};

/// Acks; `false` when the ack did not reach the broker (the message will come again).
pub async fn ack(delivery: &Delivery) -> bool {
    matches!(delivery.acker.ack(BasicAckOptions::default()).await, Ok(true))
}

/// A message no handler can ever read goes to the dead queue instead of looping forever.
pub async fn reject_poison(delivery: &Delivery, reason: &str) {
    tracing::error!(reason, "dead-lettering unreadable bus message: {reason}");
    let _ = delivery.acker.reject(BasicRejectOptions { requeue: false }).await;
}

use std::future::Future;

use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use tokio_util::sync::CancellationToken;

use super::{Bus, Link, topology};

/// Where a consumer reads from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A durable work queue declared by the topology, shared by every replica.
    Shared(String),
    /// A queue of this replica's own, bound to `exchange` (live fan-out, cache invalidation).
    Replica { queue: String, exchange: String, routing_key: String },
    /// A durable work queue outside the common topology, declared (dead-lettering to the dead
    /// queue) and bound by its consumer: an integration's, which exists only while it is on.
    Durable { queue: String, exchange: String, routing_key: String, dead_queue: String },
}

/// Runs `session` with a fresh consumer for every bus connection, until `cancel` fires.
/// `session` returns when its stream ends (the link died) or when it has wound down after
/// `cancel`; unacked deliveries go back to the queue with the connection.
pub async fn run_consumer<F, Fut>(bus: &Bus, source: Source, prefetch: u16, cancel: &CancellationToken, mut session: F)
where
    F: FnMut(Consumer, u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut generation = 0;
    while let Some(link) = bus.next_link(generation, cancel).await {
        generation = link.generation;
        match open(&link, &source, prefetch).await {
            Ok((_channel, consumer)) => session(consumer, generation).await,
            Err(e) => tracing::warn!(error = %e, "cannot start consumer on {source:?}: {e}"),
        }
        if cancel.is_cancelled() {
            break;
        }
        bus.report_failure(generation, format!("consumer on {source:?} stopped"));
    }
}

async fn open(link: &Link, source: &Source, prefetch: u16) -> lapin::Result<(Channel, Consumer)> {
    let channel = link.connection.create_channel().await?;
    channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
    let queue = match source {
        Source::Shared(queue) => queue.clone(),
        Source::Replica { queue, exchange, routing_key } => {
            topology::declare_replica_queue(&channel, queue, exchange, routing_key).await?;
            queue.clone()
        }
        Source::Durable { queue, exchange, routing_key, dead_queue } => {
            topology::declare_durable_queue(&channel, queue, exchange, routing_key, dead_queue).await?;
            queue.clone()
        }
    };
    let consumer =
        channel.basic_consume(queue.into(), "".into(), BasicConsumeOptions::default(), FieldTable::default()).await?;
    Ok((channel, consumer))
}
