//! The video manager's job API, as its public docs describe it (docs/integrations.md lists what we
//! assumed): `POST|PATCH|DELETE /job/<id>`, `GET /jobs`, a job object with `status` and
//! `status_msg`, and errors as a non-2xx answer with `{"code", "desc"}`.

use std::time::Duration;

use domain::Config;
use domain::models::Camera;
use serde::Deserialize;
use serde_json::{Value, json};

/// What the video manager said of a job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JobState {
    /// The job id: the camera id, as a string.
    #[serde(default, deserialize_with = "id_text")]
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub status_msg: String,
}

#[derive(Debug)]
pub enum CallError {
    /// It answered and refused: its error code (`TOO_MANY_CAMERAS`, `NOT_FOUND`, `CONFLICT`...).
    Refused { status: u16, code: String, desc: String },
    /// No answer, a timeout, a 5xx without a code, or a body we cannot read: try again later.
    Unreachable(String),
}

impl CallError {
    pub fn is_code(&self, wanted: &str) -> bool {
        matches!(self, Self::Refused { code, .. } if code == wanted)
    }
}

/// A job id as text, whether the video manager writes it as a string or a number.
fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        other => other.to_string(),
    })
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    #[serde(default)]
    desc: String,
}

pub struct VmClient {
    http: reqwest::Client,
    base: String,
    router_url: String,
    router_headers: Vec<String>,
}

impl VmClient {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.video_manager.timeout_ms))
            .no_proxy()
            .build()?;
        Ok(Self {
            http,
            base: domain::config::http_base(&config.ffsecurity.video_manager_address),
            router_url: domain::config::router_url(&config.ffsecurity.router_url),
            // Workers send these with every frame they post to router_url.
            router_headers: vec![format!("Authorization: Token {}", config.ffsecurity.video_detector_token)],
        })
    }

    /// The job of a camera: its stream settings first, so they can never replace what routes
    /// the faces back to us.
    pub fn job_body(&self, camera: &Camera) -> Value {
        let mut body = match &camera.stream_settings {
            Value::Object(settings) => settings.clone(),
            _ => serde_json::Map::new(),
        };
        let ours = json!({
            "stream_url": camera.url,
            "labels": {"camera": camera.id.to_string(), "camera_group": camera.group_id.to_string()},
            "single_pass": false,
            "active": camera.active,
            "router_url": self.router_url,
            "router_headers": self.router_headers,
        });
        if let Value::Object(ours) = ours {
            body.extend(ours);
        }
        Value::Object(body)
    }

    fn url(&self, camera_id: i64) -> String {
        format!("{}/job/{camera_id}", self.base)
    }

    pub async fn create(&self, camera: &Camera) -> Result<JobState, CallError> {
        let request = self.http.post(self.url(camera.id)).json(&self.job_body(camera));
        read_job(request.send().await).await
    }

    pub async fn update(&self, camera: &Camera) -> Result<JobState, CallError> {
        let request = self.http.patch(self.url(camera.id)).json(&self.job_body(camera));
        read_job(request.send().await).await
    }

    /// Every job the video manager holds (`GET /jobs`): one call reads back all statuses.
    pub async fn jobs(&self) -> Result<Vec<JobState>, CallError> {
        let response = refusal(self.http.get(format!("{}/jobs", self.base)).send().await).await?;
        response.json::<Vec<JobState>>().await.map_err(|e| CallError::Unreachable(format!("unreadable job list: {e}")))
    }

    /// A job already gone counts as deleted.
    pub async fn delete(&self, camera_id: i64) -> Result<(), CallError> {
        let response = self.http.delete(self.url(camera_id)).send().await;
        match refusal(response).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_code("NOT_FOUND") => Ok(()),
            Err(CallError::Refused { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// A 2xx response, or the error it stands for.
async fn refusal(response: reqwest::Result<reqwest::Response>) -> Result<reqwest::Response, CallError> {
    let response = response.map_err(|e| CallError::Unreachable(e.to_string()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => Err(CallError::Refused { status: status.as_u16(), code: body.code, desc: body.desc }),
        Err(_) if status.is_server_error() => Err(CallError::Unreachable(format!("video manager answered {status}"))),
        Err(_) => Err(CallError::Refused {
            status: status.as_u16(),
            code: format!("HTTP_{}", status.as_u16()),
            desc: String::new(),
        }),
    }
}

async fn read_job(response: reqwest::Result<reqwest::Response>) -> Result<JobState, CallError> {
    let response = refusal(response).await?;
    response.json::<JobState>().await.map_err(|e| CallError::Unreachable(format!("unreadable job object: {e}")))
}
