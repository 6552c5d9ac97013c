//! Auto-disable. Each hook's failure streak lives in PostgreSQL so every dispatcher replica adds to
//! the same count; a hook failing without a single success for WEBHOOKS.DISABLE_AFTER_MS and at
//! least DISABLE_MIN_ATTEMPTS times is switched off, and `410 Gone` switches it off at once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::bus::Bus;
use domain::db::DbPool;
use domain::messages::{GalleryChanged, GalleryObject};
use domain::schema::hooks;

pub struct Policy {
    pub window: chrono::Duration,
    pub min_attempts: u32,
}

/// A success ends the streak (one write, only when a streak was running).
pub async fn record_success(pool: &DbPool, hook_id: i64) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    diesel::update(hooks::table.find(hook_id).filter(hooks::failed_attempts.gt(0)))
        .set((hooks::failed_attempts.eq(0), hooks::failing_since.eq(None::<DateTime<Utc>>)))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Adds a failure; returns the reason when it switched the hook off.
pub async fn record_failure(
    pool: &DbPool,
    bus: &Bus,
    hook_id: i64,
    gone: bool,
    policy: &Policy,
) -> anyhow::Result<Option<String>> {
    let mut conn = pool.get().await?;
    let streak: Option<(i32, Option<DateTime<Utc>>)> = diesel::update(hooks::table.find(hook_id))
        .set((
            hooks::failed_attempts.eq(hooks::failed_attempts + 1),
            hooks::failing_since.eq(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>>(
                "COALESCE(failing_since, now())",
            )),
        ))
        .returning((hooks::failed_attempts, hooks::failing_since))
        .get_result(&mut conn)
        .await
        .optional()?;
    let Some((attempts, since)) = streak else { return Ok(None) };
    let failing_for = since.map_or(chrono::Duration::zero(), |s| Utc::now() - s);
    let reason = if gone {
        "the hook answered 410 Gone".to_string()
    } else if attempts as u32 >= policy.min_attempts && failing_for >= policy.window {
        format!("{attempts} failed attempts without a success for {} s", failing_for.num_seconds())
    } else {
        return Ok(None);
    };
    let switched = diesel::update(hooks::table.find(hook_id).filter(hooks::active.eq(true)))
        .set((
            hooks::active.eq(false),
            hooks::disabled_reason.eq(&reason),
            hooks::disabled_date.eq(Utc::now()),
            hooks::modified_date.eq(Utc::now()),
        ))
        .execute(&mut conn)
        .await?;
    drop(conn);
    if switched == 0 {
        return Ok(None);
    }
    tracing::warn!(hook.id = hook_id, reason = %reason, "hook {hook_id} switched off: {reason}");
    // Every replica drops the hook from its cache.
    let notice = GalleryChanged { object: GalleryObject::Hook, id: hook_id };
    if let Err(e) = bus.publish(&bus.names().gallery_exchange(), "", &notice, &uuid::Uuid::now_v7().to_string()).await {
        tracing::warn!(error = %e, "cannot announce that hook {hook_id} was switched off: {e}");
    }
    Ok(Some(reason))
}
