//! Exact top-k by (score descending, external id ascending): the id breaks ties, so results
//! are one well-defined list that a brute-force scorer reproduces.
//! A binary min-heap on "worse" keeps the entry that a newcomer must beat at the root.

use crate::ixmem;

pub struct TopK<S: Copy + PartialOrd> {
    score: *mut S,
    id: *mut u32,
    pub k: usize,
    pub len: usize,
}

impl<S: Copy + PartialOrd> TopK<S> {
    pub fn new(k: usize) -> Option<Self> {
        let score = ixmem::zeroed::<S>(k)?;
        let id = match ixmem::zeroed::<u32>(k) {
            Some(p) => p,
            None => {
                ixmem::free(score as *mut u8);
                return None;
            }
        };
        Some(TopK { score, id, k, len: 0 })
    }

    #[inline(always)]
    fn s(&self, i: usize) -> S {
        unsafe { *self.score.add(i) }
    }

    #[inline(always)]
    fn d(&self, i: usize) -> u32 {
        unsafe { *self.id.add(i) }
    }

    /// a ranks below b
    #[inline(always)]
    fn worse(sa: S, ia: u32, sb: S, ib: u32) -> bool {
        sa < sb || (sa == sb && ia > ib)
    }

    pub fn full(&self) -> bool {
        self.len == self.k
    }

    /// The score of the entry a newcomer must beat (valid when full).
    #[inline(always)]
    pub fn min_score(&self) -> S {
        self.s(0)
    }

    /// Offer a candidate; true when it entered.
    #[inline(always)]
    pub fn offer(&mut self, s: S, id: u32) -> bool {
        if self.len < self.k {
            let mut i = self.len;
            self.len += 1;
            while i > 0 {
                let p = (i - 1) / 2;
                if !TopK::worse(s, id, self.s(p), self.d(p)) {
                    break;
                }
                self.put(i, self.s(p), self.d(p));
                i = p;
            }
            self.put(i, s, id);
            return true;
        }
        if !TopK::worse(self.s(0), self.d(0), s, id) {
            return false;
        }
        self.sift_down(0, s, id, self.len);
        true
    }

    #[inline(always)]
    fn put(&mut self, i: usize, s: S, id: u32) {
        unsafe {
            *self.score.add(i) = s;
            *self.id.add(i) = id;
        }
    }

    fn sift_down(&mut self, mut i: usize, s: S, id: u32, n: usize) {
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let mut c = l;
            if l + 1 < n && TopK::worse(self.s(l + 1), self.d(l + 1), self.s(l), self.d(l)) {
                c = l + 1;
            }
            if !TopK::worse(self.s(c), self.d(c), s, id) {
                break;
            }
            self.put(i, self.s(c), self.d(c));
            i = c;
        }
        self.put(i, s, id);
    }

    /// Write the entries best first; returns how many.
    pub fn drain(&mut self, out_id: *mut u32, out_score: *mut S) -> usize {
        let n = self.len;
        let mut m = n;
        while m > 0 {
            let (s, id) = (self.s(0), self.d(0));
            m -= 1;
            let (ls, li) = (self.s(m), self.d(m));
            if m > 0 {
                self.sift_down(0, ls, li, m);
            }
            unsafe {
                *out_id.add(m) = id;
                *out_score.add(m) = s;
            }
        }
        self.len = 0;
        n
    }

    pub fn free(&mut self) {
        ixmem::free(self.score as *mut u8);
        ixmem::free(self.id as *mut u8);
    }
}
