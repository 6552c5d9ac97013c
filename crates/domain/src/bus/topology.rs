//! The RabbitMQ topology of the architecture doc, every name under the configured prefix.
//! Declared idempotently by every service at each (re)connect.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

pub const ROUTE_FACE_DETECTED: &str = "face.detected";
pub const ROUTE_EVENT_CREATED: &str = "event.created";
pub const ROUTE_EVENT_UPDATED: &str = "event.updated";
pub const ROUTE_EVENTS_ACKNOWLEDGED: &str = "event.acknowledged";
/// Under `event.` so the live feed's `event.#` binding carries it; the webhooks queue binds
/// `event.created` only.
pub const ROUTE_CAMERA_VM_STATUS: &str = "event.camera_vm_status";

/// Exchange and queue names derived from `RABBITMQ.PREFIX`.
#[derive(Debug, Clone)]
pub struct Names {
    prefix: String,
    retry_delays_ms: Vec<u64>,
}

impl Names {
    pub fn new(prefix: &str, retry_delays_ms: &[u64]) -> Self {
        let mut delays = retry_delays_ms.to_vec();
        delays.sort_unstable();
        delays.dedup();
        Self { prefix: prefix.to_string(), retry_delays_ms: delays }
    }

    /// Direct exchange ingest publishes accepted faces to.
    pub fn faces_exchange(&self) -> String {
        format!("{}.faces", self.prefix)
    }
    /// Durable queue the recorder (gateway-api) consumes.
    pub fn recorder_queue(&self) -> String {
        format!("{}.recorder", self.prefix)
    }
    /// Topic exchange the recorder publishes stored events to.
    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }
    /// Durable queue the webhook dispatcher consumes events from.
    pub fn webhooks_queue(&self) -> String {
        format!("{}.webhooks", self.prefix)
    }
    /// Durable queue of delivery retries coming back from the delay queues.
    pub fn deliveries_queue(&self) -> String {
        format!("{}.webhooks.deliveries", self.prefix)
    }
    /// A delay queue: messages wait `delay_ms` (message TTL), then dead-letter to the deliveries queue.
    pub fn retry_queue(&self, delay_ms: u64) -> String {
        format!("{}.webhooks.retry.{delay_ms}ms", self.prefix)
    }
    pub fn retry_delays_ms(&self) -> &[u64] {
        &self.retry_delays_ms
    }
    /// Fanout exchange announcing changes to cached objects.
    pub fn gallery_exchange(&self) -> String {
        format!("{}.gallery", self.prefix)
    }
    /// Durable queue of the Genetec alarms (declared by webhook-dispatcher only while the
    /// integration is on).
    pub fn genetec_queue(&self) -> String {
        format!("{}.genetec", self.prefix)
    }
    /// Where messages no consumer can read end up, for an operator to inspect.
    pub fn dead_queue(&self) -> String {
        format!("{}.dead", self.prefix)
    }
    /// A per-replica queue name (exclusive, deleted with its connection).
    pub fn replica_queue(&self, role: &str, replica: &str) -> String {
        format!("{}.{role}.{replica}", self.prefix)
    }
}

fn durable_exchange() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() }
}

fn durable_queue() -> QueueDeclareOptions {
    QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() }
}

fn string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value.as_bytes().to_vec()))
}

/// Work queues dead-letter what their consumers reject into the dead queue.
fn dead_lettering(names: &Names) -> FieldTable {
    dead_lettering_into(&names.dead_queue())
}

fn dead_lettering_into(dead_queue: &str) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(ShortString::from("x-dead-letter-exchange"), string(""));
    args.insert(ShortString::from("x-dead-letter-routing-key"), string(dead_queue));
    args
}

async fn bind(channel: &Channel, queue: &str, exchange: &str, routing_key: &str) -> lapin::Result<()> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            routing_key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

pub async fn declare(channel: &Channel, names: &Names) -> lapin::Result<()> {
    let none = FieldTable::default;
    channel.exchange_declare(names.faces_exchange().into(), ExchangeKind::Direct, durable_exchange(), none()).await?;
    channel.exchange_declare(names.events_exchange().into(), ExchangeKind::Topic, durable_exchange(), none()).await?;
    channel.exchange_declare(names.gallery_exchange().into(), ExchangeKind::Fanout, durable_exchange(), none()).await?;
    channel.queue_declare(names.dead_queue().into(), durable_queue(), none()).await?;

    channel.queue_declare(names.recorder_queue().into(), durable_queue(), dead_lettering(names)).await?;
    channel
        .queue_bind(
            names.recorder_queue().into(),
            names.faces_exchange().into(),
            ROUTE_FACE_DETECTED.into(),
            QueueBindOptions::default(),
            none(),
        )
        .await?;
    channel.queue_declare(names.webhooks_queue().into(), durable_queue(), dead_lettering(names)).await?;
    // Webhooks are sent for new events only; updates (acknowledgements) are for the live feed.
    channel
        .queue_bind(
            names.webhooks_queue().into(),
            names.events_exchange().into(),
            ROUTE_EVENT_CREATED.into(),
            QueueBindOptions::default(),
            none(),
        )
        .await?;
    channel.queue_declare(names.deliveries_queue().into(), durable_queue(), dead_lettering(names)).await?;
    for &delay in names.retry_delays_ms() {
        let mut args = FieldTable::default();
        args.insert(
            ShortString::from("x-message-ttl"),
            AMQPValue::LongLongInt(i64::try_from(delay).unwrap_or(i64::MAX)),
        );
        args.insert(ShortString::from("x-dead-letter-exchange"), string(""));
        args.insert(ShortString::from("x-dead-letter-routing-key"), string(&names.deliveries_queue()));
        channel.queue_declare(names.retry_queue(delay).into(), durable_queue(), args).await?;
    }
    Ok(())
}

/// Declares and binds a durable work queue that dead-letters into `dead_queue`.
pub async fn declare_durable_queue(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    routing_key: &str,
    dead_queue: &str,
) -> lapin::Result<()> {
    channel.queue_declare(queue.into(), durable_queue(), dead_lettering_into(dead_queue)).await?;
    bind(channel, queue, exchange, routing_key).await
}

/// Declares and binds a per-replica queue (exclusive: it lives and dies with this connection).
pub async fn declare_replica_queue(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    routing_key: &str,
) -> lapin::Result<()> {
    let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..QueueDeclareOptions::default() };
    channel.queue_declare(queue.into(), options, FieldTable::default()).await?;
    bind(channel, queue, exchange, routing_key).await
}
