//! Posting blocks: up to BLOCK postings, bit-packed at the block's own widths.
//!
//! A block is [delta bits u8][impact bits u8] then one little-endian bit stream holding the
//! `n` doc-id gaps (doc - previous doc - 1, the previous doc of a term's first block being -1)
//! followed by the `n` impacts. Gaps minus one make a term that occurs in every document cost
//! zero bits per doc id, and per-block widths keep one outlier gap from inflating a whole list.
//! Payload buffers carry 16 zero bytes past their end so that every read is one unaligned
//! u64 or v128.
//!
//! Full blocks (128 postings) lay each stream out vertically, as in SIMD-BP128: value i sits
//! in 32-bit lane i % 4 at bit (i / 4) * width of that lane's stream, the four streams
//! interleaved word by word, so one v128 shift-and-mask yields four consecutive values. The
//! byte length is the same as the plain layout; only the last, partial block of a list uses
//! the plain layout, so short lists pay no padding.

use core::arch::wasm32::*;

pub const BLOCK: usize = 128;
/// Bytes readable past the end of a payload.
pub const PAD: usize = 16;

#[inline(always)]
pub fn bits(v: u32) -> u32 {
    32 - v.leading_zeros()
}

/// Bytes of the block holding `docs`/`imps`, whose previous doc id is `prev` (-1 for none).
pub fn block_bytes(docs: &[u32], imps: &[u32], prev: i64) -> usize {
    let (db, ib) = widths(docs, imps, prev);
    2 + (docs.len() * (db + ib) as usize + 7) / 8
}

fn widths(docs: &[u32], imps: &[u32], prev: i64) -> (u32, u32) {
    let mut p = prev;
    let mut gaps = 0u32;
    let mut ors = 0u32;
    for i in 0..docs.len() {
        gaps |= (docs[i] as i64 - p - 1) as u32;
        p = docs[i] as i64;
        ors |= imps[i];
    }
    (bits(gaps), bits(ors))
}

/// Write one block at `out` (zeroed, with PAD bytes of slack); returns its byte length.
pub unsafe fn write_block(out: *mut u8, docs: &[u32], imps: &[u32], prev: i64) -> usize {
    let (db, ib) = widths(docs, imps, prev);
    *out = db as u8;
    *out.add(1) = ib as u8;
    let body = out.add(2);
    if docs.len() == BLOCK {
        let mut p = prev;
        for (i, &d) in docs.iter().enumerate() {
            put_v(body, db as usize, i, (d as i64 - p - 1) as u32);
            p = d as i64;
        }
        let ibody = body.add(16 * db as usize);
        for (i, &m) in imps.iter().enumerate() {
            put_v(ibody, ib as usize, i, m);
        }
        return 2 + 16 * (db + ib) as usize;
    }
    let mut bit = 0usize;
    let mut p = prev;
    for &d in docs {
        put(body, bit, (d as i64 - p - 1) as u32);
        p = d as i64;
        bit += db as usize;
    }
    for &m in imps {
        put(body, bit, m);
        bit += ib as usize;
    }
    2 + (bit + 7) / 8
}

#[inline(always)]
unsafe fn put(body: *mut u8, bit: usize, v: u32) {
    if v == 0 {
        return;
    }
    let p = body.add(bit >> 3) as *mut u64;
    p.write_unaligned(p.read_unaligned() | ((v as u64) << (bit & 7)));
}

/// Store value `i` of a vertical 128-value stream of width `b`.
unsafe fn put_v(body: *mut u8, b: usize, i: usize, v: u32) {
    if b == 0 {
        return;
    }
    let (lane, j) = (i % 4, i / 4);
    let bit = j * b;
    let (w, sh) = (bit / 32, bit % 32);
    let at = body.add(w * 16 + lane * 4) as *mut u32;
    at.write_unaligned(at.read_unaligned() | v << sh);
    if sh + b > 32 {
        let nx = body.add((w + 1) * 16 + lane * 4) as *mut u32;
        nx.write_unaligned(nx.read_unaligned() | v >> (32 - sh));
    }
}

/// Unpack a vertical stream of 128 values of width `b` into `out`; with DELTA, turn gaps
/// into doc ids (each = previous + 1 + gap, starting from `prev`).
#[inline(always)]
unsafe fn unpack_v<const DELTA: bool>(src: *const u8, b: usize, out: *mut u32, prev: u32) {
    let zero = u32x4_splat(0);
    let one = u32x4_splat(1);
    let mut carry = u32x4_splat(prev);
    let mask = u32x4_splat(if b >= 32 { u32::MAX } else { (1u32 << b) - 1 });
    let mut w = src as *const v128;
    let mut cur = if b > 0 { v128_load(w) } else { zero };
    let mut s = 0u32;
    let b32 = b as u32;
    for j in 0..32 {
        let mut v = u32x4_shr(cur, s);
        if b > 0 {
            s += b32;
            if s >= 32 {
                s -= 32;
                w = w.add(1);
                cur = v128_load(w);
                if s > 0 {
                    v = v128_or(v, i32x4_shl(cur, b32 - s));
                }
            }
        }
        v = v128_and(v, mask);
        if DELTA {
            v = i32x4_add(v, one);
            v = i32x4_add(v, i32x4_shuffle::<0, 4, 5, 6>(zero, v));
            v = i32x4_add(v, i32x4_shuffle::<0, 1, 4, 5>(zero, v));
            v = i32x4_add(v, carry);
            carry = i32x4_shuffle::<3, 3, 3, 3>(v, v);
        }
        v128_store(out.add(4 * j) as *mut v128, v);
    }
}

#[inline(always)]
unsafe fn get(body: *const u8, bit: usize, mask: u64) -> u32 {
    ((body.add(bit >> 3) as *const u64).read_unaligned() >> (bit & 7) & mask) as u32
}

/// Decode `n` postings of the block at `src` into `docs`/`imps`; `prev` as for writing.
/// Returns the block's byte length. The caller guarantees widths <= 32 and the bytes present.
#[inline(always)]
pub unsafe fn read_block(src: *const u8, n: usize, prev: i64, docs: &mut [u32; BLOCK], imps: &mut [u32; BLOCK]) -> usize {
    let db = *src as usize;
    let ib = *src.add(1) as usize;
    let body = src.add(2);
    if n == BLOCK {
        unpack_v::<true>(body, db, docs.as_mut_ptr(), prev as u32);
        unpack_v::<false>(body.add(16 * db), ib, imps.as_mut_ptr(), 0);
        return 2 + 16 * (db + ib);
    }
    let mut d = (prev + 1) as u32;
    if db == 0 {
        for i in 0..n {
            docs[i] = d;
            d = d.wrapping_add(1);
        }
    } else {
        let mask = (1u64 << db) - 1;
        let mut bit = 0usize;
        for i in 0..n {
            d = d.wrapping_add(get(body, bit, mask));
            docs[i] = d;
            d = d.wrapping_add(1);
            bit += db;
        }
    }
    let mask = (1u64 << ib) - 1;
    let mut bit = n * db;
    for i in 0..n {
        imps[i] = get(body, bit, mask);
        bit += ib;
    }
    2 + (n * (db + ib) + 7) / 8
}

/// Widths of the block at `src` (for validation before `read_block`).
pub unsafe fn block_widths(src: *const u8) -> (usize, usize) {
    (*src as usize, *src.add(1) as usize)
}
