//! The RabbitMQ link every service shares: one supervisor task owns the connection (no lapin
//! auto-recover, see shared/docs/lapin-outages.md) and publishes its state through a watch.
//! Request handlers read the state (microseconds) and answer 503 at once while the bus is down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::messages::{BusMessage, encode};

mod consumer;
mod gallery_watch;
mod supervisor;
pub mod topology;

pub use consumer::{Source, ack, reject_poison, run_consumer};
pub use gallery_watch::watch_gallery;
pub use topology::Names;

/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

#[derive(Clone)]
pub enum BusState {
    Down { reason: String, since: Instant },
    Up(Arc<Link>),
}

/// One established connection, with the channel publishes go through (confirm mode).
pub struct Link {
    pub generation: u64,
    pub connection: Connection,
    publisher: Channel,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The bus is down: nothing was sent.
    #[error("message bus unavailable: {0}")]
    Down(String),
    /// Sent but not confirmed (error, nack or timeout): the outcome is unknown.
    #[error("publish not confirmed: {0}")]
    Unconfirmed(String),
    #[error("cannot encode message: {0}")]
    Encode(#[from] serde_json::Error),
}

#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    state: watch::Receiver<BusState>,
    failures: mpsc::UnboundedSender<(u64, String)>,
    confirm_timeout: Duration,
    names: Names,
}

impl Bus {
    /// Starts the supervisor. `stop` closes the connection: cancel it only after the work that
    /// publishes or acks has finished.
    pub fn start(config: &Config, connection_name: &str, stop: CancellationToken) -> Self {
        let names = Names::new(&config.rabbitmq.prefix, &config.webhooks.retry_delays_ms);
        let (state_tx, state_rx) =
            watch::channel(BusState::Down { reason: "connecting".into(), since: Instant::now() });
        let (failures_tx, failures_rx) = mpsc::unbounded_channel();
        let settings = supervisor::Settings {
            url: config.rabbitmq.url.clone(),
            connection_name: connection_name.to_string(),
            names: names.clone(),
        };
        tokio::spawn(supervisor::run(settings, state_tx, failures_rx, stop));
        Self {
            inner: Arc::new(Inner {
                state: state_rx,
                failures: failures_tx,
                confirm_timeout: Duration::from_millis(config.rabbitmq.confirm_timeout_ms),
                names,
            }),
        }
    }

    pub fn names(&self) -> &Names {
        &self.inner.names
    }

    pub fn state(&self) -> BusState {
        self.inner.state.borrow().clone()
    }

    pub fn is_up(&self) -> bool {
        matches!(*self.inner.state.borrow(), BusState::Up(_))
    }

    /// Tells the supervisor that a link looks dead (a consumer stream ended, a publish timed out).
    pub fn report_failure(&self, generation: u64, reason: impl Into<String>) {
        let _ = self.inner.failures.send((generation, reason.into()));
    }

    /// Waits for a link newer than `after` (0 = any). `None` once `cancel` fires.
    pub async fn next_link(&self, after: u64, cancel: &CancellationToken) -> Option<Arc<Link>> {
        let mut state = self.inner.state.clone();
        loop {
            if let BusState::Up(link) = &*state.borrow_and_update()
                && link.generation > after
            {
                return Some(link.clone());
            }
            tokio::select! {
                () = cancel.cancelled() => return None,
                changed = state.changed() => if changed.is_err() { return None },
            }
        }
    }

    /// Publishes a persistent message and waits for the broker's confirm (RABBITMQ.CONFIRM_TIMEOUT_MS).
    pub async fn publish<T: BusMessage>(
        &self,
        exchange: &str,
        routing_key: &str,
        message: &T,
        message_id: &str,
    ) -> Result<(), PublishError> {
        let payload = encode(message)?;
        self.publish_raw(exchange, routing_key, &payload, message_id, None).await
    }

    /// Like [`Bus::publish`] for an already encoded payload, optionally with a per-message TTL
    /// (`expiration_ms`: the broker drops or dead-letters the message after that long).
    pub async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        payload: &[u8],
        message_id: &str,
        expiration_ms: Option<u64>,
    ) -> Result<(), PublishError> {
        let link = match self.state() {
            BusState::Up(link) => link,
            BusState::Down { reason, since } => {
                return Err(PublishError::Down(format!("{reason} (for {} ms)", since.elapsed().as_millis())));
            }
        };
        let mut properties = BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/json".into())
            .with_message_id(message_id.into());
        if let Some(ms) = expiration_ms {
            properties = properties.with_expiration(ms.to_string().into());
        }
        let confirmed = tokio::time::timeout(self.inner.confirm_timeout, async {
            link.publisher
                .basic_publish(exchange.into(), routing_key.into(), BasicPublishOptions::default(), payload, properties)
                .await?
                .await
        })
        .await;
        match confirmed {
            Ok(Ok(Confirmation::Ack(_))) => Ok(()),
            Ok(Ok(other)) => Err(PublishError::Unconfirmed(format!("broker answered {other:?}"))),
            Ok(Err(e)) => {
                self.report_failure(link.generation, format!("publish failed: {e}"));
                Err(PublishError::Unconfirmed(e.to_string()))
            }
            Err(_) => {
                self.report_failure(link.generation, "publish confirm timed out");
                Err(PublishError::Unconfirmed("confirm timed out".into()))
            }
        }
    }
}

pub(crate) async fn open_publisher(connection: &Connection) -> lapin::Result<Channel> {
    let channel = connection.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok(channel)
}
