//! `looks_like` over past events (gateway-api): which event vectors the recorder keeps, for how
//! long, and how a search is bounded.

use serde::{Deserialize, Serialize};

/// Which events keep their feature vector for `looks_like` on `GET /events/faces/`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeepVectors {
    /// Every event with a vector.
    #[default]
    All,
    /// Only events that matched a dossier.
    Matched,
    /// Only events that matched no dossier (the unknown faces an investigation looks for).
    Unmatched,
    /// None: event search is off and costs nothing.
    None,
}

impl KeepVectors {
    pub fn keeps(self, matched: bool) -> bool {
        match self {
            Self::All => true,
            Self::Matched => matched,
            Self::Unmatched => !matched,
            Self::None => false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EventSearch {
    /// Which events keep their feature vector (`all`, `matched`, `unmatched` or `none`). Each
    /// gateway-api replica holds the kept vectors in memory, about 180 bytes per event for
    /// 128-dimension vectors (an 8-bit copy, its id and time).
    #[serde(rename = "KEEP_VECTORS")]
    pub keep_vectors: KeepVectors,
    /// Days a vector is kept; 0 = as long as its event (EVENTS_MAX_AGE, RETENTION.UNMATCHED_MAX_AGE).
    /// Older events stay listed but are no longer found by `looks_like`.
    #[serde(rename = "VECTORS_MAX_AGE")]
    pub vectors_max_age: u32,
    /// Most candidates one search takes from the in-memory scan to PostgreSQL (for the other
    /// filters and the exact score), best first. A lower `threshold` that passes more events
    /// reports only the best this many (`count` then says so by being equal to it). The same cap
    /// applies to the dossier faces `looks_like` on `GET /dossiers/` takes.
    #[serde(rename = "MAX_CANDIDATES")]
    pub max_candidates: usize,
}

impl Default for EventSearch {
    fn default() -> Self {
        Self { keep_vectors: KeepVectors::All, vectors_max_age: 0, max_candidates: 10_000 }
    }
}

#[cfg(test)]
mod tests {
    use super::KeepVectors;

    #[test]
    fn each_policy_keeps_its_events() {
        let kept = |k: KeepVectors| (k.keeps(true), k.keeps(false));
        assert_eq!(kept(KeepVectors::All), (true, true));
        assert_eq!(kept(KeepVectors::Matched), (true, false));
        assert_eq!(kept(KeepVectors::Unmatched), (false, true));
        assert_eq!(kept(KeepVectors::None), (false, false));
    }
}
