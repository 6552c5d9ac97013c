//! Start-up validation: every value is checked once, and every message names the key and its source.

use super::{Config, Service};

/// Events gateway-api's recorder may hold unacked: RECORDER_PREFETCH × PUBLISH_BATCH.
pub const MAX_RECORDER_HELD_EVENTS: usize = 262_144;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {file}: {reason}")]
    Read { file: String, reason: String },
    #[error("config file {file} is not valid TOML: {reason}")]
    Syntax { file: String, reason: String },
    #[error("bad value for key {key} in {file}: {reason}")]
    Value { file: String, key: String, reason: String },
    #[error("unknown configuration key in environment variable {variable}")]
    UnknownEnv { variable: String },
    #[error("internal configuration error: {0}")]
    Internal(String),
}

impl Config {
    pub(super) fn validate(&self, file: &str, service: Service) -> Result<(), ConfigError> {
        let bad = |key: &str, reason: &str| ConfigError::Value {
            file: file.to_string(),
            key: key.to_string(),
            reason: reason.to_string(),
        };
        let ff = &self.ffsecurity;
        if !(0.0..=1.0).contains(&ff.confidence_threshold) {
            return Err(bad("FFSECURITY.CONFIDENCE_THRESHOLD", "must be between 0 and 1"));
        }
        if !(0.0..=1.0).contains(&ff.liveness_threshold) {
            return Err(bad("FFSECURITY.LIVENESS_THRESHOLD", "must be between 0 and 1"));
        }
        if !(0.0..=1.0).contains(&ff.beard_threshold) {
            return Err(bad("FFSECURITY.BEARD_THRESHOLD", "must be between 0 and 1"));
        }
        if self.event_search.max_candidates == 0 {
            return Err(bad("EVENT_SEARCH.MAX_CANDIDATES", "must be at least 1"));
        }
        if ff.events_max_age == 0 {
            return Err(bad("FFSECURITY.EVENTS_MAX_AGE", "must be at least 1 day"));
        }
        if !ff.external_address.starts_with("http://") && !ff.external_address.starts_with("https://") {
            return Err(bad("FFSECURITY.EXTERNAL_ADDRESS", "must be an http:// or https:// URL"));
        }
        if self.databases.default.engine != "postgresql" && !self.databases.default.engine.ends_with(".postgresql") {
            return Err(bad("DATABASES.default.ENGINE", "only PostgreSQL is supported"));
        }
        if self.databases.default.pool_size == 0 {
            return Err(bad("DATABASES.default.POOL_SIZE", "must be at least 1"));
        }
        if !self.rabbitmq.url.starts_with("amqp://") && !self.rabbitmq.url.starts_with("amqps://") {
            return Err(bad("RABBITMQ.URL", "must be an amqp:// or amqps:// URL"));
        }
        let prefix_ok = !self.rabbitmq.prefix.is_empty()
            && self.rabbitmq.prefix.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !prefix_ok {
            return Err(bad("RABBITMQ.PREFIX", "must be non-empty and use only letters, digits, '.', '_' and '-'"));
        }
        if self.rabbitmq.prefetch == 0 {
            return Err(bad("RABBITMQ.PREFETCH", "must be at least 1"));
        }
        if self.rabbitmq.recorder_prefetch == 0 {
            return Err(bad("RABBITMQ.RECORDER_PREFETCH", "must be at least 1"));
        }
        // A recorder catching up holds RECORDER_PREFETCH messages of up to PUBLISH_BATCH faces
        // each (~3 KB an event): the defaults make 64k events, ~200 MB; 1 024 messages of the
        // largest batch would make a million, several GB, which no memory limit set for the
        // defaults survives.
        if usize::from(self.rabbitmq.recorder_prefetch) * self.facerouter.publish_batch > MAX_RECORDER_HELD_EVENTS {
            return Err(bad(
                "RABBITMQ.RECORDER_PREFETCH",
                &format!(
                    "times FACEROUTER.PUBLISH_BATCH must be at most {MAX_RECORDER_HELD_EVENTS} (events the recorder \
                     may hold in memory)"
                ),
            ));
        }
        // A pack path names a range of at most MAX_RANGE bytes (what one read may allocate).
        if self.facerouter.media_layout == crate::config::MediaLayout::Packs
            && self.facerouter.max_image_bytes as u64 > crate::media_pack::MAX_RANGE
        {
            return Err(bad(
                "FACEROUTER.MAX_IMAGE_BYTES",
                &format!("must be at most {} with MEDIA_LAYOUT = \"packs\"", crate::media_pack::MAX_RANGE),
            ));
        }
        let auth = &self.auth;
        for (key, value) in [
            ("AUTH.LOGIN_MAX_FAILURES_PER_USER", u64::from(auth.login_max_failures_per_user)),
            ("AUTH.LOGIN_MAX_FAILURES_PER_ADDRESS", u64::from(auth.login_max_failures_per_address)),
            ("AUTH.LOGIN_WINDOW_SECONDS", auth.login_window_seconds),
            ("AUTH.LOGIN_TRACKED_KEYS", auth.login_tracked_keys as u64),
            ("AUTH.MEDIA_URL_TTL_SECONDS", auth.media_url_ttl_seconds),
        ] {
            if value == 0 {
                return Err(bad(key, "must be at least 1"));
            }
        }
        if self.webhooks.retry_delays_ms.is_empty() {
            return Err(bad("WEBHOOKS.RETRY_DELAYS_MS", "needs at least one delay"));
        }
        let hooks = &self.webhooks;
        for (key, value) in [
            ("WEBHOOKS.CONCURRENCY", hooks.concurrency),
            ("WEBHOOKS.HOOK_CONCURRENCY", hooks.hook_concurrency),
            ("WEBHOOKS.MAX_PAYLOAD_BYTES", hooks.max_payload_bytes),
            ("WEBHOOKS.CONNECT_TIMEOUT_MS", hooks.connect_timeout_ms as usize),
        ] {
            if value == 0 {
                return Err(bad(key, "must be at least 1"));
            }
        }
        if hooks.concurrency > usize::from(u16::MAX) {
            return Err(bad("WEBHOOKS.CONCURRENCY", "must be at most 65535"));
        }
        if hooks.retry_delays_ms.contains(&0) {
            return Err(bad("WEBHOOKS.RETRY_DELAYS_MS", "delays must be at least 1 ms"));
        }
        for entry in &hooks.allowed_addresses {
            if crate::net::parse_block(entry).is_none() {
                return Err(bad(
                    "WEBHOOKS.ALLOWED_ADDRESSES",
                    &format!("{entry:?} is not an IP address or CIDR block"),
                ));
            }
        }
        for (key, server) in [("SERVER", &self.server), ("INGEST", &self.ingest), ("DISPATCHER", &self.dispatcher)] {
            if server.workers == 0 {
                return Err(bad(&format!("{key}.workers"), "must be at least 1"));
            }
            if server.max_body_bytes < 1024 {
                return Err(bad(&format!("{key}.max_body_bytes"), "must be at least 1024"));
            }
        }
        if self.auth.admin_username.is_empty() != self.auth.admin_password.is_empty() {
            return Err(bad("AUTH.ADMIN_PASSWORD", "set both ADMIN_USERNAME and ADMIN_PASSWORD, or neither"));
        }
        if service == Service::Ingest && self.ffsecurity.video_detector_token.trim().is_empty() {
            return Err(bad("FFSECURITY.VIDEO_DETECTOR_TOKEN", "facerouter-ingest needs a worker token"));
        }
        if self.rabbitmq.confirm_timeout_ms == 0 {
            return Err(bad("RABBITMQ.CONFIRM_TIMEOUT_MS", "must be at least 1"));
        }
        if self.webhooks.timeout_ms == 0 {
            return Err(bad("WEBHOOKS.TIMEOUT_MS", "must be at least 1"));
        }
        if let Err((key, reason)) = self.facerouter.validate(&self.ffsecurity.sf_api_address) {
            return Err(bad(key, reason));
        }
        if let Err((key, reason)) = self.validate_integrations() {
            return Err(bad(key, reason));
        }
        if let Err((key, reason)) = self.recognizer.validate() {
            return Err(bad(key, reason));
        }
        if self.retention.batch == 0 {
            return Err(bad("RETENTION.BATCH", "must be at least 1"));
        }
        if self.logging.level.trim().is_empty() {
            return Err(bad("LOGGING.LEVEL", "must not be empty"));
        }
        Ok(())
    }
}
