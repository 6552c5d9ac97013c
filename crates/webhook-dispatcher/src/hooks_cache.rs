//! Active hooks, held in memory and re-read whenever gateway-api announces a hook change (and every
//! minute and on every reconnect, in case a notice was lost).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::db::DbPool;
use domain::filters::EventFilters;
use domain::models::Hook;
use domain::schema::hooks;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics::DispatcherMetrics;
use crate::signing;

const SAFETY_RELOAD: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct ActiveHook {
    pub id: i64,
    pub url: String,
    pub batch_size: usize,
    pub send_attempts: u32,
    pub filters: EventFilters,
    /// The current secret's key first, then the previous one while its grace period lasts.
    pub keys: Vec<Vec<u8>>,
    /// The shared failure streak was running at the last reload (a success must reset it).
    pub failing: bool,
}

#[derive(Clone)]
pub struct HookCache {
    hooks: Arc<RwLock<Arc<Vec<ActiveHook>>>>,
    loaded: tokio::sync::watch::Sender<bool>,
}

impl Default for HookCache {
    fn default() -> Self {
        Self { hooks: Arc::default(), loaded: tokio::sync::watch::Sender::new(false) }
    }
}

impl HookCache {
    /// Returns once the first load from PostgreSQL has succeeded.
    pub async fn wait_loaded(&self) {
        let mut loaded = self.loaded.subscribe();
        let _ = loaded.wait_for(|l| *l).await;
    }

    pub fn current(&self) -> Arc<Vec<ActiveHook>> {
        match self.hooks.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn get(&self, id: i64) -> Option<ActiveHook> {
        self.current().iter().find(|h| h.id == id).cloned()
    }

    pub async fn reload(&self, pool: &DbPool) -> anyhow::Result<usize> {
        let mut conn = pool.get().await?;
        let rows: Vec<Hook> =
            hooks::table.filter(hooks::active.eq(true)).select(Hook::as_select()).load(&mut conn).await?;
        let active: Vec<ActiveHook> = rows
            .into_iter()
            .filter_map(|h| {
                // gateway-api validates both on write; a row that still fails is skipped, loudly.
                let filters = serde_json::from_value(h.filters.clone())
                    .map_err(
                        |e| tracing::error!(hook.id = h.id, error = %e, "hook {} has unreadable filters: {e}", h.id),
                    )
                    .ok()?;
                let key = signing::secret_key(&h.secret)
                    .map_err(|e| tracing::error!(hook.id = h.id, error = %e, "hook {} has a bad secret: {e}", h.id))
                    .ok()?;
                let mut keys = vec![key];
                let grace_open = h.previous_secret_expires.is_some_and(|until| until > chrono::Utc::now());
                if let (true, Some(previous)) = (grace_open, &h.previous_secret) {
                    keys.extend(signing::secret_key(previous).ok());
                }
                Some(ActiveHook {
                    id: h.id,
                    url: h.url,
                    batch_size: h.batch_size.max(1) as usize,
                    send_attempts: h.send_attempts.max(0) as u32,
                    filters,
                    keys,
                    failing: h.failed_attempts > 0,
                })
            })
            .collect();
        let count = active.len();
        match self.hooks.write() {
            Ok(mut g) => *g = Arc::new(active),
            Err(p) => *p.into_inner() = Arc::new(active),
        }
        self.loaded.send_replace(true);
        Ok(count)
    }
}

pub async fn run_reloader(
    cache: HookCache,
    pool: DbPool,
    wanted: Arc<Notify>,
    metrics: DispatcherMetrics,
    cancel: CancellationToken,
) {
    loop {
        match cache.reload(&pool).await {
            Ok(count) => {
                metrics.active_hooks.set(count as i64);
                metrics.hook_reloads.inc();
                tracing::debug!(hooks = count, "hooks loaded: {count} active");
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot load hooks, retrying: {e}");
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = wanted.notified() => {}
            () = tokio::time::sleep(SAFETY_RELOAD) => {}
        }
    }
}
