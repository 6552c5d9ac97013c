//! Media URLs: which relative paths may be served at all, and short-lived signed URLs so a browser
//! `<img>` (which cannot send a token) can load an image the API handed out.
//!
//! A signed URL is `<base>/uploads/<path>?expires=<unix seconds>&signature=<hex>`, the signature
//! being HMAC-SHA256 over `"<path>\n<expires>"` with the server's SECRET_KEY. `expires` is rounded
//! up to a whole TTL period, so one image keeps one URL for a while and browsers can cache it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Longest accepted relative path and deepest nesting; ours are about 60 bytes and 5 segments.
const MAX_PATH_LEN: usize = 512;
const MAX_SEGMENTS: usize = 16;

/// The relative media path `raw` (as it appears in the URL, not decoded) if every segment is safe:
/// non-empty, at most 255 bytes of `[A-Za-z0-9._-]`, not starting with a dot. That rules out `.`,
/// `..`, hidden files, empty segments (absolute paths, `//`), backslashes, drive letters and every
/// percent-encoding (`%2e%2e`, `%2f`) by construction: nothing needs decoding, and the result can
/// only name a file below the media root. Every path ffsec writes has this form.
pub fn safe_relative(raw: &str) -> Option<&str> {
    if raw.is_empty() || raw.len() > MAX_PATH_LEN {
        return None;
    }
    let mut segments = 0;
    for segment in raw.split('/') {
        segments += 1;
        let safe = !segment.is_empty()
            && segment.len() <= 255
            && !segment.starts_with('.')
            && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
        if !safe || segments > MAX_SEGMENTS {
            return None;
        }
    }
    Some(raw)
}

/// Why a signed URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    Expired,
    BadSignature,
}

/// Signs and checks media URLs with one key.
#[derive(Clone)]
pub struct MediaSigner {
    key: Vec<u8>,
    ttl_seconds: u64,
}

impl std::fmt::Debug for MediaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSigner").field("ttl_seconds", &self.ttl_seconds).finish_non_exhaustive()
    }
}

impl MediaSigner {
    pub fn new(key: impl Into<Vec<u8>>, ttl_seconds: u64) -> Self {
        Self { key: key.into(), ttl_seconds: ttl_seconds.max(1) }
    }

    fn mac(&self, path: &str, expires: u64) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this never falls back; an empty MAC would only
        // make every signature fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// The expiry a URL signed at `now` gets: the end of the period after the current one, so it
    /// is valid between one and two TTLs and stays the same for a whole period.
    pub fn expiry(&self, now: u64) -> u64 {
        (now / self.ttl_seconds + 2) * self.ttl_seconds
    }

    /// `expires=..&signature=..` for `path` signed at `now` (unix seconds).
    pub fn query(&self, path: &str, now: u64) -> String {
        let expires = self.expiry(now);
        let signature = hex::encode(self.mac(path, expires).finalize().into_bytes());
        format!("expires={expires}&signature={signature}")
    }

    /// Checks a signed URL's parameters; on success, the seconds it stays valid.
    pub fn verify(&self, path: &str, expires: u64, signature: &str, now: u64) -> Result<u64, LinkError> {
        let raw = hex::decode(signature).map_err(|_| LinkError::BadSignature)?;
        // Constant-time comparison, so timing does not leak how much of a guess was right.
        self.mac(path, expires).verify_slice(&raw).map_err(|_| LinkError::BadSignature)?;
        expires.checked_sub(now).filter(|left| *left > 0).ok_or(LinkError::Expired)
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_segments_are_safe() {
        for ok in ["events/2026/11/26/0193_face.jpg", "dossiers/7/a-b.c.png", "x"] {
            assert_eq!(safe_relative(ok), Some(ok));
        }
        for bad in [
            "",
            "..",
            "../etc/passwd",
            "events/../../etc/passwd",
            "%2e%2e/etc/passwd",
            "%2E%2E%2Fetc",
            "/etc/passwd",
            "events//x.jpg",
            "events/./x.jpg",
            "..\\..\\etc\\passwd",
            "C:/windows",
            ".hidden",
            "events/x.jpg\0",
            "events/x y.jpg",
            "events/ü.jpg",
            "events/",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad:?}");
        }
        assert_eq!(safe_relative("a/".repeat(17).trim_end_matches('/')), None);
    }

    #[test]
    fn signatures_verify_until_they_expire_and_not_when_altered() {
        let signer = MediaSigner::new(b"key".to_vec(), 60);
        let now = 1_000_030;
        let query = signer.query("events/a.jpg", now);
        let (expires, signature) = query.split_once('&').unwrap();
        let expires: u64 = expires.strip_prefix("expires=").unwrap().parse().unwrap();
        let signature = signature.strip_prefix("signature=").unwrap();
        assert_eq!(expires, 1_000_140, "the end of the next whole period");
        assert_eq!(signer.query("events/a.jpg", now + 29), query, "stable within a period");
        assert_eq!(signer.verify("events/a.jpg", expires, signature, now), Ok(110));
        assert_eq!(signer.verify("events/b.jpg", expires, signature, now), Err(LinkError::BadSignature));
        assert_eq!(signer.verify("events/a.jpg", expires + 60, signature, now), Err(LinkError::BadSignature));
        assert_eq!(signer.verify("events/a.jpg", expires, "zz", now), Err(LinkError::BadSignature));
        assert_eq!(signer.verify("events/a.jpg", expires, signature, expires), Err(LinkError::Expired));
        let other = MediaSigner::new(b"other".to_vec(), 60);
        assert_eq!(other.verify("events/a.jpg", expires, signature, now), Err(LinkError::BadSignature));
    }
}
