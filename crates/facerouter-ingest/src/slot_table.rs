//! An id -> slot map holding only the slot: 4 bytes per entry at a load factor of at most 7/8,
//! about 8 bytes per face at 1M faces, where a `HashMap<i64, u32>` takes 16-byte entries plus
//! control bytes (~36 B). The key is not stored: the owner's column already holds it
//! (`key_of(slot)`), and is read back when probing. Open addressing with linear probing and
//! backward-shift deletion, so removals leave no tombstones.

/// A free bucket.
const EMPTY: u32 = u32::MAX;

#[derive(Debug, Default)]
pub struct SlotTable {
    buckets: Vec<u32>,
    len: usize,
}

impl SlotTable {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The slot of `key`.
    pub fn get(&self, key: i64, key_of: impl Fn(u32) -> i64) -> Option<u32> {
        self.find(key, &key_of).map(|bucket| self.buckets[bucket])
    }

    /// Maps `key` (not yet present) to `slot`; `key_of` must already answer `key` for `slot`.
    pub fn insert(&mut self, key: i64, slot: u32, key_of: impl Fn(u32) -> i64) {
        if (self.len + 1) * 8 > self.buckets.len() * 7 {
            let wanted = Self::buckets_for(self.len + 1).max(self.buckets.len() * 2);
            self.rebuild(wanted, &key_of);
        }
        self.place(key, slot);
    }

    /// Stores `slot` in the first free bucket from `key`'s home (there is one: load < 1).
    fn place(&mut self, key: i64, slot: u32) {
        let mask = self.buckets.len() - 1;
        let mut bucket = self.home(key);
        while self.buckets[bucket] != EMPTY {
            bucket = (bucket + 1) & mask;
        }
        self.buckets[bucket] = slot;
        self.len += 1;
    }

    /// Points `key`, which must be present, at `slot` (a face moved).
    pub fn set(&mut self, key: i64, slot: u32, key_of: impl Fn(u32) -> i64) {
        if let Some(bucket) = self.find(key, &key_of) {
            self.buckets[bucket] = slot;
        }
    }

    /// Removes `key` and returns its slot; `key_of` must still answer for every stored slot.
    pub fn remove(&mut self, key: i64, key_of: impl Fn(u32) -> i64) -> Option<u32> {
        let mut hole = self.find(key, &key_of)?;
        let slot = self.buckets[hole];
        self.buckets[hole] = EMPTY;
        self.len -= 1;
        // Backward shift: move up every later entry of the run that may sit in the hole.
        let mask = self.buckets.len() - 1;
        let mut next = (hole + 1) & mask;
        while self.buckets[next] != EMPTY {
            let home = self.home(key_of(self.buckets[next]));
            // The entry may move to `hole` unless its home lies cyclically in (hole, next].
            if (next.wrapping_sub(home) & mask) >= (next.wrapping_sub(hole) & mask) {
                self.buckets[hole] = self.buckets[next];
                self.buckets[next] = EMPTY;
                hole = next;
            }
            next = (next + 1) & mask;
        }
        Some(slot)
    }

    /// Heap bytes held (the buckets' capacity).
    pub fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<u32>()
    }

    /// Sheds spare buckets after a bulk load (keeping the load factor at most 7/8).
    pub fn shrink_to_fit(&mut self, key_of: impl Fn(u32) -> i64) {
        let wanted = Self::buckets_for(self.len);
        if wanted < self.buckets.len() {
            self.rebuild(wanted, &key_of);
        }
    }

    fn buckets_for(len: usize) -> usize {
        (len * 8).div_ceil(7).max(8).next_power_of_two()
    }

    fn home(&self, key: i64) -> usize {
        // Fibonacci hashing: ids are mostly sequential, the multiply spreads them.
        let bits = self.buckets.len().trailing_zeros();
        ((key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    fn find(&self, key: i64, key_of: &impl Fn(u32) -> i64) -> Option<usize> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.buckets.len() - 1;
        let mut bucket = self.home(key);
        loop {
            match self.buckets[bucket] {
                EMPTY => return None,
                slot if key_of(slot) == key => return Some(bucket),
                _ => bucket = (bucket + 1) & mask,
            }
        }
    }

    fn rebuild(&mut self, buckets: usize, key_of: &dyn Fn(u32) -> i64) {
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; buckets]);
        self.len = 0;
        for slot in old.into_iter().filter(|&s| s != EMPTY) {
            self.place(key_of(slot), slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Random inserts, moves and removals against a HashMap; keys live in a column like the
    /// index's face ids (slot -> key), with the index's swap-remove.
    #[test]
    fn follows_a_hash_map_through_swap_removals() {
        let mut table = SlotTable::default();
        let mut keys: Vec<i64> = Vec::new();
        let mut want: HashMap<i64, u32> = HashMap::new();
        let mut x = 0x2545_F491_4F6C_DD1D_u64;
        for step in 0..40_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Keys collide on purpose (a small range, multiples of the table size).
            let key = ((x % 3_000) as i64) * 1024 - 7;
            let present = want.contains_key(&key);
            if present && step % 3 != 0 {
                let slot = table.remove(key, |s| keys[s as usize]).unwrap();
                assert_eq!(Some(slot), want.remove(&key));
                let last = keys.len() - 1;
                if slot as usize != last {
                    let moved = keys[last];
                    table.set(moved, slot, |s| keys[s as usize]);
                    want.insert(moved, slot);
                }
                keys.swap_remove(slot as usize);
            } else if !present {
                keys.push(key);
                let slot = (keys.len() - 1) as u32;
                table.insert(key, slot, |s| keys[s as usize]);
                want.insert(key, slot);
            }
            if step % 5_000 == 0 {
                table.shrink_to_fit(|s| keys[s as usize]);
            }
            assert_eq!(table.len(), want.len());
        }
        for (key, slot) in &want {
            assert_eq!(table.get(*key, |s| keys[s as usize]), Some(*slot));
        }
        assert_eq!(table.get(-1, |s| keys[s as usize]), None);
    }
}
