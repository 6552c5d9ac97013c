//! How each hook's lane is keeping up, so that a hook that hangs or lags is told from one that is
//! merely busy. A lane admits only the work its hook can finish within [`MAX_QUEUE_WAIT`] at the
//! pace it has shown; the rest is parked in the delay queues at once. Bus messages then never wait
//! long on one hook, while a healthy hook under a burst keeps its backpressure (and its events).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The longest a job should wait in a lane for a free slot, judged by the hook's typical attempt.
/// A healthy local hook under a burst waits a few milliseconds; one taking a second per request
/// with hundreds queued would wait minutes, holding bus messages that other hooks need.
const MAX_QUEUE_WAIT: Duration = Duration::from_millis(250);

/// A lane with every slot busy that has finished nothing for this long hangs, whatever else happens.
const HUNG_AFTER: Duration = Duration::from_secs(1);

/// ...or for this long (and 20 typical attempts) while another hook finished an attempt in the
/// later half of that wait (or within [`OTHERS_RECENT`]). Requiring others' progress keeps a pause
/// of the whole process (CPU starved) from being blamed on one hook: all lanes pause together then.
const HUNG_BESIDE_OTHERS: Duration = Duration::from_millis(100);
const OTHERS_RECENT: Duration = Duration::from_millis(50);

/// A hook lags only beside one whose attempts are this many times quicker...
const LAGGING_FACTOR: u32 = 10;
/// ...and that finished one within this long.
const STALE: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct LaneClocks {
    inner: Mutex<Clocks>,
}

#[derive(Default)]
struct Clocks {
    hooks: HashMap<i64, Clock>,
    /// When any hook last finished an attempt.
    last_any: Option<Instant>,
    /// The hook with the shortest typical attempt among those finishing lately.
    fastest: Option<Fastest>,
}

#[derive(Clone, Copy)]
struct Fastest {
    hook_id: i64,
    typical: Duration,
    at: Instant,
}

struct Clock {
    running: usize,
    /// The last finish, or when the lane last went from idle to busy: the start of the current
    /// wait for a finish.
    since: Instant,
    /// Exponentially weighted mean attempt duration, once one has finished.
    typical: Option<Duration>,
}

impl LaneClocks {
    /// An attempt of `hook_id` starts now.
    pub fn started(&self, hook_id: i64) {
        let now = Instant::now();
        if let Ok(mut clocks) = self.inner.lock() {
            let clock = clocks.hooks.entry(hook_id).or_insert(Clock { running: 0, since: now, typical: None });
            if clock.running == 0 {
                clock.since = now;
            }
            clock.running += 1;
        }
    }

    /// An attempt of `hook_id` that took `took` finished now (whatever its outcome).
    pub fn finished(&self, hook_id: i64, took: Duration) {
        let now = Instant::now();
        if let Ok(mut clocks) = self.inner.lock() {
            clocks.last_any = Some(now);
            let Some(clock) = clocks.hooks.get_mut(&hook_id) else { return };
            clock.running = clock.running.saturating_sub(1);
            clock.since = now;
            let typical = clock.typical.map_or(took, |mean| (mean * 4 + took) / 5);
            clock.typical = Some(typical);
            let replace = clocks.fastest.is_none_or(|f| {
                f.hook_id == hook_id || typical < f.typical || now.saturating_duration_since(f.at) > STALE
            });
            if replace {
                clocks.fastest = Some(Fastest { hook_id, typical, at: now });
            }
        }
    }

    /// Whether a lane of `slots` slots with `queued` jobs waiting should take one more.
    pub fn admits(&self, hook_id: i64, queued: usize, slots: usize) -> bool {
        let now = Instant::now();
        let Ok(clocks) = self.inner.lock() else { return true };
        let Some(clock) = clocks.hooks.get(&hook_id) else { return true };
        if clock.running < slots {
            return true;
        }
        let waiting = now.saturating_duration_since(clock.since);
        if waiting >= HUNG_AFTER {
            return false;
        }
        // Others finished something in the later half of this wait: once every consumer slot
        // holds a message that waits on this lane, the others run dry too, so "just now" would
        // come too late.
        let others_moving = clocks
            .last_any
            .is_some_and(|t| t > clock.since && now.saturating_duration_since(t) <= OTHERS_RECENT.max(waiting / 2));
        let patience = clock.typical.map_or(HUNG_BESIDE_OTHERS, |t| (t * 20).max(HUNG_BESIDE_OTHERS));
        if others_moving && waiting >= patience {
            return false;
        }
        // Lagging: jobs ahead of this one, served `slots` at a time, would wait too long, and
        // another hook is far quicker. A lone hook that a burst makes the bottleneck keeps its
        // work: parking it would help nobody and only delay it.
        let (Some(typical), Some(fastest)) = (clock.typical, clocks.fastest) else { return true };
        let others_quicker = fastest.hook_id != hook_id
            && now.saturating_duration_since(fastest.at) <= STALE
            && fastest.typical * LAGGING_FACTOR < typical;
        !others_quicker || typical * u32::try_from(queued / slots + 1).unwrap_or(u32::MAX) <= MAX_QUEUE_WAIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_busy_lane_that_keeps_finishing_admits() {
        let clocks = LaneClocks::default();
        for _ in 0..4 {
            clocks.started(1);
        }
        tokio::time::advance(Duration::from_millis(2)).await;
        clocks.finished(1, Duration::from_millis(2));
        clocks.started(1);
        assert!(clocks.admits(1, 1000, 4), "alone, a hook that a burst makes the bottleneck keeps its work");
        clocks.started(2);
        clocks.finished(2, Duration::from_micros(100));
        assert!(clocks.admits(1, 100, 4), "100 queued at 2 ms each over 4 slots is ~50 ms of wait");
        assert!(!clocks.admits(1, 1000, 4), "1000 queued is ~500 ms of wait, beside a 20x quicker hook");
        assert!(clocks.admits(3, 1000, 4), "a lane that never started admits");
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_lane_stops_admitting_sooner_when_others_progress() {
        let clocks = LaneClocks::default();
        clocks.started(1);
        clocks.started(1);
        tokio::time::advance(Duration::from_millis(150)).await;
        assert!(clocks.admits(1, 5, 2), "nobody else progresses: could be the whole process pausing");
        clocks.started(2);
        clocks.finished(2, Duration::from_millis(1));
        assert!(!clocks.admits(1, 5, 2), "hook 2 finishes while hook 1 has finished nothing for 150 ms");
        assert!(clocks.admits(1, 5, 3), "a free slot always admits");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!clocks.admits(1, 0, 2), "nothing finished for over a second");
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_lane_going_busy_starts_a_fresh_wait() {
        let clocks = LaneClocks::default();
        clocks.started(1);
        clocks.finished(1, Duration::from_millis(3));
        tokio::time::advance(Duration::from_secs(60)).await;
        clocks.started(1);
        assert!(clocks.admits(1, 3, 1), "a minute idle is not a minute hung");
    }
}
