//! At most one alarm per camera and dossier per window (GENETEC.RATE_LIMIT_SECONDS), per
//! dispatcher replica: a person standing in front of a camera is one alarm, not one per frame.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Pairs remembered before expired ones are swept out.
const SWEEP_ABOVE: usize = 10_000;

pub struct RateLimit {
    window: Duration,
    last: Mutex<HashMap<(i64, i64), Instant>>,
}

impl RateLimit {
    pub fn new(window: Duration) -> Self {
        Self { window, last: Mutex::default() }
    }

    /// Whether an alarm for (camera, dossier) may go now; if so, the window starts now.
    pub fn admit(&self, camera: i64, dossier: i64, now: Instant) -> bool {
        if self.window.is_zero() {
            return true;
        }
        // The map holds no invariant a panicking holder could break halfway.
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.len() > SWEEP_ABOVE {
            last.retain(|_, at| now.duration_since(*at) < self.window);
        }
        match last.get(&(camera, dossier)) {
            Some(at) if now.duration_since(*at) < self.window => false,
            _ => {
                last.insert((camera, dossier), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_alarm_per_pair_per_window() {
        let limit = RateLimit::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(limit.admit(1, 7, t0));
        assert!(!limit.admit(1, 7, t0 + Duration::from_secs(59)));
        assert!(limit.admit(1, 8, t0), "another dossier");
        assert!(limit.admit(2, 7, t0), "another camera");
        assert!(limit.admit(1, 7, t0 + Duration::from_secs(61)));
        let off = RateLimit::new(Duration::ZERO);
        assert!(off.admit(1, 7, t0) && off.admit(1, 7, t0));
    }
}
