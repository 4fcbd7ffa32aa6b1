//! An immutable segment of the sparse index: documents with ordinals 0..n_docs, their
//! posting lists in blocks, and a mutable tombstone bitmap beside them.
//!
//! Everything lives in one allocation so that a segment is freed in one call and its arrays
//! are the sections of the saved file as they are (see the JS `format.ts`):
//!   ext      u32[n_docs]     external ids by ordinal
//!   term_cnt u32[vocab]      postings per term
//!   term_blk u32[vocab + 1]  first block of each term (derived from term_cnt)
//!   term_max u32[vocab]      largest impact per term (derived)
//!   blk_last u32[n_blocks]   last doc ordinal in each block (the skip data)
//!   blk_off  u32[n_blocks+1] byte offset of each block in the payload
//!   blk_max  u32[n_blocks]   largest impact in each block
//!   payload  u8[len + PAD]
//!   tomb     u32[(n_docs + 31) / 32]

use crate::ixmem;
use crate::postings::{block_bytes, block_widths, read_block, write_block, BLOCK, PAD};

#[derive(Clone, Copy)]
pub struct Segment {
    pub id: u32,
    pub base: *mut u8,
    pub bytes: usize,
    pub n_docs: usize,
    pub vocab: usize,
    pub n_blocks: usize,
    pub payload_len: usize,
    pub live: usize,
    pub postings: usize,
    pub ext: *mut u32,
    pub term_cnt: *mut u32,
    pub term_blk: *mut u32,
    pub term_max: *mut u32,
    pub blk_last: *mut u32,
    pub blk_off: *mut u32,
    pub blk_max: *mut u32,
    pub payload: *mut u8,
    pub tomb: *mut u32,
}

impl Segment {
    /// A zeroed segment with room for the given sizes, or None when memory is exhausted.
    pub fn alloc(n_docs: usize, vocab: usize, n_blocks: usize, payload_len: usize) -> Option<Segment> {
        let words = n_docs
            .checked_add(vocab.checked_mul(3)?.checked_add(1)?)?
            .checked_add(n_blocks.checked_mul(3)?.checked_add(1)?)?
            .checked_add((n_docs + 31) / 32)?;
        let bytes = words.checked_mul(4)?.checked_add(payload_len.checked_add(PAD)?)?;
        let base = ixmem::zeroed::<u8>(bytes)?;
        let w = base as *mut u32;
        unsafe {
            let ext = w;
            let term_cnt = ext.add(n_docs);
            let term_blk = term_cnt.add(vocab);
            let term_max = term_blk.add(vocab + 1);
            let blk_last = term_max.add(vocab);
            let blk_off = blk_last.add(n_blocks);
            let blk_max = blk_off.add(n_blocks + 1);
            let tomb = blk_max.add(n_blocks);
            let payload = tomb.add((n_docs + 31) / 32) as *mut u8;
            Some(Segment {
                id: 0,
                base,
                bytes,
                n_docs,
                vocab,
                n_blocks,
                payload_len,
                live: n_docs,
                postings: 0,
                ext,
                term_cnt,
                term_blk,
                term_max,
                blk_last,
                blk_off,
                blk_max,
                payload,
                tomb,
            })
        }
    }

    pub fn free(&self) {
        ixmem::free(self.base);
    }

    #[inline(always)]
    pub fn deleted(&self, ord: usize) -> bool {
        unsafe { *self.tomb.add(ord >> 5) >> (ord & 31) & 1 != 0 }
    }

    pub fn delete(&mut self, ord: usize) {
        if !self.deleted(ord) {
            unsafe { *self.tomb.add(ord >> 5) |= 1 << (ord & 31) };
            self.live -= 1;
        }
    }

    #[inline(always)]
    pub fn u(p: *mut u32, i: usize) -> u32 {
        unsafe { *p.add(i) }
    }

    /// Fill term_blk and term_max-free derived fields from term_cnt; false if the counts do
    /// not add up to n_blocks blocks.
    pub fn derive_term_blocks(&mut self) -> bool {
        let mut b = 0usize;
        let mut post = 0usize;
        for t in 0..self.vocab {
            unsafe { *self.term_blk.add(t) = b as u32 };
            let c = Segment::u(self.term_cnt, t) as usize;
            post += c;
            b += (c + BLOCK - 1) / BLOCK;
            if b > self.n_blocks {
                return false;
            }
        }
        unsafe { *self.term_blk.add(self.vocab) = b as u32 };
        self.postings = post;
        b == self.n_blocks
    }

    /// Postings in block `b` of term `t`.
    #[inline(always)]
    pub fn block_len(&self, t: usize, b: usize) -> usize {
        let last = Segment::u(self.term_blk, t + 1) as usize - 1;
        if b < last {
            BLOCK
        } else {
            Segment::u(self.term_cnt, t) as usize - BLOCK * (last - Segment::u(self.term_blk, t) as usize)
        }
    }

    /// The doc before block `b` of term `t` (-1 for the first block).
    #[inline(always)]
    pub fn block_prev(&self, t: usize, b: usize) -> i64 {
        if b == Segment::u(self.term_blk, t) as usize {
            -1
        } else {
            Segment::u(self.blk_last, b - 1) as i64
        }
    }

    /// Decode block `b` of term `t`; returns its length.
    #[inline(always)]
    pub fn decode(&self, t: usize, b: usize, docs: &mut [u32; BLOCK], imps: &mut [u32; BLOCK]) -> usize {
        let n = self.block_len(t, b);
        unsafe { read_block(self.payload.add(Segment::u(self.blk_off, b) as usize), n, self.block_prev(t, b), docs, imps) };
        n
    }

    /// The impact of term `t` in document `ord` (0 when absent).
    pub fn impact_of(&self, t: usize, ord: u32, docs: &mut [u32; BLOCK], imps: &mut [u32; BLOCK]) -> u32 {
        let (mut lo, mut hi) = (Segment::u(self.term_blk, t) as usize, Segment::u(self.term_blk, t + 1) as usize);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if Segment::u(self.blk_last, mid) < ord {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == Segment::u(self.term_blk, t + 1) as usize {
            return 0;
        }
        let n = self.decode(t, lo, docs, imps);
        for i in 0..n {
            if docs[i] == ord {
                return imps[i];
            }
        }
        0
    }

    /// Check every invariant the search relies on, decoding all blocks; fills term_max and
    /// `postings`. Returns 0 or a LOAD_* code naming what is wrong.
    pub fn validate(&mut self) -> i32 {
        if !self.derive_term_blocks() {
            return LOAD_TERM_COUNTS;
        }
        if Segment::u(self.blk_off, 0) != 0 || Segment::u(self.blk_off, self.n_blocks) as usize != self.payload_len {
            return LOAD_BLOCK_OFFSETS;
        }
        let mut docs = [0u32; BLOCK];
        let mut imps = [0u32; BLOCK];
        for t in 0..self.vocab {
            let (b0, b1) = (Segment::u(self.term_blk, t) as usize, Segment::u(self.term_blk, t + 1) as usize);
            let mut tmax = 0u32;
            let mut prev = -1i64;
            for b in b0..b1 {
                let off = Segment::u(self.blk_off, b) as usize;
                let end = Segment::u(self.blk_off, b + 1) as usize;
                if end < off + 2 || end > self.payload_len {
                    return LOAD_BLOCK_OFFSETS;
                }
                let (db, ib) = unsafe { block_widths(self.payload.add(off)) };
                let n = self.block_len(t, b);
                if db > 32 || ib > 16 || 2 + (n * (db + ib) + 7) / 8 != end - off {
                    return LOAD_BLOCK_WIDTHS;
                }
                unsafe { read_block(self.payload.add(off), n, prev, &mut docs, &mut imps) };
                let mut bmax = 0u32;
                for i in 0..n {
                    if docs[i] as i64 <= prev || docs[i] as usize >= self.n_docs {
                        return LOAD_DOC_ORDER;
                    }
                    prev = docs[i] as i64;
                    if imps[i] == 0 {
                        return LOAD_IMPACTS;
                    }
                    bmax = bmax.max(imps[i]);
                }
                if Segment::u(self.blk_last, b) as i64 != prev {
                    return LOAD_SKIP_DATA;
                }
                if Segment::u(self.blk_max, b) != bmax {
                    return LOAD_BLOCK_MAX;
                }
                tmax = tmax.max(bmax);
            }
            unsafe { *self.term_max.add(t) = tmax };
        }
        // the bytes past the payload are read by every decoder as slack
        unsafe { core::ptr::write_bytes(self.payload.add(self.payload_len), 0, PAD) };
        0
    }
}

pub const LOAD_TERM_COUNTS: i32 = -10;
pub const LOAD_BLOCK_OFFSETS: i32 = -11;
pub const LOAD_BLOCK_WIDTHS: i32 = -12;
pub const LOAD_DOC_ORDER: i32 = -13;
pub const LOAD_IMPACTS: i32 = -14;
pub const LOAD_SKIP_DATA: i32 = -15;
pub const LOAD_BLOCK_MAX: i32 = -16;

/// Encodes term posting lists, given in term order, into a segment in two passes: `size`
/// over every term first (to allocate exactly), then `write` over the same lists again.
pub struct Writer {
    pub n_blocks: usize,
    pub payload: usize,
    next_blk: usize,
}

impl Writer {
    pub fn new() -> Self {
        Writer { n_blocks: 0, payload: 0, next_blk: 0 }
    }

    pub fn size(&mut self, docs: &[u32], imps: &[u32]) {
        let mut prev = -1i64;
        let mut i = 0;
        while i < docs.len() {
            let j = (i + BLOCK).min(docs.len());
            self.payload += block_bytes(&docs[i..j], &imps[i..j], prev);
            self.n_blocks += 1;
            prev = docs[j - 1] as i64;
            i = j;
        }
    }

    /// Write term `t`'s list; terms must come in increasing order, each exactly once.
    pub fn write(&mut self, seg: &mut Segment, t: usize, docs: &[u32], imps: &[u32]) {
        unsafe {
            *seg.term_cnt.add(t) = docs.len() as u32;
            *seg.term_blk.add(t) = self.next_blk as u32;
            let mut prev = -1i64;
            let mut tmax = 0u32;
            let mut i = 0;
            while i < docs.len() {
                let j = (i + BLOCK).min(docs.len());
                let b = self.next_blk;
                let off = *seg.blk_off.add(b) as usize;
                let len = write_block(seg.payload.add(off), &docs[i..j], &imps[i..j], prev);
                let mut bmax = 0;
                for &m in &imps[i..j] {
                    bmax = bmax.max(m);
                }
                *seg.blk_off.add(b + 1) = (off + len) as u32;
                *seg.blk_last.add(b) = docs[j - 1];
                *seg.blk_max.add(b) = bmax;
                tmax = tmax.max(bmax);
                prev = docs[j - 1] as i64;
                self.next_blk += 1;
                i = j;
            }
            *seg.term_max.add(t) = tmax;
            *seg.term_blk.add(t + 1) = self.next_blk as u32;
            seg.postings += docs.len();
        }
    }
}
