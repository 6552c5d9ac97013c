//! The three services started together against one [`TestEnv`], plus an admin API client.

use std::time::Duration;

use serde_json::Value;

use crate::env::{ADMIN_PASSWORD, ADMIN_USER, TestEnv};
use crate::service::{Running, bind, metric};
use crate::wait_until;

pub struct Stack {
    pub gateway: Running,
    pub ingest: Running,
    pub dispatcher: Running,
    pub client: reqwest::Client,
    pub token: String,
}

impl Stack {
    pub async fn start(env: &mut TestEnv) -> anyhow::Result<Self> {
        let gateway_listener = bind()?;
        env.config.ffsecurity.external_address = format!("http://{}", gateway_listener.local_addr()?);
        // gateway-api first: it applies the migrations the others read.
        let gateway = Running::start(gateway_listener, env.config.clone(), gateway_api::run)?;
        gateway.wait_healthy().await?;
        let ingest = Running::start(bind()?, env.config.clone(), facerouter_ingest::run)?;
        let dispatcher = Running::start(bind()?, env.config.clone(), webhook_dispatcher::run)?;
        ingest.wait_healthy().await?;
        dispatcher.wait_healthy().await?;
        let client = reqwest::Client::new();
        let token = login(&client, &gateway, ADMIN_USER, ADMIN_PASSWORD).await?;
        Ok(Self { gateway, ingest, dispatcher, client, token })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .client
            .get(self.gateway.url(path))
            .header("Authorization", format!("Token {}", self.token))
            .send()
            .await?;
        anyhow::ensure!(response.status().is_success(), "GET {path}: {}", response.status());
        Ok(response.json().await?)
    }

    /// Any request as the admin, with an optional JSON body; the response as it came.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self
            .client
            .request(method, self.gateway.url(path))
            .header("Authorization", format!("Token {}", self.token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        Ok(request.send().await?)
    }

    /// POSTs JSON as the admin and returns the created object.
    pub async fn create(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(self.gateway.url(path))
            .header("Authorization", format!("Token {}", self.token))
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status.as_u16() == 201, "POST {path}: {status} {text}");
        Ok(serde_json::from_str(&text)?)
    }

    /// Enrols a face in a dossier as the admin (`POST /dossier-faces/` with its feature vector, as
    /// sf-api's base64 `facen`, and a photo) and returns the created face.
    pub async fn enroll_face(&self, dossier: i64, facen: String, photo: Vec<u8>) -> anyhow::Result<Value> {
        let form = reqwest::multipart::Form::new()
            .text("dossier", dossier.to_string())
            .text("facen", facen)
            .part("source_photo", reqwest::multipart::Part::bytes(photo).file_name("photo.jpg"));
        let response = self
            .client
            .post(self.gateway.url("/dossier-faces/"))
            .header("Authorization", format!("Token {}", self.token))
            .multipart(form)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status.as_u16() == 201, "POST /dossier-faces/: {status} {text}");
        Ok(serde_json::from_str(&text)?)
    }

    /// Waits until ingest's gallery holds `cameras` cameras and `faces` faces.
    pub async fn wait_gallery(&self, cameras: f64, faces: f64) -> anyhow::Result<()> {
        wait_until("ingest to load the gallery", Duration::from_secs(10), || async {
            let c = metric(&self.ingest, "ffsec_ingest_gallery_cameras").await?;
            let f = metric(&self.ingest, "ffsec_ingest_gallery_faces").await?;
            (c >= cameras && f >= faces).then_some(())
        })
        .await
    }

    /// Waits until the dispatcher has `hooks` active hooks.
    pub async fn wait_hooks(&self, hooks: f64) -> anyhow::Result<()> {
        wait_until("the dispatcher to load hooks", Duration::from_secs(10), || async {
            (metric(&self.dispatcher, "ffsec_webhook_active_hooks").await? >= hooks).then_some(())
        })
        .await
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.ingest.stop().await?;
        self.dispatcher.stop().await?;
        self.gateway.stop().await
    }
}

pub async fn login(client: &reqwest::Client, gateway: &Running, user: &str, password: &str) -> anyhow::Result<String> {
    let response = client
        .post(gateway.url("/auth/login/"))
        .basic_auth(user, Some(password))
        .json(&serde_json::json!({"video_auth_token": "", "uuid": "test", "mobile": false, "device_info": {}}))
        .send()
        .await?;
    anyhow::ensure!(response.status().is_success(), "login failed: {}", response.status());
    let body: Value = response.json().await?;
    body["token"].as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("no token in {body}"))
}
