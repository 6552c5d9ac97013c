//! `rotate` on a full frame: turn the decoded frame by quarter turns **clockwise** before
//! detection (YuNet only finds upright faces), then map what was found back onto the frame as
//! stored, so `frame_coords` always refer to the stored image (docs/recognizer.md "Rotate and roi").
//!
//! Clockwise is the convention of imaging APIs that take 0/90/180/270 (image services, video
//! SDKs); findface's documentation does not say. Quarter turns are exact pixel moves, so a box maps
//! back without loss.

use image::RgbImage;
use image::imageops;

use super::detect::Detection;

/// Quarter turns clockwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Turn {
    #[default]
    None,
    Cw90,
    Cw180,
    Cw270,
}

impl Turn {
    pub const ALL: [Turn; 4] = [Turn::None, Turn::Cw90, Turn::Cw180, Turn::Cw270];

    /// 0, 90, 180 or 270; anything else is not a quarter turn.
    pub fn from_degrees(degrees: u16) -> Option<Self> {
        match degrees {
            0 => Some(Self::None),
            90 => Some(Self::Cw90),
            180 => Some(Self::Cw180),
            270 => Some(Self::Cw270),
            _ => None,
        }
    }

    pub fn degrees(self) -> u16 {
        match self {
            Self::None => 0,
            Self::Cw90 => 90,
            Self::Cw180 => 180,
            Self::Cw270 => 270,
        }
    }

    /// The frame turned; `None` when there is nothing to turn (no copy).
    pub fn apply(self, image: &RgbImage) -> Option<RgbImage> {
        match self {
            Self::None => None,
            Self::Cw90 => Some(imageops::rotate90(image)),
            Self::Cw180 => Some(imageops::rotate180(image)),
            Self::Cw270 => Some(imageops::rotate270(image)),
        }
    }

    /// A point of the turned image back in the original `width` × `height` image. Points are
    /// continuous coordinates (pixel edges), so a box's corners map onto the same pixels.
    pub fn point_back(self, [u, v]: [f32; 2], width: u32, height: u32) -> [f32; 2] {
        let (w, h) = (width as f32, height as f32);
        match self {
            Self::None => [u, v],
            // Forward: (x, y) -> (h - y, x).
            Self::Cw90 => [v, h - u],
            Self::Cw180 => [w - u, h - v],
            // Forward: (x, y) -> (y, w - x).
            Self::Cw270 => [w - v, u],
        }
    }

    /// A detection on the turned image, in the original image's coordinates: the box's opposite
    /// corners map back and are re-ordered; each landmark keeps its meaning (index).
    pub fn detection_back(self, d: &Detection, width: u32, height: u32) -> Detection {
        if self == Self::None {
            return d.clone();
        }
        let [x, y, w, h] = d.bbox;
        let [ax, ay] = self.point_back([x, y], width, height);
        let [bx, by] = self.point_back([x + w, y + h], width, height);
        Detection {
            bbox: [ax.min(bx), ay.min(by), (ax - bx).abs(), (ay - by).abs()],
            landmarks: d.landmarks.map(|p| self.point_back(p, width, height)),
            score: d.score,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4×2 image whose pixels say where they came from.
    fn numbered() -> RgbImage {
        RgbImage::from_fn(4, 2, |x, y| image::Rgb([x as u8, y as u8, 0]))
    }

    #[test]
    fn turns_are_clockwise() {
        // Clockwise by 90: the bottom-left pixel comes to the top-left.
        let turned = Turn::Cw90.apply(&numbered()).unwrap();
        assert_eq!(turned.dimensions(), (2, 4));
        assert_eq!(turned.get_pixel(0, 0).0[..2], [0, 1]);
        let turned = Turn::Cw270.apply(&numbered()).unwrap();
        assert_eq!(turned.get_pixel(0, 0).0[..2], [3, 0], "the top-right comes to the top-left");
        assert!(Turn::None.apply(&numbered()).is_none());
    }

    #[test]
    fn every_pixel_maps_back_to_where_it_came_from() {
        let original = numbered();
        for turn in Turn::ALL {
            let turned = turn.apply(&original).unwrap_or_else(|| original.clone());
            for (u, v, pixel) in turned.enumerate_pixels() {
                // The pixel's centre maps back to the centre of its source pixel.
                let [x, y] = turn.point_back([u as f32 + 0.5, v as f32 + 0.5], 4, 2);
                assert_eq!([x - 0.5, y - 0.5], [f32::from(pixel.0[0]), f32::from(pixel.0[1])], "{turn:?} at {u},{v}");
            }
        }
    }

    #[test]
    fn a_box_found_on_the_turned_frame_lands_on_the_same_pixels_of_the_original() {
        // A 100×60 frame; a face at x 10..30, y 5..45, with its right eye (index 0) at (15, 12).
        let (w, h) = (100, 60);
        let original = Detection { bbox: [10.0, 5.0, 20.0, 40.0], landmarks: [[15.0, 12.0]; 5], score: 0.9 };
        // Where each turn puts it (forward maps written out by hand).
        let cases = [
            (Turn::Cw90, [15.0, 10.0, 40.0, 20.0], [48.0, 15.0]),
            (Turn::Cw180, [70.0, 15.0, 20.0, 40.0], [85.0, 48.0]),
            (Turn::Cw270, [5.0, 70.0, 40.0, 20.0], [12.0, 85.0]),
        ];
        for (turn, bbox, eye) in cases {
            let found = Detection { bbox, landmarks: [eye; 5], score: 0.9 };
            assert_eq!(turn.detection_back(&found, w, h), original, "{turn:?}");
        }
        assert_eq!(Turn::None.detection_back(&original, w, h), original);
    }

    #[test]
    fn degrees_round_trip() {
        for turn in Turn::ALL {
            assert_eq!(Turn::from_degrees(turn.degrees()), Some(turn));
        }
        assert_eq!(Turn::from_degrees(45), None);
    }
}
