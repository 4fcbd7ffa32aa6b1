/**
 * Plain OMP for testing the Rust solver: the same greedy rule, but each step solves the
 * least-squares problem from scratch (normal equations, Gaussian elimination with partial
 * pivoting, float64). Slow and obvious. With `ridge`, the chosen atoms' final coefficients
 * are solved once more with lambda = ridge * mean squared atom norm added to the diagonal.
 */
import { checkOmpArgs, type OmpOptions, type OmpResult } from "./solver";

export function ompReference(dictionary: Float32Array, nAtoms: number, targets: Float32Array, nTargets: number, opts: OmpOptions): OmpResult {
  const dim = checkOmpArgs(dictionary, nAtoms, targets, nTargets, opts);
  const { k } = opts;
  const tol = opts.tol ?? 0;
  const normalize = opts.normalize !== false;
  const atom = (a: number) => dictionary.subarray(a * dim, (a + 1) * dim);
  const norms = Array.from({ length: nAtoms }, (_, a) => Math.sqrt(dot(atom(a), atom(a))));
  const indices = new Int32Array(nTargets * k).fill(-1);
  const coefficients = new Float32Array(nTargets * k);
  const residualNorms = new Float32Array(nTargets);
  for (let t = 0; t < nTargets; t++) {
    const y = Float64Array.from(targets.subarray(t * dim, (t + 1) * dim));
    const ynorm = Math.sqrt(dot(y, y));
    let r = Float64Array.from(y);
    const sel: number[] = [];
    const banned = new Set<number>();
    let x: number[] = [];
    while (sel.length < k && ynorm > 0 && Math.sqrt(dot(r, r)) > tol * ynorm) {
      let best = -1;
      let bv = 0;
      for (let a = 0; a < nAtoms; a++) {
        if (norms[a] === 0 || banned.has(a) || sel.includes(a)) continue;
        const s = Math.abs(dot(r, atom(a))) / (normalize ? norms[a] : 1);
        if (s > bv) {
          bv = s;
          best = a;
        }
      }
      if (best < 0) break;
      const trial = [...sel, best];
      const sol = leastSquares(trial.map(atom), y);
      if (!sol) {
        banned.add(best);
        continue;
      }
      sel.push(best);
      x = sol;
      r = Float64Array.from(y);
      for (let j = 0; j < sel.length; j++) {
        const d = atom(sel[j]);
        for (let i = 0; i < dim; i++) r[i] -= x[j] * d[i];
      }
    }
    if ((opts.ridge ?? 0) > 0 && sel.length > 0) {
      x = leastSquares(sel.map(atom), y, opts.ridge) ?? x;
      r = Float64Array.from(y);
      for (let j = 0; j < sel.length; j++) {
        const d = atom(sel[j]);
        for (let i = 0; i < dim; i++) r[i] -= x[j] * d[i];
      }
    }
    for (let j = 0; j < sel.length; j++) {
      indices[t * k + j] = sel[j];
      coefficients[t * k + j] = x[j];
    }
    residualNorms[t] = Math.sqrt(dot(r, r));
  }
  return { indices, coefficients, residualNorms };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * argmin ||y - sum_j x_j atoms_j|| (+ lambda ||x||^2 with ridge > 0, lambda = ridge * mean
 * squared atom norm), or null when the atoms are (nearly) dependent.
 */
function leastSquares(atoms: ArrayLike<number>[], y: ArrayLike<number>, ridge = 0): number[] | null {
  const n = atoms.length;
  const a = atoms.map((ai) => atoms.map((aj) => dot(ai, aj)));
  if (ridge > 0) {
    const lambda = (ridge * a.reduce((s, row, i) => s + row[i], 0)) / n;
    for (let i = 0; i < n; i++) a[i][i] += lambda;
  }
  const b = atoms.map((ai) => dot(ai, y));
  const scale = Math.max(...a.map((row, i) => row[i]));
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    if (Math.abs(a[p][c]) < 1e-10 * scale) return null;
    [a[c], a[p]] = [a[p], a[c]];
    [b[c], b[p]] = [b[p], b[c]];
    for (let r = c + 1; r < n; r++) {
      const f = a[r][c] / a[c][c];
      for (let j = c; j < n; j++) a[r][j] -= f * a[c][j];
      b[r] -= f * b[c];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r];
    for (let j = r + 1; j < n; j++) s -= a[r][j] * x[j];
    x[r] = s / a[r][r];
  }
  return x;
}
