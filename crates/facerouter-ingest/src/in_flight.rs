//! The cap on requests in flight (FACEROUTER.MAX_IN_FLIGHT): past it a worker gets 503 with
//! Retry-After at once, instead of the replica buffering bodies until memory runs out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use domain::ApiError;
use prometheus::IntGauge;

#[derive(Clone)]
pub struct InFlight {
    count: Arc<AtomicUsize>,
    limit: usize,
    gauge: IntGauge,
}

/// Held for the life of a request; dropping it frees the slot.
pub struct Slot {
    count: Arc<AtomicUsize>,
    gauge: IntGauge,
}

impl InFlight {
    pub fn new(limit: usize, gauge: IntGauge) -> Self {
        Self { count: Arc::new(AtomicUsize::new(0)), limit, gauge }
    }

    pub fn enter(&self) -> Result<Slot, ApiError> {
        let taken = self.count.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.limit).then_some(n + 1));
        match taken {
            Ok(_) => {
                self.gauge.inc();
                Ok(Slot { count: self.count.clone(), gauge: self.gauge.clone() })
            }
            Err(_) => Err(ApiError::unavailable("too many requests in flight; retry shortly")),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
        self.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_and_frees_on_drop() {
        let limiter = InFlight::new(2, IntGauge::new("g", "g").unwrap());
        let a = limiter.enter().unwrap();
        let _b = limiter.enter().unwrap();
        let refused = limiter.enter().err().unwrap();
        assert_eq!(refused.code, domain::ErrorCode::ServiceUnavailable);
        drop(a);
        assert!(limiter.enter().is_ok());
    }
}
