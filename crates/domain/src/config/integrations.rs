//! The integration switch (`INTEGRATIONS`) and the settings of each integration. An integration not
//! listed starts no task and makes no call; one that is listed but misconfigured stops start-up.

use serde::{Deserialize, Serialize};

/// An integration that can be switched on in `INTEGRATIONS`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Integration {
    /// Keeps one job per camera in findface-video-manager (gateway-api).
    VideoManager,
    /// Raises a Security Center alarm for matched faces on linked cameras (webhook-dispatcher),
    /// and imports Security Center cameras (gateway-api).
    Genetec,
}

/// Genetec Security Center through its Web SDK, on when `INTEGRATIONS` lists `genetec`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Genetec {
    /// The Web SDK's base URL: the Security Center server, its Web SDK port and base path.
    #[serde(rename = "URL")]
    pub url: String,
    /// Security Center user the Web SDK is called as.
    #[serde(rename = "USERNAME")]
    pub username: String,
    /// That user's password.
    #[serde(rename = "PASSWORD")]
    pub password: String,
    /// The application ID (SDK certificate) appended to the user name as `user;appid`; empty = none.
    #[serde(rename = "APPLICATION_ID")]
    pub application_id: String,
    /// Logical ID of the Security Center alarm raised for a matched face.
    #[serde(rename = "ALARM")]
    pub alarm: u32,
    /// Cameras in the camera group of this name are linked to Genetec (besides cameras whose
    /// `genetec_camera` is set); "import cameras" creates them in it.
    #[serde(rename = "CAMERA_GROUP")]
    pub camera_group: String,
    /// At most one alarm per camera and dossier within this many seconds; 0 = no limit.
    #[serde(rename = "RATE_LIMIT_SECONDS")]
    pub rate_limit_seconds: u64,
    /// Waits before each retry of a failed alarm, in milliseconds; after the last one it is given up.
    #[serde(rename = "RETRY_DELAYS_MS")]
    pub retry_delays_ms: Vec<u64>,
    /// Time limit of one call to the Web SDK, in milliseconds.
    #[serde(rename = "TIMEOUT_MS")]
    pub timeout_ms: u64,
}

impl Default for Genetec {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:4590/WebSdk".into(),
            username: String::new(),
            password: String::new(),
            application_id: String::new(),
            alarm: 0,
            camera_group: "Genetec".into(),
            rate_limit_seconds: 60,
            retry_delays_ms: vec![1_000, 5_000, 30_000],
            timeout_ms: 5_000,
        }
    }
}

/// The video manager sync (gateway-api), on when `INTEGRATIONS` lists `video_manager`. It calls
/// `http://<FFSECURITY.VIDEO_MANAGER_ADDRESS>/job/<camera id>`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct VideoManager {
    /// How often cameras whose job is not in step are pushed again (camera writes of this replica
    /// push at once), in milliseconds.
    #[serde(rename = "SYNC_INTERVAL_MS")]
    pub sync_interval_ms: u64,
    /// How often each job's status is read back, in milliseconds.
    #[serde(rename = "STATUS_INTERVAL_MS")]
    pub status_interval_ms: u64,
    /// Time limit of one call to the video manager, in milliseconds.
    #[serde(rename = "TIMEOUT_MS")]
    pub timeout_ms: u64,
}

impl Default for VideoManager {
    fn default() -> Self {
        Self { sync_interval_ms: 5_000, status_interval_ms: 10_000, timeout_ms: 5_000 }
    }
}

/// `host:port` or a URL, as the seed writes addresses, made an http URL without a trailing slash.
pub fn http_base(address: &str) -> String {
    let address = address.trim().trim_end_matches('/');
    if address.starts_with("http://") || address.starts_with("https://") {
        address.to_string()
    } else {
        format!("http://{address}")
    }
}

/// The URL video workers post faces to, from FFSECURITY.ROUTER_URL: the address of
/// facerouter-ingest (`host:port` or a URL); the frame path is added when the value has no path.
pub fn router_url(router: &str) -> String {
    let base = http_base(router);
    let after_scheme = base.split_once("://").map_or(base.as_str(), |(_, rest)| rest);
    if after_scheme.contains('/') { base } else { format!("{base}/video-detector/frame") }
}

impl super::Config {
    pub fn integration_on(&self, integration: Integration) -> bool {
        self.integrations.contains(&integration)
    }

    /// What a listed integration needs, as (key, reason) of the first thing missing.
    pub(super) fn validate_integrations(&self) -> Result<(), (&'static str, &'static str)> {
        if self.integration_on(Integration::VideoManager) {
            let ff = &self.ffsecurity;
            if ff.video_manager_address.trim().is_empty() {
                return Err((
                    "FFSECURITY.VIDEO_MANAGER_ADDRESS",
                    "INTEGRATIONS lists video_manager, which needs the video manager's address",
                ));
            }
            if ff.router_url.trim().is_empty() {
                return Err((
                    "FFSECURITY.ROUTER_URL",
                    "INTEGRATIONS lists video_manager, which needs the address workers post faces to",
                ));
            }
            if ff.video_detector_token.trim().is_empty() {
                return Err((
                    "FFSECURITY.VIDEO_DETECTOR_TOKEN",
                    "INTEGRATIONS lists video_manager, which hands this token to the workers in each job",
                ));
            }
            let vm = &self.video_manager;
            for (key, value) in [
                ("VIDEO_MANAGER.SYNC_INTERVAL_MS", vm.sync_interval_ms),
                ("VIDEO_MANAGER.STATUS_INTERVAL_MS", vm.status_interval_ms),
                ("VIDEO_MANAGER.TIMEOUT_MS", vm.timeout_ms),
            ] {
                if value == 0 {
                    return Err((key, "must be at least 1"));
                }
            }
        }
        if self.integration_on(Integration::Genetec) {
            let g = &self.genetec;
            if !g.url.starts_with("http://") && !g.url.starts_with("https://") {
                return Err((
                    "GENETEC.URL",
                    "INTEGRATIONS lists genetec, which needs the Web SDK's http:// or https:// URL",
                ));
            }
            if g.username.trim().is_empty() {
                return Err(("GENETEC.USERNAME", "INTEGRATIONS lists genetec, which needs a Security Center user"));
            }
            if g.alarm == 0 {
                return Err((
                    "GENETEC.ALARM",
                    "INTEGRATIONS lists genetec, which needs the logical ID of the alarm to raise",
                ));
            }
            if g.camera_group.trim().is_empty() {
                return Err(("GENETEC.CAMERA_GROUP", "must not be empty"));
            }
            if g.timeout_ms == 0 || g.retry_delays_ms.contains(&0) {
                return Err((
                    "GENETEC.TIMEOUT_MS",
                    "GENETEC.TIMEOUT_MS and every GENETEC.RETRY_DELAYS_MS must be at least 1",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_urls() {
        assert_eq!(http_base("10.0.0.5:18810"), "http://10.0.0.5:18810");
        assert_eq!(http_base("http://vm:18810/"), "http://vm:18810");
        assert_eq!(router_url("10.0.0.2:18300"), "http://10.0.0.2:18300/video-detector/frame");
        assert_eq!(router_url("https://ingest.example/custom/frame"), "https://ingest.example/custom/frame");
    }
}
