//! Login rate limits: failed logins are counted per username and per client address over a
//! sliding window (AUTH.LOGIN_*). At the limit, further attempts get 429 `TOO_MANY_REQUESTS`
//! with `Retry-After` before any password is checked, so guessing also stops costing argon2 time.
//! The counters live in this replica's memory: with several replicas the limit is per replica.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use domain::ApiError;
use domain::config::Auth;

/// Recent failures per key, at most `max` kept per key and `capacity` keys at once.
struct Window {
    max: usize,
    span: Duration,
    capacity: usize,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Window {
    fn new(max: u32, span: Duration, capacity: usize) -> Self {
        Self { max: max as usize, span, capacity, failures: Mutex::new(HashMap::new()) }
    }

    /// Counts an attempt as a failure up front (so parallel guesses cannot all slip through
    /// before the first one fails), unless the key is already at its limit: then how long until
    /// its oldest failure leaves the window.
    fn attempt(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(key) && map.len() >= self.capacity {
            let span = self.span;
            map.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < span));
            if map.len() >= self.capacity {
                // Forget the key whose last failure is oldest: bounded memory over perfect recall.
                let stalest = map.iter().min_by_key(|(_, times)| times.back().copied()).map(|(k, _)| k.clone());
                if let Some(stalest) = stalest {
                    map.remove(&stalest);
                }
            }
        }
        let times = map.entry(key.to_string()).or_default();
        while times.front().is_some_and(|t| now.duration_since(*t) >= self.span) {
            times.pop_front();
        }
        if times.len() >= self.max {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(self.span.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }

    /// Takes back the failure [`Self::attempt`] counted for an attempt that succeeded.
    fn undo(&self, key: &str) {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(times) = map.get_mut(key) {
            times.pop_back();
            if times.is_empty() {
                map.remove(key);
            }
        }
    }

    fn clear(&self, key: &str) {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }
}

pub struct LoginLimiter {
    users: Window,
    addresses: Window,
}

impl LoginLimiter {
    pub fn new(auth: &Auth) -> Self {
        let span = Duration::from_secs(auth.login_window_seconds);
        Self {
            users: Window::new(auth.login_max_failures_per_user, span, auth.login_tracked_keys),
            addresses: Window::new(auth.login_max_failures_per_address, span, auth.login_tracked_keys),
        }
    }

    /// Call before checking the password; the attempt counts as failed until [`Self::succeeded`].
    pub fn attempt(&self, username: &str, address: &str) -> Result<(), ApiError> {
        self.attempt_at(username, address, Instant::now())
    }

    fn attempt_at(&self, username: &str, address: &str, now: Instant) -> Result<(), ApiError> {
        let too_many = |wait: Duration, what: &str| {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::too_many_requests(format!("too many failed logins {what}; retry in {seconds} s"), seconds)
        };
        self.addresses.attempt(address, now).map_err(|wait| too_many(wait, "from this address"))?;
        if let Err(wait) = self.users.attempt(username, now) {
            self.addresses.undo(address);
            return Err(too_many(wait, "for this user"));
        }
        Ok(())
    }

    /// A successful login clears the username's failures and takes back this attempt's count
    /// on the address (the address's earlier failures stay).
    pub fn succeeded(&self, username: &str, address: &str) {
        self.users.clear(username);
        self.addresses.undo(address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_user: u32, per_address: u32, capacity: usize) -> LoginLimiter {
        let auth = Auth {
            login_max_failures_per_user: per_user,
            login_max_failures_per_address: per_address,
            login_window_seconds: 60,
            login_tracked_keys: capacity,
            ..Auth::default()
        };
        LoginLimiter::new(&auth)
    }

    #[test]
    fn blocks_a_user_at_the_limit_until_the_window_slides() {
        let l = limiter(3, 100, 100);
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(l.attempt_at("alice", "a", t0 + Duration::from_secs(i)).is_ok());
        }
        let refused = l.attempt_at("alice", "a", t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(refused.code, domain::ErrorCode::TooManyRequests);
        assert_eq!(refused.retry_after, Some(50), "until the first failure is 60 s old");
        assert!(l.attempt_at("bob", "a", t0 + Duration::from_secs(10)).is_ok(), "other users are unaffected");
        assert!(l.attempt_at("alice", "a", t0 + Duration::from_secs(60)).is_ok(), "the oldest failure left");
    }

    #[test]
    fn success_clears_the_user_but_not_the_address() {
        let l = limiter(2, 3, 100);
        let t0 = Instant::now();
        l.attempt_at("alice", "a", t0).unwrap();
        l.attempt_at("alice", "a", t0).unwrap();
        l.succeeded("alice", "a");
        l.attempt_at("alice", "a", t0).unwrap();
        l.attempt_at("bob", "a", t0).unwrap();
        let refused = l.attempt_at("carol", "a", t0).unwrap_err();
        assert!(refused.desc.contains("address"), "{}", refused.desc);
        assert!(l.attempt_at("carol", "b", t0).is_ok());
    }

    #[test]
    fn memory_stays_bounded() {
        let l = limiter(1, 1_000_000, 10);
        let t0 = Instant::now();
        for i in 0..1000 {
            l.attempt_at(&format!("user{i}"), "a", t0 + Duration::from_millis(i)).unwrap();
        }
        assert!(l.users.failures.lock().unwrap().len() <= 10);
        assert!(l.attempt_at("user999", "a", t0 + Duration::from_secs(1)).is_err(), "recent keys are kept");
    }
}
