//! The live feed: this replica's own queue on the events exchange feeds one fan-out task, which
//! serializes each frame once and hands every run of frames to each HTTP worker. Each worker's own
//! task then decides per frame which of its WebSocket sessions (wire doc §4) want it and queues the
//! shared frame in each one's outbox (`live_outbox`), whose connection, on the same thread, writes
//! it. A slow client fills its own outbox and is cut off; it never slows the others or the ingest
//! path. A client may narrow its feed with the event list's filters (`?cameras=1&matched=true` on
//! the URL, or a `filters` message), evaluated once per distinct filter set on each worker.
//!
//! Why per worker: a session's connection lives on one HTTP worker thread. Woken from the bus
//! thread, every frame for every session cost a cross-thread wake-up (a syscall each) on top of
//! its write; woken by a task on its own thread, it costs a queue push. One cross-thread hand-off
//! per run per worker remains (docs/benchmarks.md, P5 2026-11-28).

use std::cell::{Cell, RefCell, RefMut};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, Session};
use bytestring::ByteString;
use domain::bus::topology::{ROUTE_CAMERA_VM_STATUS, ROUTE_EVENT_UPDATED, ROUTE_EVENTS_ACKNOWLEDGED};
use domain::bus::{Bus, Source, reject_poison, run_consumer};
use domain::list_filters::{EventFacts, EventListFilters};
use domain::messages::{CameraVmStatus, DecodeError, EventCreated, EventUpdated, EventsAcknowledged, decode};
use futures_util::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::BasicAckOptions;
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::live_outbox::{Outbox, OutboxBody, Pushed, SEND_TIMEOUT};
use crate::routes::pagination as p;
use crate::state::AppState;
use crate::{auth, event_view};

const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(15);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(45);
/// How often each worker looks for clients whose socket stopped taking frames.
const STALL_CHECK_EVERY: Duration = Duration::from_secs(1);
/// Runs of frames a worker may have yet to fan out before it is behind; its sessions are then
/// cut off (they reconnect and re-read the REST list) rather than silently miss frames.
const WORKER_BACKLOG: usize = 4096;

/// One frame, serialized once for every client (a `ByteString` clone shares the bytes), with what
/// filters read of its event (none for frames that are not about one event: those go to every
/// client).
pub struct LiveFrame {
    text: ByteString,
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

/// The frames of one run of the bus consumer, shared by every worker.
type Run = Arc<[LiveFrame]>;

/// The sessions that share one filter set, so that the set is evaluated once per frame for all of
/// them (`None`: no filters, every frame, no evaluation).
struct Group {
    filters: Option<EventListFilters>,
    members: HashMap<u64, Arc<Outbox>>,
}

/// One worker's sessions.
#[derive(Default)]
struct Registry {
    next_id: u64,
    groups: Vec<Group>,
}

impl Registry {
    fn join(&mut self, id: u64, filters: Option<EventListFilters>, outbox: Arc<Outbox>) {
        match self.groups.iter_mut().find(|g| g.filters == filters) {
            Some(group) => {
                group.members.insert(id, outbox);
            }
            None => self.groups.push(Group { filters, members: HashMap::from([(id, outbox)]) }),
        }
    }

    fn leave(&mut self, id: u64) -> Option<Arc<Outbox>> {
        let outbox = self.groups.iter_mut().find_map(|g| g.members.remove(&id));
        self.groups.retain(|g| !g.members.is_empty());
        outbox
    }

    /// Queues `frame` for every session whose filters pass it. A session too far behind is cut
    /// off and leaves the feed.
    fn deliver(&mut self, frame: &LiveFrame, now: Instant) {
        for group in &mut self.groups {
            if !frame.passes(group.filters.as_ref()) {
                continue;
            }
            group.members.retain(|_, outbox| outbox.push(&frame.text, now) == Pushed::Queued);
        }
        self.groups.retain(|g| !g.members.is_empty());
    }

    /// Cuts off (and drops) the sessions whose socket has not taken a frame in time.
    fn cut_stalled(&mut self, now: Instant) {
        for group in &mut self.groups {
            group.members.retain(|_, outbox| !outbox.cut_if_stalled(now));
        }
        self.groups.retain(|g| !g.members.is_empty());
    }

    /// Cuts off every session (the worker fell behind the feed).
    fn cut_all(&mut self) {
        for group in self.groups.drain(..) {
            for outbox in group.members.into_values() {
                outbox.cut_off();
            }
        }
    }
}

/// The replica's feed: runs of frames from the bus consumer to every worker.
#[derive(Clone)]
pub struct LiveFeed {
    runs: broadcast::Sender<Run>,
    closing: CancellationToken,
}

impl LiveFeed {
    pub fn new(closing: CancellationToken) -> Self {
        let (runs, _) = broadcast::channel(WORKER_BACKLOG);
        Self { runs, closing }
    }

    fn publish(&self, run: Vec<LiveFrame>) {
        if !run.is_empty() {
            // An error means no worker has a session yet: nobody to send to.
            let _ = self.runs.send(run.into());
        }
    }

    /// A worker's share of the feed (built in each worker's app factory, used on its thread).
    pub fn worker(&self) -> WorkerFeed {
        WorkerFeed(Rc::new(WorkerShare {
            feed: self.clone(),
            registry: RefCell::default(),
            started: Default::default(),
        }))
    }
}

/// One HTTP worker's sessions and the task that fans each run out to them. Lives on the worker's
/// thread (app data), so sessions join and leave without a lock.
#[derive(Clone)]
pub struct WorkerFeed(Rc<WorkerShare>);

struct WorkerShare {
    feed: LiveFeed,
    registry: RefCell<Registry>,
    started: Cell<bool>,
}

impl WorkerFeed {
    /// Adds a session to the feed; it stays in until the returned membership is dropped. The
    /// worker's fan-out starts with its first session, on the worker's own runtime.
    fn register(&self, filters: Option<EventListFilters>) -> (Membership, Arc<Outbox>) {
        if !self.0.started.replace(true) {
            let runs = self.0.feed.runs.subscribe();
            actix_web::rt::spawn(run_worker_fanout(Rc::downgrade(&self.0), runs, self.0.feed.closing.clone()));
        }
        let outbox = Arc::new(Outbox::default());
        let mut registry = self.registry();
        registry.next_id += 1;
        let id = registry.next_id;
        registry.join(id, filters, outbox.clone());
        (Membership { worker: self.clone(), id }, outbox)
    }

    fn registry(&self) -> RefMut<'_, Registry> {
        self.0.registry.borrow_mut()
    }
}

/// A worker's fan-out: every run of frames to the worker's sessions, and the periodic check for
/// stalled ones.
async fn run_worker_fanout(worker: Weak<WorkerShare>, mut runs: broadcast::Receiver<Run>, closing: CancellationToken) {
    let mut stall_check = tokio::time::interval(STALL_CHECK_EVERY);
    loop {
        let run = tokio::select! {
            () = closing.cancelled() => return,
            _ = stall_check.tick() => None,
            run = runs.recv() => Some(run),
        };
        // The worker's app data is gone: the worker stopped.
        let Some(worker) = worker.upgrade() else { return };
        let mut registry = worker.registry.borrow_mut();
        let now = Instant::now();
        match run {
            None => registry.cut_stalled(now),
            Some(Ok(run)) => {
                for frame in run.iter() {
                    registry.deliver(frame, now);
                }
            }
            Some(Err(broadcast::error::RecvError::Lagged(missed))) => {
                tracing::warn!(
                    missed_runs = missed,
                    "an HTTP worker fell {missed} runs of live frames behind; disconnecting its WebSocket clients"
                );
                registry.cut_all();
            }
            Some(Err(broadcast::error::RecvError::Closed)) => return,
        }
    }
}

/// A session's place in the feed, left when dropped (however the session ends).
struct Membership {
    worker: WorkerFeed,
    id: u64,
}

impl Membership {
    /// Moves the session to the group of its new filters. Frames already queued stay queued.
    fn set_filters(&self, filters: Option<EventListFilters>) {
        let mut registry = self.worker.registry();
        // A session already cut off for lagging stays out.
        if let Some(outbox) = registry.leave(self.id) {
            registry.join(self.id, filters, outbox);
        }
    }

    fn leave(&self) {
        self.worker.registry().leave(self.id);
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.leave();
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
            // The queue is bound now: the event index may load or catch up.
            let _link = state.event_search.clone().map(crate::event_index_feed::FeedLink::up);
            loop {
                let delivery = tokio::select! {
                    () = cancel.cancelled() => return,
                    next = consumer.next() => match next {
                        Some(Ok(d)) => d,
                        _ => return,
                    },
                };
                // Whatever else has already arrived goes out in the same run, then the whole run
                // is acked with one `multiple` ack: an awaited ack per frame is a hand-off to the
                // bus link's I/O task per event, which under load delayed every later frame.
                let mut run = Vec::new();
                let mut last = None;
                let mut next = Some(delivery);
                while let Some(delivery) = next {
                    match frame_of(&state, &delivery) {
                        Ok(frame) => {
                            run.push(frame);
                            last = Some(delivery);
                        }
                        Err(e) => reject_poison(&delivery, &e.to_string()).await,
                    }
                    next = match consumer.next().now_or_never() {
                        Some(Some(Ok(delivery))) => Some(delivery),
                        _ => None,
                    };
                }
                state.live.publish(run);
                if let Some(last) = last {
                    let _ = last.acker.ack(BasicAckOptions { multiple: true }).await;
                }
            }
        }
    })
    .await;
}

/// The WebSocket frame for a message of the events exchange, by its routing key.
fn frame_of(state: &AppState, delivery: &Delivery) -> Result<LiveFrame, DecodeError> {
    let (frame, facts) = match delivery.routing_key.as_str() {
        ROUTE_EVENT_UPDATED => {
            let EventUpdated { event } = decode(&delivery.data)?;
            // The update carries the REST shape, which is what the facts read; a shape they cannot
            // read goes to every client rather than to none.
            let facts = serde_json::from_value::<EventFacts>(event.clone()).ok();
            (serde_json::json!({"type": "event_updated", "data": event}), facts)
        }
        ROUTE_CAMERA_VM_STATUS => {
            let status: CameraVmStatus = decode(&delivery.data)?;
            (serde_json::json!({"type": "camera_vm_status", "data": status}), None)
        }
        ROUTE_EVENTS_ACKNOWLEDGED => {
            let ack: EventsAcknowledged = decode(&delivery.data)?;
            (serde_json::json!({"type": "events_acknowledged", "data": ack}), None)
        }
        _ => {
            let EventCreated(event) = decode(&delivery.data)?;
            if let Some(search) = &state.event_search {
                search.on_event(&event);
            }
            let facts = EventFacts::from(&event);
            crate::recorder::observe_age_of(state, "live", event.created_date);
            (serde_json::json!({"type": "event_created", "data": event_view::from_event(state, &event)}), Some(facts))
        }
    };
    Ok(LiveFrame { text: frame.to_string().into(), facts })
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
    let Some(worker) = req.app_data::<WorkerFeed>() else {
        return Ok(actix_web::ResponseError::error_response(&domain::ApiError::internal(
            "no live feed in the app data",
        )));
    };
    // Join the feed before answering, so nothing published after the handshake is missed.
    let (membership, outbox) = worker.register(filters);
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let response = response.map_body(|_, control| BoxBody::new(OutboxBody::new(control, outbox.clone())));
    let stream = stream.max_frame_size(64 * 1024).aggregate_continuations();
    actix_web::rt::spawn(run_session(state, session, stream, membership, outbox));
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
    membership: Membership,
    outbox: Arc<Outbox>,
) {
    let Some(wants_events) = authenticate(&state, &mut session, &mut stream).await else {
        let _ = session.close(None).await;
        return;
    };
    if wants_events {
        outbox.open(Instant::now());
    } else {
        membership.leave();
    }
    state.metrics.websocket_clients.inc();
    let closing = state.live.closing.clone();
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut last_seen = Instant::now();
    loop {
        tokio::select! {
            () = closing.cancelled() => break,
            // The fan-out cut this client off for falling behind (it logged why); it reconnects
            // and re-reads the REST list.
            () = outbox.cut_off_wait(), if wants_events => break,
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
                            membership.set_filters(new);
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
                // Control frames queue behind a socket that does not take them: bounded too.
                let sent = tokio::time::timeout(SEND_TIMEOUT, session.text(frame.to_string())).await;
                if !matches!(sent, Ok(Ok(()))) { break }
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
