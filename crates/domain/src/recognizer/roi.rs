//! `roi` on a full frame: only faces whose box centre lies inside the region of interest count.
//! The whole frame is still searched, so a face on the region's edge is seen whole (cropping
//! first would cut it and spoil its landmarks); this is what findface's video detector calls
//! `roi` ("post faces detected only inside a region of interest"), as opposed to its
//! detection-clipping `rot`. The region is in the coordinates of the frame as stored (after its
//! EXIF orientation, before `rotate`), like `frame_coords`.

/// `[left, top, right, bottom]`, right and bottom exclusive, in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roi {
    pub left: u32,
    pub top: u32,
    pub right: u32,
    pub bottom: u32,
}

impl Roi {
    /// From the validated request value (`left < right`, `top < bottom`, none negative);
    /// coordinates past `u32` are clamped, which clipping treats like any other overhang.
    pub fn from_ltrb([l, t, r, b]: [i64; 4]) -> Option<Self> {
        let c = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
        let roi = Self { left: c(l), top: c(t), right: c(r), bottom: c(b) };
        (roi.left < roi.right && roi.top < roi.bottom).then_some(roi)
    }

    /// The part inside a `width` × `height` frame; `None` when nothing of it is.
    pub fn clip(self, width: u32, height: u32) -> Option<Self> {
        let clipped = Self { right: self.right.min(width), bottom: self.bottom.min(height), ..self };
        (clipped.left < clipped.right && clipped.top < clipped.bottom).then_some(clipped)
    }

    /// Whether the centre of a `[left, top, width, height]` box lies inside.
    pub fn holds_centre_of(&self, bbox: &[f32; 4]) -> bool {
        let (cx, cy) = (bbox[0] + bbox[2] / 2.0, bbox[1] + bbox[3] / 2.0);
        (self.left as f32..self.right as f32).contains(&cx) && (self.top as f32..self.bottom as f32).contains(&cy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_partly_outside_is_clipped_and_one_wholly_outside_is_none() {
        let roi = Roi::from_ltrb([50, 20, 300, 90]).unwrap();
        assert_eq!(roi.clip(200, 100), Some(Roi { left: 50, top: 20, right: 200, bottom: 90 }));
        assert_eq!(roi.clip(400, 400), Some(roi));
        assert_eq!(roi.clip(50, 100), None, "starts at the frame's right edge");
        assert_eq!(roi.clip(200, 20), None, "starts at the frame's bottom edge");
        assert_eq!(Roi::from_ltrb([5, 5, 5, 9]), None);
        assert_eq!(Roi::from_ltrb([0, 0, i64::MAX, 9]).unwrap().right, u32::MAX);
    }

    #[test]
    fn a_face_counts_when_its_centre_is_inside() {
        let roi = Roi { left: 100, top: 100, right: 200, bottom: 200 };
        // Centre (150, 150): inside, though the box overhangs the region.
        assert!(roi.holds_centre_of(&[60.0, 60.0, 180.0, 180.0]));
        // Centre (95, 150): outside, though the box reaches into the region.
        assert!(!roi.holds_centre_of(&[40.0, 100.0, 110.0, 100.0]));
        // Left and top edges are inside, right and bottom ones outside.
        assert!(!roi.holds_centre_of(&[190.0, 150.0, 20.0, 0.0]));
        assert!(roi.holds_centre_of(&[90.0, 90.0, 20.0, 20.0]));
    }
}
