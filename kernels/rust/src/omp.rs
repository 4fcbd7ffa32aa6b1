//! Batched Orthogonal Matching Pursuit.
//!
//! For each target y (a row of `targets`), greedily pick up to k atoms (rows of `dict`)
//! and least-squares coefficients x so that y ~ sum_j x_j * dict[sel_j]:
//!   1. correlate the residual with every atom; pick the atom with the largest |c|
//!      (divided by the atom norm when `normalize` is set); ties go to the lower index;
//!   2. extend the Cholesky factor L of the Gram matrix of the chosen atoms by one row
//!      (an atom that is numerically dependent on the chosen ones is skipped);
//!   3. solve L z = D_S y by one forward step and L^T x = z by back substitution;
//!   4. recompute the residual r = y - D_S x; stop at k atoms, at ||r|| <= tol * ||y||,
//!      or when no atom correlates with r any more.
//! With `ridge` > 0 the final coefficients of the chosen atoms are ridge-regularised least
//! squares, (G + lambda I) x = D_S y with G = L L^T their Gram matrix and lambda = ridge times
//! the mean squared norm of the chosen atoms (the selection itself is plain OMP). With k close
//! to the dimension the plain solve fits the target exactly with an ill-conditioned system;
//! the ridge keeps the coefficients small.
//! Targets run in batches so that each pass over the dictionary (the dominant cost,
//! n_atoms * dim per step) serves several residuals while they sit in cache.

use crate::heap::Scratch;
use core::arch::wasm32::*;

const BATCH: usize = 16;

/// Status codes returned to the loader.
pub const OK: i32 = 0;
pub const E_NOMEM: i32 = -1;
pub const E_ARGS: i32 = -2;

#[inline(always)]
fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut acc0 = f32x4_splat(0.0);
    let mut acc1 = f32x4_splat(0.0);
    let mut i = 0;
    unsafe {
        while i + 8 <= n {
            let pa = a.as_ptr().add(i) as *const v128;
            let pb = b.as_ptr().add(i) as *const v128;
            acc0 = f32x4_add(acc0, f32x4_mul(v128_load(pa), v128_load(pb)));
            acc1 = f32x4_add(acc1, f32x4_mul(v128_load(pa.add(1)), v128_load(pb.add(1))));
            i += 8;
        }
    }
    let s = f32x4_add(acc0, acc1);
    let mut r = (f32x4_extract_lane::<0>(s) + f32x4_extract_lane::<1>(s)) + (f32x4_extract_lane::<2>(s) + f32x4_extract_lane::<3>(s));
    while i < n {
        r += a[i] * b[i];
        i += 1;
    }
    r
}

#[inline(always)]
fn dot_f64(a: &[f32], b: &[f32]) -> f64 {
    let mut s = 0.0f64;
    for i in 0..a.len().min(b.len()) {
        s += a[i] as f64 * b[i] as f64;
    }
    s
}

/// Per-target state of one batch slot.
struct Slot<'a> {
    target: usize,
    active: bool,
    s: usize,
    ynorm2: f64,
    sel: &'a mut [i32],
    chol: &'a mut [f64],
    b: &'a mut [f64],
    z: &'a mut [f64],
    x: &'a mut [f64],
    rejected: &'a mut [i32],
    n_rejected: usize,
}

/// Run OMP for `n_targets` targets. Outputs: `out_idx` [n_targets, k] (-1 = unused),
/// `out_coef` [n_targets, k] (0 = unused), `out_resid` [n_targets] (final ||r||).
/// Returns OK, E_NOMEM or E_ARGS.
#[no_mangle]
pub extern "C" fn omp_batch(
    dict: *const f32,
    n_atoms: usize,
    dim: usize,
    targets: *const f32,
    n_targets: usize,
    k: usize,
    tol: f32,
    normalize: i32,
    ridge: f32,
    out_idx: *mut i32,
    out_coef: *mut f32,
    out_resid: *mut f32,
) -> i32 {
    if n_atoms == 0 || dim == 0 || k == 0 || k > n_atoms || k > dim || !(ridge >= 0.0) || !ridge.is_finite() {
        return E_ARGS;
    }
    let dict = unsafe { core::slice::from_raw_parts(dict, n_atoms * dim) };
    let targets = unsafe { core::slice::from_raw_parts(targets, n_targets * dim) };
    let out_idx = unsafe { core::slice::from_raw_parts_mut(out_idx, n_targets * k) };
    let out_coef = unsafe { core::slice::from_raw_parts_mut(out_coef, n_targets * k) };
    let out_resid = unsafe { core::slice::from_raw_parts_mut(out_resid, n_targets) };

    let mut scratch = Scratch::new();
    let (norm2, inv_norm, resid, corr, gram) = match (
        scratch.take::<f64>(n_atoms),
        scratch.take::<f32>(n_atoms),
        scratch.take::<f32>(BATCH * dim),
        scratch.take::<f32>(BATCH * n_atoms),
        scratch.take::<f64>(k * k),
    ) {
        (Some(a), Some(b), Some(c), Some(d), Some(e)) => (a, b, c, d, e),
        _ => return E_NOMEM,
    };
    for a in 0..n_atoms {
        let n2 = dot_f64(&dict[a * dim..(a + 1) * dim], &dict[a * dim..(a + 1) * dim]);
        norm2[a] = n2;
        inv_norm[a] = if n2 > 0.0 {
            if normalize != 0 {
                (1.0 / libm_sqrt(n2)) as f32
            } else {
                1.0
            }
        } else {
            0.0 // zero atoms can never be chosen
        };
    }

    // Per-slot buffers, carved once.
    let mut slots_mem: [Option<Slot>; BATCH] = Default::default();
    for slot in slots_mem.iter_mut() {
        let (sel, chol, b, z, x, rejected) = match (
            scratch.take::<i32>(k),
            scratch.take::<f64>(k * k),
            scratch.take::<f64>(k),
            scratch.take::<f64>(k),
            scratch.take::<f64>(k),
            scratch.take::<i32>(k),
        ) {
            (Some(a), Some(b), Some(c), Some(d), Some(e), Some(f)) => (a, b, c, d, e, f),
            _ => return E_NOMEM,
        };
        *slot = Some(Slot { target: 0, active: false, s: 0, ynorm2: 0.0, sel, chol, b, z, x, rejected, n_rejected: 0 });
    }

    let tol2 = (tol as f64) * (tol as f64);
    let mut start = 0;
    while start < n_targets {
        let nb = BATCH.min(n_targets - start);
        for i in 0..nb {
            let slot = slots_mem[i].as_mut().unwrap();
            let t = start + i;
            let y = &targets[t * dim..(t + 1) * dim];
            slot.target = t;
            slot.s = 0;
            slot.n_rejected = 0;
            slot.ynorm2 = dot_f64(y, y);
            slot.active = slot.ynorm2 > 0.0;
            resid[i * dim..(i + 1) * dim].copy_from_slice(y);
        }
        loop {
            let any = (0..nb).any(|i| slots_mem[i].as_ref().unwrap().active);
            if !any {
                break;
            }
            // 1. correlations: atoms outer so each atom row is read once for the batch
            for a in 0..n_atoms {
                if inv_norm[a] == 0.0 {
                    continue;
                }
                let da = &dict[a * dim..(a + 1) * dim];
                for i in 0..nb {
                    if slots_mem[i].as_ref().unwrap().active {
                        corr[i * n_atoms + a] = dot_f32(&resid[i * dim..(i + 1) * dim], da);
                    }
                }
            }
            for i in 0..nb {
                let slot = slots_mem[i].as_mut().unwrap();
                if !slot.active {
                    continue;
                }
                let t = slot.target;
                let y = &targets[t * dim..(t + 1) * dim];
                let c = &mut corr[i * n_atoms..(i + 1) * n_atoms];
                // chosen and rejected atoms are out of the running
                for j in 0..slot.s {
                    c[slot.sel[j] as usize] = 0.0;
                }
                for j in 0..slot.n_rejected {
                    c[slot.rejected[j] as usize] = 0.0;
                }
                let r = &mut resid[i * dim..(i + 1) * dim];
                if !step(slot, c, inv_norm, norm2, dict, dim, y) {
                    slot.active = false;
                    continue;
                }
                // 4. residual and stopping test
                residual(slot, dict, dim, y, r);
                let rn2 = dot_f64(r, r);
                if slot.s >= k || rn2 <= tol2 * slot.ynorm2 {
                    slot.active = false;
                }
            }
        }
        for i in 0..nb {
            let slot = slots_mem[i].as_mut().unwrap();
            let t = slot.target;
            if ridge > 0.0 && slot.s > 0 {
                ridge_solve(slot, norm2, ridge as f64, gram);
                residual(slot, dict, dim, &targets[t * dim..(t + 1) * dim], &mut resid[i * dim..(i + 1) * dim]);
            }
            for j in 0..k {
                if j < slot.s {
                    out_idx[t * k + j] = slot.sel[j];
                    out_coef[t * k + j] = slot.x[j] as f32;
                } else {
                    out_idx[t * k + j] = -1;
                    out_coef[t * k + j] = 0.0;
                }
            }
            let r = &resid[i * dim..(i + 1) * dim];
            out_resid[t] = libm_sqrt(dot_f64(r, r)) as f32;
        }
        start += nb;
    }
    OK
}

/// Steps 1-3 for one target: choose an atom, grow the factor, solve for x.
/// Returns false when the target should stop (no usable atom left).
/// r = y - sum of the slot's coefficients times their atoms.
fn residual(slot: &Slot, dict: &[f32], dim: usize, y: &[f32], r: &mut [f32]) {
    r[..dim].copy_from_slice(&y[..dim]);
    for j in 0..slot.s {
        let xa = slot.x[j] as f32;
        let a = slot.sel[j] as usize;
        let da = &dict[a * dim..(a + 1) * dim];
        for d in 0..dim {
            r[d] -= xa * da[d];
        }
    }
}

fn step(slot: &mut Slot, c: &mut [f32], inv_norm: &[f32], norm2: &[f64], dict: &[f32], dim: usize, y: &[f32]) -> bool {
    let k = slot.sel.len();
    loop {
        // largest |c| / ||atom||; first index wins ties
        let mut best = usize::MAX;
        let mut best_v = 0.0f32;
        for (a, &v) in c.iter().enumerate() {
            let s = f32::from_bits(v.to_bits() & 0x7fff_ffff) * inv_norm[a];
            if s > best_v {
                best_v = s;
                best = a;
            }
        }
        if best == usize::MAX {
            return false;
        }
        let s = slot.s;
        let da = &dict[best * dim..(best + 1) * dim];
        // w = L^-1 v with v_j = <atom_j, atom_best>
        let mut w2 = 0.0f64;
        for j in 0..s {
            let aj = slot.sel[j] as usize;
            let mut v = dot_f64(&dict[aj * dim..(aj + 1) * dim], da);
            for i in 0..j {
                v -= slot.chol[j * k + i] * slot.chol[s * k + i];
            }
            let wj = v / slot.chol[j * k + j];
            slot.chol[s * k + j] = wj;
            w2 += wj * wj;
        }
        let d2 = norm2[best] - w2;
        if !(d2 > 1e-10 * norm2[best]) {
            // numerically inside the span of the chosen atoms: skip it for good
            c[best] = 0.0;
            if slot.n_rejected < slot.rejected.len() {
                slot.rejected[slot.n_rejected] = best as i32;
                slot.n_rejected += 1;
            }
            continue;
        }
        let lss = libm_sqrt(d2);
        slot.chol[s * k + s] = lss;
        slot.sel[s] = best as i32;
        // forward step for the new row of z, then back substitution for x
        slot.b[s] = dot_f64(da, y);
        let mut zs = slot.b[s];
        for j in 0..s {
            zs -= slot.chol[s * k + j] * slot.z[j];
        }
        slot.z[s] = zs / lss;
        slot.s = s + 1;
        let n = slot.s;
        for jj in 0..n {
            let j = n - 1 - jj;
            let mut v = slot.z[j];
            for i in (j + 1)..n {
                v -= slot.chol[i * k + j] * slot.x[i];
            }
            slot.x[j] = v / slot.chol[j * k + j];
        }
        return true;
    }
}

/// Ridge coefficients of the chosen atoms: (L L^T + lambda I) x = b, lambda = ridge * mean(||d_j||^2),
/// by a Cholesky factor of that (positive definite) matrix in `m`; overwrites slot.z and slot.x.
fn ridge_solve(slot: &mut Slot, norm2: &[f64], ridge: f64, m: &mut [f64]) {
    let n = slot.s;
    let k = slot.sel.len();
    let mut tr = 0.0f64;
    for j in 0..n {
        tr += norm2[slot.sel[j] as usize];
    }
    let lambda = ridge * tr / n as f64;
    // lower triangle of G + lambda I, G = L L^T
    for i in 0..n {
        for j in 0..=i {
            let mut v = 0.0f64;
            for l in 0..=j {
                v += slot.chol[i * k + l] * slot.chol[j * k + l];
            }
            m[i * k + j] = if i == j { v + lambda } else { v };
        }
    }
    for j in 0..n {
        let mut d = m[j * k + j];
        for l in 0..j {
            d -= m[j * k + l] * m[j * k + l];
        }
        let d = libm_sqrt(d);
        m[j * k + j] = d;
        for i in (j + 1)..n {
            let mut v = m[i * k + j];
            for l in 0..j {
                v -= m[i * k + l] * m[j * k + l];
            }
            m[i * k + j] = v / d;
        }
    }
    for i in 0..n {
        let mut v = slot.b[i];
        for l in 0..i {
            v -= m[i * k + l] * slot.z[l];
        }
        slot.z[i] = v / m[i * k + i];
    }
    for ii in 0..n {
        let i = n - 1 - ii;
        let mut v = slot.z[i];
        for l in (i + 1)..n {
            v -= m[l * k + i] * slot.x[l];
        }
        slot.x[i] = v / m[i * k + i];
    }
}

/// sqrt for f64 without std: wasm has an instruction for it.
#[inline(always)]
fn libm_sqrt(x: f64) -> f64 {
    f64x2_extract_lane::<0>(f64x2_sqrt(f64x2_splat(x)))
}
