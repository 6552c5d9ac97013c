//! A FindFace-style video worker: posts faces as multipart forms the way findface-video-worker does
//! (parts without a content type, images identified by their bytes).

use base64::Engine;
use reqwest::multipart::{Form, Part};

/// The smallest byte sequence our sniffer takes for a JPEG; nothing on the path decodes it.
pub fn jpeg(marker: u8) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00];
    bytes.extend(std::iter::repeat_n(marker, 64));
    bytes.extend([0xFF, 0xD9]);
    bytes
}

/// A feature vector as base64 of little-endian f32, the sf-api `facen` encoding.
pub fn facen(vector: &[f32]) -> String {
    let raw: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// A unit vector along `axis` in `dim` dimensions, with a little of `noise_axis` mixed in.
pub fn vector(dim: usize, axis: usize, noise_axis: usize, noise: f32) -> Vec<f32> {
    let mut v = vec![0.0; dim];
    v[axis] = 1.0;
    v[noise_axis] += noise;
    v
}

pub struct Face {
    pub cam_id: String,
    pub bbox: String,
    pub timestamp: Option<String>,
    pub facen: Option<String>,
    /// `normalized`, `face0` or `None` to leave the crop out.
    pub crop_name: Option<&'static str>,
    pub crop: Vec<u8>,
    pub photo: Option<Vec<u8>>,
}

impl Face {
    pub fn new(cam_id: i64, facen: Option<String>) -> Self {
        Self {
            cam_id: cam_id.to_string(),
            bbox: "[[10, 20, 110, 140]]".into(),
            timestamp: Some("2026-11-26T10:00:00".into()),
            facen,
            crop_name: Some("normalized"),
            crop: jpeg(1),
            photo: Some(jpeg(2)),
        }
    }

    pub fn form(&self) -> Form {
        let file = |name: &'static str, bytes: Vec<u8>| Part::bytes(bytes).file_name(name);
        let mut form = Form::new()
            .text("cam_id", self.cam_id.clone())
            .text("bbox", self.bbox.clone())
            .text("detectorParams", r#"{"score": -0.0009, "direction_score": -0.57}"#)
            .text("bs_type", "overall");
        if let Some(ts) = &self.timestamp {
            form = form.text("timestamp", ts.clone());
        }
        if let Some(name) = self.crop_name {
            form = form.part(name, file(name, self.crop.clone()));
        }
        if let Some(photo) = &self.photo {
            form = form.part("photo", file("photo", photo.clone()));
        }
        if let Some(facen) = &self.facen {
            form = form.text("facen", facen.clone());
        }
        form
    }

    pub async fn post(
        &self,
        client: &reqwest::Client,
        url: &str,
        token: Option<&str>,
    ) -> reqwest::Result<reqwest::Response> {
        let mut request = client.post(url).multipart(self.form());
        if let Some(token) = token {
            request = request.header("Authorization", format!("Token {token}"));
        }
        request.send().await
    }
}
