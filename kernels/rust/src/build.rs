//! Making segments: inverting pending documents, and merging segments (which drops the
//! postings of deleted documents and renumbers the survivors in segment order).

use crate::ixmem::{self, Buf};
use crate::postings::BLOCK;
use crate::segment::{Segment, Writer};

/// Documents added since the last flush, in insertion order.
pub struct Pending {
    pub ext: Buf<u32>,
    /// start of each document's terms; one more entry than documents
    pub off: Buf<u32>,
    pub terms: Buf<u32>,
    pub imps: Buf<u16>,
    pub dead: Buf<u8>,
    pub live: usize,
}

impl Pending {
    pub const fn new() -> Self {
        Pending { ext: Buf::new(), off: Buf::new(), terms: Buf::new(), imps: Buf::new(), dead: Buf::new(), live: 0 }
    }

    pub fn len(&self) -> usize {
        self.ext.len
    }

    pub fn clear(&mut self) {
        self.ext.release();
        self.off.release();
        self.terms.release();
        self.imps.release();
        self.dead.release();
        self.live = 0;
    }
}

/// Temporary arrays freed together when the builder returns, on success or failure.
struct Temps {
    ptrs: [*mut u8; 8],
    n: usize,
}

impl Temps {
    fn new() -> Self {
        Temps { ptrs: [core::ptr::null_mut(); 8], n: 0 }
    }

    fn take<T: Copy>(&mut self, n: usize) -> Option<&'static mut [T]> {
        let p = ixmem::zeroed::<T>(n.max(1))?;
        self.ptrs[self.n] = p as *mut u8;
        self.n += 1;
        Some(unsafe { core::slice::from_raw_parts_mut(p, n.max(1)) })
    }
}

impl Drop for Temps {
    fn drop(&mut self) {
        for i in 0..self.n {
            ixmem::free(self.ptrs[i]);
        }
    }
}

/// Invert the live pending documents into a segment (ordinals in insertion order).
pub fn invert(p: &Pending, vocab: usize) -> Option<Segment> {
    let mut tmp = Temps::new();
    let start = tmp.take::<u32>(vocab + 1)?;
    let mut total = 0usize;
    for i in 0..p.len() {
        if p.dead.get(i) != 0 {
            continue;
        }
        for j in p.off.get(i) as usize..p.off.get(i + 1) as usize {
            start[p.terms.get(j) as usize + 1] += 1;
            total += 1;
        }
    }
    for t in 0..vocab {
        start[t + 1] += start[t];
    }
    let fill = tmp.take::<u32>(vocab)?;
    fill.copy_from_slice(&start[..vocab]);
    let docs = tmp.take::<u32>(total)?;
    let imps = tmp.take::<u32>(total)?;
    let mut ord = 0u32;
    for i in 0..p.len() {
        if p.dead.get(i) != 0 {
            continue;
        }
        for j in p.off.get(i) as usize..p.off.get(i + 1) as usize {
            let t = p.terms.get(j) as usize;
            let at = fill[t] as usize;
            fill[t] += 1;
            docs[at] = ord;
            imps[at] = p.imps.get(j) as u32;
        }
        ord += 1;
    }
    let list = |t: usize| (start[t] as usize, start[t + 1] as usize);
    let mut w = Writer::new();
    for t in 0..vocab {
        let (a, b) = list(t);
        w.size(&docs[a..b], &imps[a..b]);
    }
    let mut seg = Segment::alloc(ord as usize, vocab, w.n_blocks, w.payload)?;
    let mut w = Writer::new();
    for t in 0..vocab {
        let (a, b) = list(t);
        w.write(&mut seg, t, &docs[a..b], &imps[a..b]);
    }
    let mut o = 0;
    for i in 0..p.len() {
        if p.dead.get(i) == 0 {
            unsafe { *seg.ext.add(o) = p.ext.get(i) };
            o += 1;
        }
    }
    Some(seg)
}

/// Merge `src` (in order) into one segment of their live documents; None when out of memory.
/// The result may have zero documents.
pub fn merge(src: &[Segment], vocab: usize) -> Option<Segment> {
    let mut tmp = Temps::new();
    let mut all = 0usize;
    let mut live = 0usize;
    let mut longest = 0usize;
    for s in src {
        all += s.n_docs;
        live += s.live;
    }
    for t in 0..vocab {
        let mut n = 0usize;
        for s in src {
            n += Segment::u(s.term_cnt, t) as usize;
        }
        longest = longest.max(n);
    }
    // new ordinal of each source document, u32::MAX for the deleted
    let remap = tmp.take::<u32>(all)?;
    let mut o = 0u32;
    let mut at = 0usize;
    for s in src {
        for d in 0..s.n_docs {
            remap[at + d] = if s.deleted(d) {
                u32::MAX
            } else {
                o += 1;
                o - 1
            };
        }
        at += s.n_docs;
    }
    let docs = tmp.take::<u32>(longest)?;
    let imps = tmp.take::<u32>(longest)?;
    let mut w = Writer::new();
    for t in 0..vocab {
        let n = gather(src, remap, t, docs, imps);
        w.size(&docs[..n], &imps[..n]);
    }
    let mut seg = Segment::alloc(live, vocab, w.n_blocks, w.payload)?;
    let mut w = Writer::new();
    for t in 0..vocab {
        let n = gather(src, remap, t, docs, imps);
        w.write(&mut seg, t, &docs[..n], &imps[..n]);
    }
    let mut at = 0usize;
    for s in src {
        for d in 0..s.n_docs {
            let r = remap[at + d];
            if r != u32::MAX {
                unsafe { *seg.ext.add(r as usize) = Segment::u(s.ext, d) };
            }
        }
        at += s.n_docs;
    }
    Some(seg)
}

/// The live postings of term `t` over all sources, renumbered; returns how many.
fn gather(src: &[Segment], remap: &[u32], t: usize, docs: &mut [u32], imps: &mut [u32]) -> usize {
    let mut bd = [0u32; BLOCK];
    let mut bi = [0u32; BLOCK];
    let mut n = 0usize;
    let mut at = 0usize;
    for s in src {
        for b in Segment::u(s.term_blk, t) as usize..Segment::u(s.term_blk, t + 1) as usize {
            let len = s.decode(t, b, &mut bd, &mut bi);
            for i in 0..len {
                let r = remap[at + bd[i] as usize];
                if r != u32::MAX {
                    docs[n] = r;
                    imps[n] = bi[i];
                    n += 1;
                }
            }
        }
        at += s.n_docs;
    }
    n
}
