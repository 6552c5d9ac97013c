//! Owns the AMQP connection: connect, declare, publish `Up`; on any sign of death publish `Down`,
//! drop the connection and reconnect with a short jittered backoff, forever.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::{Connection, ConnectionProperties, Event};
use rand::Rng;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{BusState, Link, Names, open_publisher, topology};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
const STATUS_CHECK: Duration = Duration::from_secs(1);

type EventStream = std::pin::Pin<Box<dyn futures_util::Stream<Item = Event> + Send>>;

pub(super) struct Settings {
    pub url: String,
    pub connection_name: String,
    pub names: Names,
}

pub(super) async fn run(
    settings: Settings,
    state: watch::Sender<BusState>,
    mut failures: mpsc::UnboundedReceiver<(u64, String)>,
    stop: CancellationToken,
) {
    let mut generation = 0_u64;
    let mut backoff = MIN_BACKOFF;
    while !stop.is_cancelled() {
        let attempt = tokio::time::timeout(CONNECT_TIMEOUT, connect(&settings, generation + 1)).await;
        let (link, events) = match attempt {
            Ok(Ok(ok)) => ok,
            Ok(Err(e)) => {
                mark_down(&state, format!("cannot connect: {e}"));
                backoff = sleep_backoff(backoff, &stop).await;
                continue;
            }
            Err(_) => {
                mark_down(&state, "connect timed out".into());
                backoff = sleep_backoff(backoff, &stop).await;
                continue;
            }
        };
        generation = link.generation;
        backoff = MIN_BACKOFF;
        tracing::info!(bus.generation = generation, "message bus connected (generation {generation})");
        let link = Arc::new(link);
        state.send_replace(BusState::Up(link.clone()));
        let reason = watch_link(&link, events, &mut failures, &stop).await;
        mark_down(&state, reason.clone());
        if !stop.is_cancelled() {
            tracing::warn!(bus.generation = generation, reason = %reason, "message bus lost: {reason}");
        }
        // Closing may hang on a dead socket; dropping the last handle ends it either way.
        let _ = tokio::time::timeout(Duration::from_secs(1), link.connection.close(200, "bye".into())).await;
    }
    mark_down(&state, "shut down".into());
}

async fn connect(settings: &Settings, generation: u64) -> lapin::Result<(Link, EventStream)> {
    let properties = ConnectionProperties::default().with_connection_name(settings.connection_name.clone().into());
    let connection = Connection::connect(&settings.url, properties).await?;
    let events: EventStream = Box::pin(connection.events_listener());
    let setup = connection.create_channel().await?;
    topology::declare(&setup, &settings.names).await?;
    let _ = setup.close(200, "declared".into()).await;
    let publisher = open_publisher(&connection).await?;
    Ok((Link { generation, connection, publisher }, events))
}

async fn watch_link(
    link: &Link,
    mut events: impl futures_util::Stream<Item = Event> + Unpin,
    failures: &mut mpsc::UnboundedReceiver<(u64, String)>,
    stop: &CancellationToken,
) -> String {
    let mut check = tokio::time::interval(STATUS_CHECK);
    loop {
        tokio::select! {
            () = stop.cancelled() => return "shutting down".into(),
            event = events.next() => match event {
                Some(Event::Error(e)) => return format!("connection error: {e}"),
                Some(_) => {}
                None => return "connection events ended".into(),
            },
            failure = failures.recv() => match failure {
                Some((generation, reason)) if generation == link.generation => return reason,
                Some(_) => {}
                None => return "bus handle dropped".into(),
            },
            _ = check.tick() => {
                if !link.connection.status().connected() {
                    return "connection no longer connected".into();
                }
            }
        }
    }
}

fn mark_down(state: &watch::Sender<BusState>, reason: String) {
    state.send_if_modified(|current| match current {
        BusState::Down { reason: old, .. } if *old == reason => false,
        BusState::Down { reason: old, .. } => {
            *old = reason;
            true
        }
        BusState::Up(_) => {
            *current = BusState::Down { reason, since: Instant::now() };
            true
        }
    });
}

async fn sleep_backoff(current: Duration, stop: &CancellationToken) -> Duration {
    let jitter = rand::thread_rng().gen_range(0.5..1.0);
    tokio::select! {
        () = stop.cancelled() => {}
        () = tokio::time::sleep(current.mul_f64(jitter)) => {}
    }
    (current * 2).min(MAX_BACKOFF)
}
