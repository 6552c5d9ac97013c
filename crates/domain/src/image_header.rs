//! Image dimensions read from the JPEG, PNG or WebP header, without decoding anything: enough to
//! refuse a "decompression bomb" (a small file declaring a huge canvas) before any code that
//! decodes sees it.

use crate::image::ImageKind;

/// `(width, height)` as the header declares them; `None` when the header cannot be read.
pub fn dimensions(bytes: &[u8], kind: ImageKind) -> Option<(u32, u32)> {
    match kind {
        ImageKind::Jpeg => jpeg(bytes),
        ImageKind::Png => png(bytes),
        ImageKind::Webp => webp(bytes),
    }
}

fn be16(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?])))
}

fn le16(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes([*bytes.get(at)?, *bytes.get(at + 1)?])))
}

fn le24(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([*bytes.get(at)?, *bytes.get(at + 1)?, *bytes.get(at + 2)?, 0]))
}

/// Walks the marker segments up to the first start-of-frame.
fn jpeg(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    loop {
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        while *bytes.get(at)? == 0xFF {
            at += 1;
        }
        let marker = *bytes.get(at)?;
        at += 1;
        match marker {
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => continue,
            0xD9 | 0xDA => return None,
            // SOF0..SOF15, less DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return Some((be16(bytes, at + 5)?, be16(bytes, at + 3)?));
            }
            _ => at += usize::try_from(be16(bytes, at)?).ok()?,
        }
    }
}

fn png(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let word = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    Some((word(16)?, word(20)?))
}

fn webp(bytes: &[u8]) -> Option<(u32, u32)> {
    match bytes.get(12..16)? {
        b"VP8 " if bytes.get(23..26)? == [0x9D, 0x01, 0x2A] => {
            Some((le16(bytes, 26)? & 0x3FFF, le16(bytes, 28)? & 0x3FFF))
        }
        b"VP8L" if *bytes.get(20)? == 0x2F => {
            let b = |i: usize| bytes.get(21 + i).map(|v| u32::from(*v));
            let (b0, b1, b2, b3) = (b(0)?, b(1)?, b(2)?, b(3)?);
            Some((1 + (b0 | (b1 & 0x3F) << 8), 1 + (b1 >> 6 | b2 << 2 | (b3 & 0x0F) << 10)))
        }
        b"VP8X" => Some((1 + le24(bytes, 24)?, 1 + le24(bytes, 27)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jpeg_after_app_segments() {
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB];
        // SOF0: length 17, precision 8, height 480, width 640.
        bytes.extend([0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0xE0, 0x02, 0x80]);
        assert_eq!(dimensions(&bytes, ImageKind::Jpeg), Some((640, 480)));
        assert_eq!(dimensions(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00], ImageKind::Jpeg), None);
    }

    #[test]
    fn reads_png_and_webp() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend(100_000_u32.to_be_bytes());
        png.extend(20_u32.to_be_bytes());
        assert_eq!(dimensions(&png, ImageKind::Png), Some((100_000, 20)));
        let mut vp8x = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
        vp8x.extend([0x3F, 0x1F, 0x00, 0xDF, 0x10, 0x00]);
        assert_eq!(dimensions(&vp8x, ImageKind::Webp), Some((8000, 4320)));
        let mut lossy = b"RIFF\0\0\0\0WEBPVP8 \0\0\0\0\0\0\0\x9d\x01\x2a".to_vec();
        lossy.extend([0x80, 0x02, 0xE0, 0x01]);
        assert_eq!(dimensions(&lossy, ImageKind::Webp), Some((640, 480)));
    }
}
