//! Helpers the ingest tests share: enrolling dossier faces through gateway-api, reading labelled
//! metrics, and waiting for stored events.

use std::time::Duration;

use ffsec_tests::worker::{facen, jpeg};
use ffsec_tests::{Running, Stack, wait_until};
use serde_json::{Value, json};

/// A unit vector mixing `axis` (weight `cos`) and `other` (the rest): its cosine to the unit
/// vector along `axis` is exactly `cos`.
pub fn at_cosine(dim: usize, axis: usize, other: usize, cos: f32) -> Vec<f32> {
    let mut v = vec![0.0; dim];
    v[axis] = cos;
    v[other] = (1.0 - cos * cos).sqrt();
    v
}

pub fn axis(dim: usize, axis: usize) -> Vec<f32> {
    at_cosine(dim, axis, (axis + 1) % dim, 1.0)
}

/// A dossier on `lists` with one enrolled face whose vector is `vector`; returns the dossier id.
pub async fn enroll(stack: &Stack, name: &str, lists: &[i64], vector: &[f32]) -> i64 {
    let dossier = stack.create("/dossiers/", json!({"name": name, "dossier_lists": lists})).await.unwrap();
    let dossier_id = dossier["id"].as_i64().unwrap();
    stack.enroll_face(dossier_id, facen(vector), jpeg(7)).await.unwrap();
    dossier_id
}

/// The sum of every sample of `name` whose labels include all of `labels`.
pub async fn metric_with(running: &Running, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = reqwest::get(running.url("/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && l.split([' ', '{']).next() == Some(name))
        .filter(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until gateway-api has stored the event `id`, and returns it.
pub async fn stored_event(stack: &Stack, id: &str) -> Value {
    wait_until(&format!("event {id} to be stored"), Duration::from_secs(10), || async {
        let response = stack
            .client
            .get(stack.gateway.url(&format!("/events/faces/{id}/")))
            .header("Authorization", format!("Token {}", stack.token))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json::<Value>().await.ok()
    })
    .await
    .unwrap()
}

pub async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
