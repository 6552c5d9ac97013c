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

use crate::signing;

const SAFETY_RELOAD: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct ActiveHook {
    pub id: i64,
    pub url: String,
    pub send_attempts: u32,
    pub filters: EventFilters,
    pub key: Vec<u8>,
}

#[derive(Clone, Default)]
pub struct HookCache {
    hooks: Arc<RwLock<Arc<Vec<ActiveHook>>>>,
}

impl HookCache {
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
                Some(ActiveHook { id: h.id, url: h.url, send_attempts: h.send_attempts.max(0) as u32, filters, key })
            })
            .collect();
        let count = active.len();
        match self.hooks.write() {
            Ok(mut g) => *g = Arc::new(active),
            Err(p) => *p.into_inner() = Arc::new(active),
        }
        Ok(count)
    }
}

pub async fn run_reloader(
    cache: HookCache,
    pool: DbPool,
    wanted: Arc<Notify>,
    gauge: prometheus::IntGauge,
    cancel: CancellationToken,
) {
    loop {
        match cache.reload(&pool).await {
            Ok(count) => {
                gauge.set(count as i64);
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
