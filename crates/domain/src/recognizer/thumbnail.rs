//! The thumbnail of a face found on a turned frame (`rotate`). The stored frame keeps its original
//! bytes, so there the face lies on its side; the event's thumbnail is instead the face cut from
//! the turned (upright) frame and encoded as JPEG. It is the only encode on this path, and a small
//! one (a face and its margin, not the frame). Frames that are not turned keep the frame itself as
//! their thumbnail, as before (docs/ingest.md).

use image::RgbImage;
use image::codecs::jpeg::JpegEncoder;

use super::RecognizeError;
use super::detect::Detection;

/// Extra room around the face box on every side, as a share of the box: the whole head and a
/// little context, as a video worker's face crop shows it.
const MARGIN: f32 = 0.5;
const QUALITY: u8 = 90;

/// `(x, y, width, height)` of the thumbnail in a `width` × `height` image: the box grown by
/// MARGIN, clipped to the image; `None` if nothing of it is inside.
pub fn rect(bbox: &[f32; 4], width: u32, height: u32) -> Option<(u32, u32, u32, u32)> {
    let [x, y, w, h] = *bbox;
    let clamp = |v: f32, max: u32| v.round().clamp(0.0, max as f32) as u32;
    let (left, top) = (clamp(x - w * MARGIN, width), clamp(y - h * MARGIN, height));
    let (right, bottom) = (clamp(x + w * (1.0 + MARGIN), width), clamp(y + h * (1.0 + MARGIN), height));
    (left < right && top < bottom).then(|| (left, top, right - left, bottom - top))
}

/// The face of `detection` (in `upright`'s coordinates) as a JPEG.
pub fn encode(upright: &RgbImage, detection: &Detection) -> Result<Vec<u8>, RecognizeError> {
    let (x, y, w, h) = rect(&detection.bbox, upright.width(), upright.height())
        .ok_or_else(|| RecognizeError::Engine("a face box outside its image".into()))?;
    let crop = image::imageops::crop_imm(upright, x, y, w, h).to_image();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(&crop)
        .map_err(|e| RecognizeError::Engine(format!("cannot encode the thumbnail: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_grows_by_half_on_each_side_and_stays_in_the_image() {
        assert_eq!(rect(&[100.0, 100.0, 40.0, 60.0], 400, 400), Some((80, 70, 80, 120)));
        // Near the top-left corner: clipped at 0, not shifted.
        assert_eq!(rect(&[5.0, 10.0, 40.0, 40.0], 400, 400), Some((0, 0, 65, 70)));
        // Past the bottom-right corner.
        assert_eq!(rect(&[380.0, 390.0, 40.0, 40.0], 400, 400), Some((360, 370, 40, 30)));
        assert_eq!(rect(&[500.0, 500.0, 10.0, 10.0], 400, 400), None);
    }

    #[test]
    fn the_thumbnail_is_a_jpeg_of_the_grown_box() {
        let image = RgbImage::from_pixel(400, 300, image::Rgb([200, 100, 50]));
        let face = Detection { bbox: [100.0, 100.0, 40.0, 60.0], landmarks: [[0.0; 2]; 5], score: 0.9 };
        let jpeg = encode(&image, &face).unwrap();
        let decoded = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (80, 120));
    }
}
