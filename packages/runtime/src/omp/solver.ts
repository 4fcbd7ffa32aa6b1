/**
 * Batched Orthogonal Matching Pursuit in the Rust wasm module (kernels/rust).
 * The module has its own memory: each call copies the dictionary and targets in,
 * runs `omp_batch` once and copies the results out, then releases everything.
 */
import { KernelLoadError, KernelTrapError, OutOfRangeError, ShapeError } from "../errors";
import { compileWasm, kernelFileUrl, type WasmSource } from "../kernel-files";

export interface OmpOptions {
  /** atoms per target (the sparsity); 1 <= k <= min(atoms, dim) */
  k: number;
  /** stop early once ||r|| <= tol * ||y|| (default 0: always take k atoms unless r vanishes) */
  tol?: number;
  /** choose atoms by |<r, d>| / ||d|| instead of |<r, d>| (default true) */
  normalize?: boolean;
  /**
   * ridge-regularise the final coefficients of the chosen atoms (default 0: plain least
   * squares): x = (G + lambda I)^-1 D_S y, G their Gram matrix, lambda = ridge times the mean
   * squared norm of the chosen atoms. The atoms chosen do not change.
   */
  ridge?: number;
}

export interface OmpResult {
  /** [nTargets, k] chosen atom indices in selection order, -1 where fewer were chosen */
  indices: Int32Array;
  /** [nTargets, k] least-squares coefficients for those atoms, 0 where unused */
  coefficients: Float32Array;
  /** [nTargets] final residual norms */
  residualNorms: Float32Array;
}

interface RustExports {
  memory: WebAssembly.Memory;
  es_alloc(bytes: number): number;
  es_mark(): number;
  es_release(mark: number): void;
  omp_batch(
    dict: number,
    nAtoms: number,
    dim: number,
    targets: number,
    nTargets: number,
    k: number,
    tol: number,
    normalize: number,
    ridge: number,
    outIdx: number,
    outCoef: number,
    outResid: number,
  ): number;
}

export class OmpSolver {
  private constructor(private readonly ex: RustExports) {}

  /** Load the Rust module (default: the packaged edgespec-rs.wasm). */
  static async create(source?: WasmSource): Promise<OmpSolver> {
    const module = await compileWasm(source ?? kernelFileUrl("edgespec-rs.wasm"), "the Rust OMP module");
    let inst: WebAssembly.Instance;
    try {
      inst = await WebAssembly.instantiate(module, {});
    } catch (e) {
      throw new KernelLoadError(`could not instantiate the Rust OMP module: ${(e as Error).message}`);
    }
    const ex = inst.exports as unknown as RustExports;
    for (const n of ["es_alloc", "es_mark", "es_release", "omp_batch"] as const) {
      if (typeof ex[n] !== "function") throw new KernelLoadError(`the Rust module lacks "${n}"`);
    }
    return new OmpSolver(ex);
  }

  /**
   * Approximate each row of `targets` [nTargets, dim] by k rows of `dictionary` [nAtoms, dim].
   */
  solve(dictionary: Float32Array, nAtoms: number, targets: Float32Array, nTargets: number, opts: OmpOptions): OmpResult {
    const dim = checkOmpArgs(dictionary, nAtoms, targets, nTargets, opts);
    const { k } = opts;
    const ex = this.ex;
    const mark = ex.es_mark();
    try {
      const need = (nAtoms * dim + nTargets * dim + nTargets * k * 2 + nTargets) * 4;
      const dp = this.alloc(nAtoms * dim * 4, need);
      const tp = this.alloc(nTargets * dim * 4, need);
      const ip = this.alloc(nTargets * k * 4, need);
      const cp = this.alloc(nTargets * k * 4, need);
      const rp = this.alloc(nTargets * 4, need);
      new Float32Array(ex.memory.buffer, dp, nAtoms * dim).set(dictionary);
      new Float32Array(ex.memory.buffer, tp, nTargets * dim).set(targets);
      let status: number;
      try {
        status = ex.omp_batch(dp, nAtoms, dim, tp, nTargets, k, opts.tol ?? 0, opts.normalize === false ? 0 : 1, opts.ridge ?? 0, ip, cp, rp);
      } catch (e) {
        if (e instanceof WebAssembly.RuntimeError) throw new KernelTrapError(`omp: the solver trapped (${e.message}); this is a bug, please report it`);
        throw e;
      }
      if (status === -1) throw new OutOfRangeError(`omp: out of memory for ${nAtoms} atoms x ${dim} dims`);
      if (status !== 0) throw new ShapeError(`omp: the solver rejected its arguments (status ${status})`);
      const buf = ex.memory.buffer;
      return {
        indices: new Int32Array(buf.slice(ip, ip + nTargets * k * 4)),
        coefficients: new Float32Array(buf.slice(cp, cp + nTargets * k * 4)),
        residualNorms: new Float32Array(buf.slice(rp, rp + nTargets * 4)),
      };
    } finally {
      ex.es_release(mark);
    }
  }

  private alloc(bytes: number, total: number): number {
    const p = this.ex.es_alloc(bytes);
    if (p === 0) throw new OutOfRangeError(`omp: out of wasm memory (needs about ${total} bytes plus workspace)`);
    return p;
  }
}

/** Shared argument checks; returns the dimension. */
export function checkOmpArgs(dictionary: Float32Array, nAtoms: number, targets: Float32Array, nTargets: number, opts: OmpOptions): number {
  if (!(dictionary instanceof Float32Array) || !(targets instanceof Float32Array)) throw new ShapeError("omp: dictionary and targets must be Float32Arrays");
  if (!Number.isInteger(nAtoms) || nAtoms < 1) throw new ShapeError(`omp: nAtoms must be a positive integer, got ${nAtoms}`);
  if (!Number.isInteger(nTargets) || nTargets < 0) throw new ShapeError(`omp: nTargets must be a non-negative integer, got ${nTargets}`);
  if (dictionary.length % nAtoms !== 0) throw new ShapeError(`omp: dictionary length ${dictionary.length} is not a multiple of nAtoms ${nAtoms}`);
  const dim = dictionary.length / nAtoms;
  if (dim < 1) throw new ShapeError("omp: atoms are empty");
  if (targets.length !== nTargets * dim) throw new ShapeError(`omp: targets must hold ${nTargets} x ${dim} values, got ${targets.length}`);
  const { k } = opts;
  if (!Number.isInteger(k) || k < 1 || k > nAtoms || k > dim)
    throw new OutOfRangeError(`omp: k must be an integer in [1, min(nAtoms=${nAtoms}, dim=${dim})], got ${k}`);
  const tol = opts.tol ?? 0;
  if (!Number.isFinite(tol) || tol < 0) throw new OutOfRangeError(`omp: tol must be finite and >= 0, got ${tol}`);
  const ridge = opts.ridge ?? 0;
  if (!Number.isFinite(ridge) || ridge < 0) throw new OutOfRangeError(`omp: ridge must be finite and >= 0, got ${ridge}`);
  for (let i = 0; i < dictionary.length; i++) if (!Number.isFinite(dictionary[i])) throw new OutOfRangeError(`omp: dictionary value ${i} is not finite`);
  for (let i = 0; i < targets.length; i++) if (!Number.isFinite(targets[i])) throw new OutOfRangeError(`omp: target value ${i} is not finite`);
  return dim;
}
