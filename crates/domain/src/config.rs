//! The one typed configuration of every ffsec service.
//!
//! Layering: built-in defaults, then the TOML file, then `FFSEC_*` environment variables, then the
//! command-line flags a binary maps onto [`Overrides`]. Key names follow findface-security's
//! settings (the seed), but their order is free. An unknown key or a bad value stops start-up with
//! a message naming the key and where it came from.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod env;
mod event_search;
pub use env::parse_bool;
pub use event_search::{EventSearch, KeepVectors};
mod ingest;
pub use ingest::{Facerouter, GalleryIndex, MediaLayout, MediaSync, RecognitionBackend};
mod integrations;
pub use integrations::{Genetec, Integration, VideoManager, http_base, router_url};
mod recognizer;
pub use recognizer::Recognizer;
pub mod reference;
mod validate;

pub use validate::ConfigError;

/// Environment variables that override keys start with this prefix; nested keys are joined with
/// `__`, e.g. `FFSEC_FFSECURITY__VIDEO_DETECTOR_TOKEN`.
pub const ENV_PREFIX: &str = "FFSEC_";
/// The environment variable naming the config file when no `--config` flag is given.
pub const CONFIG_PATH_ENV: &str = "FFSEC_CONFIG";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where images (face crops, full frames) are stored on local disk; facerouter-ingest writes, gateway-api serves them at `/uploads/`.
    #[serde(rename = "MEDIA_ROOT")]
    #[schema(value_type = String)]
    pub media_root: PathBuf,
    /// The operator console's files (the repository's `console/` folder), which gateway-api serves at `/console/`; `scripts/up.sh` points it at the repository.
    #[serde(rename = "STATIC_ROOT")]
    #[schema(value_type = String)]
    pub static_root: PathBuf,
    /// More detail in error bodies and logs; never on in production.
    #[serde(rename = "DEBUG")]
    pub debug: bool,
    /// Signs login tokens and media URLs; the same value in every service and replica.
    #[serde(rename = "SECRET_KEY")]
    pub secret_key: String,
    /// Integrations switched on, e.g. `["video_manager"]`; one not listed does nothing.
    #[serde(rename = "INTEGRATIONS")]
    pub integrations: Vec<Integration>,
    /// PostgreSQL.
    #[serde(rename = "DATABASES")]
    pub databases: Databases,
    /// findface-security's own settings, with the vendor's key names.
    #[serde(rename = "FFSECURITY")]
    pub ffsecurity: FfSecurity,
    /// gateway-api's listener, named as in the seed's server block.
    #[serde(rename = "SERVER")]
    pub server: Server,
    /// facerouter-ingest's listener.
    #[serde(rename = "INGEST")]
    pub ingest: Server,
    /// webhook-dispatcher's listener (`/health`, `/health/live` and `/metrics` only).
    #[serde(rename = "DISPATCHER")]
    pub dispatcher: Server,
    /// The RabbitMQ bus all services talk over.
    #[serde(rename = "RABBITMQ")]
    pub rabbitmq: RabbitMq,
    /// webhook-dispatcher's delivery settings.
    #[serde(rename = "WEBHOOKS")]
    pub webhooks: Webhooks,
    /// Logins, tokens and signed media URLs (gateway-api).
    #[serde(rename = "AUTH")]
    pub auth: Auth,
    /// Log output of every service.
    #[serde(rename = "LOGGING")]
    pub logging: Logging,
    /// facerouter-ingest's own settings.
    #[serde(rename = "FACEROUTER")]
    pub facerouter: Facerouter,
    /// The built-in face recognizer (FACEROUTER.RECOGNITION_BACKEND = "builtin").
    #[serde(rename = "RECOGNIZER")]
    pub recognizer: Recognizer,
    /// How long events are kept (gateway-api).
    #[serde(rename = "RETENTION")]
    pub retention: Retention,
    /// The event list of gateway-api.
    #[serde(rename = "EVENT_LIST")]
    pub event_list: EventList,
    /// `looks_like` over past events (gateway-api): which event vectors are kept, how long.
    #[serde(rename = "EVENT_SEARCH")]
    pub event_search: EventSearch,
    /// The video manager sync (gateway-api), when INTEGRATIONS lists `video_manager`.
    #[serde(rename = "VIDEO_MANAGER")]
    pub video_manager: VideoManager,
    /// Genetec Security Center alarms and camera import, when INTEGRATIONS lists `genetec`.
    #[serde(rename = "GENETEC")]
    pub genetec: Genetec,
}

/// The event list of gateway-api (`GET /events/faces/`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EventList {
    /// Above this many stored events (by the planner's statistics), an unfiltered list reports the
    /// statistics' row estimate as its `count` instead of counting every row on every page.
    /// 0 = always exact.
    #[serde(rename = "COUNT_ESTIMATE_ABOVE")]
    pub count_estimate_above: i64,
}

impl Default for EventList {
    fn default() -> Self {
        Self { count_estimate_above: 1_000_000 }
    }
}

/// Event retention (gateway-api). FFSECURITY.EVENTS_MAX_AGE is the age limit of matched events.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Days unmatched events are kept; 0 = as long as matched ones (EVENTS_MAX_AGE).
    #[serde(rename = "UNMATCHED_MAX_AGE")]
    pub unmatched_max_age: u32,
    /// How often the purge runs, in minutes; 0 = never (use `gateway-api cleanup_events`).
    #[serde(rename = "INTERVAL_MINUTES")]
    pub interval_minutes: u32,
    /// Events deleted per statement, so a purge never holds long locks.
    #[serde(rename = "BATCH")]
    pub batch: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self { unmatched_max_age: 0, interval_minutes: 60, batch: 5_000 }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Databases {
    /// The one database every service uses.
    #[serde(rename = "default")]
    pub default: Database,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Database {
    /// Only PostgreSQL is supported; kept so a FindFace settings block reads unchanged.
    #[serde(rename = "ENGINE")]
    pub engine: String,
    /// Database name.
    #[serde(rename = "NAME")]
    pub name: String,
    /// Database user.
    #[serde(rename = "USER")]
    pub user: String,
    /// Database password (empty = none, e.g. trust or peer authentication).
    #[serde(rename = "PASSWORD")]
    pub password: String,
    /// Database host.
    #[serde(rename = "HOST")]
    pub host: String,
    /// Database port.
    #[serde(rename = "PORT")]
    pub port: u16,
    /// Connections per service replica.
    #[serde(rename = "POOL_SIZE")]
    pub pool_size: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FfSecurity {
    /// The URL clients use to reach gateway-api; the base of every absolute URL ffsec hands out (media, events).
    #[serde(rename = "EXTERNAL_ADDRESS")]
    pub external_address: String,
    /// The token video workers authorise with (`Authorization: Token ...`); facerouter-ingest refuses to start without one.
    #[serde(rename = "VIDEO_DETECTOR_TOKEN")]
    pub video_detector_token: String,
    /// Address of the findface-video-manager host (`host:port` or a URL); called when INTEGRATIONS lists `video_manager`.
    #[serde(rename = "VIDEO_MANAGER_ADDRESS")]
    pub video_manager_address: String,
    /// Address of the findface-ntls licence server: accepted and ignored (ffsec needs no licence); a non-empty value logs one warning at start.
    #[serde(rename = "NTLS_HTTP_URL")]
    pub ntls_http_url: String,
    /// Address of facerouter-ingest that video workers post faces to (`host:port` or a URL); the video manager sync hands it to workers as each job's `router_url`.
    #[serde(rename = "ROUTER_URL")]
    pub router_url: String,
    /// Address of the findface-sf-api recognition service, used when FACEROUTER.RECOGNITION_BACKEND = "sfapi".
    #[serde(rename = "SF_API_ADDRESS")]
    pub sf_api_address: String,
    /// Do not record events for faces without a match in the watch lists.
    #[serde(rename = "IGNORE_UNMATCHED")]
    pub ignore_unmatched: bool,
    /// Face similarity (0-1) from which a face matches a dossier face.
    #[serde(rename = "CONFIDENCE_THRESHOLD")]
    pub confidence_threshold: f32,
    /// Lowest face quality accepted for a dossier photo (around 0 is best, -5 and below is poor).
    #[serde(rename = "MINIMUM_DOSSIER_QUALITY")]
    pub minimum_dossier_quality: f32,
    /// Seconds a `POST /detect/` result stays nameable as `detection:<id>` (verify, create_from); kept in PostgreSQL, so every gateway replica sees it.
    #[serde(rename = "DETECTION_TTL")]
    pub detection_ttl: u32,
    /// Days.
    #[serde(rename = "EVENTS_MAX_AGE")]
    pub events_max_age: u32,
    /// Face attributes recorded with events (gender, age, emotions, beard, glasses, liveness).
    #[serde(rename = "EVENTS_FEATURES")]
    pub events_features: Vec<EventFeature>,
    /// Liveness score (0-1) from which a face counts as real rather than fake.
    #[serde(rename = "LIVENESS_THRESHOLD")]
    pub liveness_threshold: f32,
    /// Beard score (0-1) from which a face counts as bearded.
    #[serde(rename = "BEARD_THRESHOLD")]
    pub beard_threshold: f32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventFeature {
    Gender,
    Age,
    Emotions,
    Beard,
    Glasses,
    Liveness,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    /// HTTP worker threads.
    pub workers: usize,
    /// Listen address (`0.0.0.0` in containers).
    pub host: String,
    /// Listen port (0 = an ephemeral port).
    pub port: u16,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RabbitMq {
    /// The broker URL, `amqp://` or `amqps://`; a low `heartbeat` notices a dead link in seconds.
    #[serde(rename = "URL")]
    pub url: String,
    /// Every exchange and queue name starts with this prefix (tests use a unique one each).
    #[serde(rename = "PREFIX")]
    pub prefix: String,
    /// How long a publish may wait for the broker's confirm before the outcome counts as unknown.
    #[serde(rename = "CONFIRM_TIMEOUT_MS")]
    pub confirm_timeout_ms: u64,
    /// Unacknowledged messages a consumer holds at once.
    #[serde(rename = "PREFETCH")]
    pub prefetch: u16,
    /// Unacknowledged messages gateway-api's recorder holds at once: the batch being inserted and
    /// the batches whose announcements await confirms. Its throughput is at most this many events
    /// per batch round trip, so it must cover the event rate times a slow round trip (1 000
    /// events/s × 100 ms needs 100) or a busy database makes the backlog, and the live latency, grow.
    /// A message holds up to FACEROUTER.PUBLISH_BATCH faces, so the recorder may hold this times
    /// that many events in memory (~3 KB each): the product must be at most 262 144.
    #[serde(rename = "RECORDER_PREFETCH")]
    pub recorder_prefetch: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Webhooks {
    /// The retry ladder: the wait before retry n is rung n (the last one repeats), each a durable
    /// delay queue; a message waits between 80 % and 100 % of its rung (jitter).
    #[serde(rename = "RETRY_DELAYS_MS")]
    pub retry_delays_ms: Vec<u64>,
    /// Whole request, connect included.
    #[serde(rename = "TIMEOUT_MS")]
    pub timeout_ms: u64,
    /// Time limit of the TCP/TLS connect of one delivery, in milliseconds.
    #[serde(rename = "CONNECT_TIMEOUT_MS")]
    pub connect_timeout_ms: u64,
    /// Messages taken from the bus at once per dispatcher replica.
    #[serde(rename = "CONCURRENCY")]
    pub concurrency: usize,
    /// Requests in flight to one hook at once; a slow hook uses its own slots, never another's.
    #[serde(rename = "HOOK_CONCURRENCY")]
    pub hook_concurrency: usize,
    /// How long a batch waits for more events before it is sent.
    #[serde(rename = "BATCH_LINGER_MS")]
    pub batch_linger_ms: u64,
    /// Largest request body; a batch that would grow past it is sent as it is.
    #[serde(rename = "MAX_PAYLOAD_BYTES")]
    pub max_payload_bytes: usize,
    /// How much of a hook's response body the delivery log keeps.
    #[serde(rename = "RESPONSE_BODY_LIMIT")]
    pub response_body_limit: usize,
    /// A hook failing without a single success for this long (and at least DISABLE_MIN_ATTEMPTS
    /// times) is switched off. `410 Gone` switches it off at once.
    #[serde(rename = "DISABLE_AFTER_MS")]
    pub disable_after_ms: u64,
    /// Failed attempts a hook needs, besides DISABLE_AFTER_MS, before it is switched off.
    #[serde(rename = "DISABLE_MIN_ATTEMPTS")]
    pub disable_min_attempts: u32,
    /// After a secret rotation the old secret keeps signing, beside the new one, this long.
    #[serde(rename = "SECRET_GRACE_HOURS")]
    pub secret_grace_hours: u32,
    /// Delivery log rows older than this are deleted.
    #[serde(rename = "LOG_MAX_AGE_DAYS")]
    pub log_max_age_days: u32,
    /// Addresses or CIDR blocks hooks may reach although they are loopback, private, link-local,
    /// unique-local or multicast (the SSRF guard refuses those otherwise), e.g. `["127.0.0.1"]`.
    #[serde(rename = "ALLOWED_ADDRESSES")]
    pub allowed_addresses: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Auth {
    /// How long a login token stays valid, in hours.
    #[serde(rename = "TOKEN_TTL_HOURS")]
    pub token_ttl_hours: u32,
    /// First admin, created at start-up when no user exists yet (empty = do not create).
    #[serde(rename = "ADMIN_USERNAME")]
    pub admin_username: String,
    /// Password of that first admin.
    #[serde(rename = "ADMIN_PASSWORD")]
    pub admin_password: String,
    /// Failed logins for one username within LOGIN_WINDOW_SECONDS before further attempts get 429.
    #[serde(rename = "LOGIN_MAX_FAILURES_PER_USER")]
    pub login_max_failures_per_user: u32,
    /// Failed logins from one client address within LOGIN_WINDOW_SECONDS before 429.
    #[serde(rename = "LOGIN_MAX_FAILURES_PER_ADDRESS")]
    pub login_max_failures_per_address: u32,
    /// The sliding window the failure limits count over, in seconds.
    #[serde(rename = "LOGIN_WINDOW_SECONDS")]
    pub login_window_seconds: u64,
    /// Usernames (and, separately, addresses) tracked at once; bounds the limiter's memory.
    #[serde(rename = "LOGIN_TRACKED_KEYS")]
    pub login_tracked_keys: usize,
    /// How long a signed media URL stays valid at least, in seconds (it may last up to twice this).
    #[serde(rename = "MEDIA_URL_TTL_SECONDS")]
    pub media_url_ttl_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Logging {
    /// `human` or `json`.
    #[serde(rename = "FORMAT")]
    pub format: LogFormat,
    /// A tracing filter directive, e.g. `info` or `info,gateway_api=debug`.
    #[serde(rename = "LEVEL")]
    pub level: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// Values a binary's command-line flags set; they win over the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database_url_name: Option<String>,
    pub rabbitmq_url: Option<String>,
    pub bus_prefix: Option<String>,
    pub media_root: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
}

/// Which service is loading, so flags land on that service's listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Gateway,
    Ingest,
    Dispatcher,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            media_root: PathBuf::from("/var/lib/ffsec/uploads"),
            static_root: PathBuf::from("/var/lib/ffsec/static"),
            debug: false,
            secret_key: String::new(),
            integrations: Vec::new(),
            databases: Databases::default(),
            ffsecurity: FfSecurity::default(),
            server: Server::listening_on(8002),
            ingest: Server::listening_on(18300),
            dispatcher: Server::listening_on(18310),
            rabbitmq: RabbitMq::default(),
            webhooks: Webhooks::default(),
            auth: Auth::default(),
            logging: Logging::default(),
            facerouter: Facerouter::default(),
            recognizer: Recognizer::default(),
            retention: Retention::default(),
            event_list: EventList::default(),
            event_search: EventSearch::default(),
            video_manager: VideoManager::default(),
            genetec: Genetec::default(),
        }
    }
}

impl Default for Database {
    fn default() -> Self {
        Self {
            engine: "postgresql".into(),
            name: "ffsec".into(),
            user: "postgres".into(),
            password: String::new(),
            host: "127.0.0.1".into(),
            port: 5432,
            pool_size: 8,
        }
    }
}

impl Default for FfSecurity {
    fn default() -> Self {
        Self {
            external_address: "http://127.0.0.1:8002".into(),
            video_detector_token: String::new(),
            video_manager_address: String::new(),
            ntls_http_url: String::new(),
            router_url: String::new(),
            sf_api_address: String::new(),
            ignore_unmatched: false,
            confidence_threshold: 0.739,
            minimum_dossier_quality: -2.0,
            detection_ttl: 1800,
            events_max_age: 30,
            events_features: vec![
                EventFeature::Gender,
                EventFeature::Age,
                EventFeature::Emotions,
                EventFeature::Beard,
                EventFeature::Glasses,
            ],
            liveness_threshold: 0.75,
            beard_threshold: 0.7,
        }
    }
}

impl Server {
    fn listening_on(port: u16) -> Self {
        Self { workers: 4, host: "127.0.0.1".into(), port, max_body_bytes: 16 * 1024 * 1024 }
    }
}

impl Default for Server {
    fn default() -> Self {
        Self::listening_on(0)
    }
}

impl Default for RabbitMq {
    fn default() -> Self {
        Self {
            // A low heartbeat notices a frozen broker or a silently dropping network in seconds.
            url: "amqp://guest:guest@127.0.0.1:5672/%2f?heartbeat=5".into(),
            prefix: "ffsec".into(),
            confirm_timeout_ms: 800,
            prefetch: 64,
            recorder_prefetch: 1024,
        }
    }
}

impl Default for Webhooks {
    fn default() -> Self {
        Self {
            // Roughly doubling, capped at the vendor's 100 s.
            retry_delays_ms: vec![1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 100_000],
            timeout_ms: 10_000,
            connect_timeout_ms: 3_000,
            concurrency: 256,
            hook_concurrency: 8,
            batch_linger_ms: 50,
            max_payload_bytes: 4 * 1024 * 1024,
            response_body_limit: 1024,
            disable_after_ms: 3 * 24 * 3_600_000,
            disable_min_attempts: 20,
            secret_grace_hours: 24,
            log_max_age_days: 30,
            allowed_addresses: Vec::new(),
        }
    }
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            token_ttl_hours: 24 * 7,
            admin_username: String::new(),
            admin_password: String::new(),
            login_max_failures_per_user: 5,
            login_max_failures_per_address: 30,
            login_window_seconds: 300,
            login_tracked_keys: 10_000,
            media_url_ttl_seconds: 3_600,
        }
    }
}

impl Default for Logging {
    fn default() -> Self {
        Self { format: LogFormat::Human, level: "info".into() }
    }
}

impl Config {
    /// Loads defaults, then `path` (if any), then the environment, then `overrides`, and validates
    /// the result.
    pub fn load(
        path: Option<&Path>,
        environment: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
        service: Service,
    ) -> Result<Self, ConfigError> {
        let source = path.map_or_else(|| "built-in defaults".to_string(), |p| p.display().to_string());
        // Start from the serialised defaults so a partial section (say `[INGEST]` with only `host`)
        // keeps the other defaults of that section rather than those of the bare type.
        let mut tree = defaults_tree()?;
        let file_tree = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| ConfigError::Read { file: source.clone(), reason: e.to_string() })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Syntax { file: source.clone(), reason: e.to_string() })?
            }
            None => toml::Table::new(),
        };
        merge(&mut tree, file_tree);
        env::apply(&mut tree, environment)?;
        let mut config: Config = serde_path_to_error::deserialize(toml::Value::Table(tree)).map_err(|e| {
            ConfigError::Value { file: source.clone(), key: e.path().to_string(), reason: e.inner().to_string() }
        })?;
        config.apply(overrides, service);
        config.validate(&source, service)?;
        Ok(config)
    }

    /// Loads a settings table (as written in a file) over the defaults and validates it, without
    /// the environment: what `config import-findface` checks its output with.
    pub fn from_table(table: toml::Table, source: &str, service: Service) -> Result<Self, ConfigError> {
        let mut tree = defaults_tree()?;
        merge(&mut tree, table);
        let config: Config = serde_path_to_error::deserialize(toml::Value::Table(tree)).map_err(|e| {
            ConfigError::Value { file: source.to_string(), key: e.path().to_string(), reason: e.inner().to_string() }
        })?;
        config.validate(source, service)?;
        Ok(config)
    }

    fn apply(&mut self, o: &Overrides, service: Service) {
        let server = self.server_mut(service);
        if let Some(host) = &o.host {
            server.host.clone_from(host);
        }
        if let Some(port) = o.port {
            server.port = port;
        }
        if let Some(name) = &o.database_url_name {
            self.databases.default.name.clone_from(name);
        }
        if let Some(url) = &o.rabbitmq_url {
            self.rabbitmq.url.clone_from(url);
        }
        if let Some(prefix) = &o.bus_prefix {
            self.rabbitmq.prefix.clone_from(prefix);
        }
        if let Some(root) = &o.media_root {
            self.media_root.clone_from(root);
        }
        if let Some(format) = o.log_format {
            self.logging.format = format;
        }
    }

    pub fn server(&self, service: Service) -> &Server {
        match service {
            Service::Gateway => &self.server,
            Service::Ingest => &self.ingest,
            Service::Dispatcher => &self.dispatcher,
        }
    }

    fn server_mut(&mut self, service: Service) -> &mut Server {
        match service {
            Service::Gateway => &mut self.server,
            Service::Ingest => &mut self.ingest,
            Service::Dispatcher => &mut self.dispatcher,
        }
    }

    /// The PostgreSQL URL built from `DATABASES.default`.
    pub fn database_url(&self) -> String {
        let db = &self.databases.default;
        let auth = if db.password.is_empty() {
            percent_encode(&db.user)
        } else {
            format!("{}:{}", percent_encode(&db.user), percent_encode(&db.password))
        };
        format!("postgres://{auth}@{}:{}/{}", db.host, db.port, db.name)
    }

    /// EXTERNAL_ADDRESS without a trailing slash, the base of every absolute URL we hand out.
    pub fn external_base(&self) -> &str {
        self.ffsecurity.external_address.trim_end_matches('/')
    }
}

pub(crate) fn defaults_tree() -> Result<toml::Table, ConfigError> {
    match toml::Value::try_from(Config::default()) {
        Ok(toml::Value::Table(t)) => Ok(t),
        _ => Err(ConfigError::Internal("defaults do not serialise to a table".into())),
    }
}

/// Deep merge: tables merge key by key, anything else in `over` replaces what `base` had.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(over_inner)) => merge(inner, over_inner),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Userinfo escaping for the database URL: a password may hold `@`, `:` or `/`.
fn percent_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests;
