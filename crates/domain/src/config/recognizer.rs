//! `[RECOGNIZER]`: the built-in face recognizer (FACEROUTER.RECOGNITION_BACKEND = "builtin"),
//! used by facerouter-ingest (crops without a vector, full frames) and gateway-api (dossier photos).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Recognizer {
    /// Folder with the converted YuNet and SFace models (scripts/services.sh writes them); empty =
    /// `$HOME/.cache/ffsec/models`.
    #[serde(rename = "MODEL_DIR")]
    #[schema(value_type = String)]
    pub model_dir: PathBuf,
    /// The ONNX Runtime library to load; empty = `libonnxruntime.so` in MODEL_DIR, where the
    /// set-up step unpacks it from the PyPI wheel.
    #[serde(rename = "ORT_DYLIB_PATH")]
    #[schema(value_type = String)]
    pub ort_dylib_path: PathBuf,
    /// Inference threads, each with its own model sessions and one core's worth of work; 0 = one
    /// per core.
    #[serde(rename = "WORKERS")]
    pub workers: usize,
    /// Images waiting for an inference thread; past it a request gets 503 SERVICE_UNAVAILABLE at
    /// once instead of queueing.
    #[serde(rename = "QUEUE")]
    pub queue: usize,
    /// YuNet score (0-1) from which a detection counts as a face.
    #[serde(rename = "DETECTION_THRESHOLD")]
    pub detection_threshold: f32,
    /// Shortest side of a face box, in image pixels, below which a face is refused with
    /// FACE_TOO_SMALL (SFace sees every face at 112×112; far smaller faces give unreliable vectors).
    #[serde(rename = "MIN_FACE_SIZE")]
    pub min_face_size: u32,
    /// Most faces taken from one full frame with mf_selector = "all" (largest first).
    #[serde(rename = "MAX_FACES")]
    pub max_faces: usize,
}

impl Default for Recognizer {
    fn default() -> Self {
        Self {
            model_dir: PathBuf::new(),
            ort_dylib_path: PathBuf::new(),
            workers: 0,
            queue: 16,
            detection_threshold: 0.6,
            min_face_size: 32,
            max_faces: 16,
        }
    }
}

impl Recognizer {
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if self.queue == 0 {
            return Err(("RECOGNIZER.QUEUE", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.detection_threshold) || self.detection_threshold == 0.0 {
            return Err(("RECOGNIZER.DETECTION_THRESHOLD", "must be above 0 and at most 1"));
        }
        if self.max_faces == 0 {
            return Err(("RECOGNIZER.MAX_FACES", "must be at least 1"));
        }
        Ok(())
    }

    /// MODEL_DIR with its default filled in.
    pub fn model_dir(&self) -> PathBuf {
        if !self.model_dir.as_os_str().is_empty() {
            return self.model_dir.clone();
        }
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
        home.join(".cache/ffsec/models")
    }

    /// ORT_DYLIB_PATH with its default filled in.
    pub fn ort_dylib_path(&self) -> PathBuf {
        if self.ort_dylib_path.as_os_str().is_empty() {
            self.model_dir().join("libonnxruntime.so")
        } else {
            self.ort_dylib_path.clone()
        }
    }

    pub fn workers(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}
