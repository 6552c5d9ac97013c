//! The webhook body: a JSON array of full event objects in the vendor's nested shape (wire doc §5):
//! `camera: {id, name}`, `matched_dossier: {id, name}` or null, absolute media URLs.

use domain::event::{FaceEvent, json_f32};
use domain::media_link::{MediaSigner, unix_now};
use serde_json::{Value, json};

/// How media links in webhook bodies are written: absolute, from EXTERNAL_ADDRESS, and signed
/// like gateway-api's own (SECRET_KEY shared) so a receiver can fetch the images without a token.
/// A retry renders its body again, so its links are fresh however long the hook was down.
pub struct MediaLinks {
    pub base: String,
    /// None when SECRET_KEY is empty: gateway-api then signs with a key of its own, which no
    /// other service knows, and receivers need a token to fetch images.
    pub signer: Option<MediaSigner>,
}

impl MediaLinks {
    fn url(&self, path: &str) -> Option<String> {
        if path.is_empty() {
            return None;
        }
        let base = &self.base;
        Some(match &self.signer {
            Some(signer) => format!("{base}/uploads/{path}?{}", signer.query(path, unix_now())),
            None => format!("{base}/uploads/{path}"),
        })
    }
}

pub fn event_json(links: &MediaLinks, e: &FaceEvent) -> Value {
    let url = |path: &str| links.url(path);
    json!({
        "id": e.id, "created_date": e.created_date, "bs_type": e.bs_type,
        "camera": e.camera, "camera_group": e.camera_group,
        "thumbnail": url(&e.thumbnail), "fullframe": url(&e.fullframe),
        "dossier_photo": if e.matched { url(&e.matched_face_photo) } else { None },
        "matched": e.matched, "matched_dossier": e.matched_dossier, "matched_face": e.matched_face,
        "matched_lists": e.matched_lists, "confidence": json_f32(e.confidence), "quality": json_f32(e.quality),
        "frame_coords_left": e.frame_coords.left, "frame_coords_top": e.frame_coords.top,
        "frame_coords_right": e.frame_coords.right, "frame_coords_bottom": e.frame_coords.bottom,
        "detector_params": e.detector_params, "features": e.features,
        "acknowledged": false, "acknowledged_date": null, "acknowledged_by": null,
    })
}
