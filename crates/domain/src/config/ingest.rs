//! facerouter-ingest's own settings (`[FACEROUTER]`): back-pressure, image limits, the gallery load,
//! where images go and which recognition backend fills in feature vectors.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecognitionBackend {
    /// The worker posts the feature vector and attribute scores itself.
    Worker,
    /// The external recognition service at FFSECURITY.SF_API_ADDRESS (`POST /v2/detect`).
    Sfapi,
    /// ffsec's own offline recognizer (`[RECOGNIZER]`): YuNet detection + SFace embeddings.
    Builtin,
}

/// How the in-memory gallery is searched. Every choice reports the exact f32 cosine similarity of
/// the face it returns; "flat" and "int8" scan every face (exhaustive), "ivf" only a few lists.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GalleryIndex {
    /// f32 vectors only: every face scored exactly.
    #[default]
    Flat,
    /// An extra 8-bit copy of every vector is scanned (a quarter of the memory traffic); the best
    /// few candidates are rescored in f32.
    Int8,
    /// Approximate: an inverted file. Faces are grouped under k-means centroids trained on the
    /// gallery; a query scans the 8-bit codes of its IVF_PROBES nearest groups only and rescores
    /// the best few in f32. May miss the best face when it sits in a group not probed; galleries
    /// too small to train are scanned exactly.
    Ivf,
}

/// How a local image write (MEDIA_ROOT or `file://`) is made durable before ingest answers.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MediaSync {
    /// Each face's own files and directory are fsync'd (three fsyncs per face). Touches nothing
    /// but ffsec's files: for a filesystem where another program leaves much unsynced data.
    File,
    /// Concurrent faces share one `syncfs(2)` of MEDIA_ROOT's filesystem (a group commit). Far
    /// fewer synchronous writes per face, but each one also flushes every other program's dirty
    /// data on that filesystem: best on a volume of its own. Needs Linux 5.8 or later (syncfs
    /// reports write errors from then on); elsewhere it falls back to "file".
    #[default]
    Filesystem,
}

/// How event images are laid out in a local store (MEDIA_ROOT or `file://`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MediaLayout {
    /// Two files per face (crop and frame) under `events/YYYY/MM/DD/HH/<bucket>/`: what
    /// findface-security's own MEDIA_ROOT holds, readable by any tool.
    #[default]
    Files,
    /// Each ingest process appends its faces' images to one pack file per hour
    /// (`events/YYYY/MM/DD/HH/*.pack`), made durable by one shared `fdatasync` per round of
    /// faces; about half the machine's CPU per face of "files" (docs/ingest.md, "Packs").
    /// Deleted images are punched out of their pack; retention removes whole packs.
    Packs,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Facerouter {
    /// Requests a replica handles at once; the next one gets 503 + Retry-After.
    #[serde(rename = "MAX_IN_FLIGHT")]
    pub max_in_flight: usize,
    /// Largest image part (face crop or full frame), in bytes.
    #[serde(rename = "MAX_IMAGE_BYTES")]
    pub max_image_bytes: usize,
    /// Largest width × height an image header may declare (read without decoding).
    #[serde(rename = "MAX_IMAGE_PIXELS")]
    pub max_image_pixels: u64,
    /// Dossier faces read per query when the gallery is loaded.
    #[serde(rename = "GALLERY_PAGE_SIZE")]
    pub gallery_page_size: i64,
    /// The search index of the gallery: "flat" (exact f32), "int8" (8-bit scan, rescoring from a
    /// half-precision copy: confidence within 5e-4 of exact, 3 bytes per dimension instead of 4)
    /// or "ivf" (approximate: 8-bit scan of the IVF_PROBES lists nearest the query, rescoring as
    /// "int8"; galleries under 10,000 faces, or under 40 per list, are scanned in full).
    #[serde(rename = "GALLERY_INDEX")]
    pub gallery_index: GalleryIndex,
    /// "ivf" only: number of lists (k-means centroids); 0 = automatic, about sqrt(faces) (1,000 at
    /// 1M). More lists make a query scan fewer faces but training and centroid scoring cost more.
    #[serde(rename = "IVF_LISTS")]
    pub ivf_lists: usize,
    /// "ivf" only: lists a query scans. More probes find more of the exact winners (recall) at a
    /// proportional cost in time.
    #[serde(rename = "IVF_PROBES")]
    pub ivf_probes: usize,
    /// Threads that search the gallery, each answering a batch of waiting faces per pass over
    /// memory; 0 = one per core.
    #[serde(rename = "SEARCH_THREADS")]
    pub search_threads: usize,
    /// Most faces one search pass answers (they share one read of the gallery).
    #[serde(rename = "SEARCH_BATCH")]
    pub search_batch: usize,
    /// Faces waiting for a search thread; past it a face gets 503 + Retry-After.
    #[serde(rename = "SEARCH_QUEUE")]
    pub search_queue: usize,
    /// Most faces published in one bus message (`faces.detected`, one broker write and one
    /// confirm for all). Faces are put together only while earlier messages await their confirms,
    /// so a lone face is never held back. 1 = one `face.detected` message per face, published by
    /// its own request (what recorders older than `faces.detected` read).
    #[serde(rename = "PUBLISH_BATCH")]
    pub publish_batch: usize,
    /// Messages of PUBLISH_BATCH > 1 that may await their confirms at once; the faces arriving
    /// meanwhile wait for the next message. Fewer makes bigger batches (less broker work per
    /// face), more lowers the wait when confirms are slow.
    #[serde(rename = "PUBLISH_PIPELINE")]
    pub publish_pipeline: usize,
    /// Full gallery re-read period, catching notices lost while gateway-api's bus link was down:
    /// ingest's gallery and cameras, and gateway-api's dossier search index (`looks_like`), which
    /// re-reads only when the table's face count or id sum no longer matches its own.
    #[serde(rename = "GALLERY_RESYNC_SECONDS")]
    pub gallery_resync_seconds: u64,
    /// Where images go: empty = MEDIA_ROOT on local disk; `s3://bucket/prefix?endpoint=...`
    /// for an S3-compatible bucket. Every service reads it: ingest writes, gateway-api serves
    /// and purges through the same store.
    #[serde(rename = "MEDIA_URL")]
    pub media_url: String,
    /// Local store only: how an image is made durable before the face is answered. "file":
    /// fsync each face's files and directory; "filesystem": concurrent faces share one
    /// `syncfs(2)` of the whole filesystem (a group commit; it flushes other programs' data on
    /// that filesystem too, so give MEDIA_ROOT a volume of its own). Ignored for S3.
    #[serde(rename = "MEDIA_SYNC")]
    pub media_sync: MediaSync,
    /// Local store only: "files" (two files per face) or "packs" (each ingest process appends
    /// event images to a pack file per hour, one `fdatasync` per round of faces; MEDIA_SYNC
    /// does not apply). Every service reads both, so the layout can change at any time.
    #[serde(rename = "MEDIA_LAYOUT")]
    pub media_layout: MediaLayout,
    /// Who fills in feature vectors: "worker" (the worker posts them), "sfapi" (ingest asks
    /// the recognition service at FFSECURITY.SF_API_ADDRESS) or "builtin" (ffsec's own
    /// recognizer, `[RECOGNIZER]`; gateway-api then also turns dossier photos into vectors).
    #[serde(rename = "RECOGNITION_BACKEND")]
    pub recognition_backend: RecognitionBackend,
    /// Time limit of one call to the recognition service, in milliseconds.
    #[serde(rename = "SFAPI_TIMEOUT_MS")]
    pub sfapi_timeout_ms: u64,
    /// Retries of a failed call (network error, timeout or 5xx), within the request.
    #[serde(rename = "SFAPI_RETRIES")]
    pub sfapi_retries: u32,
    /// Consecutive failed calls that open the circuit breaker.
    #[serde(rename = "SFAPI_BREAKER_FAILURES")]
    pub sfapi_breaker_failures: u32,
    /// How long an open breaker answers 503 at once before letting one trial call through.
    #[serde(rename = "SFAPI_BREAKER_COOLDOWN_MS")]
    pub sfapi_breaker_cooldown_ms: u64,
}

impl Default for Facerouter {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            max_image_bytes: 8 * 1024 * 1024,
            max_image_pixels: 40_000_000,
            gallery_page_size: 10_000,
            gallery_index: GalleryIndex::Flat,
            ivf_lists: 0,
            ivf_probes: 32,
            gallery_resync_seconds: 300,
            search_threads: 0,
            search_batch: 32,
            search_queue: 1024,
            publish_batch: 64,
            publish_pipeline: 2,
            media_url: String::new(),
            media_sync: MediaSync::default(),
            media_layout: MediaLayout::default(),
            recognition_backend: RecognitionBackend::Worker,
            sfapi_timeout_ms: 1_000,
            sfapi_retries: 1,
            sfapi_breaker_failures: 5,
            sfapi_breaker_cooldown_ms: 5_000,
        }
    }
}

impl Facerouter {
    /// Checks the values; the error names the offending key.
    pub fn validate(&self, sf_api_address: &str) -> Result<(), (&'static str, &'static str)> {
        if self.max_in_flight == 0 {
            return Err(("FACEROUTER.MAX_IN_FLIGHT", "must be at least 1"));
        }
        if self.max_image_bytes < 1024 {
            return Err(("FACEROUTER.MAX_IMAGE_BYTES", "must be at least 1024"));
        }
        if self.max_image_pixels == 0 {
            return Err(("FACEROUTER.MAX_IMAGE_PIXELS", "must be at least 1"));
        }
        if self.gallery_page_size < 1 {
            return Err(("FACEROUTER.GALLERY_PAGE_SIZE", "must be at least 1"));
        }
        if self.ivf_probes == 0 {
            return Err(("FACEROUTER.IVF_PROBES", "must be at least 1"));
        }
        if self.search_batch == 0 {
            return Err(("FACEROUTER.SEARCH_BATCH", "must be at least 1"));
        }
        if self.search_queue == 0 {
            return Err(("FACEROUTER.SEARCH_QUEUE", "must be at least 1"));
        }
        if !(1..=1000).contains(&self.publish_batch) {
            return Err(("FACEROUTER.PUBLISH_BATCH", "must be between 1 and 1000"));
        }
        if self.publish_pipeline == 0 {
            return Err(("FACEROUTER.PUBLISH_PIPELINE", "must be at least 1"));
        }
        if self.gallery_resync_seconds == 0 {
            return Err(("FACEROUTER.GALLERY_RESYNC_SECONDS", "must be at least 1"));
        }
        let url = self.media_url.trim();
        if !url.is_empty() && !url.starts_with("s3://") && !url.starts_with("file://") {
            return Err(("FACEROUTER.MEDIA_URL", "must be empty, file:///path or s3://bucket[/prefix][?endpoint=...]"));
        }
        if self.sfapi_timeout_ms == 0 {
            return Err(("FACEROUTER.SFAPI_TIMEOUT_MS", "must be at least 1"));
        }
        if self.sfapi_breaker_failures == 0 {
            return Err(("FACEROUTER.SFAPI_BREAKER_FAILURES", "must be at least 1"));
        }
        if self.recognition_backend == RecognitionBackend::Sfapi
            && !(sf_api_address.starts_with("http://") || sf_api_address.starts_with("https://"))
        {
            return Err(("FFSECURITY.SF_API_ADDRESS", "RECOGNITION_BACKEND = \"sfapi\" needs an http(s):// address"));
        }
        Ok(())
    }
}
