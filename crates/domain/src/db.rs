//! The PostgreSQL pool and the embedded migrations. diesel-async all the way: no libpq.

use diesel_async::AsyncMigrationHarness;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

pub type DbPool = Pool<AsyncPgConnection>;

/// The advisory lock key migrations run under ("ffsec" in ASCII).
const MIGRATION_LOCK: i64 = 0x0066_6673_6563;
pub type DbConn = Object<AsyncPgConnection>;

pub fn pool(config: &Config) -> anyhow::Result<DbPool> {
    pool_for_url(&config.database_url(), config.databases.default.pool_size as usize)
}

pub fn pool_for_url(url: &str, size: usize) -> anyhow::Result<DbPool> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
    let pool = Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool_runtime())
        .build()?;
    Ok(pool)
}

fn deadpool_runtime() -> deadpool::Runtime {
    // Pool timeouts need a runtime to sleep on.
    deadpool::Runtime::Tokio1
}

/// Applies pending migrations; returns how many ran. Needs a multi-thread tokio runtime (the
/// harness blocks in place).
pub async fn run_migrations(pool: &DbPool) -> anyhow::Result<usize> {
    let conn = pool.get().await.map_err(|e| anyhow::anyhow!("database unavailable: {e}"))?;
    let mut conn: AsyncPgConnection = Object::take(conn);
    // Several gateway-api replicas may start at once (a rolling upgrade, `--scale`): a session
    // advisory lock lets one apply the migrations while the others wait, then find none pending.
    // The connection is taken out of the pool, so the lock also ends with it if anything fails.
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
        .execute(&mut conn)
        .await
        .map_err(|e| anyhow::anyhow!("cannot take the migration lock: {e}"))?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = tokio::task::block_in_place(|| harness.run_pending_migrations(MIGRATIONS).map(|v| v.len()))
        .map_err(|e| anyhow::anyhow!("migrations failed: {e}"))?;
    let mut conn = harness.into_inner();
    let _ = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
        .execute(&mut conn)
        .await;
    Ok(applied)
}
