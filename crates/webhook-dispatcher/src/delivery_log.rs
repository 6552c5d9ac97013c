//! The delivery log: every attempt, written by a background task in multi-row batches (one row
//! per attempt in its own transaction is what caps Svix near 1k deliveries/s), and expired after
//! WEBHOOKS.LOG_MAX_AGE_DAYS (as is the Genetec alarm log).

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::db::DbPool;
use domain::models::NewWebhookDelivery;
use domain::schema::{genetec_alarms, webhook_deliveries};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const BATCH: usize = 500;
const QUEUE: usize = 20_000;
const EXPIRY_EVERY: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct DeliveryLog {
    rows: mpsc::Sender<NewWebhookDelivery>,
}

impl DeliveryLog {
    /// Starts the writer; it drains what is queued once every `DeliveryLog` handle is dropped.
    pub fn start(pool: DbPool) -> (Self, tokio::task::JoinHandle<()>) {
        let (rows, receiver) = mpsc::channel(QUEUE);
        (Self { rows }, tokio::spawn(write_rows(pool, receiver)))
    }

    /// Queues a row. The log is for operators: when the writer is far behind the row is dropped
    /// (and said so) rather than holding a delivery back.
    pub fn record(&self, row: NewWebhookDelivery) {
        if let Err(e) = self.rows.try_send(row) {
            tracing::warn!(error = %e, "delivery log queue full, dropping a log row");
        }
    }
}

async fn write_rows(pool: DbPool, mut receiver: mpsc::Receiver<NewWebhookDelivery>) {
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let result = async {
            let mut conn = pool.get().await?;
            diesel::insert_into(webhook_deliveries::table).values(&batch).execute(&mut conn).await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, rows = batch.len(), "cannot write {} delivery log rows: {e}", batch.len());
        }
        batch.clear();
    }
}

pub async fn run_expiry(pool: DbPool, max_age_days: u32, cancel: CancellationToken) {
    loop {
        let cutoff = Utc::now() - chrono::Duration::days(i64::from(max_age_days));
        let result = async {
            let mut conn = pool.get().await?;
            let n = diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::created_date.lt(cutoff)))
                .execute(&mut conn)
                .await?;
            // The Genetec alarm log keeps as long as the webhooks' (an empty table when it is off).
            let alarms = diesel::delete(genetec_alarms::table.filter(genetec_alarms::created_date.lt(cutoff)))
                .execute(&mut conn)
                .await?;
            anyhow::Ok(n + alarms)
        }
        .await;
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "expired {n} delivery log rows"),
            Err(e) => tracing::warn!(error = %e, "cannot expire delivery log rows: {e}"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(EXPIRY_EVERY) => {}
        }
    }
}
