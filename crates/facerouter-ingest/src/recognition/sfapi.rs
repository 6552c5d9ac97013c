//! The `sfapi` backend: `POST {SF_API_ADDRESS}/v2/detect?detector=normalized&facen=true&...` with
//! the normalized crop as the body (wire doc §2). Each call has a time limit, failed calls
//! (network error, timeout, 5xx) are retried a bounded number of times, and a circuit breaker
//! answers 503 at once while the service is down.

use std::time::Duration;

use domain::config::{EventFeature, FfSecurity};
use domain::image::ImageKind;
use domain::{ApiError, vector};
use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::breaker::Breaker;
use super::{Probe, Recognition, Recognizer};
use crate::accept::Failure;
use crate::frame_form::features_from_object;

pub struct SfApiBackend {
    client: reqwest::Client,
    detect_url: String,
    retries: u32,
    breaker: Breaker,
    settings: FfSecurity,
}

enum CallError {
    /// Worth retrying and counted by the breaker.
    Transient(String),
    /// The service refused this image: the worker's fault, not the service's.
    Refused(u16, String),
}

impl SfApiBackend {
    pub fn new(config: &domain::Config) -> anyhow::Result<Self> {
        let f = &config.facerouter;
        let client = reqwest::Client::builder().timeout(Duration::from_millis(f.sfapi_timeout_ms)).build()?;
        let base = config.ffsecurity.sf_api_address.trim_end_matches('/');
        Ok(Self {
            client,
            detect_url: format!("{base}/v2/detect?{}", detect_query(&config.ffsecurity)),
            retries: f.sfapi_retries,
            breaker: Breaker::new(f.sfapi_breaker_failures, Duration::from_millis(f.sfapi_breaker_cooldown_ms)),
            settings: config.ffsecurity.clone(),
        })
    }
}

/// Query flags: always the vector, plus the attributes EVENTS_FEATURES keeps.
fn detect_query(settings: &FfSecurity) -> String {
    let mut query = vec![("detector", "normalized"), ("facen", "true")];
    for feature in &settings.events_features {
        query.push(match feature {
            EventFeature::Gender => ("gender", "true"),
            EventFeature::Age => ("age", "true"),
            EventFeature::Emotions => ("emotions", "true"),
            EventFeature::Beard => ("attribute", "beard"),
            EventFeature::Glasses => ("attribute", "glasses3"),
            EventFeature::Liveness => ("attribute", "liveness"),
        });
    }
    query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

impl SfApiBackend {
    async fn call(&self, probe: &Probe) -> Result<Value, CallError> {
        let content_type = match probe.kind {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Webp => "image/webp",
        };
        let response = self
            .client
            .post(&self.detect_url)
            .header("Content-Type", content_type)
            .body(probe.crop.clone())
            .send()
            .await
            .map_err(|e| CallError::Transient(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| CallError::Transient(e.to_string()))?;
        match status {
            200..=299 => serde_json::from_slice(&body).map_err(|e| CallError::Transient(format!("bad JSON: {e}"))),
            400..=499 => Err(CallError::Refused(status, String::from_utf8_lossy(&body).chars().take(200).collect())),
            _ => Err(CallError::Transient(format!("status {status}"))),
        }
    }

    async fn detect(&self, probe: Probe) -> Result<Recognition, Failure> {
        if !self.breaker.allow() {
            let error = ApiError::unavailable("recognition service unavailable (circuit open); retry shortly");
            return Err(Failure::new(error, "recognition_open"));
        }
        let mut attempt = 0;
        let body = loop {
            match self.call(&probe).await {
                Ok(body) => break body,
                Err(CallError::Refused(status, text)) => {
                    self.breaker.success();
                    tracing::info!(status, "recognition service refused a face: {status} {text}");
                    let error = ApiError::bad_param("normalized", "the recognition service cannot read this face crop");
                    return Err(Failure::new(error, "recognition_refused"));
                }
                Err(CallError::Transient(why)) if attempt < self.retries => {
                    attempt += 1;
                    tracing::debug!(attempt, "recognition call failed, retrying: {why}");
                }
                Err(CallError::Transient(why)) => {
                    self.breaker.failure();
                    tracing::warn!(attempts = attempt + 1, "recognition service failed: {why}");
                    let error = ApiError::unavailable("recognition service unavailable; retry shortly");
                    return Err(Failure::new(error, "recognition_failed"));
                }
            }
        };
        self.breaker.success();
        read_face(&body, &self.settings).map_err(|why| {
            tracing::warn!("unreadable answer from the recognition service: {why}");
            Failure::new(
                ApiError::unavailable("recognition service answered nonsense; retry shortly"),
                "recognition_bad",
            )
        })
    }
}

impl Recognizer for SfApiBackend {
    fn recognise(&self, probe: Probe) -> BoxFuture<'_, Result<Recognition, Failure>> {
        Box::pin(self.detect(probe))
    }
}

/// The first face of `{"faces": [...]}`: its `facen` and attributes in the event's shape. No face
/// at all (the crop holds none) is an unmatched face without attributes.
fn read_face(body: &Value, settings: &FfSecurity) -> Result<Recognition, String> {
    let faces = body.get("faces").and_then(Value::as_array).ok_or("no faces array")?;
    let Some(face) = faces.first() else {
        return Ok(Recognition { vector: None, features: Default::default(), quality: None });
    };
    let facen = face.get("facen").and_then(Value::as_str).ok_or("face without facen")?;
    let vector = vector::parse("facen", Some(facen.as_bytes())).map_err(|e| e.desc)?;
    let mut object = Map::new();
    if let Some(g) = face.get("gender") {
        let name = g.get("gender").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
        object.insert("gender".into(), json!({"name": name, "confidence": score(g)}));
    }
    if let Some(age) = face.get("age").and_then(|a| a.as_f64().or_else(|| a.get("age").and_then(Value::as_f64))) {
        object.insert("age".into(), json!({"name": age.round(), "confidence": 1.0}));
    }
    if let Some(best) = face
        .get("emotions")
        .and_then(Value::as_array)
        .and_then(|all| all.iter().max_by(|a, b| score(a).total_cmp(&score(b))))
    {
        let name = best.get("emotion").and_then(Value::as_str).unwrap_or_default();
        object.insert("emotions".into(), json!({"name": name, "confidence": score(best)}));
    }
    // Scores are classed with BEARD_THRESHOLD / LIVENESS_THRESHOLD downstream.
    for key in ["beard", "liveness"] {
        if let Some(v) = face.get(key) {
            object.insert(key.into(), json!(v.as_f64().unwrap_or_else(|| score(v))));
        }
    }
    if let Some(g) = face.get("glasses3").or_else(|| face.get("glasses")) {
        let name = g.get("glasses3").or_else(|| g.get("glasses")).or_else(|| g.get("name")).cloned();
        object.insert("glasses".into(), json!({"name": name.unwrap_or(Value::Null), "confidence": score(g)}));
    }
    let features = features_from_object(object, settings).map_err(|e| e.desc)?;
    Ok(Recognition { vector, features, quality: None })
}

fn score(v: &Value) -> f64 {
    v.get("score").or_else(|| v.get("confidence")).and_then(Value::as_f64).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_wire_shape() {
        let settings = FfSecurity {
            events_features: vec![EventFeature::Gender, EventFeature::Emotions, EventFeature::Beard],
            ..FfSecurity::default()
        };
        let facen = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0_u8, 0, 128, 63, 0, 0, 0, 0]);
        let body = json!({"faces": [{
            "bbox": {"left": 1, "top": 2, "right": 3, "bottom": 4}, "detection_score": 0.99, "facen": facen,
            "gender": {"gender": "FEMALE", "score": 0.9}, "age": 31,
            "emotions": [{"emotion": "neutral", "score": 0.7}, {"emotion": "happy", "score": 0.2}],
            "beard": {"beard": "beard", "score": 0.8}
        }]});
        let face = read_face(&body, &settings).unwrap();
        assert_eq!(face.vector, Some(vec![1.0, 0.0]));
        assert_eq!(face.features.gender(), Some("female"));
        assert_eq!(face.features.emotions(), Some("neutral"));
        assert_eq!(face.features.beard(), Some("beard"));
        assert!(face.features.age.is_none(), "age is not in EVENTS_FEATURES");
        assert!(read_face(&json!({"faces": []}), &settings).unwrap().vector.is_none());
        assert!(read_face(&json!({"nope": 1}), &settings).is_err());
    }
}
