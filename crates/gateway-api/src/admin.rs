//! The first admin: from `gateway-api create-admin` or, on a database with no users, from
//! AUTH.ADMIN_USERNAME / AUTH.ADMIN_PASSWORD at start-up.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::db::DbPool;
use domain::models::NewUser;
use domain::schema::users;

use crate::auth::password;

/// Creates `username` as an admin, or resets its password and role if it exists.
pub async fn create_or_reset(pool: &DbPool, username: &str, pass: &str) -> anyhow::Result<()> {
    anyhow::ensure!(!username.trim().is_empty(), "admin username must not be empty");
    anyhow::ensure!(pass.len() >= 8, "admin password must have at least 8 characters");
    let hash = password::hash(pass.to_string()).await?;
    let mut conn = pool.get().await?;
    diesel::insert_into(users::table)
        .values(NewUser {
            username: username.trim().to_string(),
            password_hash: hash.clone(),
            role: "admin".into(),
            active: true,
        })
        .on_conflict(users::username)
        .do_update()
        .set((users::password_hash.eq(hash), users::role.eq("admin"), users::active.eq(true)))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// At start-up: only when no user exists yet, so a configured password never overwrites a changed one.
pub async fn ensure_first(pool: &DbPool, username: &str, pass: &str) -> anyhow::Result<bool> {
    if username.is_empty() {
        return Ok(false);
    }
    let mut conn = pool.get().await?;
    let existing: i64 = users::table.count().get_result(&mut conn).await?;
    drop(conn);
    if existing > 0 {
        return Ok(false);
    }
    create_or_reset(pool, username, pass).await?;
    Ok(true)
}
