//! Queue depths for the metrics: a passive declare of each dispatcher queue every few seconds.

use std::time::Duration;

use domain::bus::{Bus, BusState};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use tokio_util::sync::CancellationToken;

use crate::metrics::DispatcherMetrics;

const EVERY: Duration = Duration::from_secs(5);

pub async fn run(bus: Bus, metrics: DispatcherMetrics, cancel: CancellationToken) {
    let names = bus.names().clone();
    let mut queues =
        vec![("events".to_string(), names.webhooks_queue()), ("deliveries".to_string(), names.deliveries_queue())];
    queues.extend(names.retry_delays_ms().iter().map(|ms| (format!("retry_{ms}"), names.retry_queue(*ms))));
    loop {
        if let BusState::Up(link) = bus.state()
            && let Ok(channel) = link.connection.create_channel().await
        {
            for (label, queue) in &queues {
                let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
                if let Ok(q) = channel.queue_declare(queue.as_str().into(), passive, FieldTable::default()).await {
                    metrics.queue_depth.with_label_values(&[label]).set(i64::from(q.message_count()));
                }
            }
            let _ = channel.close(200, "done".into()).await;
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}
