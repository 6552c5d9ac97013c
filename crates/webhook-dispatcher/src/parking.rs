//! Group parking. New events a hook cannot take now (it is failing, or its lane stays full) are
//! parked together: up to GROUP events per hook, gathered for up to LINGER, go into the delay queue
//! as one message. A dead hook beside a healthy one then costs one broker write per GROUP events
//! instead of one per event. Such a group is not a batch: when it comes back it is split into its
//! events again, each delivered (and batched) by the hook's lane as if new.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::messages::DeliveryRetry;
use tokio::sync::oneshot;

use crate::deliverer::Deliverer;
use crate::lanes::{Item, Job};

const GROUP: usize = 200;
const LINGER: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Group {
    items: Vec<Item>,
    dones: Vec<oneshot::Sender<bool>>,
    deferrals: u32,
    hold: Option<Duration>,
}

#[derive(Default)]
pub struct Parking {
    groups: Mutex<HashMap<i64, Group>>,
}

/// A parked group's `message_id`: empty, since its events get theirs when they are delivered.
pub fn is_group(message_id: &str) -> bool {
    message_id.is_empty()
}

impl Parking {
    /// Adds a fresh job to its hook's group; `job.done` fires when the group is parked.
    pub fn defer(self: &Arc<Self>, deliverer: &Arc<Deliverer>, hook_id: i64, job: Job, hold: Option<Duration>) {
        let (first, full) = {
            let Ok(mut groups) = self.groups.lock() else {
                let _ = job.done.send(false);
                return;
            };
            let group = groups.entry(hook_id).or_default();
            let first = group.items.is_empty();
            group.items.extend(job.items);
            group.dones.push(job.done);
            group.deferrals = group.deferrals.max(job.deferrals);
            group.hold = group.hold.max(hold);
            (first, group.items.len() >= GROUP)
        };
        if first || full {
            let (parking, deliverer) = (self.clone(), deliverer.clone());
            tokio::spawn(async move {
                if !full {
                    tokio::time::sleep(LINGER).await;
                }
                parking.flush(&deliverer, hook_id).await;
            });
        }
    }

    async fn flush(&self, deliverer: &Deliverer, hook_id: i64) {
        let group = match self.groups.lock() {
            Ok(mut groups) => groups.remove(&hook_id),
            Err(_) => None,
        };
        let Some(group) = group.filter(|g| !g.items.is_empty()) else { return };
        let retry = DeliveryRetry {
            hook_id,
            message_id: String::new(),
            attempts: 0,
            deferrals: group.deferrals + 1,
            events: group.items.iter().map(|i| (*i.event).clone()).collect(),
        };
        let step = retry.deferrals.max(deliverer.failures(hook_id));
        let parked = deliverer.park(&retry, step, group.hold).await;
        for done in group.dones {
            let _ = done.send(parked);
        }
    }
}
