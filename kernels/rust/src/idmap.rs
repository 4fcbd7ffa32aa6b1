//! External document id -> (segment id, ordinal in that segment): linear probing with
//! backward-shift deletion, so no tombstones pile up in the table itself.
//! The key u32::MAX marks an empty slot, so it cannot be a document id.

use crate::ixmem;

pub const EMPTY: u32 = u32::MAX;

pub struct IdMap {
    keys: *mut u32,
    /// (segment id, ordinal) per slot
    vals: *mut [u32; 2],
    mask: usize,
    pub len: usize,
}

#[inline(always)]
fn hash(k: u32) -> usize {
    (k.wrapping_mul(0x9E37_79B1) ^ (k >> 16)) as usize
}

impl IdMap {
    pub const fn new() -> Self {
        IdMap { keys: core::ptr::null_mut(), vals: core::ptr::null_mut(), mask: 0, len: 0 }
    }

    pub fn bytes(&self) -> usize {
        if self.keys.is_null() {
            0
        } else {
            (self.mask + 1) * 12
        }
    }

    fn alloc_table(&mut self, slots: usize) -> bool {
        let keys = match ixmem::zeroed::<u32>(slots) {
            Some(p) => p,
            None => return false,
        };
        let vals = match ixmem::zeroed::<[u32; 2]>(slots) {
            Some(p) => p,
            None => {
                ixmem::free(keys as *mut u8);
                return false;
            }
        };
        unsafe {
            for i in 0..slots {
                *keys.add(i) = EMPTY;
            }
        }
        self.keys = keys;
        self.vals = vals;
        self.mask = slots - 1;
        true
    }

    /// Room for `extra` more keys at load <= 1/2; false when memory is exhausted.
    pub fn reserve(&mut self, extra: usize) -> bool {
        let want = match self.len.checked_add(extra).and_then(|n| n.checked_mul(2)) {
            Some(w) => w,
            None => return false,
        };
        let cap = if self.keys.is_null() { 0 } else { self.mask + 1 };
        if want <= cap {
            return true;
        }
        let mut slots = cap.max(64);
        while slots < want {
            slots *= 2;
        }
        let (old_keys, old_vals, old_cap) = (self.keys, self.vals, cap);
        if !self.alloc_table(slots) {
            return false;
        }
        self.len = 0;
        unsafe {
            for i in 0..old_cap {
                let k = *old_keys.add(i);
                if k != EMPTY {
                    self.insert_new(k, *old_vals.add(i));
                }
            }
        }
        ixmem::free(old_keys as *mut u8);
        ixmem::free(old_vals as *mut u8);
        true
    }

    fn slot(&self, k: u32) -> (usize, bool) {
        let mut i = hash(k) & self.mask;
        unsafe {
            loop {
                let s = *self.keys.add(i);
                if s == k {
                    return (i, true);
                }
                if s == EMPTY {
                    return (i, false);
                }
                i = (i + 1) & self.mask;
            }
        }
    }

    pub fn get(&self, k: u32) -> Option<[u32; 2]> {
        if self.keys.is_null() || k == EMPTY {
            return None;
        }
        let (i, found) = self.slot(k);
        if found {
            Some(unsafe { *self.vals.add(i) })
        } else {
            None
        }
    }

    /// Insert a key that is not present, after `reserve`.
    pub fn insert_new(&mut self, k: u32, v: [u32; 2]) {
        let (i, _) = self.slot(k);
        unsafe {
            *self.keys.add(i) = k;
            *self.vals.add(i) = v;
        }
        self.len += 1;
    }

    /// Overwrite the value of a present key.
    pub fn set(&mut self, k: u32, v: [u32; 2]) {
        let (i, found) = self.slot(k);
        if found {
            unsafe { *self.vals.add(i) = v };
        }
    }

    pub fn remove(&mut self, k: u32) -> bool {
        if self.keys.is_null() || k == EMPTY {
            return false;
        }
        let (mut i, found) = self.slot(k);
        if !found {
            return false;
        }
        unsafe {
            // shift later members of the probe run back so lookups never stop early
            let mut j = i;
            loop {
                j = (j + 1) & self.mask;
                let kj = *self.keys.add(j);
                if kj == EMPTY {
                    break;
                }
                let home = hash(kj) & self.mask;
                let between = if i <= j { i < home && home <= j } else { i < home || home <= j };
                if !between {
                    *self.keys.add(i) = kj;
                    *self.vals.add(i) = *self.vals.add(j);
                    i = j;
                }
            }
            *self.keys.add(i) = EMPTY;
        }
        self.len -= 1;
        true
    }

    pub fn clear(&mut self) {
        ixmem::free(self.keys as *mut u8);
        ixmem::free(self.vals as *mut u8);
        *self = IdMap::new();
    }
}
