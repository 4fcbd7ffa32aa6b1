//! The sparse index of one wasm instance: sealed segments, pending documents and the map
//! from external ids to where each live document is.
//!
//! Queries are exact at all times: a search first seals the pending documents into a
//! segment, then runs every segment against one shared heap, skipping tombstoned documents.
//! Segments merge like a binary counter (the newest two merge while the newer holds more
//! than half the live documents of the older), which keeps O(log n) segments and merges
//! each document O(log n) times; `sp_optimize` merges everything into one.

use crate::build::{self, Pending};
use crate::idmap::IdMap;
use crate::ixmem;
use crate::maxscore::{score_floor, search_segment, Cursor, MAX_TERMS};
use crate::postings::BLOCK;
use crate::segment::Segment;
use crate::topk::TopK;

pub const OK: i32 = 0;
pub const E_NOMEM: i32 = -1;
pub const E_ARGS: i32 = -2;
pub const E_DUPLICATE: i32 = -3;
pub const E_MISSING: i32 = -4;
pub const E_STATE: i32 = -5;
pub const LOAD_DUPLICATE_ID: i32 = -17;
pub const LOAD_RESERVED_ID: i32 = -18;

const MAX_SEGS: usize = 48;
/// Seal pending documents once they hold this many postings (bounds the inversion's memory).
const FLUSH_POSTINGS: usize = 1 << 24;
/// id-map value of a pending document: (PENDING, index in pending)
const PENDING: u32 = u32::MAX;

struct Sparse {
    vocab: usize,
    segs: [Option<Segment>; MAX_SEGS],
    n_segs: usize,
    next_id: u32,
    ids: IdMap,
    pending: Pending,
    cursors: *mut Cursor,
    /// detail of the last error (the index of the offending document)
    detail: u32,
}

static mut SP: Sparse =
    Sparse { vocab: 0, segs: [None; MAX_SEGS], n_segs: 0, next_id: 1, ids: IdMap::new(), pending: Pending::new(), cursors: core::ptr::null_mut(), detail: 0 };

fn sp() -> &'static mut Sparse {
    unsafe { &mut SP }
}

impl Sparse {
    fn seg(&self, i: usize) -> &Segment {
        self.segs[i].as_ref().unwrap()
    }

    fn find_seg(&self, id: u32) -> Option<usize> {
        (0..self.n_segs).find(|&i| self.seg(i).id == id)
    }

    fn push_seg(&mut self, mut s: Segment) {
        s.id = self.next_id;
        self.next_id += 1;
        for o in 0..s.n_docs {
            self.ids.set(Segment::u(s.ext, o), [s.id, o as u32]);
        }
        self.segs[self.n_segs] = Some(s);
        self.n_segs += 1;
    }

    /// Replace segments lo..hi by their merge, which takes their place so that older
    /// documents stay first.
    fn merge(&mut self, lo: usize, hi: usize) -> i32 {
        let mut list = [*self.seg(lo); MAX_SEGS];
        for i in lo..hi {
            list[i - lo] = *self.seg(i);
        }
        let mut merged = match build::merge(&list[..hi - lo], self.vocab) {
            Some(s) => s,
            None => return E_NOMEM,
        };
        for s in &list[..hi - lo] {
            s.free();
        }
        let mut out = [None; MAX_SEGS];
        let mut c = 0;
        for i in 0..lo {
            out[c] = self.segs[i];
            c += 1;
        }
        if merged.n_docs > 0 {
            merged.id = self.next_id;
            self.next_id += 1;
            for o in 0..merged.n_docs {
                self.ids.set(Segment::u(merged.ext, o), [merged.id, o as u32]);
            }
            out[c] = Some(merged);
            c += 1;
        } else {
            merged.free();
        }
        for i in hi..self.n_segs {
            out[c] = self.segs[i];
            c += 1;
        }
        self.segs = out;
        self.n_segs = c;
        OK
    }

    fn flush(&mut self) -> i32 {
        if self.pending.len() == 0 {
            return OK;
        }
        if self.pending.live > 0 {
            if self.n_segs == MAX_SEGS {
                let r = self.merge(0, self.n_segs);
                if r != OK {
                    return r;
                }
            }
            let seg = match build::invert(&self.pending, self.vocab) {
                Some(s) => s,
                None => return E_NOMEM,
            };
            self.push_seg(seg);
        }
        self.pending.clear();
        while self.n_segs >= 2 && self.seg(self.n_segs - 1).live * 2 > self.seg(self.n_segs - 2).live {
            let r = self.merge(self.n_segs - 2, self.n_segs);
            if r != OK {
                return r;
            }
        }
        OK
    }

    fn cursors(&mut self) -> Option<&'static mut [Cursor]> {
        if self.cursors.is_null() {
            let p = ixmem::alloc(MAX_TERMS * core::mem::size_of::<Cursor>()) as *mut Cursor;
            if p.is_null() {
                return None;
            }
            for i in 0..MAX_TERMS {
                unsafe { p.add(i).write(Cursor::empty()) };
            }
            self.cursors = p;
        }
        Some(unsafe { core::slice::from_raw_parts_mut(self.cursors, MAX_TERMS) })
    }
}

#[no_mangle]
pub extern "C" fn sp_init(vocab: usize) -> i32 {
    let s = sp();
    if s.vocab != 0 || vocab == 0 {
        return E_STATE;
    }
    s.vocab = vocab;
    OK
}

#[no_mangle]
pub extern "C" fn sp_detail() -> u32 {
    sp().detail
}

/// Add `n` documents: external ids, term offsets (n + 1), term ids and impacts (u16).
/// The loader has checked term ids < vocab, impacts >= 1, no term twice in a document and
/// ids != u32::MAX. A duplicate id (present or earlier in the batch) adds nothing.
#[no_mangle]
pub extern "C" fn sp_add(n: usize, ext: *const u32, off: *const u32, terms: *const u32, imps: *const u16) -> i32 {
    let s = sp();
    if s.vocab == 0 {
        return E_STATE;
    }
    let ext = unsafe { core::slice::from_raw_parts(ext, n) };
    let off = unsafe { core::slice::from_raw_parts(off, n + 1) };
    let total = off[n] as usize;
    let p = &mut s.pending;
    if !s.ids.reserve(n) || !p.ext.reserve(n) || !p.dead.reserve(n) || !p.off.reserve(n + 1) || !p.terms.reserve(total) || !p.imps.reserve(total) {
        return E_NOMEM;
    }
    let base = p.len();
    for i in 0..n {
        if s.ids.get(ext[i]).is_some() {
            for j in 0..i {
                s.ids.remove(ext[j]);
            }
            s.detail = i as u32;
            return E_DUPLICATE;
        }
        s.ids.insert_new(ext[i], [PENDING, (base + i) as u32]);
    }
    if p.off.len == 0 {
        p.off.push(0);
    }
    let t0 = p.terms.len as u32;
    for i in 0..n {
        p.ext.push(ext[i]);
        p.dead.push(0);
        p.off.push(t0 + off[i + 1]);
    }
    unsafe {
        core::ptr::copy_nonoverlapping(terms, p.terms.ptr.add(p.terms.len), total);
        core::ptr::copy_nonoverlapping(imps, p.imps.ptr.add(p.imps.len), total);
    }
    p.terms.len += total;
    p.imps.len += total;
    p.live += n;
    if p.terms.len >= FLUSH_POSTINGS {
        return s.flush();
    }
    OK
}

#[no_mangle]
pub extern "C" fn sp_delete(ext: u32) -> i32 {
    let s = sp();
    let [seg, ord] = match s.ids.get(ext) {
        Some(v) => v,
        None => return E_MISSING,
    };
    if seg == PENDING {
        s.pending.dead.set(ord as usize, 1);
        s.pending.live -= 1;
    } else {
        let i = s.find_seg(seg).unwrap();
        s.segs[i].as_mut().unwrap().delete(ord as usize);
    }
    s.ids.remove(ext);
    OK
}

#[no_mangle]
pub extern "C" fn sp_contains(ext: u32) -> i32 {
    sp().ids.get(ext).is_some() as i32
}

#[no_mangle]
pub extern "C" fn sp_flush() -> i32 {
    sp().flush()
}

/// Seal everything into one segment without deleted documents.
#[no_mangle]
pub extern "C" fn sp_optimize() -> i32 {
    let s = sp();
    let r = s.flush();
    if r != OK {
        return r;
    }
    if s.n_segs > 1 || (s.n_segs == 1 && s.seg(0).live < s.seg(0).n_docs) {
        return s.merge(0, s.n_segs);
    }
    OK
}

/// Exact top-k for a query of `m` distinct terms with impacts >= 1. Writes up to k ids and
/// scores (best first) and returns how many, or an error code.
#[no_mangle]
pub extern "C" fn sp_search(terms: *const u32, q: *const u32, m: usize, k: usize, out_id: *mut u32, out_score: *mut f64) -> i32 {
    let s = sp();
    if m > MAX_TERMS || k == 0 {
        return E_ARGS;
    }
    let r = s.flush();
    if r != OK {
        return r;
    }
    let terms = unsafe { core::slice::from_raw_parts(terms, m) };
    let q = unsafe { core::slice::from_raw_parts(q, m) };
    let cursors = match s.cursors() {
        Some(c) => c,
        None => return E_NOMEM,
    };
    let mut top = match TopK::<u64>::new(k) {
        Some(t) => t,
        None => return E_NOMEM,
    };
    let mut floor = 0u64;
    for i in 0..s.n_segs {
        let seg = s.seg(i);
        let mut n = 0;
        for j in 0..m {
            let t = terms[j] as usize;
            if Segment::u(seg.term_cnt, t) > 0 {
                cursors[n].reset(seg, t, q[j] as u64);
                n += 1;
            }
        }
        floor = floor.max(score_floor(seg, &cursors[..n], k));
        search_segment(seg, &mut cursors[..n], &mut top, floor);
    }
    let ids = ixmem::zeroed::<u64>(k);
    let n = match ids {
        Some(buf) => {
            let n = top.drain(out_id, buf);
            for i in 0..n {
                unsafe { *out_score.add(i) = *buf.add(i) as f64 };
            }
            ixmem::free(buf as *mut u8);
            n as i32
        }
        None => E_NOMEM,
    };
    top.free();
    n
}

/// The exact score of each of `n` documents for the query; -1 for ids not in the index.
#[no_mangle]
pub extern "C" fn sp_score(terms: *const u32, q: *const u32, m: usize, ext: *const u32, n: usize, out: *mut f64) -> i32 {
    let s = sp();
    let r = s.flush();
    if r != OK {
        return r;
    }
    let terms = unsafe { core::slice::from_raw_parts(terms, m) };
    let q = unsafe { core::slice::from_raw_parts(q, m) };
    let mut docs = [0u32; BLOCK];
    let mut imps = [0u32; BLOCK];
    for i in 0..n {
        let e = unsafe { *ext.add(i) };
        let score = match s.ids.get(e) {
            None => -1.0,
            Some([id, ord]) => {
                let seg = s.seg(s.find_seg(id).unwrap());
                let mut sum = 0u64;
                for j in 0..m {
                    sum += q[j] as u64 * seg.impact_of(terms[j] as usize, ord, &mut docs, &mut imps) as u64;
                }
                sum as f64
            }
        };
        unsafe { *out.add(i) = score };
    }
    OK
}

/// [live docs, documents held including deleted, postings, segment bytes, id-map bytes,
///  pending documents, pending postings, segments]
#[no_mangle]
pub extern "C" fn sp_stats(out: *mut f64) {
    let s = sp();
    let (mut held, mut post, mut bytes, mut live) = (0usize, 0usize, 0usize, 0usize);
    for i in 0..s.n_segs {
        let g = s.seg(i);
        held += g.n_docs;
        post += g.postings;
        bytes += g.bytes;
        live += g.live;
    }
    let p = &s.pending;
    let pend_bytes = p.ext.bytes() + p.off.bytes() + p.terms.bytes() + p.imps.bytes() + p.dead.bytes();
    let v = [
        (live + p.live) as f64,
        (held + p.len()) as f64,
        post as f64,
        bytes as f64,
        (s.ids.bytes() + pend_bytes) as f64,
        p.live as f64,
        p.terms.len as f64,
        s.n_segs as f64,
    ];
    for (i, x) in v.iter().enumerate() {
        unsafe { *out.add(i) = *x };
    }
}

/// Where the arrays of the single segment live (after `sp_optimize` or `sp_load_begin`):
/// [n_docs, n_blocks, payload_len, ext, term_cnt, blk_last (then blk_off, blk_max), payload];
/// all zero when the index is empty.
#[no_mangle]
pub extern "C" fn sp_segment_info(out: *mut u32) -> i32 {
    let s = sp();
    if s.n_segs > 1 || s.pending.len() > 0 {
        return E_STATE;
    }
    let v = match s.segs[0] {
        None => [0u32; 7],
        Some(g) => [g.n_docs as u32, g.n_blocks as u32, g.payload_len as u32, g.ext as u32, g.term_cnt as u32, g.blk_last as u32, g.payload as u32],
    };
    for (i, x) in v.iter().enumerate() {
        unsafe { *out.add(i) = *x };
    }
    OK
}

/// Allocate the segment a file describes; the loader copies the sections in and calls
/// `sp_load_end`. Only on a fresh index.
#[no_mangle]
pub extern "C" fn sp_load_begin(n_docs: usize, n_blocks: usize, payload_len: usize) -> i32 {
    let s = sp();
    if s.vocab == 0 || s.n_segs > 0 || s.pending.len() > 0 || s.ids.len > 0 {
        return E_STATE;
    }
    match Segment::alloc(n_docs, s.vocab, n_blocks, payload_len) {
        Some(g) => {
            s.segs[0] = Some(g);
            s.n_segs = 1;
            OK
        }
        None => E_NOMEM,
    }
}

/// Validate the copied-in segment; on failure the index is left empty.
#[no_mangle]
pub extern "C" fn sp_load_end() -> i32 {
    let s = sp();
    if s.n_segs != 1 {
        return E_STATE;
    }
    let mut g = s.segs[0].unwrap();
    let mut r = g.validate();
    if r == OK && !s.ids.reserve(g.n_docs) {
        r = E_NOMEM;
    }
    if r == OK {
        for o in 0..g.n_docs {
            let e = Segment::u(g.ext, o);
            if e == crate::idmap::EMPTY {
                r = LOAD_RESERVED_ID;
            } else if s.ids.get(e).is_some() {
                r = LOAD_DUPLICATE_ID;
            } else {
                s.ids.insert_new(e, [PENDING, 0]);
                continue;
            }
            s.detail = o as u32;
            break;
        }
    }
    s.segs[0] = None;
    s.n_segs = 0;
    if r != OK {
        g.free();
        s.ids.clear();
        return r;
    }
    if g.n_docs == 0 {
        g.free();
        return OK;
    }
    s.push_seg(g);
    OK
}
