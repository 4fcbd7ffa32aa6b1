/**
 * Rebuild one embedding matrix (embed_tokens or lm_head) of the base model for the donor's
 * vocabulary. Shared tokens (anchors) keep the base's row bit for bit. Every other donor row
 * is approximated:
 *   omp   - the donor's row as a k-sparse combination of the donor's anchor rows (Orthogonal
 *           Matching Pursuit), then the same coefficients over the base's rows of those
 *           anchors (Goddard & Fernandes Neto 2025, mergekit-tokensurgeon). Two safeguards
 *           for small hidden sizes, both on by default and both off with
 *           `{ center: false, ridge: 0 }` (the paper's plain form):
 *           - center: each side's anchor rows are centred on their own mean before OMP, and
 *             the base row is base anchor mean + sum_j c_j (base anchor_j - base anchor mean).
 *             Trained embeddings share a large common component; uncentred, OMP spends its
 *             atoms on it and the transferred rows carry a copy of the base's mean, which as
 *             an lm_head row raises every new token at once (the `mean` baseline's failure);
 *           - ridge: the chosen atoms' final coefficients are ridge least squares with lambda =
 *             ridge x their mean squared norm. With k near the hidden size (k = 64 atoms in 64
 *             or 128 dims) plain least squares fits the donor row exactly with an
 *             ill-conditioned system whose coefficients do not transfer.
 *           The atoms chosen are plain OMP's on the (centred) rows, in the Rust solver;
 *   mean  - the mean of the base's rows;
 *   zero  - zeros;
 *   randn - normal noise with the per-dimension mean and spread of the base's rows.
 */
import { type OmpSolver, ShapeError, splitmix32 } from "@edgespec/runtime";
import type { VocabularyMatch } from "./vocabulary";

export const TRANSPLANT_METHODS = ["omp", "mean", "zero", "randn"] as const;
export type TransplantMethod = (typeof TRANSPLANT_METHODS)[number];

/** A row-major [rows, dim] matrix. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  dim: number;
}

export interface InitializeOptions {
  method: TransplantMethod;
  /** atoms per OMP approximation (default 64) */
  k?: number;
  /** OMP: ridge on the final coefficients, lambda = ridge x mean squared norm of the chosen atoms (default 1; 0 = plain least squares) */
  ridge?: number;
  /** OMP: centre the donor and base anchor rows on their means first (default true) */
  center?: boolean;
  /** the wasm OMP solver (method "omp") */
  solver?: OmpSolver;
  /** randn's seed (default 0) */
  seed?: number;
  /** what the matrix is called in errors and progress ("embed_tokens", "lm_head") */
  name?: string;
  /** OMP progress: rows approximated so far of `total` */
  onProgress?: (done: number, total: number, name: string) => void;
}

export interface InitializedMatrix extends Matrix {
  /** omp: [approximated rows, k] anchor donor ids chosen per approximated row (-1 unused), in `approximated` order */
  atoms?: Int32Array;
  /** the donor ids that were approximated (every row that is not an anchor) */
  approximated: Int32Array;
}

export const DEFAULT_K = 64;
export const DEFAULT_RIDGE = 1;
const OMP_CHUNK = 1024;

/**
 * The base matrix re-indexed by the donor's vocabulary: `donor.rows` rows of `base.dim`.
 * `donor` is the donor model's matrix of the same role (its rows are the OMP targets).
 */
export function initializeMatrix(base: Matrix, donor: Matrix, match: VocabularyMatch, opts: InitializeOptions): InitializedMatrix {
  const name = opts.name ?? "embeddings";
  checkMatrix(base, `base ${name}`);
  checkMatrix(donor, `donor ${name}`);
  if (match.donorToBase.length > donor.rows) {
    throw new ShapeError(`donor ${name} has ${donor.rows} rows but the donor tokenizer has ${match.donorToBase.length} tokens`);
  }
  const out = new Float32Array(donor.rows * base.dim);
  const isAnchor = new Uint8Array(donor.rows);
  for (const d of match.anchors) {
    const b = match.donorToBase[d];
    if (b >= base.rows) throw new ShapeError(`base ${name} has ${base.rows} rows; the base tokenizer's token ${b} has none`);
    out.set(base.data.subarray(b * base.dim, (b + 1) * base.dim), d * base.dim);
    isAnchor[d] = 1;
  }
  const approximated = new Int32Array(donor.rows - match.anchors.length);
  for (let d = 0, n = 0; d < donor.rows; d++) if (!isAnchor[d]) approximated[n++] = d;

  switch (opts.method) {
    case "zero":
      return { data: out, rows: donor.rows, dim: base.dim, approximated };
    case "mean": {
      const mean = columnStats(base).mean;
      for (const d of approximated) out.set(mean, d * base.dim);
      return { data: out, rows: donor.rows, dim: base.dim, approximated };
    }
    case "randn": {
      const { mean, std } = columnStats(base);
      const normal = gaussian(opts.seed ?? 0);
      for (const d of approximated) for (let j = 0; j < base.dim; j++) out[d * base.dim + j] = mean[j] + std[j] * normal();
      return { data: out, rows: donor.rows, dim: base.dim, approximated };
    }
    case "omp":
      return { ...ompRows(base, donor, match, approximated, out, opts, name), approximated };
    default:
      throw new ShapeError(`unknown transplant method ${JSON.stringify(opts.method)}; use one of ${TRANSPLANT_METHODS.join(", ")}`);
  }
}

/** Checks k against the anchors before any work, so a bad k fails with a reason. */
export function checkK(k: number, anchors: number, donorDim: number): void {
  if (!Number.isInteger(k) || k < 1) throw new ShapeError(`k must be a positive integer, got ${k}`);
  if (k > anchors) throw new ShapeError(`k = ${k} is larger than the anchor set (${anchors} shared tokens); use --k ${anchors} or less`);
  if (k > donorDim) throw new ShapeError(`k = ${k} is larger than the donor's hidden size ${donorDim}; OMP cannot use more atoms than dimensions`);
}

function ompRows(
  base: Matrix,
  donor: Matrix,
  match: VocabularyMatch,
  targets: Int32Array,
  out: Float32Array,
  opts: InitializeOptions,
  name: string,
): { data: Float32Array; rows: number; dim: number; atoms: Int32Array } {
  const k = opts.k ?? DEFAULT_K;
  const ridge = opts.ridge ?? DEFAULT_RIDGE;
  const center = opts.center ?? true;
  checkK(k, match.anchors.length, donor.dim);
  if (!(Number.isFinite(ridge) && ridge >= 0)) throw new ShapeError(`ridge must be a finite number >= 0, got ${ridge}`);
  if (!opts.solver) throw new ShapeError("method omp needs the OMP solver (OmpSolver.create())");
  const problem = ompProblem(donor, match, center);
  const { dictionary } = problem;
  const baseAnchors = gatherRows(
    base,
    Int32Array.from(match.anchors, (d) => match.donorToBase[d]),
  );
  const baseMean = center ? subtractMean(baseAnchors, base.dim) : new Float32Array(base.dim);
  const atoms = new Int32Array(targets.length * k).fill(-1);
  // solved in chunks so a large vocabulary reports progress (each chunk is one wasm call)
  for (let start = 0; start < targets.length; start += OMP_CHUNK) {
    const chunk = targets.subarray(start, Math.min(targets.length, start + OMP_CHUNK));
    const { indices, coefficients } = opts.solver.solve(dictionary, match.anchors.length, problem.targets(chunk), chunk.length, { k, ridge });
    for (let t = 0; t < chunk.length; t++) {
      const row = out.subarray(chunk[t] * base.dim, (chunk[t] + 1) * base.dim);
      const acc = Float64Array.from(baseMean);
      for (let j = 0; j < k; j++) {
        const a = indices[t * k + j];
        if (a < 0) break;
        atoms[(start + t) * k + j] = match.anchors[a];
        const c = coefficients[t * k + j];
        for (let i = 0; i < base.dim; i++) acc[i] += c * baseAnchors[a * base.dim + i];
      }
      row.set(acc);
    }
    opts.onProgress?.(start + chunk.length, targets.length, name);
  }
  if (!out.every(Number.isFinite)) throw new ShapeError(`OMP produced non-finite ${name} rows (are the donor embeddings finite?)`);
  return { data: out, rows: donor.rows, dim: base.dim, atoms };
}

/**
 * The OMP problem of a transplant in the donor's space: the dictionary (the donor's anchor
 * rows, [anchors, dim]) and the targets of given donor ids, both centred on the anchors' mean
 * when `center` is set. Exported so that benchmarks time the very problem a transplant solves.
 */
export function ompProblem(
  donor: Matrix,
  match: VocabularyMatch,
  center = true,
): { dictionary: Float32Array; mean: Float32Array; targets(ids: Int32Array): Float32Array } {
  const dictionary = gatherRows(donor, match.anchors);
  const mean = center ? subtractMean(dictionary, donor.dim) : new Float32Array(donor.dim);
  return {
    dictionary,
    mean,
    targets(ids: Int32Array): Float32Array {
      const t = gatherRows(donor, ids);
      if (center) for (let i = 0; i < t.length; i++) t[i] -= mean[i % donor.dim];
      return t;
    },
  };
}

/** Subtracts the column mean (float64 sums) from a row-major matrix in place; returns the mean. */
function subtractMean(rows: Float32Array, dim: number): Float32Array {
  const n = rows.length / dim;
  const sum = new Float64Array(dim);
  for (let r = 0; r < n; r++) for (let j = 0; j < dim; j++) sum[j] += rows[r * dim + j];
  const mean = Float32Array.from(sum, (v) => v / n);
  for (let r = 0; r < n; r++) for (let j = 0; j < dim; j++) rows[r * dim + j] -= mean[j];
  return mean;
}

function checkMatrix(m: Matrix, what: string): void {
  if (!(m.rows > 0 && m.dim > 0) || m.data.length !== m.rows * m.dim) {
    throw new ShapeError(`${what}: expected ${m.rows} x ${m.dim} = ${m.rows * m.dim} values, got ${m.data.length}`);
  }
}

function gatherRows(m: Matrix, ids: Int32Array): Float32Array {
  const out = new Float32Array(ids.length * m.dim);
  for (let i = 0; i < ids.length; i++) out.set(m.data.subarray(ids[i] * m.dim, (ids[i] + 1) * m.dim), i * m.dim);
  return out;
}

/** Per-column mean and standard deviation of a matrix (float64 sums). */
function columnStats(m: Matrix): { mean: Float32Array; std: Float32Array } {
  const sum = new Float64Array(m.dim);
  const sq = new Float64Array(m.dim);
  for (let r = 0; r < m.rows; r++) {
    for (let j = 0; j < m.dim; j++) {
      const v = m.data[r * m.dim + j];
      sum[j] += v;
      sq[j] += v * v;
    }
  }
  const mean = new Float32Array(m.dim);
  const std = new Float32Array(m.dim);
  for (let j = 0; j < m.dim; j++) {
    const mu = sum[j] / m.rows;
    mean[j] = mu;
    std[j] = Math.sqrt(Math.max(0, sq[j] / m.rows - mu * mu));
  }
  return { mean, std };
}

/** Standard normal draws (Box-Muller over a seeded uniform generator). */
function gaussian(seed: number): () => number {
  const uniform = splitmix32(seed);
  return () => {
    const u = 1 - uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}
