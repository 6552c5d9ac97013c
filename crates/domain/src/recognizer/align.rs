//! Alignment: the least-squares similarity transform (rotation, uniform scale, shift) that takes
//! the five detected landmarks onto SFace's reference points, then a bilinear warp into the
//! recogniser's 112×112 input. Same template and transform as OpenCV's `FaceRecognizerSF::alignCrop`.

use image::RgbImage;

use super::detect::bilinear;

/// SFace's input side.
pub const SIDE: usize = 112;

/// Where the eyes, nose tip and mouth corners sit in a 112×112 aligned face (ArcFace template).
const TEMPLATE: [[f32; 2]; 5] =
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

/// `x' = a·x − b·y + tx`, `y' = b·x + a·y + ty`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// Least squares over the point pairs (closed form, as complex numbers: z = Σ conj(s)·d / Σ|s|²
    /// on centred points). `None` when the source points coincide.
    pub fn fit(src: &[[f32; 2]; 5], dst: &[[f32; 2]; 5]) -> Option<Self> {
        let mean = |p: &[[f32; 2]; 5]| {
            let (sx, sy) = p.iter().fold((0.0, 0.0), |(x, y), q| (x + q[0], y + q[1]));
            (sx / 5.0, sy / 5.0)
        };
        let (msx, msy) = mean(src);
        let (mdx, mdy) = mean(dst);
        let (mut num_re, mut num_im, mut den) = (0.0f32, 0.0f32, 0.0f32);
        for (s, d) in src.iter().zip(dst) {
            let (sx, sy) = (s[0] - msx, s[1] - msy);
            let (dx, dy) = (d[0] - mdx, d[1] - mdy);
            num_re += sx * dx + sy * dy;
            num_im += sx * dy - sy * dx;
            den += sx * sx + sy * sy;
        }
        if den <= f32::EPSILON {
            return None;
        }
        let (a, b) = (num_re / den, num_im / den);
        Some(Self { a, b, tx: mdx - (a * msx - b * msy), ty: mdy - (b * msx + a * msy) })
    }

    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (self.a * x - self.b * y + self.tx, self.b * x + self.a * y + self.ty)
    }

    pub fn inverse(&self) -> Option<Self> {
        let n = self.a * self.a + self.b * self.b;
        if n <= f32::EPSILON {
            return None;
        }
        let (a, b) = (self.a / n, -self.b / n);
        Some(Self { a, b, tx: -(a * self.tx - b * self.ty), ty: -(b * self.tx + a * self.ty) })
    }
}

/// The aligned face: SFace's input (RGB, NCHW, 0..255) and its grey levels for the quality checks.
pub struct Aligned {
    pub tensor: Vec<f32>,
    pub gray: Vec<f32>,
}

pub fn align(image: &RgbImage, landmarks: &[[f32; 2]; 5]) -> Option<Aligned> {
    let back = Similarity::fit(landmarks, &TEMPLATE)?.inverse()?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let raw = image.as_raw();
    let plane = SIDE * SIDE;
    let mut tensor = vec![0.0f32; 3 * plane];
    let mut gray = vec![0.0f32; plane];
    for v in 0..SIDE {
        for u in 0..SIDE {
            let (x, y) = back.apply(u as f32, v as f32);
            // Outside the image stays black, like warpAffine's constant border.
            if x < 0.0 || y < 0.0 || x > (w - 1) as f32 || y > (h - 1) as f32 {
                continue;
            }
            let px = bilinear(raw, w, h, x, y);
            let at = v * SIDE + u;
            tensor[at] = px[0];
            tensor[plane + at] = px[1];
            tensor[2 * plane + at] = px[2];
            gray[at] = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
        }
    }
    Some(Aligned { tensor, gray })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_known_similarity() {
        let truth = Similarity { a: 0.8, b: 0.3, tx: 5.0, ty: -7.0 };
        let src = [[10.0, 20.0], [60.0, 22.0], [35.0, 50.0], [15.0, 80.0], [55.0, 78.0]];
        let dst = src.map(|p| {
            let (x, y) = truth.apply(p[0], p[1]);
            [x, y]
        });
        let fit = Similarity::fit(&src, &dst).unwrap();
        for (got, want) in [(fit.a, truth.a), (fit.b, truth.b), (fit.tx, truth.tx), (fit.ty, truth.ty)] {
            assert!((got - want).abs() < 1e-3, "{fit:?}");
        }
        let back = fit.inverse().unwrap();
        let (x, y) = back.apply(dst[2][0], dst[2][1]);
        assert!((x - 35.0).abs() < 1e-3 && (y - 50.0).abs() < 1e-3);
    }

    #[test]
    fn coincident_points_have_no_transform() {
        assert!(Similarity::fit(&[[3.0, 3.0]; 5], &TEMPLATE).is_none());
    }
}
