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

/// The detector scores every posted face carries.
const DETECTOR_PARAMS: &str = r#"{"score": -0.0009, "direction_score": -0.57}"#;

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
            .text("detectorParams", DETECTOR_PARAMS)
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

    /// [`Face::form`] as one finished body with its content type, laid out as reqwest lays out
    /// a `Form` (the same parts in the same order, file parts with a filename and no content
    /// type, as findface-video-worker sends them), but built in one buffer: the load generator
    /// then sends one body instead of a stream of a dozen small chunks per post.
    pub fn body(&self) -> (String, Vec<u8>) {
        let boundary = format!("{:016x}-{:016x}", rand::random::<u64>(), rand::random::<u64>());
        let mut body = Vec::with_capacity(self.crop.len() + self.photo.as_ref().map_or(0, Vec::len) + 1024);
        let mut part = |name: &str, file: bool, bytes: &[u8]| {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
            );
            if file {
                body.extend_from_slice(format!("; filename=\"{name}\"").as_bytes());
            }
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        };
        part("cam_id", false, self.cam_id.as_bytes());
        part("bbox", false, self.bbox.as_bytes());
        part("detectorParams", false, DETECTOR_PARAMS.as_bytes());
        part("bs_type", false, b"overall");
        if let Some(ts) = &self.timestamp {
            part("timestamp", false, ts.as_bytes());
        }
        if let Some(name) = self.crop_name {
            part(name, true, &self.crop);
        }
        if let Some(photo) = &self.photo {
            part("photo", true, photo);
        }
        if let Some(facen) = &self.facen {
            part("facen", false, facen.as_bytes());
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
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
