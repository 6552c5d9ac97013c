//! The `builtin` backend: a worker crop without a vector goes through ffsec's own recognizer
//! (domain::recognizer) on its bounded inference pool; a crop that comes with the worker's vector
//! is passed through, so mixed fleets keep working.

use std::sync::Arc;

use domain::recognizer::pool::Pool;
use domain::recognizer::{RecognizeError, Select};
use futures_util::future::BoxFuture;

use super::{Probe, Recognition, Recognizer};
use crate::accept::Failure;

pub struct BuiltinBackend {
    pub pool: Arc<Pool>,
}

impl Recognizer for BuiltinBackend {
    fn recognise(&self, probe: Probe) -> BoxFuture<'_, Result<Recognition, Failure>> {
        Box::pin(async move {
            if probe.vector.is_some() {
                return Ok(Recognition { vector: probe.vector, features: probe.features, quality: None });
            }
            let faces = self.pool.faces(probe.crop, Select::Biggest).await.map_err(|e| failure(&e, "normalized"))?;
            let face = faces.into_iter().next().ok_or_else(|| failure(&RecognizeError::NoFace, "normalized"))?;
            Ok(Recognition { vector: Some(face.vector), features: probe.features, quality: Some(face.quality.score) })
        })
    }
}

/// The client answer, counted in `ffsec_ingest_frames_total` under a reason of its own.
pub fn failure(error: &RecognizeError, param: &str) -> Failure {
    let reason = match error {
        RecognizeError::BadImage(_) => "bad_image",
        RecognizeError::NoFace => "no_face",
        RecognizeError::NoFaceInRoi { .. } | RecognizeError::RoiOutside { .. } => "roi",
        RecognizeError::TooSmall { .. } => "face_too_small",
        RecognizeError::Saturated => "recognizer_busy",
        RecognizeError::Engine(_) => "recognizer_error",
    };
    Failure::new(error.to_api(param), reason)
}
