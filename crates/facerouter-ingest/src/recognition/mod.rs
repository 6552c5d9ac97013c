//! Recognition backends, chosen by FACEROUTER.RECOGNITION_BACKEND behind one trait: `worker` takes
//! the vector and attribute scores the worker posted; `sfapi` asks the external recognition
//! service for them; `builtin` computes the vector with ffsec's own recognizer.

use bytes::Bytes;
use domain::event::Features;
use domain::image::ImageKind;
use futures_util::future::BoxFuture;

use crate::accept::Failure;

pub mod breaker;
pub mod builtin;
pub mod sfapi;

/// What a backend gets: the normalized face crop and whatever the worker computed itself.
pub struct Probe {
    pub crop: Bytes,
    pub kind: ImageKind,
    pub vector: Option<Vec<f32>>,
    pub features: Features,
}

/// The face's feature vector (L2-normalised; `None` = cannot be matched) and attribute classes.
pub struct Recognition {
    pub vector: Option<Vec<f32>>,
    pub features: Features,
    /// The face quality the backend measured (findface's scale, 0 best); `None` = not measured.
    pub quality: Option<f32>,
}

pub trait Recognizer: Send + Sync {
    fn recognise(&self, probe: Probe) -> BoxFuture<'_, Result<Recognition, Failure>>;
}

/// The worker did the work: pass its vector and attributes through.
pub struct WorkerBackend;

impl Recognizer for WorkerBackend {
    fn recognise(&self, probe: Probe) -> BoxFuture<'_, Result<Recognition, Failure>> {
        Box::pin(async move { Ok(Recognition { vector: probe.vector, features: probe.features, quality: None }) })
    }
}
