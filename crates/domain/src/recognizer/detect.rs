//! YuNet (OpenCV Zoo, 2023mar) on a fixed 640×640 input: letterbox the image, run the network,
//! decode its three strides into boxes + 5 landmarks, and suppress overlaps. The decoding is
//! OpenCV's `FaceDetectorYN` (modules/objdetect/src/face_detect.cpp), so scores mean the same.

use image::RgbImage;

/// YuNet's input side, fixed in the shipped model.
pub const INPUT: usize = 640;
const STRIDES: [usize; 3] = [8, 16, 32];
const NMS_IOU: f32 = 0.3;

/// One face in the image's own pixel coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// left, top, width, height
    pub bbox: [f32; 4],
    /// right eye, left eye (as seen in the image: smaller x first), nose tip, mouth corners.
    pub landmarks: [[f32; 2]; 5],
    /// sqrt(class × objectness), 0..1.
    pub score: f32,
}

impl Detection {
    pub fn area(&self) -> f32 {
        self.bbox[2] * self.bbox[3]
    }

    /// The shorter side of the box, the size that decides whether a face can be recognised.
    pub fn min_side(&self) -> f32 {
        self.bbox[2].min(self.bbox[3])
    }

    /// `[left, top, right, bottom]`, clamped to the image, as events carry it.
    pub fn ltrb(&self, width: u32, height: u32) -> [i64; 4] {
        let clamp = |v: f32, max: u32| (v.round() as i64).clamp(0, i64::from(max));
        let [x, y, w, h] = self.bbox;
        [clamp(x, width), clamp(y, height), clamp(x + w, width), clamp(y + h, height)]
    }
}

/// The image scaled (aspect kept) into the top-left of a 640×640 BGR float tensor, NCHW, 0..255 as
/// YuNet expects; returns the tensor and the scale from input to image pixels.
pub fn letterbox(image: &RgbImage) -> (Vec<f32>, f32) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let scale = INPUT as f32 / w.max(h) as f32;
    let tw = ((w as f32 * scale).round() as usize).clamp(1, INPUT);
    let th = ((h as f32 * scale).round() as usize).clamp(1, INPUT);
    let inv = 1.0 / scale;
    let mut out = vec![0.0f32; 3 * INPUT * INPUT];
    // Shrinking 2× or more (a 1080p frame is 3×): average each target pixel's source box, so small
    // faces do not alias away, at one read per source pixel. Otherwise bilinear.
    if inv >= 2.0 {
        area(image.as_raw(), w, (tw, th), inv, &mut out);
    } else {
        resize_bilinear(image.as_raw(), (w, h), (tw, th), inv, &mut out);
    }
    (out, inv)
}

/// Writes one RGB pixel into the BGR planes at `at`.
fn put(out: &mut [f32], at: usize, rgb: [f32; 3]) {
    let plane = INPUT * INPUT;
    out[at] = rgb[2];
    out[plane + at] = rgb[1];
    out[2 * plane + at] = rgb[0];
}

fn area(raw: &[u8], w: usize, (tw, th): (usize, usize), inv: f32, out: &mut [f32]) {
    let h = raw.len() / (3 * w);
    let span = |t: usize, len: usize| {
        let a = ((t as f32 * inv) as usize).min(len - 1);
        let b = (((t + 1) as f32 * inv) as usize).clamp(a + 1, len);
        (a, b)
    };
    let columns: Vec<(usize, usize)> = (0..tw).map(|tx| span(tx, w)).collect();
    let mut sums = vec![[0u32; 3]; tw];
    for ty in 0..th {
        let (y0, y1) = span(ty, h);
        sums.iter_mut().for_each(|s| *s = [0; 3]);
        for sy in y0..y1 {
            let row = &raw[sy * w * 3..(sy + 1) * w * 3];
            for (sum, &(x0, x1)) in sums.iter_mut().zip(&columns) {
                for px in row[x0 * 3..x1 * 3].chunks_exact(3) {
                    sum[0] += u32::from(px[0]);
                    sum[1] += u32::from(px[1]);
                    sum[2] += u32::from(px[2]);
                }
            }
        }
        for (tx, (sum, &(x0, x1))) in sums.iter().zip(&columns).enumerate() {
            let n = ((x1 - x0) * (y1 - y0)) as f32;
            put(out, ty * INPUT + tx, [sum[0] as f32 / n, sum[1] as f32 / n, sum[2] as f32 / n]);
        }
    }
}

fn resize_bilinear(raw: &[u8], (w, h): (usize, usize), (tw, th): (usize, usize), inv: f32, out: &mut [f32]) {
    // Source index pairs and weights, once per column and per row.
    let taps = |t: usize, len: usize| {
        let s = ((t as f32 + 0.5) * inv - 0.5).clamp(0.0, (len - 1) as f32);
        let a = s.floor() as usize;
        (a, (a + 1).min(len - 1), s - a as f32)
    };
    let columns: Vec<(usize, usize, f32)> = (0..tw).map(|tx| taps(tx, w)).collect();
    for ty in 0..th {
        let (y0, y1, fy) = taps(ty, h);
        let (top, bottom) = (&raw[y0 * w * 3..(y0 + 1) * w * 3], &raw[y1 * w * 3..(y1 + 1) * w * 3]);
        for (tx, &(x0, x1, fx)) in columns.iter().enumerate() {
            let mut rgb = [0.0f32; 3];
            for (c, value) in rgb.iter_mut().enumerate() {
                let t = f32::from(top[x0 * 3 + c]) * (1.0 - fx) + f32::from(top[x1 * 3 + c]) * fx;
                let b = f32::from(bottom[x0 * 3 + c]) * (1.0 - fx) + f32::from(bottom[x1 * 3 + c]) * fx;
                *value = t * (1.0 - fy) + b * fy;
            }
            put(out, ty * INPUT + tx, rgb);
        }
    }
}

/// Bilinear sample of an RGB8 buffer at a point inside it.
pub(crate) fn bilinear(raw: &[u8], w: usize, h: usize, x: f32, y: f32) -> [f32; 3] {
    let x0 = x.floor().max(0.0) as usize;
    let y0 = y.floor().max(0.0) as usize;
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let fx = x - x0 as f32;
    let fy = y - y0 as f32;
    let mut out = [0.0f32; 3];
    for (c, slot) in out.iter_mut().enumerate() {
        let p = |xx: usize, yy: usize| f32::from(raw[(yy * w + xx) * 3 + c]);
        let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
        let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
        *slot = top * (1.0 - fy) + bottom * fy;
    }
    out
}

/// The network's 12 outputs, by name, for one stride each.
pub struct RawOutputs<'a> {
    pub cls: [&'a [f32]; 3],
    pub obj: [&'a [f32]; 3],
    pub bbox: [&'a [f32]; 3],
    pub kps: [&'a [f32]; 3],
}

/// Boxes above `threshold`, non-maximum suppressed, scaled back to image pixels by `scale`.
pub fn decode(out: &RawOutputs<'_>, threshold: f32, scale: f32) -> Vec<Detection> {
    let mut found = Vec::new();
    for (i, &stride) in STRIDES.iter().enumerate() {
        let cols = INPUT / stride;
        let rows = INPUT / stride;
        let s = stride as f32;
        for r in 0..rows {
            for c in 0..cols {
                let idx = r * cols + c;
                let (Some(&cls), Some(&obj)) = (out.cls[i].get(idx), out.obj[i].get(idx)) else { continue };
                let score = (cls.clamp(0.0, 1.0) * obj.clamp(0.0, 1.0)).sqrt();
                if score < threshold {
                    continue;
                }
                let (Some(b), Some(k)) =
                    (out.bbox[i].get(idx * 4..idx * 4 + 4), out.kps[i].get(idx * 10..idx * 10 + 10))
                else {
                    continue;
                };
                let cx = (c as f32 + b[0]) * s;
                let cy = (r as f32 + b[1]) * s;
                let w = b[2].exp() * s;
                let h = b[3].exp() * s;
                let mut landmarks = [[0.0f32; 2]; 5];
                for (n, point) in landmarks.iter_mut().enumerate() {
                    *point = [(k[2 * n] + c as f32) * s * scale, (k[2 * n + 1] + r as f32) * s * scale];
                }
                found.push(Detection {
                    bbox: [(cx - w / 2.0) * scale, (cy - h / 2.0) * scale, w * scale, h * scale],
                    landmarks,
                    score,
                });
            }
        }
    }
    nms(found)
}

fn nms(mut boxes: Vec<Detection>) -> Vec<Detection> {
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for candidate in boxes {
        if kept.iter().all(|k| iou(&k.bbox, &candidate.bbox) <= NMS_IOU) {
            kept.push(candidate);
        }
    }
    kept
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let x1 = a[0].max(b[0]);
    let y1 = a[1].max(b[1]);
    let x2 = (a[0] + a[2]).min(b[0] + b[2]);
    let y2 = (a[1] + a[3]).min(b[1] + b[3]);
    let inter = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, score: f32) -> Detection {
        Detection { bbox: [x, 0.0, 10.0, 10.0], landmarks: [[0.0; 2]; 5], score }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes_and_distinct_ones() {
        let kept = nms(vec![det(1.0, 0.7), det(0.0, 0.9), det(50.0, 0.8)]);
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.8]);
    }

    #[test]
    fn letterbox_keeps_aspect_and_pads_with_black() {
        let image = RgbImage::from_pixel(1280, 640, image::Rgb([10, 20, 30]));
        let (tensor, scale) = letterbox(&image);
        assert!((scale - 2.0).abs() < 1e-6);
        let plane = INPUT * INPUT;
        // Inside the scaled image: BGR order.
        assert_eq!((tensor[0], tensor[plane], tensor[2 * plane]), (30.0, 20.0, 10.0));
        // Below it (rows 320..640): padding.
        assert_eq!(tensor[400 * INPUT], 0.0);
    }

    #[test]
    fn letterbox_upscales_a_small_image_smoothly() {
        // Left half black, right half white, 320 wide: scaled 2× up, the edge is blended.
        let image =
            RgbImage::from_fn(
                320,
                160,
                |x, _| if x < 160 { image::Rgb([0, 0, 0]) } else { image::Rgb([255, 255, 255]) },
            );
        let (tensor, scale) = letterbox(&image);
        assert!((scale - 0.5).abs() < 1e-6);
        assert_eq!(tensor[10 * INPUT + 100], 0.0);
        assert_eq!(tensor[10 * INPUT + 500], 255.0);
        let edge = tensor[10 * INPUT + 320];
        assert!(edge > 0.0 && edge < 255.0, "{edge}");
        assert_eq!(tensor[400 * INPUT + 100], 0.0, "padding below");
    }
}
