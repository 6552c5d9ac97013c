//! Per-test resources: a fresh database, a unique bus prefix and a media directory, all removed by
//! [`TestEnv::cleanup`].

use std::path::PathBuf;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::Config;
use domain::bus::Names;
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};

pub const WORKER_TOKEN: &str = "test-worker-token-0123456789";
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// The `id` a test's raw `INSERT ... RETURNING id` (or `SELECT id`) reads back.
#[derive(diesel::QueryableByName)]
pub struct IdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub id: i64,
}

pub struct TestEnv {
    pub config: Config,
    pub media_root: PathBuf,
    db_name: String,
}

fn admin_url(config: &Config) -> String {
    let mut admin = config.clone();
    admin.databases.default.name = "postgres".into();
    admin.database_url()
}

impl TestEnv {
    /// A fresh database on the local PostgreSQL and a unique prefix on the local RabbitMQ.
    pub async fn new() -> anyhow::Result<Self> {
        Self::with_config(Config::default()).await
    }

    /// The same on other servers: `base` names them (database host and port, RabbitMQ URL); the
    /// rest of the test settings are filled in.
    pub async fn with_config(base: Config) -> anyhow::Result<Self> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let db_name = format!("ffsec_test_{id}");
        let media_root = std::env::temp_dir().join(format!("ffsec-media-{id}"));
        let mut config = base;
        config.databases.default.name = db_name.clone();
        config.databases.default.pool_size = 4;
        if let Ok(host) = std::env::var("FFSEC_TEST_PGHOST") {
            config.databases.default.host = host;
        }
        config.rabbitmq.prefix = format!("t{id}");
        config.media_root = media_root.clone();
        config.ffsecurity.video_detector_token = WORKER_TOKEN.into();
        // Shared by gateway-api and the dispatcher, as in a deployment: webhook image links are
        // signed with it.
        config.secret_key = format!("test-secret-{id}");
        // The console of this checkout, as scripts/up.sh serves it.
        config.static_root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../console"));
        config.auth.admin_username = ADMIN_USER.into();
        config.auth.admin_password = ADMIN_PASSWORD.into();
        // Fast retries so a test sees a retried webhook within a second or two.
        config.webhooks.retry_delays_ms = vec![200, 400];
        // Test receivers listen on loopback, which the SSRF guard refuses unless allowed.
        config.webhooks.allowed_addresses = vec!["127.0.0.1".into()];
        for server in [&mut config.server, &mut config.ingest, &mut config.dispatcher] {
            server.workers = 1;
        }
        let mut conn = AsyncPgConnection::establish(&admin_url(&config)).await?;
        diesel::sql_query(format!("CREATE DATABASE {db_name}")).execute(&mut conn).await?;
        Ok(Self { config, media_root, db_name })
    }

    pub fn names(&self) -> Names {
        Names::new(&self.config.rabbitmq.prefix, &self.config.webhooks.retry_delays_ms)
    }

    pub async fn connect_db(&self) -> anyhow::Result<AsyncPgConnection> {
        Ok(AsyncPgConnection::establish(&self.config.database_url()).await?)
    }

    /// Drops the database, the prefixed queues and exchanges, and the media directory.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        let mut conn = AsyncPgConnection::establish(&admin_url(&self.config)).await?;
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db_name)).execute(&mut conn).await?;
        let names = self.names();
        let connection =
            lapin::Connection::connect(&self.config.rabbitmq.url, lapin::ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        let mut queues =
            vec![names.recorder_queue(), names.webhooks_queue(), names.deliveries_queue(), names.dead_queue()];
        queues.extend(names.retry_delays_ms().iter().map(|d| names.retry_queue(*d)));
        for queue in queues {
            channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await?;
        }
        for exchange in [names.faces_exchange(), names.events_exchange(), names.gallery_exchange()] {
            channel.exchange_delete(exchange.into(), ExchangeDeleteOptions::default()).await?;
        }
        let _ = connection.close(200, "cleanup".into()).await;
        let _ = std::fs::remove_dir_all(&self.media_root);
        Ok(())
    }
}
