/**
 * An exact top-k inverted index over sparse vectors with integer impacts, in the Rust module
 * (kernels/rust/src/sparse.rs): block-max MaxScore over bit-packed posting blocks.
 *
 * Documents: external ids are u32 in [0, 0xFFFFFFFE], given by the caller or, when left
 * out, assigned sequentially from one more than the largest id ever added (starting at 0).
 * A deleted id may be added again. Additions go to a pending buffer that the next search
 * seals into a segment; deletions are tombstones until segments merge, so every search is
 * exact. Results: score descending, ties broken by the lower document id; only documents
 * that share a term with the query (score > 0) are returned.
 */
import { OutOfRangeError, type WasmSource } from "@edgespec/runtime";
import { DuplicateDocumentError, IndexFormatError } from "./errors";
import { readContainer, requireSection, type Section, u32Fields, u32Section, writeContainer } from "./format";
import { checkDocId, checkK, ImpactEncoder, MAX_DOC_ID } from "./impacts";
import type { SearchResult, SparseVector } from "./types";
import { instantiate, Status, Wasm } from "./wasm";

export const DEFAULT_VOCAB = 30522;
/** Query terms per search (the module's cursor table). */
export const MAX_QUERY_TERMS = 1024;
/** Postings copied into the module per call of a large batch. */
const CHUNK_POSTINGS = 1 << 22;
const MAX_VOCAB = 1 << 24;

export interface SparseIndexOptions {
  /** term ids are < vocab (default 30522, BERT's WordPiece vocabulary) */
  vocab?: number;
  /** the Rust module, where the host cannot load the packaged file (Workers) */
  wasm?: WasmSource;
}

export interface SparseIndexStats {
  /** live documents */
  docs: number;
  /** deleted documents whose postings are still held (until segments merge) */
  deletedDocs: number;
  /** postings held in segments */
  postings: number;
  /** bytes of the segments: compressed postings, skip data, term tables, ids */
  bytes: number;
  /** `bytes` per held document */
  bytesPerDoc: number;
  /** bytes of the id map and the pending buffer */
  auxBytes: number;
  segments: number;
  pendingDocs: number;
  /** the module's whole linear memory */
  memoryBytes: number;
}

const LOAD_ERRORS: Record<number, [string, string]> = {
  [Status.TERM_COUNTS]: ["TERM", "term posting counts do not add up to the block count"],
  [Status.BLOCK_OFFSETS]: ["BLKS", "block offsets are out of order or outside the postings"],
  [Status.BLOCK_WIDTHS]: ["POST", "a block has impossible bit widths or length"],
  [Status.DOC_ORDER]: ["POST", "a posting list is not in increasing document order within the segment"],
  [Status.IMPACTS]: ["POST", "a posting has impact 0"],
  [Status.SKIP_DATA]: ["BLKS", "skip data (a block's last document) disagrees with the postings"],
  [Status.BLOCK_MAX]: ["BLKS", "a block's max impact disagrees with its postings"],
  [Status.DUPLICATE_ID]: ["DOCS", "a document id appears twice"],
  [Status.RESERVED_ID]: ["DOCS", "a document id is 0xFFFFFFFF (reserved)"],
};

export class SparseIndex {
  private nextId = 0;
  private live = 0;
  private readonly enc: ImpactEncoder;

  private constructor(
    private readonly w: Wasm,
    readonly vocab: number,
  ) {
    this.enc = new ImpactEncoder(vocab);
  }

  static async create(opts: SparseIndexOptions = {}): Promise<SparseIndex> {
    const vocab = opts.vocab ?? DEFAULT_VOCAB;
    if (!Number.isInteger(vocab) || vocab < 1 || vocab > MAX_VOCAB) throw new OutOfRangeError(`vocab must be an integer in [1, ${MAX_VOCAB}], got ${vocab}`);
    const w = new Wasm(await instantiate(opts.wasm), "sparse index");
    w.check(w.ex.sp_init(vocab), "init");
    return new SparseIndex(w, vocab);
  }

  /** Live documents. */
  get size(): number {
    return this.live;
  }

  has(docId: number): boolean {
    return Number.isInteger(docId) && docId >= 0 && docId <= MAX_DOC_ID && this.w.ex.sp_contains(docId) === 1;
  }

  /** Add one document under `docId`, or under the next sequential id; returns the id. */
  add(docId: number, vector: SparseVector): number;
  add(vector: SparseVector): number;
  add(a: number | SparseVector, b?: SparseVector): number {
    return typeof a === "number" ? this.addBatch([b as SparseVector], [a])[0] : this.addBatch([a])[0];
  }

  /** Add documents (all or none); ids as for `add`. Returns the ids. */
  addBatch(vectors: SparseVector[], docIds?: ArrayLike<number>): Uint32Array {
    const ids = this.assignIds(vectors.length, docIds);
    const lens = new Uint32Array(vectors.length);
    vectors.forEach((v, i) => {
      lens[i] = this.enc.check(v, `document ${ids[i]}`);
    });
    let start = 0;
    while (start < vectors.length) {
      let end = start;
      let total = 0;
      while (end < vectors.length && (end === start || total + lens[end] <= CHUNK_POSTINGS)) total += lens[end++];
      this.addChunk(vectors, ids, start, end, total);
      start = end;
    }
    this.live += vectors.length;
    if (vectors.length > 0) this.nextId = Math.max(this.nextId, ids.reduce((m, x) => Math.max(m, x), 0) + 1);
    return ids;
  }

  private assignIds(n: number, docIds: ArrayLike<number> | undefined): Uint32Array {
    if (docIds === undefined) {
      if (this.nextId + n - 1 > MAX_DOC_ID) throw new OutOfRangeError(`sequential document ids would pass ${MAX_DOC_ID}`);
      return Uint32Array.from({ length: n }, (_, i) => this.nextId + i);
    }
    if (docIds.length !== n) throw new OutOfRangeError(`${n} documents but ${docIds.length} document ids`);
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) {
      const id = docIds[i];
      checkDocId(id);
      if (seen.has(id) || this.w.ex.sp_contains(id) === 1) throw new DuplicateDocumentError(id);
      seen.add(id);
    }
    return Uint32Array.from(docIds);
  }

  private addChunk(vectors: SparseVector[], ids: Uint32Array, start: number, end: number, total: number): void {
    const n = end - start;
    const terms = new Uint32Array(total);
    const imps = new Uint16Array(total);
    const off = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) off[i + 1] = off[i] + this.enc.encode(vectors[start + i], terms, imps, off[i]);
    const m = off[n];
    const w = this.w;
    const pExt = w.alloc(n * 4);
    const pOff = w.alloc((n + 1) * 4);
    const pTerms = w.alloc(m * 4);
    const pImps = w.alloc(m * 2);
    try {
      w.u32(pExt, n).set(ids.subarray(start, end));
      w.u32(pOff, n + 1).set(off);
      w.u32(pTerms, m).set(terms.subarray(0, m));
      w.u16(pImps, m).set(imps.subarray(0, m));
      const st = w.call("add", () => w.ex.sp_add(n, pExt, pOff, pTerms, pImps));
      if (st === Status.DUPLICATE) throw new DuplicateDocumentError(ids[start + w.ex.sp_detail()]);
      w.check(st, "add");
    } finally {
      w.free(pExt, pOff, pTerms, pImps);
    }
  }

  /** Delete a document; false when it is not in the index. */
  delete(docId: number): boolean {
    if (!this.has(docId)) return false;
    this.w.check(this.w.ex.sp_delete(docId), "delete");
    this.live--;
    return true;
  }

  /** Exact top-k by impact dot product. */
  search(query: SparseVector, k: number): SearchResult {
    checkK(k);
    const q = this.enc.impacts(query, "query");
    const m = q.terms.length;
    if (m > MAX_QUERY_TERMS) throw new OutOfRangeError(`query: ${m} non-zero terms, at most ${MAX_QUERY_TERMS}`);
    const kk = Math.min(k, this.live);
    if (m === 0 || kk === 0) return { ids: new Uint32Array(0), scores: new Float64Array(0) };
    const w = this.w;
    const pq = w.alloc(m * 8);
    const pOut = w.alloc(kk * 12);
    try {
      w.u32(pq, m).set(q.terms);
      w.u32(pq + 4 * m, m).set(q.impacts);
      const n = w.check(
        w.call("search", () => w.ex.sp_search(pq, pq + 4 * m, m, kk, pOut + 8 * kk, pOut)),
        "search",
      );
      return { ids: w.u32(pOut + 8 * kk, n).slice(), scores: w.f64(pOut, n).slice() };
    } finally {
      w.free(pq, pOut);
    }
  }

  /** The exact score of each document for `query` (NaN for ids not in the index). */
  scoreDocs(query: SparseVector, docIds: ArrayLike<number>): Float64Array {
    const q = this.enc.impacts(query, "query");
    const m = q.terms.length;
    const n = docIds.length;
    const out = new Float64Array(n);
    const known = Uint32Array.from({ length: n }, (_, i) => (this.has(docIds[i]) ? docIds[i] : 0xffffffff));
    if (n === 0) return out;
    const w = this.w;
    const pq = w.alloc(Math.max(m, 1) * 8);
    const pIds = w.alloc(n * 4);
    const pOut = w.alloc(n * 8);
    try {
      w.u32(pq, m).set(q.terms);
      w.u32(pq + 4 * m, m).set(q.impacts);
      w.u32(pIds, n).set(known);
      w.check(
        w.call("score", () => w.ex.sp_score(pq, pq + 4 * m, m, pIds, n, pOut)),
        "score",
      );
      out.set(w.f64(pOut, n));
    } finally {
      w.free(pq, pIds, pOut);
    }
    for (let i = 0; i < n; i++) if (out[i] < 0) out[i] = Number.NaN;
    return out;
  }

  /** Seal pending documents and merge all segments into one without deleted documents. */
  optimize(): void {
    const w = this.w;
    w.check(
      w.call("optimize", () => w.ex.sp_optimize()),
      "optimize",
    );
  }

  stats(): SparseIndexStats {
    const w = this.w;
    const p = w.alloc(64);
    try {
      w.ex.sp_stats(p);
      const [docs, held, postings, bytes, aux, pendingDocs, , segments] = w.f64(p, 8);
      return {
        docs,
        deletedDocs: held - docs,
        postings,
        bytes,
        bytesPerDoc: held > 0 ? bytes / held : 0,
        auxBytes: aux,
        segments,
        pendingDocs,
        memoryBytes: w.ex.memory.buffer.byteLength,
      };
    } finally {
      w.free(p);
    }
  }

  /**
   * The index as one file (see format.ts): sections META (vocab, next sequential id, docs,
   * blocks, payload bytes), DOCS, TERM (postings per term), BLKS (skip data: last doc,
   * offset and max impact per block), POST (the blocks). Saving optimizes the index first.
   */
  save(): Uint8Array {
    this.optimize();
    const w = this.w;
    const info = this.segmentInfo();
    const [nDocs, nBlocks, payloadLen, pExt, pTerms, pBlocks, pPayload] = info;
    const empty = nDocs === 0;
    const sections: Section[] = [
      { tag: "META", bytes: u32Section([this.vocab, this.nextId, nDocs, nBlocks, payloadLen]) },
      { tag: "DOCS", bytes: empty ? new Uint8Array(0) : w.u8(pExt, nDocs * 4) },
      { tag: "TERM", bytes: empty ? new Uint8Array(this.vocab * 4) : w.u8(pTerms, this.vocab * 4) },
      { tag: "BLKS", bytes: empty ? new Uint8Array(4) : w.u8(pBlocks, (3 * nBlocks + 1) * 4) },
      { tag: "POST", bytes: empty ? new Uint8Array(0) : w.u8(pPayload, payloadLen) },
    ];
    return writeContainer("SPRS", sections);
  }

  private segmentInfo(): number[] {
    const w = this.w;
    const p = w.alloc(28);
    try {
      w.check(w.ex.sp_segment_info(p), "segment info");
      return Array.from(w.u32(p, 7));
    } finally {
      w.free(p);
    }
  }

  /** Read a file from `save`; damaged files throw IndexFormatError naming the problem. */
  static async load(bytes: Uint8Array, opts: { wasm?: WasmSource } = {}): Promise<SparseIndex> {
    const what = "sparse index file";
    const sections = readContainer(bytes, "SPRS");
    const meta = u32Fields(requireSection(sections, "META", 20, what));
    const [vocab, nextId, nDocs, nBlocks, payloadLen] = meta;
    if (vocab < 1 || vocab > MAX_VOCAB) throw new IndexFormatError("layout", `${what}: vocabulary size ${vocab} is outside [1, ${MAX_VOCAB}]`, "META");
    const docs = requireSection(sections, "DOCS", nDocs * 4, what);
    const terms = requireSection(sections, "TERM", vocab * 4, what);
    const blocks = requireSection(sections, "BLKS", (3 * nBlocks + 1) * 4, what);
    const post = requireSection(sections, "POST", payloadLen, what);
    if (nDocs === 0 && (nBlocks !== 0 || payloadLen !== 0)) throw new IndexFormatError("layout", `${what}: postings without documents`, "META");
    const idx = await SparseIndex.create({ vocab, wasm: opts.wasm });
    const w = idx.w;
    w.check(w.ex.sp_load_begin(nDocs, nBlocks, payloadLen), "load");
    const [, , , pExt, pTerms, pBlocks, pPayload] = idx.segmentInfo();
    w.u8(pExt, docs.length).set(docs);
    w.u8(pTerms, terms.length).set(terms);
    w.u8(pBlocks, blocks.length).set(blocks);
    w.u8(pPayload, post.length).set(post);
    const st = w.call("load", () => w.ex.sp_load_end());
    const bad = LOAD_ERRORS[st];
    if (bad) {
      const detail = st === Status.DUPLICATE_ID || st === Status.RESERVED_ID ? ` (document ${w.ex.sp_detail()})` : "";
      throw new IndexFormatError("layout", `${what}: ${bad[1]}${detail}`, bad[0]);
    }
    w.check(st, "load");
    idx.nextId = nextId;
    idx.live = nDocs;
    return idx;
  }
}
