//! API tokens: 32 random bytes shown once to the client; only their SHA-256 is stored.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::db::DbConn;
use domain::models::{NewApiToken, User};
use domain::schema::{api_tokens, users};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub async fn issue(conn: &mut DbConn, user_id: i64, ttl_hours: u32) -> QueryResult<(String, DateTime<Utc>)> {
    let mut raw = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = hex::encode(raw);
    let expires_date = Utc::now() + Duration::hours(i64::from(ttl_hours));
    diesel::insert_into(api_tokens::table)
        .values(NewApiToken { user_id, token_hash: digest(&token), expires_date })
        .execute(conn)
        .await?;
    Ok((token, expires_date))
}

/// The active user a live token belongs to.
pub async fn lookup(conn: &mut DbConn, token: &str) -> QueryResult<Option<User>> {
    api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(digest(token)))
        .filter(api_tokens::expires_date.gt(Utc::now()))
        .filter(users::active.eq(true))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn revoke(conn: &mut DbConn, token: &str) -> QueryResult<usize> {
    diesel::delete(api_tokens::table.filter(api_tokens::token_hash.eq(digest(token)))).execute(conn).await
}
