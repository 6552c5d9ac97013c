//! The face quality score, on findface's scale: 0 is a good face, each point below it a defect;
//! FFSECURITY.MINIMUM_DOSSIER_QUALITY (default −2) is compared with it for dossier photos.
//!
//! quality = −(blur + exposure + yaw + roll + detector + size), each term ≥ 0 (docs/recognizer.md):
//! - blur: Laplacian variance of the aligned 112×112 face under 40 costs up to 4 points;
//! - exposure: mean grey outside 40..220 costs 3 points;
//! - yaw (nose off the eyes' midline) and roll (eye line tilt), estimated from the landmarks:
//!   yaw/10° and roll/15° points past 10°;
//! - detector: (0.9 − YuNet score) × 10 points when the score is under 0.9;
//! - size: 2 points per halving of the face's shorter side under 80 px.

use super::align::SIDE;
use super::detect::Detection;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    pub score: f32,
    pub sharpness: f32,
    pub brightness: f32,
    pub yaw: f32,
    pub roll: f32,
}

pub fn assess(detection: &Detection, gray: &[f32]) -> Quality {
    let sharpness = laplacian_variance(gray);
    let brightness = gray.iter().sum::<f32>() / gray.len().max(1) as f32;
    let (yaw, roll) = pose(&detection.landmarks);
    let blur = ((40.0 - sharpness) / 10.0).clamp(0.0, 4.0);
    let exposure = if (40.0..=220.0).contains(&brightness) { 0.0 } else { 3.0 };
    let turned = ((yaw.abs() - 10.0) / 10.0).max(0.0) + ((roll.abs() - 10.0) / 15.0).max(0.0);
    let detector = ((0.9 - detection.score) * 10.0).max(0.0);
    let size = 2.0 * (80.0 / detection.min_side().max(1.0)).log2().max(0.0);
    let score = -(blur + exposure + turned + detector + size);
    Quality { score, sharpness, brightness, yaw, roll }
}

/// Degrees: yaw from where the nose tip sits between the eyes (0 = centred, ±90 = profile),
/// roll from the eye line's slope.
pub fn pose(landmarks: &[[f32; 2]; 5]) -> (f32, f32) {
    let [right_eye, left_eye, nose, ..] = *landmarks;
    let dx = left_eye[0] - right_eye[0];
    let dy = left_eye[1] - right_eye[1];
    let roll = dy.atan2(dx).to_degrees();
    let eye_distance = (dx * dx + dy * dy).sqrt().max(1.0);
    let mid_x = (left_eye[0] + right_eye[0]) / 2.0;
    let mid_y = (left_eye[1] + right_eye[1]) / 2.0;
    // The nose's offset along the eye line, relative to half the eye distance.
    let along = ((nose[0] - mid_x) * dx + (nose[1] - mid_y) * dy) / eye_distance;
    let yaw = (along / (eye_distance / 2.0)).clamp(-1.0, 1.0).asin().to_degrees();
    (yaw, roll)
}

fn laplacian_variance(gray: &[f32]) -> f32 {
    if gray.len() != SIDE * SIDE {
        return 0.0;
    }
    let mut values = Vec::with_capacity((SIDE - 2) * (SIDE - 2));
    for y in 1..SIDE - 1 {
        for x in 1..SIDE - 1 {
            let at = |xx: usize, yy: usize| gray[yy * SIDE + xx];
            values.push(at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y));
        }
    }
    let n = values.len() as f32;
    let mean = values.iter().sum::<f32>() / n;
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frontal(side: f32) -> Detection {
        let s = side / 112.0;
        Detection {
            bbox: [0.0, 0.0, side, side],
            landmarks: [
                [38.3 * s, 51.7 * s],
                [73.5 * s, 51.7 * s],
                [56.0 * s, 71.7 * s],
                [41.5 * s, 92.4 * s],
                [70.7 * s, 92.4 * s],
            ],
            score: 0.95,
        }
    }

    fn checkerboard() -> Vec<f32> {
        (0..SIDE * SIDE).map(|i| if (i / SIDE + i % SIDE).is_multiple_of(2) { 60.0 } else { 180.0 }).collect()
    }

    #[test]
    fn a_sharp_frontal_large_face_scores_zero_and_defects_cost_points() {
        let good = assess(&frontal(120.0), &checkerboard());
        assert_eq!(good.score, 0.0, "{good:?}");
        assert!(good.yaw.abs() < 1.0 && good.roll.abs() < 1.0);
        let flat = assess(&frontal(120.0), &vec![128.0; SIDE * SIDE]);
        assert_eq!(flat.score, -4.0, "a featureless face is as blurred as it gets");
        let dark = assess(&frontal(120.0), &vec![5.0; SIDE * SIDE]);
        assert_eq!(dark.score, -7.0);
        let small = assess(&frontal(20.0), &checkerboard());
        assert!((small.score + 4.0).abs() < 1e-4, "{small:?}");
    }

    #[test]
    fn a_turned_head_reads_as_yaw() {
        let mut d = frontal(120.0);
        d.landmarks[2][0] += 25.0;
        let (yaw, roll) = pose(&d.landmarks);
        assert!(yaw > 30.0 && roll.abs() < 1.0, "{yaw} {roll}");
    }
}
