#!/usr/bin/env python3
"""Straightforward numpy Orthogonal Matching Pursuit: the speed and correctness reference for
edgespec's Rust OMP solver (kernels/rust/src/omp.rs), used by `edgespec bench transplant`.

    python3 tools/reference/omp_numpy.py IN.bin OUT.bin [--method lstsq|cholesky] [--ridge R]

IN.bin:  u32 n_atoms, u32 dim, u32 n_targets, u32 k, then f32 dictionary [n_atoms, dim] and
         f32 targets [n_targets, dim], little-endian.
OUT.bin: i32 indices [n_targets, k] (-1 unused), f32 coefficients [n_targets, k].
Prints one JSON line: {"seconds": wall time of the solve alone, "method": ...}.

The textbook algorithm, one target at a time (what a numpy user writes):
  pick the atom with the largest |<r, d>| / ||d|| (ties: lowest index, as numpy's argmax),
  least squares on the chosen atoms (np.linalg.lstsq, or a growing Cholesky factor of
  their Gram matrix with --method cholesky), r = y - D_S x; stop after k atoms or when no
  atom correlates with r. With --ridge R > 0 the chosen atoms' final coefficients are
  solved once more as (A^T A + lambda I) x = A^T y, lambda = R * mean(diag(A^T A)) (the
  atoms chosen do not change). Arithmetic is float64. Run it on one thread
  (OPENBLAS_NUM_THREADS=1) to compare against the single-threaded wasm solver.
"""
import json
import sys
import time

import numpy as np


def omp_lstsq(D, norms, y, k):
    r = y.copy()
    sel = []
    x = np.zeros(0)
    for _ in range(k):
        c = np.abs(D @ r) / norms
        c[sel] = 0.0
        j = int(np.argmax(c))
        if c[j] <= 0.0:
            break
        sel.append(j)
        A = D[sel].T
        x = np.linalg.lstsq(A, y, rcond=None)[0]
        r = y - A @ x
    return sel, x


def omp_cholesky(D, norms, y, k):
    r = y.copy()
    sel = []
    L = np.zeros((k, k))
    b = np.zeros(k)
    x = np.zeros(0)
    for s in range(k):
        c = np.abs(D @ r) / norms
        c[sel] = 0.0
        j = int(np.argmax(c))
        if c[j] <= 0.0:
            break
        d = D[j]
        if s > 0:
            v = D[sel] @ d
            w = np.linalg.solve(L[:s, :s], v)  # L is lower-triangular
            L[s, :s] = w
            L[s, s] = np.sqrt(max(d @ d - w @ w, 1e-300))
        else:
            L[0, 0] = np.sqrt(d @ d)
        sel.append(j)
        b[s] = d @ y
        z = np.linalg.solve(L[: s + 1, : s + 1], b[: s + 1])
        x = np.linalg.solve(L[: s + 1, : s + 1].T, z)
        r = y - D[sel].T @ x
    return sel, x


def ridge_coefficients(D, sel, y, ridge):
    A = D[sel].T
    G = A.T @ A
    lam = ridge * np.trace(G) / len(sel)
    return np.linalg.solve(G + lam * np.eye(len(sel)), A.T @ y)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    method = "cholesky" if "--method" in sys.argv and sys.argv[sys.argv.index("--method") + 1] == "cholesky" else "lstsq"
    if "--method" in sys.argv:
        args.remove(sys.argv[sys.argv.index("--method") + 1])
    ridge = 0.0
    if "--ridge" in sys.argv:
        value = sys.argv[sys.argv.index("--ridge") + 1]
        args.remove(value)
        ridge = float(value)
    src, dst = args
    raw = open(src, "rb").read()
    n_atoms, dim, n_targets, k = np.frombuffer(raw[:16], dtype="<u4").astype(int)
    off = 16
    D = np.frombuffer(raw[off : off + 4 * n_atoms * dim], dtype="<f4").reshape(n_atoms, dim).astype(np.float64)
    off += 4 * n_atoms * dim
    Y = np.frombuffer(raw[off : off + 4 * n_targets * dim], dtype="<f4").reshape(n_targets, dim).astype(np.float64)
    norms = np.sqrt((D * D).sum(axis=1))
    norms[norms == 0] = np.inf  # a zero atom is never chosen
    solve = omp_cholesky if method == "cholesky" else omp_lstsq
    idx = np.full((n_targets, k), -1, dtype="<i4")
    coef = np.zeros((n_targets, k), dtype="<f4")
    t0 = time.perf_counter()
    for t in range(n_targets):
        sel, x = solve(D, norms, Y[t], k)
        if ridge > 0 and sel:
            x = ridge_coefficients(D, sel, Y[t], ridge)
        idx[t, : len(sel)] = sel
        coef[t, : len(sel)] = x
    seconds = time.perf_counter() - t0
    with open(dst, "wb") as f:
        f.write(idx.tobytes())
        f.write(coef.tobytes())
    print(json.dumps({"seconds": seconds, "method": method, "ridge": ridge}))


if __name__ == "__main__":
    main()
