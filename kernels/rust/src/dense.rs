//! A flat dense index of one wasm instance: f32 rows, exact top-k by dot product.
//!
//! Scores are accumulated in f64 in a fixed order (four partial sums, element i into sum
//! i % 4, combined as (s0 + s2) + (s1 + s3), then the tail in order). Products of two f32
//! values are exact in f64, so the JS brute force (`denseDot`) that follows the same order
//! gets bit-identical scores and rankings can be compared exactly.
//! Deleted rows stay as holes until `dn_compact`.

use crate::idmap::{IdMap, EMPTY};
use crate::ixmem::Buf;
use crate::sparse::{E_ARGS, E_DUPLICATE, E_MISSING, E_NOMEM, E_STATE, LOAD_DUPLICATE_ID, LOAD_RESERVED_ID, OK};
use crate::topk::TopK;
use core::arch::wasm32::*;

struct Dense {
    dim: usize,
    rows: Buf<f32>,
    ext: Buf<u32>,
    dead: Buf<u8>,
    live: usize,
    ids: IdMap,
    detail: u32,
}

static mut DN: Dense = Dense { dim: 0, rows: Buf::new(), ext: Buf::new(), dead: Buf::new(), live: 0, ids: IdMap::new(), detail: 0 };

fn dn() -> &'static mut Dense {
    unsafe { &mut DN }
}

#[inline(always)]
fn dot(a: *const f32, b: *const f32, n: usize) -> f64 {
    let mut acc0 = f64x2_splat(0.0);
    let mut acc1 = f64x2_splat(0.0);
    let mut i = 0;
    unsafe {
        while i + 4 <= n {
            let va = v128_load(a.add(i) as *const v128);
            let vb = v128_load(b.add(i) as *const v128);
            let alo = f64x2_promote_low_f32x4(va);
            let blo = f64x2_promote_low_f32x4(vb);
            let ahi = f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 2, 3>(va, va));
            let bhi = f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 2, 3>(vb, vb));
            acc0 = f64x2_add(acc0, f64x2_mul(alo, blo));
            acc1 = f64x2_add(acc1, f64x2_mul(ahi, bhi));
            i += 4;
        }
        let t = f64x2_add(acc0, acc1);
        let mut s = f64x2_extract_lane::<0>(t) + f64x2_extract_lane::<1>(t);
        while i < n {
            s += *a.add(i) as f64 * *b.add(i) as f64;
            i += 1;
        }
        s
    }
}

#[no_mangle]
pub extern "C" fn dn_init(dim: usize) -> i32 {
    let d = dn();
    if d.dim != 0 || dim == 0 {
        return E_STATE;
    }
    d.dim = dim;
    OK
}

#[no_mangle]
pub extern "C" fn dn_detail() -> u32 {
    dn().detail
}

/// Add `n` rows (finite values, checked by the loader) with ids != u32::MAX.
#[no_mangle]
pub extern "C" fn dn_add(n: usize, ext: *const u32, vecs: *const f32) -> i32 {
    let d = dn();
    if d.dim == 0 {
        return E_STATE;
    }
    let total = match n.checked_mul(d.dim) {
        Some(t) => t,
        None => return E_ARGS,
    };
    if !d.ids.reserve(n) || !d.ext.reserve(n) || !d.dead.reserve(n) || !d.rows.reserve(total) {
        return E_NOMEM;
    }
    let ext = unsafe { core::slice::from_raw_parts(ext, n) };
    let base = d.ext.len;
    for i in 0..n {
        if d.ids.get(ext[i]).is_some() {
            for j in 0..i {
                d.ids.remove(ext[j]);
            }
            d.detail = i as u32;
            return E_DUPLICATE;
        }
        d.ids.insert_new(ext[i], [(base + i) as u32, 0]);
    }
    for i in 0..n {
        d.ext.push(ext[i]);
        d.dead.push(0);
    }
    unsafe { core::ptr::copy_nonoverlapping(vecs, d.rows.ptr.add(d.rows.len), total) };
    d.rows.len += total;
    d.live += n;
    OK
}

#[no_mangle]
pub extern "C" fn dn_contains(ext: u32) -> i32 {
    dn().ids.get(ext).is_some() as i32
}

#[no_mangle]
pub extern "C" fn dn_delete(ext: u32) -> i32 {
    let d = dn();
    match d.ids.get(ext) {
        None => E_MISSING,
        Some([row, _]) => {
            d.dead.set(row as usize, 1);
            d.ids.remove(ext);
            d.live -= 1;
            OK
        }
    }
}

/// Exact top-k of the live rows by dot product with `q` (best first); returns how many.
#[no_mangle]
pub extern "C" fn dn_search(q: *const f32, k: usize, out_id: *mut u32, out_score: *mut f64) -> i32 {
    let d = dn();
    if k == 0 {
        return E_ARGS;
    }
    let mut top = match TopK::<f64>::new(k) {
        Some(t) => t,
        None => return E_NOMEM,
    };
    for r in 0..d.ext.len {
        if d.dead.get(r) != 0 {
            continue;
        }
        let s = dot(q, unsafe { d.rows.ptr.add(r * d.dim) }, d.dim);
        top.offer(s, d.ext.get(r));
    }
    let n = top.drain(out_id, out_score);
    top.free();
    n as i32
}

/// The exact dot product of `q` with each of `n` rows by id; NaN for ids not in the index.
#[no_mangle]
pub extern "C" fn dn_score(q: *const f32, ext: *const u32, n: usize, out: *mut f64) -> i32 {
    let d = dn();
    for i in 0..n {
        let s = match d.ids.get(unsafe { *ext.add(i) }) {
            None => f64::NAN,
            Some([row, _]) => dot(q, unsafe { d.rows.ptr.add(row as usize * d.dim) }, d.dim),
        };
        unsafe { *out.add(i) = s };
    }
    OK
}

/// Drop deleted rows, keeping the others in order.
#[no_mangle]
pub extern "C" fn dn_compact() -> i32 {
    let d = dn();
    let mut w = 0usize;
    for r in 0..d.ext.len {
        if d.dead.get(r) != 0 {
            continue;
        }
        if w != r {
            unsafe { core::ptr::copy(d.rows.ptr.add(r * d.dim), d.rows.ptr.add(w * d.dim), d.dim) };
            let e = d.ext.get(r);
            d.ext.set(w, e);
            d.dead.set(w, 0);
            d.ids.set(e, [w as u32, 0]);
        }
        w += 1;
    }
    d.ext.len = w;
    d.dead.len = w;
    d.rows.len = w * d.dim;
    OK
}

/// [rows, live, rows pointer, ids pointer]
#[no_mangle]
pub extern "C" fn dn_info(out: *mut u32) {
    let d = dn();
    let v = [d.ext.len as u32, d.live as u32, d.rows.ptr as u32, d.ext.ptr as u32];
    for (i, x) in v.iter().enumerate() {
        unsafe { *out.add(i) = *x };
    }
}

/// Make room for `n` rows that the loader copies in (see `dn_info`), then `dn_load_end`.
#[no_mangle]
pub extern "C" fn dn_load_begin(n: usize) -> i32 {
    let d = dn();
    if d.dim == 0 || d.ext.len > 0 {
        return E_STATE;
    }
    let total = match n.checked_mul(d.dim) {
        Some(t) => t,
        None => return E_NOMEM,
    };
    if !d.ext.reserve(n) || !d.dead.reserve(n) || !d.rows.reserve(total) || !d.ids.reserve(n) {
        return E_NOMEM;
    }
    OK
}

/// Adopt `n` copied-in rows; duplicate or reserved ids leave the index empty.
#[no_mangle]
pub extern "C" fn dn_load_end(n: usize) -> i32 {
    let d = dn();
    for r in 0..n {
        let e = unsafe { *d.ext.ptr.add(r) };
        let bad = if e == EMPTY {
            LOAD_RESERVED_ID
        } else if d.ids.get(e).is_some() {
            LOAD_DUPLICATE_ID
        } else {
            d.ids.insert_new(e, [r as u32, 0]);
            OK
        };
        if bad != OK {
            d.ids.clear();
            d.detail = r as u32;
            return bad;
        }
    }
    d.ext.len = n;
    d.dead.len = n;
    for r in 0..n {
        d.dead.set(r, 0);
    }
    d.rows.len = n * d.dim;
    d.live = n;
    OK
}
