//! One signed HTTP POST to one hook, and its line in the delivery log.

use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use domain::db::DbPool;
use domain::models::NewWebhookDelivery;
use domain::schema::webhook_deliveries;
use uuid::Uuid;

use crate::hooks_cache::ActiveHook;
use crate::signing;

/// Response bodies are not read; this much of an error text is kept in the log.
const ERROR_TEXT_LIMIT: usize = 500;

#[derive(Debug)]
pub struct Outcome {
    pub success: bool,
    pub status: Option<u16>,
    pub error: String,
    pub duration: Duration,
}

/// A client that never follows redirects (a 3xx is a failure to retry, not a new target).
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("ffsec-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

pub async fn send(client: &reqwest::Client, hook: &ActiveHook, message_id: &str, body: Vec<u8>) -> Outcome {
    let started = Instant::now();
    let timestamp = chrono::Utc::now().timestamp();
    let signature = signing::sign(&hook.key, message_id, timestamp, &body);
    let result = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("webhook-id", message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let duration = started.elapsed();
    match result {
        Ok(response) => {
            let status = response.status();
            Outcome {
                success: status.is_success(),
                status: Some(status.as_u16()),
                error: if status.is_success() { String::new() } else { format!("HTTP {status}") },
                duration,
            }
        }
        Err(e) => {
            let mut error = e.to_string();
            error.truncate(ERROR_TEXT_LIMIT);
            Outcome { success: false, status: None, error, duration }
        }
    }
}

pub async fn log(
    pool: &DbPool,
    hook: &ActiveHook,
    message_id: &str,
    event_ids: Vec<Uuid>,
    attempt: u32,
    outcome: &Outcome,
) {
    let row = NewWebhookDelivery {
        hook_id: hook.id,
        message_id: message_id.to_string(),
        event_ids,
        attempt: i32::try_from(attempt).unwrap_or(i32::MAX),
        success: outcome.success,
        response_status: outcome.status.map(i32::from),
        error: outcome.error.clone(),
        duration_ms: i32::try_from(outcome.duration.as_millis()).unwrap_or(i32::MAX),
    };
    let result = async {
        let mut conn = pool.get().await?;
        diesel::insert_into(webhook_deliveries::table).values(row).execute(&mut conn).await?;
        anyhow::Ok(())
    }
    .await;
    // The log is for operators; a delivery is not held back because its log line could not be written.
    if let Err(e) = result {
        tracing::warn!(hook.id = hook.id, error = %e, "cannot write delivery log for hook {}: {e}", hook.id);
    }
}
