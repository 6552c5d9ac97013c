//! Many small strings (dossier names, photo paths) in one buffer: each costs its bytes plus an
//! 8-byte [`Span`], where a `Box<str>` costs 16 bytes plus a heap block of at least 32. Removed
//! strings leave garbage, reclaimed by [`StrArena::compact`] once it is half of the buffer.

/// Where one string sits in its arena. Offsets are u32: an arena holds at most 4 GiB of strings
/// (tens of millions of photo paths, beyond what one replica's gallery holds in memory).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    start: u32,
    len: u32,
}

#[derive(Debug, Default)]
pub struct StrArena {
    bytes: String,
    /// Bytes of removed strings still in `bytes`.
    garbage: usize,
}

impl StrArena {
    /// Appends `s`; an empty string (or one past the 4 GiB bound, logged) takes no room.
    pub fn push(&mut self, s: &str) -> Span {
        let (Ok(start), Ok(len)) = (u32::try_from(self.bytes.len()), u32::try_from(s.len())) else {
            tracing::error!("string arena full (4 GiB): a name or photo path is dropped");
            return Span::default();
        };
        if s.is_empty() || start.checked_add(len).is_none() {
            return Span::default();
        }
        self.bytes.push_str(s);
        Span { start, len }
    }

    pub fn get(&self, span: Span) -> &str {
        let start = span.start as usize;
        self.bytes.get(start..start + span.len as usize).unwrap_or_default()
    }

    /// Marks `span`'s bytes as garbage; true when the owner should now call [`Self::compact`].
    #[must_use]
    pub fn free(&mut self, span: Span) -> bool {
        self.garbage += span.len as usize;
        self.garbage > 4096 && self.garbage * 2 > self.bytes.len()
    }

    /// Rewrites the buffer with only the strings of `live` (every span still in use), updating them.
    pub fn compact<'a>(&mut self, live: impl Iterator<Item = &'a mut Span>) {
        let mut next = StrArena { bytes: String::with_capacity(self.bytes.len() - self.garbage), garbage: 0 };
        for span in live {
            *span = next.push(self.get(*span));
        }
        *self = next;
    }

    /// Heap bytes held (the buffer's capacity, garbage included).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_survive_compaction() {
        let mut arena = StrArena::default();
        let mut spans: Vec<Span> = (0..2_000).map(|n| arena.push(&format!("photo/{n}.jpg"))).collect();
        assert_eq!(arena.push(""), Span::default());
        assert_eq!(arena.get(Span::default()), "");
        let mut compact = false;
        for span in spans.drain(..1_500) {
            compact |= arena.free(span);
        }
        assert!(compact);
        arena.compact(spans.iter_mut());
        assert_eq!(arena.garbage, 0);
        for (n, span) in (1_500..).zip(&spans) {
            assert_eq!(arena.get(*span), format!("photo/{n}.jpg"));
        }
        assert_eq!(arena.bytes.len(), spans.iter().map(|s| s.len as usize).sum::<usize>());
    }
}
