//! A small circuit breaker: after `threshold` consecutive failures calls are refused at once for
//! `cooldown`, then one trial call decides whether to close again. A dead recognition service then
//! costs workers an immediate 503, not a timeout per face.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One trial call is out; everyone else is refused until it reports (or, should it never
    /// report because its request was dropped, until another cooldown has passed).
    HalfOpen {
        since: Instant,
    },
}

pub struct Breaker {
    state: Mutex<State>,
    threshold: u32,
    cooldown: Duration,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self { state: Mutex::new(State::Closed { failures: 0 }), threshold: threshold.max(1), cooldown }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// Whether a call may go out now.
    pub fn allow(&self) -> bool {
        self.with(|state| match *state {
            State::Closed { .. } => true,
            State::Open { until } if Instant::now() >= until => {
                *state = State::HalfOpen { since: Instant::now() };
                true
            }
            State::HalfOpen { since } if since.elapsed() >= self.cooldown.max(Duration::from_secs(1)) => {
                *state = State::HalfOpen { since: Instant::now() };
                true
            }
            State::Open { .. } | State::HalfOpen { .. } => false,
        })
    }

    pub fn success(&self) {
        self.with(|state| *state = State::Closed { failures: 0 });
    }

    pub fn failure(&self) {
        let (threshold, cooldown) = (self.threshold, self.cooldown);
        self.with(|state| {
            *state = match *state {
                State::Closed { failures } if failures + 1 < threshold => State::Closed { failures: failures + 1 },
                _ => State::Open { until: Instant::now() + cooldown },
            }
        });
    }

    pub fn is_open(&self) -> bool {
        self.with(|state| !matches!(*state, State::Closed { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_recovers_through_one_trial() {
        let breaker = Breaker::new(2, Duration::ZERO);
        breaker.failure();
        assert!(breaker.allow() && !breaker.is_open());
        breaker.failure();
        assert!(breaker.is_open());
        // Cooldown of zero: the next caller is the trial, the one after it waits.
        assert!(breaker.allow());
        assert!(!breaker.allow());
        breaker.success();
        assert!(breaker.allow() && !breaker.is_open());
        let long = Breaker::new(1, Duration::from_secs(60));
        long.failure();
        assert!(!long.allow());
    }
}
