/**
 * A flat (exhaustive) dense index: exact top-k by dot product over f32 rows in the Rust
 * module (kernels/rust/src/dense.rs), scored in f64 in a fixed order that `denseDot`
 * reproduces bit for bit. Ids and ties as in SparseIndex: u32 ids given or sequential,
 * score descending then lower id first.
 */
import { NonFiniteError, OutOfRangeError, ShapeError, type WasmSource } from "@edgespec/runtime";
import { DuplicateDocumentError, IndexFormatError } from "./errors";
import { readContainer, requireSection, u32Fields, u32Section, writeContainer } from "./format";
import { checkDocId, checkK, MAX_DOC_ID } from "./impacts";
import type { SearchResult } from "./types";
import { instantiate, Status, Wasm } from "./wasm";

export type DenseVector = Float32Array | number[];

export interface DenseIndexOptions {
  dim: number;
  wasm?: WasmSource;
}

export interface DenseIndexStats {
  docs: number;
  /** rows held, deleted ones included until `optimize` */
  rows: number;
  bytes: number;
  bytesPerDoc: number;
  memoryBytes: number;
}

const MAX_DIM = 1 << 16;
const CHUNK_VALUES = 1 << 22;

export class DenseIndex {
  private nextId = 0;
  private live = 0;

  private constructor(
    private readonly w: Wasm,
    readonly dim: number,
  ) {}

  static async create(opts: DenseIndexOptions): Promise<DenseIndex> {
    const dim = opts?.dim;
    if (!Number.isInteger(dim) || dim < 1 || dim > MAX_DIM) throw new OutOfRangeError(`dim must be an integer in [1, ${MAX_DIM}], got ${dim}`);
    const w = new Wasm(await instantiate(opts.wasm), "dense index");
    w.check(w.ex.dn_init(dim), "init");
    return new DenseIndex(w, dim);
  }

  get size(): number {
    return this.live;
  }

  has(docId: number): boolean {
    return Number.isInteger(docId) && docId >= 0 && docId <= MAX_DOC_ID && this.w.ex.dn_contains(docId) === 1;
  }

  add(docId: number, vector: DenseVector): number;
  add(vector: DenseVector): number;
  add(a: number | DenseVector, b?: DenseVector): number {
    return typeof a === "number" ? this.addBatch([b as DenseVector], [a])[0] : this.addBatch([a])[0];
  }

  /** Add rows (all or none); returns their ids. */
  addBatch(vectors: DenseVector[], docIds?: ArrayLike<number>): Uint32Array {
    const n = vectors.length;
    vectors.forEach((v, i) => {
      this.checkVector(v, `document ${docIds ? docIds[i] : this.nextId + i}`);
    });
    let ids: Uint32Array;
    if (docIds === undefined) {
      if (this.nextId + n - 1 > MAX_DOC_ID) throw new OutOfRangeError(`sequential document ids would pass ${MAX_DOC_ID}`);
      ids = Uint32Array.from({ length: n }, (_, i) => this.nextId + i);
    } else {
      if (docIds.length !== n) throw new OutOfRangeError(`${n} vectors but ${docIds.length} document ids`);
      const seen = new Set<number>();
      for (let i = 0; i < n; i++) {
        checkDocId(docIds[i]);
        if (seen.has(docIds[i]) || this.has(docIds[i])) throw new DuplicateDocumentError(docIds[i]);
        seen.add(docIds[i]);
      }
      ids = Uint32Array.from(docIds);
    }
    const per = Math.max(1, Math.floor(CHUNK_VALUES / this.dim));
    for (let s = 0; s < n; s += per) this.addChunk(vectors, ids, s, Math.min(n, s + per));
    this.live += n;
    if (n > 0) this.nextId = Math.max(this.nextId, ids.reduce((m, x) => Math.max(m, x), 0) + 1);
    return ids;
  }

  private addChunk(vectors: DenseVector[], ids: Uint32Array, start: number, end: number): void {
    const n = end - start;
    const w = this.w;
    const pIds = w.alloc(n * 4);
    const pVecs = w.alloc(n * this.dim * 4);
    try {
      w.u32(pIds, n).set(ids.subarray(start, end));
      const rows = w.f32(pVecs, n * this.dim);
      for (let i = 0; i < n; i++) rows.set(vectors[start + i], i * this.dim);
      const st = w.call("add", () => w.ex.dn_add(n, pIds, pVecs));
      if (st === Status.DUPLICATE) throw new DuplicateDocumentError(ids[start + w.ex.dn_detail()]);
      w.check(st, "add");
    } finally {
      w.free(pIds, pVecs);
    }
  }

  private checkVector(v: DenseVector, what: string): void {
    if (!(v instanceof Float32Array) && !Array.isArray(v)) throw new ShapeError(`${what}: expected a Float32Array or number[]`);
    if (v.length !== this.dim) throw new ShapeError(`${what}: ${v.length} values, the index has dim ${this.dim}`);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x !== "number" || !Number.isFinite(x)) throw new NonFiniteError(`${what}: value ${i} is ${x}; vectors must be finite`);
    }
  }

  delete(docId: number): boolean {
    if (!Number.isInteger(docId) || docId < 0 || docId > MAX_DOC_ID) return false;
    const st = this.w.ex.dn_delete(docId);
    if (st === Status.MISSING) return false;
    this.w.check(st, "delete");
    this.live--;
    return true;
  }

  search(query: DenseVector, k: number): SearchResult {
    checkK(k);
    this.checkVector(query, "query");
    const kk = Math.min(k, this.live);
    if (kk === 0) return { ids: new Uint32Array(0), scores: new Float64Array(0) };
    const w = this.w;
    const pq = w.alloc(this.dim * 4);
    const pOut = w.alloc(kk * 12);
    try {
      w.f32(pq, this.dim).set(query);
      const n = w.check(
        w.call("search", () => w.ex.dn_search(pq, kk, pOut + 8 * kk, pOut)),
        "search",
      );
      return { ids: w.u32(pOut + 8 * kk, n).slice(), scores: w.f64(pOut, n).slice() };
    } finally {
      w.free(pq, pOut);
    }
  }

  /** Exact dot products with the given documents (NaN for ids not in the index). */
  scoreDocs(query: DenseVector, docIds: ArrayLike<number>): Float64Array {
    this.checkVector(query, "query");
    const n = docIds.length;
    const out = new Float64Array(n);
    if (n === 0) return out;
    const w = this.w;
    const pq = w.alloc(this.dim * 4);
    const pIds = w.alloc(n * 4);
    const pOut = w.alloc(n * 8);
    try {
      w.f32(pq, this.dim).set(query);
      const ids = w.u32(pIds, n);
      for (let i = 0; i < n; i++) {
        const id = docIds[i];
        ids[i] = Number.isInteger(id) && id >= 0 && id <= MAX_DOC_ID ? id : 0xffffffff;
      }
      w.check(
        w.call("score", () => w.ex.dn_score(pq, pIds, n, pOut)),
        "score",
      );
      out.set(w.f64(pOut, n));
    } finally {
      w.free(pq, pIds, pOut);
    }
    return out;
  }

  /** Drop deleted rows. */
  optimize(): void {
    this.w.check(this.w.ex.dn_compact(), "optimize");
  }

  private info(): { rows: number; pRows: number; pIds: number } {
    const w = this.w;
    const p = w.alloc(16);
    try {
      w.ex.dn_info(p);
      const [rows, , pRows, pIds] = w.u32(p, 4);
      return { rows, pRows, pIds };
    } finally {
      w.free(p);
    }
  }

  stats(): DenseIndexStats {
    const { rows } = this.info();
    const bytes = rows * (this.dim * 4 + 5);
    return { docs: this.live, rows, bytes, bytesPerDoc: rows > 0 ? bytes / rows : 0, memoryBytes: this.w.ex.memory.buffer.byteLength };
  }

  /** One file: META (dim, next sequential id, rows), DOCS (ids), VECS (f32 rows). Compacts first. */
  save(): Uint8Array {
    this.optimize();
    const { rows, pRows, pIds } = this.info();
    const w = this.w;
    return writeContainer("DENS", [
      { tag: "META", bytes: u32Section([this.dim, this.nextId, rows]) },
      { tag: "DOCS", bytes: rows ? w.u8(pIds, rows * 4) : new Uint8Array(0) },
      { tag: "VECS", bytes: rows ? w.u8(pRows, rows * this.dim * 4) : new Uint8Array(0) },
    ]);
  }

  static async load(bytes: Uint8Array, opts: { wasm?: WasmSource } = {}): Promise<DenseIndex> {
    const what = "dense index file";
    const sections = readContainer(bytes, "DENS");
    const [dim, nextId, rows] = u32Fields(requireSection(sections, "META", 12, what));
    if (dim < 1 || dim > MAX_DIM) throw new IndexFormatError("layout", `${what}: dimension ${dim} is outside [1, ${MAX_DIM}]`, "META");
    const ids = requireSection(sections, "DOCS", rows * 4, what);
    const vecs = requireSection(sections, "VECS", rows * dim * 4, what);
    const values = new Float32Array(vecs.slice().buffer);
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new IndexFormatError("layout", `${what}: row ${Math.floor(i / dim)} holds ${values[i]}`, "VECS");
    }
    const idx = await DenseIndex.create({ dim, wasm: opts.wasm });
    const w = idx.w;
    w.check(w.ex.dn_load_begin(rows), "load");
    if (rows > 0) {
      const info = idx.info();
      w.u8(info.pIds, ids.length).set(ids);
      w.u8(info.pRows, vecs.length).set(vecs);
    }
    const st = w.ex.dn_load_end(rows);
    if (st === Status.DUPLICATE_ID || st === Status.RESERVED_ID) {
      throw new IndexFormatError(
        "layout",
        `${what}: document id at row ${w.ex.dn_detail()} is ${st === Status.DUPLICATE_ID ? "duplicated" : "reserved (0xFFFFFFFF)"}`,
        "DOCS",
      );
    }
    w.check(st, "load");
    idx.nextId = nextId;
    idx.live = rows;
    return idx;
  }
}

/** The dense index's dot product in the same order of f64 operations (see dense.rs). */
export function denseDot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  let s = s0 + s2 + (s1 + s3);
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}
