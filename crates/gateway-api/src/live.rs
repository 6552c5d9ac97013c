//! The live feed: this replica's own queue on the events exchange feeds a broadcast channel, and each
//! WebSocket session (wire doc §4) reads it. A slow client lags and loses frames; it never slows
//! the others or the ingest path. A client may narrow its feed with the event list's filters
//! (`?cameras=1&matched=true` on the URL, or a `filters` message), evaluated here in memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, Session};
use domain::bus::topology::{ROUTE_EVENT_UPDATED, ROUTE_EVENTS_ACKNOWLEDGED};
use domain::bus::{Bus, Source, ack, reject_poison, run_consumer};
use domain::list_filters::{EventFacts, EventListFilters};
use domain::messages::{DecodeError, EventCreated, EventUpdated, EventsAcknowledged, decode};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::routes::pagination as p;
use crate::state::AppState;
use crate::{auth, event_view};

/// Frames buffered per client before it starts losing them.
const CLIENT_BUFFER: usize = 1024;
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(15);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(45);
/// How long one frame may wait for room in a client's socket.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// One frame, serialized once for every client, with what filters read of its event (none for
/// frames that are not about one event: those go to every client).
pub struct LiveFrame {
    text: String,
    facts: Option<EventFacts>,
}

impl LiveFrame {
    fn passes(&self, filters: Option<&EventListFilters>) -> bool {
        match (filters, &self.facts) {
            (Some(f), Some(facts)) => f.matches(facts),
            _ => true,
        }
    }
}

#[derive(Clone)]
pub struct LiveFeed {
    frames: broadcast::Sender<Arc<LiveFrame>>,
    closing: CancellationToken,
}

impl LiveFeed {
    pub fn new(closing: CancellationToken) -> Self {
        let (frames, _) = broadcast::channel(CLIENT_BUFFER);
        Self { frames, closing }
    }

    fn publish(&self, frame: LiveFrame) {
        // No subscriber is not an error: nobody is watching right now.
        let _ = self.frames.send(Arc::new(frame));
    }
}

pub async fn run_fanout(state: web::Data<AppState>, bus: Bus, replica: String, cancel: CancellationToken) {
    let names = bus.names().clone();
    let source = Source::Replica {
        queue: names.replica_queue("live", &replica),
        exchange: names.events_exchange(),
        routing_key: "event.#".into(),
    };
    run_consumer(&bus, source, 256, &cancel, |mut consumer, _| {
        let state = state.clone();
        let cancel = cancel.clone();
        async move {
            loop {
                let delivery = tokio::select! {
                    () = cancel.cancelled() => return,
                    next = consumer.next() => match next {
                        Some(Ok(d)) => d,
                        _ => return,
                    },
                };
                match frame_of(&state, &delivery) {
                    Ok(frame) => {
                        state.live.publish(frame);
                        ack(&delivery).await;
                    }
                    Err(e) => reject_poison(&delivery, &e.to_string()).await,
                }
            }
        }
    })
    .await;
}

/// The WebSocket frame for a message of the events exchange, by its routing key.
fn frame_of(state: &AppState, delivery: &lapin::message::Delivery) -> Result<LiveFrame, DecodeError> {
    let (frame, facts) = match delivery.routing_key.as_str() {
        ROUTE_EVENT_UPDATED => {
            let EventUpdated { event } = decode(&delivery.data)?;
            // The update carries the REST shape, which is what the facts read; a shape they cannot
            // read goes to every client rather than to none.
            let facts = serde_json::from_value::<EventFacts>(event.clone()).ok();
            (serde_json::json!({"type": "event_updated", "data": event}), facts)
        }
        ROUTE_EVENTS_ACKNOWLEDGED => {
            let ack: EventsAcknowledged = decode(&delivery.data)?;
            (serde_json::json!({"type": "events_acknowledged", "data": ack}), None)
        }
        _ => {
            let EventCreated(event) = decode(&delivery.data)?;
            let facts = EventFacts::from(&event);
            (serde_json::json!({"type": "event_created", "data": event_view::from_event(state, &event)}), Some(facts))
        }
    };
    Ok(LiveFrame { text: frame.to_string(), facts })
}

#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: serde_json::Value,
}

/// A client's filters: `None` when it set none, so that the common case costs nothing per frame.
fn filters_of(pairs: &p::QueryPairs) -> Result<Option<EventListFilters>, domain::ApiError> {
    let filters = EventListFilters::parse(pairs)?;
    Ok((!filters.is_empty()).then_some(filters))
}

/// `GET /events/` upgraded to a WebSocket. The query string may carry the event list's filters;
/// a bad one is refused with 400 before the upgrade.
#[utoipa::path(get, path = "/events/", tag = "events",
    params(crate::routes::events::EventListParams),
    responses((status = 101, description = "upgraded to a WebSocket; first message `{\"type\": \"auth\", \"data\": {\"token\": ...}}`"),
              (status = 400, description = "a bad filter, or not a WebSocket handshake", body = domain::ApiError)))]
pub async fn get_events_socket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    let filters = match p::query_pairs(&req).and_then(|pairs| filters_of(&pairs)) {
        Ok(filters) => filters,
        Err(e) => return Ok(actix_web::ResponseError::error_response(&e)),
    };
    // Subscribe before answering, so nothing published after the handshake is missed.
    let frames = state.live.frames.subscribe();
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let stream = stream.max_frame_size(64 * 1024).aggregate_continuations();
    actix_web::rt::spawn(run_session(state, session, stream, frames, filters));
    Ok(response)
}

/// `{"type": "filters", "data": {...}}`: the new filters, or the error to send back (the old
/// filters then stay).
fn filters_message(text: &str) -> Option<Result<Option<EventListFilters>, domain::ApiError>> {
    let message: ClientMessage = serde_json::from_str(text).ok()?;
    (message.kind == "filters")
        .then(|| domain::query_params::from_json_object(&message.data, "filters").and_then(|pairs| filters_of(&pairs)))
}

async fn run_session(
    state: web::Data<AppState>,
    mut session: Session,
    mut stream: actix_ws::AggregatedMessageStream,
    mut frames: broadcast::Receiver<Arc<LiveFrame>>,
    mut filters: Option<EventListFilters>,
) {
    let Some(wants_events) = authenticate(&state, &mut session, &mut stream).await else {
        let _ = session.close(None).await;
        return;
    };
    state.metrics.websocket_clients.inc();
    let closing = state.live.closing.clone();
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut last_seen = Instant::now();
    loop {
        tokio::select! {
            () = closing.cancelled() => break,
            frame = frames.recv() => match frame {
                Ok(_) if !wants_events => {}
                Ok(frame) if !frame.passes(filters.as_ref()) => {}
                Ok(frame) => {
                    // A client that stops reading fills its socket; it is cut off rather than
                    // left holding a task (it reconnects and re-reads the REST list).
                    let sent = tokio::time::timeout(SEND_TIMEOUT, session.text(frame.text.clone())).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        tracing::info!("disconnecting a WebSocket client that does not read");
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::info!(missed, "disconnecting a WebSocket client that fell {missed} frames behind");
                    break;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            message = stream.next() => match message {
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    last_seen = Instant::now();
                    if session.pong(&bytes).await.is_err() { break }
                }
                Some(Ok(AggregatedMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(AggregatedMessage::Text(text))) => {
                    last_seen = Instant::now();
                    let reply = match filters_message(&text) {
                        None => None,
                        Some(Ok(new)) => {
                            filters = new;
                            Some(serde_json::json!({"type": "filters", "data": {"ok": true}}))
                        }
                        Some(Err(e)) => Some(serde_json::json!({"type": "filters_invalid", "data": e})),
                    };
                    if let Some(reply) = reply
                        && session.text(reply.to_string()).await.is_err()
                    {
                        break;
                    }
                }
                Some(Ok(_)) => last_seen = Instant::now(),
            },
            _ = ping.tick() => {
                if last_seen.elapsed() > CLIENT_TIMEOUT {
                    break;
                }
                let frame = serde_json::json!({"type": "ping", "data": {"ts": chrono::Utc::now()}});
                if session.text(frame.to_string()).await.is_err() { break }
            }
        }
    }
    state.metrics.websocket_clients.dec();
    let _ = session.close(None).await;
}

/// Waits for `{"type": "auth", "data": {"token", "msg_groups"}}`. Returns whether the client wants
/// `ws_events`, or `None` (after telling it `token_invalid`) when it cannot be let in.
async fn authenticate(
    state: &AppState,
    session: &mut Session,
    stream: &mut actix_ws::AggregatedMessageStream,
) -> Option<bool> {
    let first = tokio::time::timeout(AUTH_TIMEOUT, async {
        while let Some(Ok(message)) = stream.next().await {
            match message {
                AggregatedMessage::Text(text) => return Some(text.to_string()),
                AggregatedMessage::Ping(bytes) => {
                    let _ = session.pong(&bytes).await;
                }
                AggregatedMessage::Close(_) => return None,
                _ => {}
            }
        }
        None
    })
    .await
    .ok()
    .flatten()?;
    let message: Option<ClientMessage> = serde_json::from_str(&first).ok();
    let token =
        message.filter(|m| m.kind == "auth").and_then(|m| Some((m.data.get("token")?.as_str()?.to_string(), m.data)));
    let Some((token, data)) = token else {
        let _ = session.text(r#"{"type":"token_invalid","data":{}}"#).await;
        return None;
    };
    match auth::user::authenticate(state, &token).await {
        Ok(_) => Some(data.pointer("/msg_groups/ws_events").and_then(serde_json::Value::as_bool).unwrap_or(true)),
        Err(_) => {
            let _ = session.text(r#"{"type":"token_invalid","data":{}}"#).await;
            None
        }
    }
}
