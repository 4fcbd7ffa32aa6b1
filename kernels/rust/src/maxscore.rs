//! Exact top-k over one segment by windowed block-max MaxScore, sharing its heap (and so
//! its threshold) with the segments searched before it. See `search_segment`.
//!
//! Why MaxScore and not block-max WAND: learned sparse queries carry 5-20 terms, many of
//! them long lists with similar bounds (frequent tokens still get weight). WAND pivots on
//! one document at a time and re-sorts its cursors at each pivot, which grows with the
//! query length and gains little when bounds are flat; MaxScore keeps one boundary between
//! essential and non-essential terms, and with per-window block maxima that boundary adapts
//! to each region of the collection. Measured on the synthetic SPLADE-like collection of
//! the benchmark, a document-at-a-time MaxScore with per-candidate probes was 2-3x slower
//! than this term-at-a-time-per-window form.
//!
//! Exactness with ties: a document can still enter the heap at a score equal to the current
//! threshold (it wins the tie if its id is lower), so everything prunes only on bound < theta.

use crate::postings::BLOCK;
use crate::segment::Segment;
use crate::topk::TopK;
use core::arch::wasm32::*;

pub const END: u32 = u32::MAX;
pub const MAX_TERMS: usize = 1024;

pub struct Cursor {
    seg: *const Segment,
    t: usize,
    /// block of interest: decoded when `dblk == blk`, else only its skip data was looked at
    blk: usize,
    blk_end: usize,
    dblk: usize,
    pos: usize,
    n: usize,
    pub doc: u32,
    pub q: u64,
    docs: [u32; BLOCK],
    imps: [u32; BLOCK],
}

impl Cursor {
    pub fn empty() -> Self {
        Cursor { seg: core::ptr::null(), t: 0, blk: 0, blk_end: 0, dblk: usize::MAX, pos: 0, n: 0, doc: END, q: 0, docs: [0; BLOCK], imps: [0; BLOCK] }
    }

    pub fn reset(&mut self, seg: &Segment, t: usize, q: u64) {
        self.seg = seg;
        self.t = t;
        self.blk = Segment::u(seg.term_blk, t) as usize;
        self.blk_end = Segment::u(seg.term_blk, t + 1) as usize;
        self.dblk = usize::MAX;
        self.doc = END;
        self.q = q;
    }

    #[inline(always)]
    fn seg(&self) -> &Segment {
        unsafe { &*self.seg }
    }

    #[inline(always)]
    fn load(&mut self) {
        let seg = unsafe { &*self.seg };
        self.n = seg.decode(self.t, self.blk, &mut self.docs, &mut self.imps);
        self.dblk = self.blk;
        self.pos = 0;
        self.doc = self.docs[0];
    }

    /// Move the block of interest to the one that may hold `target` (targets only grow).
    /// Decodes nothing.
    #[inline(always)]
    pub fn shallow(&mut self, target: u32) {
        let last = self.seg().blk_last;
        let mut b = self.blk;
        while b < self.blk_end && Segment::u(last, b) < target {
            b += 1;
        }
        self.blk = b;
    }

    /// Move to the first posting >= target (targets only grow).
    #[inline(always)]
    pub fn seek(&mut self, target: u32) {
        self.shallow(target);
        if self.blk == self.blk_end {
            self.doc = END;
            return;
        }
        if self.dblk != self.blk {
            self.load();
        }
        while self.docs[self.pos] < target {
            self.pos += 1;
        }
        self.doc = self.docs[self.pos];
    }
}

/// Threshold a candidate must reach: the heap's minimum once full, else any match (>= 1),
/// and never below `floor`, a score that at least k documents are known to reach.
#[inline(always)]
fn theta(top: &TopK<u64>, floor: u64) -> u64 {
    if top.full() {
        top.min_score().max(floor)
    } else {
        floor.max(1)
    }
}

/// Most k for which `score_floor` looks for a floor (it keeps k block maxima per term).
pub const FLOOR_MAX_K: usize = 64;

/// A score that at least k live documents of the segment reach, from skip data alone: the
/// k-th largest block maximum of one term's list, times its query impact, is reached by the
/// best document of each of those k blocks (distinct documents; scores only add). Starting
/// the threshold there instead of at the first k matches prunes the first windows too.
/// 0 when the segment has deleted documents (a block's best may be gone) or k is too large.
pub fn score_floor(seg: &Segment, cur: &[Cursor], k: usize) -> u64 {
    if k == 0 || k > FLOOR_MAX_K || seg.live < seg.n_docs {
        return 0;
    }
    let mut best = 0u64;
    let mut kth = [0u32; FLOOR_MAX_K]; // the k largest block maxima, descending
    for c in cur {
        let (b0, b1) = (c.blk, c.blk_end);
        if b1 - b0 < k || c.q * Segment::u(seg.term_max, c.t) as u64 <= best {
            continue;
        }
        let mut n = 0usize;
        for b in b0..b1 {
            let v = Segment::u(seg.blk_max, b);
            if n == k && v <= kth[k - 1] {
                continue;
            }
            let mut i = if n < k { n } else { k - 1 };
            if n < k {
                n += 1;
            }
            while i > 0 && kth[i - 1] < v {
                kth[i] = kth[i - 1];
                i -= 1;
            }
            kth[i] = v;
        }
        best = best.max(c.q * kth[k - 1] as u64);
    }
    best
}

impl Cursor {
    /// Largest impact in the blocks that may hold documents of [lo, hi), and how many such
    /// blocks there are (the decoding the term would cost); moves the block of interest to
    /// the first that may hold lo. Decodes nothing.
    #[inline(always)]
    pub fn window_max(&mut self, lo: u32, hi: u32) -> (u64, u64) {
        self.shallow(lo);
        let seg = self.seg();
        let mut b = self.blk;
        let mut m = 0u32;
        while b < self.blk_end {
            m = m.max(Segment::u(seg.blk_max, b));
            if Segment::u(seg.blk_last, b) >= hi - 1 {
                b += 1;
                break;
            }
            b += 1;
        }
        (m as u64, (b - self.blk) as u64)
    }

    /// Add q * impact of every posting in [from, hi) to `acc[doc - lo]` (lo: the window's
    /// first document), leaving the cursor on the first posting >= hi.
    #[inline(always)]
    pub fn accumulate<S: Score>(&mut self, lo: u32, from: u32, hi: u32, acc: &mut [S; WINDOW]) {
        self.seek(from);
        let q = S::from_u64(self.q);
        while self.doc < hi {
            let n = self.n;
            let mut i = self.pos;
            let whole = Segment::u(self.seg().blk_last, self.blk) < hi;
            unsafe {
                if whole {
                    while i < n {
                        *acc.get_unchecked_mut((*self.docs.get_unchecked(i) - lo) as usize) += q.times(*self.imps.get_unchecked(i));
                        i += 1;
                    }
                }
                while i < n {
                    let d = *self.docs.get_unchecked(i);
                    if d >= hi {
                        break;
                    }
                    *acc.get_unchecked_mut((d - lo) as usize) += q.times(*self.imps.get_unchecked(i));
                    i += 1;
                }
            }
            if i < n {
                self.pos = i;
                self.doc = self.docs[i];
                return;
            }
            self.blk += 1;
            if self.blk < self.blk_end {
                self.load();
            } else {
                self.doc = END;
            }
        }
    }
}

/// Whether any bit in [a, b] (inclusive, window offsets) is set.
#[inline(always)]
fn any_in(bits: &[u64; WINDOW / 64], a: usize, b: usize) -> bool {
    let (wa, wb) = (a >> 6, b >> 6);
    let lo_mask = !0u64 << (a & 63);
    let hi_mask = !0u64 >> (63 - (b & 63));
    if wa == wb {
        return bits[wa] & lo_mask & hi_mask != 0;
    }
    if bits[wa] & lo_mask != 0 || bits[wb] & hi_mask != 0 {
        return true;
    }
    (wa + 1..wb).any(|w| bits[w] != 0)
}

impl Cursor {
    /// `accumulate` restricted to blocks that may hold a document of `cand`: the others are
    /// passed over on their skip data alone, without being decoded.
    #[inline(always)]
    pub fn accumulate_masked<S: Score>(&mut self, lo: u32, hi: u32, acc: &mut [S; WINDOW], cand: &[u64; WINDOW / 64]) {
        let seg = unsafe { &*self.seg };
        self.shallow(lo);
        while self.blk < self.blk_end {
            let b = self.blk;
            let first = if b > Segment::u(seg.term_blk, self.t) as usize { Segment::u(seg.blk_last, b - 1) + 1 } else { 0 };
            if first >= hi {
                break;
            }
            let last = Segment::u(seg.blk_last, b);
            let (a, z) = (first.max(lo) - lo, last.min(hi - 1) - lo);
            if any_in(cand, a as usize, z as usize) {
                self.accumulate(lo, first.max(lo), last.min(hi - 1) + 1, acc);
                if self.blk != b {
                    continue;
                }
            }
            if last >= hi {
                break;
            }
            self.blk = b + 1;
        }
    }
}

/// A window's score accumulator: u32 when no document of the segment can reach 2^31 for the
/// query (the usual case: impacts are quantized x100), else u64. Half-width accumulators
/// halve the window's memory traffic and let the candidate scan compare four at a time.
pub trait Score: Copy + Default + PartialOrd + core::ops::Add<Output = Self> + core::ops::AddAssign {
    /// `v` as a score; the caller guarantees it fits (a threshold saturates instead).
    fn from_u64(v: u64) -> Self;
    fn to_u64(self) -> u64;
    /// self (a query impact) x a document impact
    fn times(self, imp: u32) -> Self;
    /// Mark in `cand` the documents of the window's first `width` that some term holds
    /// (acc != 0) and that can still reach `th` with `rest` more; returns how many.
    fn select(acc: &[Self; WINDOW], width: usize, rest: Self, th: Self, cand: &mut [u64; WINDOW / 64]) -> usize;
}

impl Score for u64 {
    #[inline(always)]
    fn from_u64(v: u64) -> Self {
        v
    }
    #[inline(always)]
    fn to_u64(self) -> u64 {
        self
    }
    #[inline(always)]
    fn times(self, imp: u32) -> Self {
        self * imp as u64
    }
    #[inline(always)]
    fn select(acc: &[u64; WINDOW], width: usize, rest: u64, th: u64, cand: &mut [u64; WINDOW / 64]) -> usize {
        let mut left = 0usize;
        for o in 0..width {
            let a = acc[o];
            if a != 0 && a + rest >= th {
                cand[o >> 6] |= 1u64 << (o & 63);
                left += 1;
            }
        }
        left
    }
}

/// Scores below this bound use u32 accumulators (sums of two of them still fit).
pub const U32_SCORES: u64 = 1 << 31;

impl Score for u32 {
    #[inline(always)]
    fn from_u64(v: u64) -> Self {
        v.min(U32_SCORES) as u32
    }
    #[inline(always)]
    fn to_u64(self) -> u64 {
        self as u64
    }
    #[inline(always)]
    fn times(self, imp: u32) -> Self {
        self * imp
    }
    #[inline(always)]
    fn select(acc: &[u32; WINDOW], width: usize, rest: u32, th: u32, cand: &mut [u64; WINDOW / 64]) -> usize {
        // four documents per compare; lanes past `width` hold 0 and are never selected
        let zero = u32x4_splat(0);
        let restv = u32x4_splat(rest);
        let thv = u32x4_splat(th);
        let mut left = 0usize;
        let p = acc.as_ptr() as *const v128;
        for w in 0..(width + 63) / 64 {
            let mut bits = 0u64;
            for g in 0..16 {
                let v = unsafe { v128_load(p.add(w * 16 + g)) };
                let ok = v128_and(i32x4_ne(v, zero), u32x4_ge(i32x4_add(v, restv), thv));
                bits |= (i32x4_bitmask(ok) as u64) << (4 * g);
            }
            cand[w] = bits;
            left += bits.count_ones() as usize;
        }
        left
    }
}

/// Documents per window: small enough that block maxima give useful local bounds, large
/// enough that the per-window work (a bound per term) stays small next to the postings.
pub const WINDOW: usize = 2048;

/// Search one segment. `cur` holds one reset cursor per query term present in the segment.
///
/// Windowed, term-at-a-time MaxScore: the segment is cut into windows of WINDOW documents.
/// In each window every term's bound is its largest block maximum there, and a window whose
/// bounds sum below the threshold is skipped without decoding anything. Otherwise a set of
/// terms whose local bounds sum below the threshold is non-essential (chosen to hold the
/// most blocks): only documents some essential term holds are candidates. The essential
/// lists are added into the window's score array, then the non-essential ones, largest
/// bound first, each followed by dropping the candidates that cannot reach the threshold
/// any more with the bounds left; non-essential blocks without a candidate are passed over
/// on their skip data, and once no candidate is left the remaining lists are not touched.
/// Adding whole lists into an array beats merging cursors document by document (and
/// probing non-essential lists per candidate) when, as with learned sparse vectors, many
/// long lists carry similar bounds and most blocks get decoded either way.
pub fn search_segment(seg: &Segment, cur: &mut [Cursor], top: &mut TopK<u64>, floor: u64) {
    let m = cur.len();
    if m == 0 || seg.live == 0 {
        return;
    }
    // the largest score any document of the segment can have
    let mut bound = 0u64;
    for c in cur.iter() {
        bound += c.q * Segment::u(seg.term_max, c.t) as u64;
    }
    if bound < U32_SCORES {
        search_windows::<u32>(seg, cur, top, floor)
    } else {
        search_windows::<u64>(seg, cur, top, floor)
    }
}

fn search_windows<S: Score>(seg: &Segment, cur: &mut [Cursor], top: &mut TopK<u64>, floor: u64) {
    let m = cur.len();
    let n_docs = seg.n_docs as u32;
    let mut acc = [S::default(); WINDOW];
    let mut cand = [0u64; WINDOW / 64];
    let mut wmax = [0u64; MAX_TERMS];
    let mut order = [0usize; MAX_TERMS];
    let mut cost = [0u64; MAX_TERMS];
    let mut ne = [0usize; MAX_TERMS];
    let mut ess = [0usize; MAX_TERMS];
    let mut prefix = [0u64; MAX_TERMS];
    let mut lo = 0u32;
    while lo < n_docs {
        let hi = (lo + WINDOW as u32).min(n_docs);
        let width = (hi - lo) as usize;
        let mut th = theta(top, floor);
        let mut total = 0u64;
        for i in 0..m {
            let (bm, blocks) = cur[i].window_max(lo, hi);
            wmax[i] = cur[i].q * bm;
            cost[i] = blocks;
            total += wmax[i];
        }
        if total < th {
            lo = hi;
            continue;
        }
        // Non-essential terms: any set whose bounds sum below the threshold will do. Filling
        // it greedily with the terms that cost the most blocks per unit of bound leaves the
        // candidates to short lists, so long lists are mostly passed over on skip data.
        for i in 0..m {
            let mut j = i;
            // cost[a] / wmax[a] > cost[b] / wmax[b], without division (wmax may be 0)
            while j > 0 && cost[i] * wmax[order[j - 1]] > cost[order[j - 1]] * wmax[i] {
                order[j] = order[j - 1];
                j -= 1;
            }
            order[j] = i;
        }
        let mut p = 0usize;
        let mut ne_sum = 0u64;
        let mut tail = m;
        for j in 0..m {
            let i = order[j];
            if ne_sum + wmax[i] < th {
                ne_sum += wmax[i];
                ne[p] = i;
                p += 1;
            } else {
                tail -= 1;
                ess[tail] = i;
            }
        }
        // non-essential terms ascending by bound, so that prefix[j] bounds terms 0..=j
        for j in 0..p {
            let i = ne[j];
            let mut k = j;
            while k > 0 && wmax[order[k - 1]] > wmax[i] {
                order[k] = order[k - 1];
                k -= 1;
            }
            order[k] = i;
        }
        for j in p..m {
            order[j] = ess[j];
        }
        let mut sum = 0u64;
        for j in 0..p {
            sum += wmax[order[j]];
            prefix[j] = sum;
        }
        for j in p..m {
            cur[order[j]].accumulate(lo, lo, hi, &mut acc);
        }
        // candidates: held by an essential term, and able to reach the threshold
        let rest = if p > 0 { prefix[p - 1] } else { 0 };
        let mut left = S::select(&acc, width, S::from_u64(rest), S::from_u64(th), &mut cand);
        let mut j = p;
        while left > 0 && j > 0 {
            j -= 1;
            cur[order[j]].accumulate_masked(lo, hi, &mut acc, &cand);
            let rest = S::from_u64(if j > 0 { prefix[j - 1] } else { 0 });
            let th_s = S::from_u64(th);
            left = 0;
            for w in 0..(width + 63) / 64 {
                let mut bits = cand[w];
                let mut keep = bits;
                while bits != 0 {
                    let o = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if acc[o] + rest < th_s {
                        keep &= !(1u64 << (o & 63));
                    }
                }
                cand[w] = keep;
                left += keep.count_ones() as usize;
            }
        }
        if left > 0 {
            for w in 0..(width + 63) / 64 {
                let mut bits = cand[w];
                while bits != 0 {
                    let o = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let d = lo + o as u32;
                    let a = acc[o].to_u64();
                    if a >= th && !seg.deleted(d as usize) && top.offer(a, Segment::u(seg.ext, d as usize)) {
                        th = theta(top, floor);
                    }
                }
            }
        }
        for w in 0..(width + 63) / 64 {
            cand[w] = 0;
        }
        for o in 0..width {
            acc[o] = S::default();
        }
        lo = hi;
    }
}
