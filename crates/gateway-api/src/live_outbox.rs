//! One WebSocket session's way out. The fan-out queues each frame the session wants in its
//! [`Outbox`]; the HTTP connection's own task takes every frame waiting at once, through
//! [`OutboxBody`], and writes them to the socket together. No task sits in between: a frame costs
//! a queue push and a wake-up of the connection's task (a no-op when it is already due to run).
//! The session task and actix-ws's channel that frames used to pass through cost gateway-api
//! about 30 % of its CPU per frame (P5, docs/benchmarks.md). Control frames (pong, ping, replies, close) still go
//! through actix-ws's `Session`, whose body [`OutboxBody`] wraps.
//!
//! A session is cut off when CLIENT_BUFFER frames wait for it, or when a frame has waited
//! SEND_TIMEOUT for the socket to take it (a client that stopped reading): the fan-out checks at
//! every push and once a second, and tells the session, which then closes.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_http::ws::{Codec, Message};
use actix_web::body::{BodySize, BoxBody, MessageBody};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use futures_util::task::AtomicWaker;
use tokio::sync::Notify;
use tokio_util::codec::Encoder;

/// Frames queued per client before it is cut off.
pub const CLIENT_BUFFER: usize = 1024;
/// How long a frame may wait for room in a client's socket.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Outbox {
    queue: Mutex<Queue>,
    /// The connection's task, waiting for frames.
    writer: AtomicWaker,
    /// The session's task, told when the session is cut off.
    cut: Notify,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<ByteString>,
    /// When the oldest frame the writer may take was queued (frames wait for `open` unaged).
    since: Option<Instant>,
    /// Frames go out only once the session has authenticated.
    open: bool,
    cut: bool,
}

/// What [`Outbox::push`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued, and the writer woken.
    Queued,
    /// Not queued: the session is (now) cut off.
    CutOff,
}

impl Outbox {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // The queue holds no invariant a panicking holder could break halfway.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `frame` and wakes the writer, unless the session is too far behind (then it is cut
    /// off).
    pub fn push(&self, frame: &ByteString, now: Instant) -> Pushed {
        let mut queue = self.queue();
        if queue.cut {
            return Pushed::CutOff;
        }
        if queue.frames.len() >= CLIENT_BUFFER || queue.stalled(now) {
            drop(queue);
            self.cut_off();
            return Pushed::CutOff;
        }
        queue.frames.push_back(frame.clone());
        if queue.open && queue.since.is_none() {
            queue.since = Some(now);
        }
        drop(queue);
        // Per frame, not once per run of the fan-out: the fan-out thread can be preempted
        // mid-run, and every frame of the run would wait for it (P2's p99 doubled).
        self.writer.wake();
        Pushed::Queued
    }

    /// Cuts the session off when a frame has waited too long (the fan-out's periodic check);
    /// returns whether it is cut off.
    pub fn cut_if_stalled(&self, now: Instant) -> bool {
        let stalled = {
            let queue = self.queue();
            queue.cut || queue.stalled(now)
        };
        if stalled {
            self.cut_off();
        }
        stalled
    }

    /// Cuts the session off: its queue is dropped and its session told to close.
    pub fn cut_off(&self) {
        let first = {
            let mut queue = self.queue();
            queue.frames.clear();
            !std::mem::replace(&mut queue.cut, true)
        };
        if first {
            tracing::warn!(
                queued = CLIENT_BUFFER,
                timeout_s = SEND_TIMEOUT.as_secs(),
                "disconnecting a WebSocket client that does not keep up ({CLIENT_BUFFER} frames or {}s behind)",
                SEND_TIMEOUT.as_secs()
            );
            self.cut.notify_one();
            self.writer.wake();
        }
    }

    /// Lets frames go out (the session has authenticated).
    pub fn open(&self, now: Instant) {
        let mut queue = self.queue();
        queue.open = true;
        if !queue.frames.is_empty() {
            queue.since = Some(now);
        }
        drop(queue);
        self.writer.wake();
    }

    /// Waits until the session is cut off.
    pub async fn cut_off_wait(&self) {
        self.cut.notified().await;
    }

    /// Every frame the writer may take now (none before `open` or once cut off).
    fn take(&self, into: &mut VecDeque<ByteString>) {
        let mut queue = self.queue();
        if queue.open && !queue.cut {
            std::mem::swap(&mut queue.frames, into);
            queue.since = None;
        }
    }
}

impl Queue {
    fn stalled(&self, now: Instant) -> bool {
        self.since.is_some_and(|since| now.saturating_duration_since(since) > SEND_TIMEOUT)
    }
}

/// The WebSocket response body: actix-ws's own (the session's control frames), then whatever the
/// outbox holds, encoded into one chunk per poll. It ends with actix-ws's, after the close frame.
pub struct OutboxBody {
    control: BoxBody,
    control_done: bool,
    outbox: std::sync::Arc<Outbox>,
    taken: VecDeque<ByteString>,
    codec: Codec,
    buf: BytesMut,
}

impl OutboxBody {
    pub fn new(control: BoxBody, outbox: std::sync::Arc<Outbox>) -> Self {
        Self { control, control_done: false, outbox, taken: VecDeque::new(), codec: Codec::new(), buf: BytesMut::new() }
    }
}

impl MessageBody for OutboxBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if !this.control_done {
            match Pin::new(&mut this.control).poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => this.buf.extend_from_slice(&bytes),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                // The session closed: nothing goes after its close frame.
                Poll::Ready(None) => this.control_done = true,
                Poll::Pending => {}
            }
        }
        if !this.control_done {
            // Registered before taking, so a frame queued after the take wakes this task again.
            this.outbox.writer.register(cx.waker());
            this.outbox.take(&mut this.taken);
            for frame in this.taken.drain(..) {
                if let Err(e) = this.codec.encode(Message::Text(frame), &mut this.buf) {
                    return Poll::Ready(Some(Err(Box::new(e))));
                }
            }
        }
        if !this.buf.is_empty() {
            // `split` hands the bytes over and keeps no capacity back: a burst's buffer is not
            // held for the connection's lifetime.
            return Poll::Ready(Some(Ok(this.buf.split().freeze())));
        }
        if this.control_done { Poll::Ready(None) } else { Poll::Pending }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> ByteString {
        ByteString::from(format!("{{\"n\":{n}}}"))
    }

    #[test]
    fn frames_wait_for_auth() {
        let outbox = Outbox::default();
        let now = Instant::now();
        assert_eq!(outbox.push(&frame(1), now), Pushed::Queued);
        assert_eq!(outbox.push(&frame(2), now), Pushed::Queued);
        let mut taken = VecDeque::new();
        outbox.take(&mut taken);
        assert!(taken.is_empty(), "nothing goes out before the session authenticated");
        // Waiting for auth does not count as waiting for the socket.
        assert!(!outbox.cut_if_stalled(now + SEND_TIMEOUT * 2));
        outbox.open(now);
        assert_eq!(outbox.push(&frame(3), now), Pushed::Queued);
        outbox.take(&mut taken);
        assert_eq!(taken, [frame(1), frame(2), frame(3)]);
    }

    #[test]
    fn a_session_too_far_behind_is_cut_off() {
        let outbox = Outbox::default();
        let now = Instant::now();
        for n in 0..CLIENT_BUFFER {
            assert_eq!(outbox.push(&frame(n), now), Pushed::Queued);
        }
        assert_eq!(outbox.push(&frame(0), now), Pushed::CutOff);
        assert_eq!(outbox.push(&frame(0), now), Pushed::CutOff);
        let mut taken = VecDeque::new();
        outbox.open(now);
        outbox.take(&mut taken);
        assert!(taken.is_empty(), "a cut-off session gets nothing more");
    }

    #[test]
    fn a_frame_the_socket_does_not_take_in_time_cuts_the_session_off() {
        let outbox = Outbox::default();
        let now = Instant::now();
        outbox.open(now);
        outbox.push(&frame(1), now);
        assert!(!outbox.cut_if_stalled(now + SEND_TIMEOUT));
        // Taken in time: the clock starts again with the next frame.
        let mut taken = VecDeque::new();
        outbox.take(&mut taken);
        let later = now + SEND_TIMEOUT * 2;
        assert_eq!(outbox.push(&frame(2), later), Pushed::Queued);
        assert!(!outbox.cut_if_stalled(later + SEND_TIMEOUT));
        assert!(outbox.cut_if_stalled(later + SEND_TIMEOUT + Duration::from_millis(1)));
        assert_eq!(outbox.push(&frame(3), later), Pushed::CutOff);
    }
}
