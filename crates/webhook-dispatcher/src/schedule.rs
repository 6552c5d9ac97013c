//! The retry schedule: a ladder of durable delay queues (WEBHOOKS.RETRY_DELAYS_MS). Retry n waits
//! on rung n (the last rung repeats); each message expires after 80-100 % of its rung, so retries
//! of many deliveries that failed together do not come back in one burst. A `Retry-After` answer
//! moves the retry up to the smallest rung that is at least as long (capped at the top rung).

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Schedule {
    ladder: Vec<u64>,
}

impl Schedule {
    pub fn new(delays_ms: &[u64]) -> Self {
        let mut ladder = delays_ms.to_vec();
        ladder.sort_unstable();
        ladder.dedup();
        if ladder.is_empty() {
            ladder.push(1_000);
        }
        Self { ladder }
    }

    /// The rung (delay queue) to wait on after `attempts` failed attempts.
    pub fn rung(&self, attempts: u32, retry_after: Option<Duration>) -> u64 {
        let top = self.ladder.len() - 1;
        let base = self.ladder[(attempts.max(1) as usize - 1).min(top)];
        let asked = retry_after.map(|wait| {
            let wait = wait.as_millis().min(u128::from(u64::MAX)) as u64;
            self.ladder.iter().copied().find(|&r| r >= wait).unwrap_or(self.ladder[top])
        });
        base.max(asked.unwrap_or(0))
    }

    /// The per-message expiration on `rung`: jittered down by up to 20 %.
    pub fn jittered(rung: u64) -> u64 {
        let factor: f64 = rand::thread_rng().gen_range(0.8..=1.0);
        ((rung as f64 * factor) as u64).max(1)
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    (when.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_climbs_and_repeats_its_top() {
        let s = Schedule::new(&[1000, 2000, 5000]);
        assert_eq!([1, 2, 3, 4, 9].map(|n| s.rung(n, None)), [1000, 2000, 5000, 5000, 5000]);
    }

    #[test]
    fn retry_after_picks_a_long_enough_rung_within_bounds() {
        let s = Schedule::new(&[1000, 2000, 5000]);
        assert_eq!(s.rung(1, Some(Duration::from_millis(1500))), 2000);
        assert_eq!(s.rung(1, Some(Duration::from_secs(3600))), 5000);
        assert_eq!(s.rung(3, Some(Duration::from_millis(10))), 5000);
    }

    #[test]
    fn jitter_stays_within_the_rung() {
        for _ in 0..100 {
            let ms = Schedule::jittered(1000);
            assert!((800..=1000).contains(&ms), "{ms}");
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = parse_retry_after(&later).unwrap();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
