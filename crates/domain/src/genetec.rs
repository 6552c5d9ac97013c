//! A client of Genetec Security Center's Web SDK (HTTP; docs/integrations.md lists what we
//! assumed of it): answers are `{"Rsp": {"Status": "Ok"|"Fail"|..., "Result": ...}}`, entities are
//! named `LogicalID(<type>,<n>)`, the caller authenticates with HTTP Basic as `user;appid`. The
//! `q=` expressions are written as the Web SDK docs write them: letters, digits and `(),@=`, all
//! legal in a query string, so they need no escaping.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::config::Genetec;

/// Cameras asked for per report page.
const PAGE_SIZE: usize = 100;
/// Pages read at most by one camera listing (a runaway server cannot loop us forever).
const MAX_PAGES: usize = 1_000;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SdkError {
    /// The HTTP status, when the Web SDK answered.
    pub status: Option<u16>,
    pub message: String,
}

/// A Security Center camera, as a report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SdkCamera {
    #[serde(rename = "Guid", default)]
    pub guid: String,
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "LogicalId")]
    pub logical_id: i32,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Rsp")]
    rsp: Rsp,
}

#[derive(Deserialize)]
struct Rsp {
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "Result", default)]
    result: Value,
}

pub struct WebSdk {
    http: reqwest::Client,
    base: String,
    user: String,
    password: String,
}

impl WebSdk {
    pub fn new(config: &Genetec) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(Duration::from_millis(config.timeout_ms)).no_proxy().build()?;
        let user = if config.application_id.is_empty() {
            config.username.clone()
        } else {
            format!("{};{}", config.username, config.application_id)
        };
        Ok(Self { http, base: config.url.trim_end_matches('/').to_string(), user, password: config.password.clone() })
    }

    /// Raises alarm `alarm` with `source` (a camera's logical ID) as its source, carrying
    /// `context` as the JSON body. Returns the HTTP status of the success.
    pub async fn trigger_alarm(&self, alarm: u32, source: Option<i32>, context: &Value) -> Result<u16, SdkError> {
        let mut query = format!("TriggerAlarm(LogicalID(Alarm,{alarm})");
        if let Some(source) = source {
            query.push_str(&format!(",LogicalID(Camera,{source})"));
        }
        query.push(')');
        let request = self.http.post(format!("{}/alarm?q={query}", self.base)).json(context);
        self.call(request).await.map(|(status, _)| status)
    }

    /// Every camera Security Center has, page by page.
    pub async fn cameras(&self) -> Result<Vec<SdkCamera>, SdkError> {
        let mut cameras = Vec::new();
        for page in 1..=MAX_PAGES {
            let query = format!("EntityTypes@Camera,Page={page},PageSize={PAGE_SIZE},ReturnFields@Guid@Name@LogicalId");
            let request = self.http.get(format!("{}/report/EntityConfiguration?q={query}", self.base));
            let (_, result) = self.call(request).await?;
            let batch: Vec<SdkCamera> = serde_json::from_value(result)
                .map_err(|e| SdkError { status: None, message: format!("unreadable camera list: {e}") })?;
            let last = batch.len() < PAGE_SIZE;
            cameras.extend(batch);
            if last {
                break;
            }
        }
        Ok(cameras)
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<(u16, Value), SdkError> {
        let response = request
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .map_err(|e| SdkError { status: None, message: format!("Web SDK unreachable: {e}") })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let envelope: Option<Envelope> = serde_json::from_str(&text).ok();
        match envelope {
            Some(Envelope { rsp }) if (200..300).contains(&status) && rsp.status == "Ok" => Ok((status, rsp.result)),
            Some(Envelope { rsp }) => Err(SdkError {
                status: Some(status),
                message: format!("Web SDK answered {status} with status {}: {}", rsp.status, rsp.result),
            }),
            None => {
                Err(SdkError { status: Some(status), message: format!("Web SDK answered {status} without an Rsp") })
            }
        }
    }
}
