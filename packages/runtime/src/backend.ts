import { byteSize, type DType, dtypeInfo, isDType, isQuantized, numel } from "./dtype";
import { AliasError, AlignmentError, DTypeError, NonFiniteError, OutOfRangeError, ShapeError, TensorStateError } from "./errors";
import { type Layout, Tensor, type TensorOwner } from "./tensor";

export type TensorData = Float32Array | Uint16Array | Uint8Array | Int32Array | Int8Array | number[];

export type MatmulWeightDType = "f32" | "f16" | "q8_0" | "q4_0";

export type RopeStyle = "neox" | "interleaved";

export interface RopeOptions {
  /** inverse frequencies, ropeDim / 2 of them (see ropeFrequencies) */
  invFreq: Float32Array;
  /** rotate-half (HF Llama, NeoX) or adjacent pairs (GPT-J, GGUF llama) */
  style: RopeStyle;
  /** leading lanes of each head that rotate; defaults to the head size */
  ropeDim?: number;
  /** multiplies cos and sin (YaRN's attention factor); default 1 */
  attentionFactor?: number;
}

/**
 * "none": every query sees every filled slot (encoders). "causal": the queries are the
 * last nQ slots and each sees the ones up to itself. A Uint8Array [nQ * nQ] is a tree
 * mask over those last nQ slots: row i marks the ancestors of node i and i itself;
 * all queries also see the prefix before the tree.
 */
export type AttentionMask = "none" | "causal" | Uint8Array;

export interface AttentionOptions {
  /** filled cache slots; the queries are the last nQ of them */
  kvLen: number;
  mask: AttentionMask;
  /** score scale; default 1 / sqrt(headDim) */
  scale?: number;
}

export interface TopK {
  /** [rows, k], best first; -1 where a row had fewer than k non-NaN values */
  indices: Int32Array;
  values: Float32Array;
}

export type BackendName = "wasm" | "reference" | "webgpu";

export interface TensorOptions {
  /** physical layout; default: the backend's choice ("x4" for wasm matmul weights) */
  layout?: Layout;
}

/**
 * The operations every backend implements. Public methods validate their arguments
 * (shapes, dtypes, ranges, aliasing) and only then call the backend's `k*` method, so
 * no backend ever runs a kernel on bad input.
 */
export abstract class Backend implements TensorOwner {
  abstract readonly name: BackendName;

  // ------------------------------------------------------------------ storage

  /**
   * Create a tensor; `data` is in the dtype's storage format (f16 as uint16 bits, q8_0/q4_0
   * as raw blocks). The backend picks the physical layout unless `opts.layout` says.
   */
  tensor(dtype: DType, shape: readonly number[], data?: TensorData, opts: TensorOptions = {}): Tensor {
    if (!isDType(dtype)) throw new DTypeError(`unknown dtype ${JSON.stringify(dtype)}`);
    const dims = checkShape(shape);
    const bytes = byteSize(dtype, dims);
    let raw: Uint8Array | undefined;
    if (data !== undefined) {
      raw = toBytes(dtype, data, bytes, dims);
      if (isQuantized(dtype)) checkBlockScales(dtype, raw);
    }
    const layout = opts.layout ?? this.preferredLayout(dtype, dims);
    if (layout !== "rows" && layout !== this.preferredLayout(dtype, dims)) {
      throw new ShapeError(`layout ${JSON.stringify(layout)} is not available for ${dtype} [${dims.join(", ")}] on the ${this.name} backend`);
    }
    return this.kCreate(dtype, dims, bytes, raw, layout);
  }

  /** A zero-filled tensor. */
  empty(dtype: DType, shape: readonly number[], opts: TensorOptions = {}): Tensor {
    return this.tensor(dtype, shape, undefined, opts);
  }

  /** Convert f32 values to `dtype` (ggml's reference quantizers for q8_0/q4_0). */
  fromF32(dtype: DType, shape: readonly number[], values: Float32Array | number[], opts: TensorOptions = {}): Tensor {
    const dims = checkShape(shape);
    const src = this.tensor("f32", dims, values);
    try {
      if (dtype === "f32") return src;
      const dst = this.tensor(dtype, dims, undefined, opts);
      this.quantize(dst, src);
      return dst;
    } finally {
      if (dtype !== "f32") src.free();
    }
  }

  /** Copy a tensor out, in its storage format ("rows" layout for block formats). */
  read(t: Tensor): Float32Array | Uint16Array | Uint8Array | Int32Array {
    this.own(t, "read");
    return typedView(t.dtype, this.kRead(t));
  }

  /** Copy a tensor out as f32 values, dequantizing if needed. */
  /**
   * Whether read() (and what reads: readF32, argmax, topk) answers at once. A GPU backend
   * cannot wait for its queue synchronously; callers that must work there use readAsync.
   */
  get syncRead(): boolean {
    return true;
  }

  /** read(), awaiting the device where the backend needs to (every backend has it). */
  async readAsync(t: Tensor): Promise<Float32Array | Uint16Array | Uint8Array | Int32Array> {
    return this.read(t);
  }

  /** readF32(), awaiting the device where the backend needs to. */
  async readF32Async(t: Tensor): Promise<Float32Array> {
    this.own(t, "readF32Async");
    if (t.dtype === "f32") return (await this.readAsync(t)) as Float32Array;
    if (t.dtype === "i32" || t.dtype === "u8") return Float32Array.from((await this.readAsync(t)) as Int32Array | Uint8Array);
    const out = this.tensor("f32", t.shape);
    try {
      this.dequantize(out, t);
      return (await this.readAsync(out)) as Float32Array;
    } finally {
      out.free();
    }
  }

  /** Waits until the work queued so far has run (a no-op where ops run when called). */
  async finish(): Promise<void> {}

  readF32(t: Tensor): Float32Array {
    this.own(t, "readF32");
    if (t.dtype === "f32") return this.read(t) as Float32Array;
    if (t.dtype === "i32" || t.dtype === "u8") return Float32Array.from(this.read(t) as Int32Array | Uint8Array);
    const out = this.tensor("f32", t.shape);
    try {
      this.dequantize(out, t);
      return this.read(out) as Float32Array;
    } finally {
      out.free();
    }
  }

  /** Overwrite a tensor's contents. */
  write(t: Tensor, data: TensorData): void {
    this.own(t, "write");
    const raw = toBytes(t.dtype, data, t.byteLength, t.shape);
    if (isQuantized(t.dtype)) checkBlockScales(t.dtype, raw);
    this.kWrite(t, raw);
  }

  free(t: Tensor): void {
    t.free();
  }

  /**
   * A tensor over part of another tensor's bytes, without copying (e.g. weights inside a
   * file loaded into one u8 buffer). The view must lie inside the parent and be aligned
   * for its dtype; it stays valid while the parent lives.
   */
  view(parent: Tensor, byteOffset: number, dtype: DType, shape: readonly number[]): Tensor {
    this.own(parent, "view parent");
    if (parent.layout !== "rows") throw new TensorStateError(`view: parent ${parent} is repacked; views need the "rows" layout`);
    if (!isDType(dtype)) throw new DTypeError(`unknown dtype ${JSON.stringify(dtype)}`);
    const dims = checkShape(shape);
    const bytes = byteSize(dtype, dims);
    if (!Number.isSafeInteger(byteOffset) || byteOffset < 0 || byteOffset + bytes > parent.byteLength) {
      throw new OutOfRangeError(`view: bytes [${byteOffset}, ${byteOffset + bytes}) are outside the parent's ${parent.byteLength} bytes`);
    }
    const align = dtypeInfo(dtype).align;
    if ((this.addressOf(parent) + byteOffset) % align !== 0) {
      throw new AlignmentError(`view: ${dtype} data must start at a multiple of ${align} bytes, offset ${byteOffset} is not`);
    }
    return this.kView(parent, byteOffset, dtype, dims, bytes);
  }

  /** @internal called by Tensor.free */
  releaseTensor(t: Tensor): void {
    if (t.owner !== this) throw new TensorStateError(`tensor belongs to backend "${t.owner.name}", not "${this.name}"`);
    this.kFree(t);
  }

  // ------------------------------------------------------------------ ops

  /**
   * dst's bytes = src's bytes (same dtype and byte length; shapes may differ). Overlap is
   * allowed (memmove), so a KV cache can move its own slots.
   */
  copy(dst: Tensor, src: Tensor): void {
    this.own(dst, "copy dst");
    this.own(src, "copy src");
    if (dst.dtype !== src.dtype) throw new DTypeError(`copy: dtypes differ, ${dst.dtype} vs ${src.dtype}`);
    if (dst.byteLength !== src.byteLength) throw new ShapeError(`copy: sizes differ, [${dst.shape.join(", ")}] vs [${src.shape.join(", ")}]`);
    if (dst.layout !== "rows" || src.layout !== "rows") throw new TensorStateError("copy: repacked (x4) tensors cannot be copied bytewise");
    if (dst.byteLength === 0 || dst === src) return;
    this.kCopy(dst, src);
  }

  /** y[n, out] = x[n, in] . w[out, in]^T  (x may be rank 1 for a single token). */
  matmul(y: Tensor, w: Tensor, x: Tensor): void {
    const { rows, cols, n } = this.checkMatmul("matmul", y, w, x);
    this.noOverlap("matmul", y, [w, x]);
    if (n === 0 || rows === 0) return;
    this.kMatmul(y, w, x, rows, cols, n);
  }

  /**
   * Several products of one input, y_i = x . w_i^T (a layer's q/k/v projections, gate and
   * up): each y_i is the same bits as `matmul(y_i, w_i, x)`. Backends may share the work
   * that depends on x alone (the wasm backend quantizes x once for q8_0/q4_0 weights and
   * hands all the rows to its threads in one dispatch).
   */
  matmulShared(products: readonly (readonly [y: Tensor, w: Tensor])[], x: Tensor): void {
    const jobs: SharedMatmul[] = [];
    let cols = -1;
    for (let i = 0; i < products.length; i++) {
      const [y, w] = products[i];
      const dims = this.checkMatmul(`matmulShared product ${i}`, y, w, x);
      if (cols >= 0 && dims.cols !== cols) throw new ShapeError(`matmulShared: product ${i}'s weight has ${dims.cols} columns, product 0's ${cols}`);
      cols = dims.cols;
      // an output may overlap no input and no other output
      this.noOverlap(`matmulShared product ${i}`, y, [w, x, ...products.filter((_, j) => j !== i).map(([yj]) => yj)]);
      if (dims.n > 0 && dims.rows > 0) jobs.push({ y, w, rows: dims.rows });
    }
    if (jobs.length === 0) return;
    this.kMatmulShared(jobs, x, cols, x.numel / cols);
  }

  private checkMatmul(op: string, y: Tensor, w: Tensor, x: Tensor): { rows: number; cols: number; n: number } {
    this.own(y, `${op} y`);
    this.own(w, `${op} w`);
    this.own(x, `${op} x`);
    if (!["f32", "f16", "q8_0", "q4_0"].includes(w.dtype)) throw new DTypeError(`${op}: weight dtype ${w.dtype} is not supported (f32, f16, q8_0, q4_0)`);
    if (w.rank !== 2) throw new ShapeError(`${op}: weight must be 2-D [out, in], got [${w.shape.join(", ")}]`);
    f32Only(`${op} x`, x);
    f32Only(`${op} y`, y);
    const [rows, cols] = w.shape;
    const n = rowsOf(`${op} x`, x, cols);
    if (y.shape[y.rank - 1] !== rows || y.numel !== n * rows) {
      throw new ShapeError(`${op}: y must be [${n}, ${rows}] for x [${x.shape.join(", ")}] and w [${w.shape.join(", ")}], got [${y.shape.join(", ")}]`);
    }
    return { rows, cols, n };
  }

  /** y = x / sqrt(mean(x^2) + eps) * weight, per row of the last dimension. */
  rmsnorm(y: Tensor, x: Tensor, weight: Tensor | null, eps: number): void {
    const dim = this.rowOp("rmsnorm", y, x);
    if (weight) this.vector("rmsnorm weight", weight, dim);
    checkEps("rmsnorm", eps);
    this.kRmsnorm(y, x, weight, x.numel / dim, dim, eps);
  }

  /** y = (x - mean) / sqrt(var + eps) * weight + bias, per row. */
  layernorm(y: Tensor, x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): void {
    const dim = this.rowOp("layernorm", y, x);
    if (weight) this.vector("layernorm weight", weight, dim);
    if (bias) this.vector("layernorm bias", bias, dim);
    checkEps("layernorm", eps);
    this.kLayernorm(y, x, weight, bias, x.numel / dim, dim, eps);
  }

  softmax(y: Tensor, x: Tensor): void {
    const dim = this.rowOp("softmax", y, x);
    this.kSoftmax(y, x, x.numel / dim, dim);
  }

  silu(y: Tensor, x: Tensor): void {
    this.rowOp("silu", y, x);
    this.kUnary("silu", y, x);
  }

  /** Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), as BERT uses. */
  gelu(y: Tensor, x: Tensor): void {
    this.rowOp("gelu", y, x);
    this.kUnary("gelu", y, x);
  }

  /** tanh approximation of GELU ("gelu_new", "gelu_pytorch_tanh"). */
  geluTanh(y: Tensor, x: Tensor): void {
    this.rowOp("geluTanh", y, x);
    this.kUnary("gelu_tanh", y, x);
  }

  /** y = silu(gate) * up */
  swiglu(y: Tensor, gate: Tensor, up: Tensor): void {
    this.rowOp("swiglu", y, gate);
    this.rowOp("swiglu", y, up);
    this.kSwiglu(y, gate, up);
  }

  /** y = a + b; b may be a trailing-suffix of a's shape and is then broadcast. */
  add(y: Tensor, a: Tensor, b: Tensor): void {
    this.binaryOp("add", y, a, b);
    this.kBinary("add", y, a, b);
  }

  /** y = a * b; b may be a trailing-suffix of a's shape and is then broadcast. */
  mul(y: Tensor, a: Tensor, b: Tensor): void {
    this.binaryOp("mul", y, a, b);
    this.kBinary("mul", y, a, b);
  }

  scale(y: Tensor, x: Tensor, s: number): void {
    this.rowOp("scale", y, x);
    if (!Number.isFinite(s)) throw new OutOfRangeError(`scale: factor must be finite, got ${s}`);
    this.kScale(y, x, s);
  }

  /** Rotary embedding in place on x [nTok, nHeads, headDim] at the given positions. */
  rope(x: Tensor, positions: Int32Array | readonly number[], opts: RopeOptions): void {
    this.own(x, "rope x");
    f32Only("rope x", x);
    if (x.rank !== 3) throw new ShapeError(`rope: x must be [nTok, nHeads, headDim], got [${x.shape.join(", ")}]`);
    const [nTok, , headDim] = x.shape;
    if (positions.length !== nTok) throw new ShapeError(`rope: ${positions.length} positions for ${nTok} tokens`);
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i];
      if (!Number.isInteger(p) || p < 0 || p > 0x7fffffff) throw new OutOfRangeError(`rope: position ${i} is ${p}; positions are integers in [0, 2^31)`);
    }
    const ropeDim = opts.ropeDim ?? headDim;
    if (!Number.isInteger(ropeDim) || ropeDim <= 0 || ropeDim > headDim || ropeDim % 2) {
      throw new ShapeError(`rope: ropeDim must be even and in (0, ${headDim}], got ${ropeDim}`);
    }
    if (!(opts.invFreq instanceof Float32Array) || opts.invFreq.length !== ropeDim / 2) {
      throw new ShapeError(`rope: invFreq must be a Float32Array of ${ropeDim / 2} values, got ${opts.invFreq?.length}`);
    }
    if (opts.style !== "neox" && opts.style !== "interleaved")
      throw new OutOfRangeError(`rope: style must be "neox" or "interleaved", got ${JSON.stringify(opts.style)}`);
    const af = opts.attentionFactor ?? 1;
    if (!Number.isFinite(af)) throw new OutOfRangeError(`rope: attentionFactor must be finite, got ${af}`);
    if (nTok === 0) return;
    this.kRope(x, Int32Array.from(positions), opts.invFreq, ropeDim, opts.style, af);
  }

  /**
   * out[nQ, nHeads, headDim] = softmax(q k^T * scale + mask) v over cache slots
   * k, v: [nKvHeads, capacity, headDim].
   */
  attention(out: Tensor, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): void {
    for (const [t, n] of [
      [out, "out"],
      [q, "q"],
      [k, "k"],
      [v, "v"],
    ] as const) {
      this.own(t, `attention ${n}`);
      // the KV cache may be stored as f16 (half the memory); queries and output are f32
      if (n === "k" || n === "v") {
        if (t.dtype !== "f32" && t.dtype !== "f16") throw new DTypeError(`attention ${n} must be f32 or f16, got ${t.dtype}`);
      } else f32Only(`attention ${n}`, t);
      if (t.rank !== 3) throw new ShapeError(`attention: ${n} must be 3-D, got [${t.shape.join(", ")}]`);
    }
    const [nQ, nHeads, headDim] = q.shape;
    const [nKv, cap, kd] = k.shape;
    if (!sameShape(out.shape, q.shape)) throw new ShapeError(`attention: out [${out.shape.join(", ")}] must match q [${q.shape.join(", ")}]`);
    if (!sameShape(k.shape, v.shape)) throw new ShapeError(`attention: k [${k.shape.join(", ")}] and v [${v.shape.join(", ")}] differ`);
    if (k.dtype !== v.dtype) throw new DTypeError(`attention: k is ${k.dtype} but v is ${v.dtype}`);
    if (kd !== headDim) throw new ShapeError(`attention: head size of k (${kd}) differs from q (${headDim})`);
    if (nKv === 0 || nHeads % nKv !== 0) throw new ShapeError(`attention: ${nHeads} query heads cannot share ${nKv} kv heads`);
    const { kvLen } = opts;
    if (!Number.isInteger(kvLen) || kvLen < nQ || kvLen > cap) {
      throw new OutOfRangeError(`attention: kvLen ${kvLen} must be an integer in [nQ=${nQ}, capacity=${cap}]`);
    }
    const scale = opts.scale ?? 1 / Math.sqrt(headDim);
    if (!Number.isFinite(scale)) throw new OutOfRangeError(`attention: scale must be finite, got ${scale}`);
    const mask = opts.mask;
    if (mask instanceof Uint8Array) checkTreeMask(mask, nQ);
    else if (mask !== "none" && mask !== "causal") throw new OutOfRangeError(`attention: mask must be "none", "causal" or a Uint8Array tree mask`);
    this.noOverlap("attention", out, [q, k, v]);
    if (nQ === 0) return;
    this.kAttention(out, q, k, v, kvLen, mask, scale);
  }

  /** Index of the largest non-NaN value per row (lowest index on ties, -1 for an all-NaN row). */
  argmax(x: Tensor): Int32Array {
    this.own(x, "argmax");
    f32Only("argmax", x);
    const dim = lastDim("argmax", x);
    if (dim === 0) throw new ShapeError("argmax: rows are empty");
    return this.kArgmax(x, x.numel / dim, dim);
  }

  /** The k largest non-NaN values per row, best first (lower index first on ties). */
  topk(x: Tensor, k: number): TopK {
    this.own(x, "topk");
    f32Only("topk", x);
    const dim = lastDim("topk", x);
    if (!Number.isInteger(k) || k < 1 || k > dim) throw new OutOfRangeError(`topk: k must be an integer in [1, ${dim}], got ${k}`);
    return this.kTopk(x, x.numel / dim, dim, k);
  }

  /** dst (f32/f16/q8_0/q4_0) = src (f32), same shape. Refuses NaN/Inf for block formats. */
  quantize(dst: Tensor, src: Tensor): void {
    this.own(dst, "quantize dst");
    this.own(src, "quantize src");
    f32Only("quantize src", src);
    if (!["f32", "f16", "q8_0", "q4_0"].includes(dst.dtype)) throw new DTypeError(`quantize: cannot convert to ${dst.dtype}`);
    if (!sameShape(dst.shape, src.shape)) throw new ShapeError(`quantize: shapes differ, [${dst.shape.join(", ")}] vs [${src.shape.join(", ")}]`);
    this.noOverlap("quantize", dst, [src]);
    const bad = this.kQuantize(dst, src);
    if (bad > 0 && isQuantized(dst.dtype)) throw new NonFiniteError(`quantize: ${bad} NaN/Inf values cannot be stored as ${dst.dtype}`);
  }

  /** dst (f32) = src (f16/q8_0/q4_0/f32), same shape. */
  dequantize(dst: Tensor, src: Tensor): void {
    this.own(dst, "dequantize dst");
    this.own(src, "dequantize src");
    f32Only("dequantize dst", dst);
    if (!["f32", "f16", "q8_0", "q4_0"].includes(src.dtype)) throw new DTypeError(`dequantize: cannot convert from ${src.dtype}`);
    if (!sameShape(dst.shape, src.shape)) throw new ShapeError(`dequantize: shapes differ, [${dst.shape.join(", ")}] vs [${src.shape.join(", ")}]`);
    this.noOverlap("dequantize", dst, [src]);
    this.kDequantize(dst, src);
  }

  /** dst[i, :] = table[ids[i], :] as f32 (embedding lookup). */
  getRows(dst: Tensor, table: Tensor, ids: Int32Array | readonly number[]): void {
    this.own(dst, "getRows dst");
    this.own(table, "getRows table");
    f32Only("getRows dst", dst);
    if (!["f32", "f16", "q8_0", "q4_0"].includes(table.dtype)) throw new DTypeError(`getRows: table dtype ${table.dtype} not supported`);
    if (table.rank !== 2) throw new ShapeError(`getRows: table must be 2-D, got [${table.shape.join(", ")}]`);
    const [rows, cols] = table.shape;
    if (dst.numel !== ids.length * cols || dst.shape[dst.rank - 1] !== cols) {
      throw new ShapeError(`getRows: dst must be [${ids.length}, ${cols}], got [${dst.shape.join(", ")}]`);
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= rows) throw new OutOfRangeError(`getRows: id ${id} at position ${i} is outside [0, ${rows})`);
    }
    this.noOverlap("getRows", dst, [table]);
    if (ids.length === 0) return;
    this.kGetRows(dst, table, Int32Array.from(ids));
  }

  // ------------------------------------------------------------------ backend hooks

  /** Layout a new tensor of this dtype/shape gets. */
  protected preferredLayout(_dtype: DType, _shape: readonly number[]): Layout {
    return "rows";
  }
  /** Whether two tensors' storage overlaps (for alias checks). */
  protected abstract overlaps(a: Tensor, b: Tensor): boolean;
  /** Address of a tensor's first byte, for alignment checks. */
  protected abstract addressOf(t: Tensor): number;
  protected abstract kView(parent: Tensor, byteOffset: number, dtype: DType, shape: number[], bytes: number): Tensor;
  protected abstract kCreate(dtype: DType, shape: number[], bytes: number, data: Uint8Array | undefined, layout: Layout): Tensor;
  protected abstract kRead(t: Tensor): Uint8Array;
  protected abstract kWrite(t: Tensor, data: Uint8Array): void;
  protected abstract kFree(t: Tensor): void;
  protected abstract kCopy(dst: Tensor, src: Tensor): void;
  protected abstract kMatmul(y: Tensor, w: Tensor, x: Tensor, rows: number, cols: number, n: number): void;
  /** matmulShared's products, checked; one by one unless a backend shares work between them. */
  protected kMatmulShared(jobs: readonly SharedMatmul[], x: Tensor, cols: number, n: number): void {
    for (const j of jobs) this.kMatmul(j.y, j.w, x, j.rows, cols, n);
  }
  protected abstract kRmsnorm(y: Tensor, x: Tensor, w: Tensor | null, n: number, dim: number, eps: number): void;
  protected abstract kLayernorm(y: Tensor, x: Tensor, w: Tensor | null, b: Tensor | null, n: number, dim: number, eps: number): void;
  protected abstract kSoftmax(y: Tensor, x: Tensor, n: number, dim: number): void;
  protected abstract kUnary(kind: "silu" | "gelu" | "gelu_tanh", y: Tensor, x: Tensor): void;
  protected abstract kSwiglu(y: Tensor, g: Tensor, u: Tensor): void;
  protected abstract kBinary(op: "add" | "mul", y: Tensor, a: Tensor, b: Tensor): void;
  protected abstract kScale(y: Tensor, x: Tensor, s: number): void;
  protected abstract kRope(x: Tensor, pos: Int32Array, invFreq: Float32Array, ropeDim: number, style: RopeStyle, af: number): void;
  protected abstract kAttention(out: Tensor, q: Tensor, k: Tensor, v: Tensor, kvLen: number, mask: AttentionMask, scale: number): void;
  protected abstract kArgmax(x: Tensor, n: number, dim: number): Int32Array;
  protected abstract kTopk(x: Tensor, n: number, dim: number, k: number): TopK;
  protected abstract kQuantize(dst: Tensor, src: Tensor): number;
  protected abstract kDequantize(dst: Tensor, src: Tensor): void;
  protected abstract kGetRows(dst: Tensor, table: Tensor, ids: Int32Array): void;

  // ------------------------------------------------------------------ checks

  protected own(t: Tensor, what: string): void {
    if (!(t instanceof Tensor)) throw new TensorStateError(`${what}: expected a Tensor, got ${describe(t)}`);
    if (t.owner !== this) throw new TensorStateError(`${what}: tensor belongs to backend "${t.owner.name}", not "${this.name}"`);
    t.assertLive(what);
  }

  private noOverlap(op: string, out: Tensor, inputs: Tensor[]): void {
    for (const t of inputs) {
      if (this.overlaps(out, t)) throw new AliasError(`${op}: the output overlaps an input; this kernel cannot work in place`);
    }
  }

  /** y and x: f32, same shape; y may be x itself but must not partially overlap it. Returns the row size. */
  private rowOp(op: string, y: Tensor, x: Tensor): number {
    this.own(y, `${op} y`);
    this.own(x, `${op} x`);
    f32Only(`${op} x`, x);
    f32Only(`${op} y`, y);
    if (!sameShape(y.shape, x.shape)) throw new ShapeError(`${op}: y [${y.shape.join(", ")}] must match x [${x.shape.join(", ")}]`);
    if (y !== x && this.overlaps(y, x)) throw new AliasError(`${op}: y partially overlaps x (in place is fine, y === x)`);
    return lastDim(op, x);
  }

  private binaryOp(op: string, y: Tensor, a: Tensor, b: Tensor): void {
    this.rowOp(op, y, a);
    this.own(b, `${op} b`);
    f32Only(`${op} b`, b);
    const suffix = a.shape.slice(a.rank - b.rank);
    if (b.rank > a.rank || !sameShape(suffix, b.shape) || b.numel === 0) {
      throw new ShapeError(`${op}: b [${b.shape.join(", ")}] must equal a trailing part of a [${a.shape.join(", ")}]`);
    }
    if (y !== b && this.overlaps(y, b)) throw new AliasError(`${op}: y partially overlaps b`);
  }

  private vector(what: string, t: Tensor, dim: number): void {
    this.own(t, what);
    f32Only(what, t);
    if (t.numel !== dim || t.shape[t.rank - 1] !== dim) throw new ShapeError(`${what} must have ${dim} values, got [${t.shape.join(", ")}]`);
  }
}

// ---------------------------------------------------------------------- helpers

/** A tensor's bytes as the typed array of its dtype (f32, f16 as raw halves, i32; bytes otherwise). */
export function typedView(dtype: DType, bytes: Uint8Array): Float32Array | Uint16Array | Uint8Array | Int32Array {
  switch (dtype) {
    case "f32":
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    case "f16":
      return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
    case "i32":
      return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    default:
      return bytes;
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}

function checkShape(shape: readonly number[]): number[] {
  if (!Array.isArray(shape)) throw new ShapeError(`shape must be an array of sizes, got ${describe(shape)}`);
  numel(shape);
  return [...shape];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** One product of a matmulShared call, after its checks. */
export interface SharedMatmul {
  y: Tensor;
  w: Tensor;
  rows: number;
}

function f32Only(what: string, t: Tensor): void {
  if (t.dtype !== "f32") throw new DTypeError(`${what} must be f32, got ${t.dtype}`);
}

function lastDim(op: string, t: Tensor): number {
  if (t.rank === 0) throw new ShapeError(`${op}: needs at least one dimension`);
  return t.shape[t.rank - 1];
}

function rowsOf(what: string, t: Tensor, cols: number): number {
  if (t.rank < 1 || t.rank > 2 || t.shape[t.rank - 1] !== cols) {
    throw new ShapeError(`${what} must be [n, ${cols}] or [${cols}], got [${t.shape.join(", ")}]`);
  }
  return t.rank === 2 ? t.shape[0] : 1;
}

function checkEps(op: string, eps: number): void {
  if (!Number.isFinite(eps) || eps < 0) throw new OutOfRangeError(`${op}: eps must be finite and >= 0, got ${eps}`);
}

function checkTreeMask(mask: Uint8Array, nQ: number): void {
  if (mask.length !== nQ * nQ) throw new ShapeError(`attention: tree mask must have nQ*nQ = ${nQ * nQ} entries, got ${mask.length}`);
  for (let i = 0; i < nQ; i++) {
    if (!mask[i * nQ + i]) throw new OutOfRangeError(`attention: tree mask row ${i} must include node ${i} itself`);
    for (let j = i + 1; j < nQ; j++) {
      if (mask[i * nQ + j]) throw new OutOfRangeError(`attention: tree node ${i} cannot see node ${j}: nodes must come after their ancestors`);
    }
  }
}

const VIEW_TYPES: Record<DType, string[]> = {
  f32: ["Float32Array"],
  f16: ["Uint16Array"],
  q8_0: ["Uint8Array", "Int8Array"],
  q4_0: ["Uint8Array"],
  i32: ["Int32Array"],
  u8: ["Uint8Array"],
};

/** Data in storage format -> a byte view of it (not a copy), after checking type and exact length. */
function toBytes(dtype: DType, data: TensorData, bytes: number, shape: readonly number[]): Uint8Array {
  if (Array.isArray(data)) {
    if (dtype === "f32") data = Float32Array.from(data);
    else if (dtype === "i32") data = Int32Array.from(data);
    else if (dtype === "u8") data = Uint8Array.from(data);
    else throw new DTypeError(`${dtype} data must be a typed array of raw storage, not a number[]`);
  }
  if (!ArrayBuffer.isView(data)) throw new DTypeError(`tensor data must be a typed array, got ${describe(data)}`);
  const name = data.constructor.name;
  // raw bytes (Uint8Array) are accepted for every dtype: file loaders hold bytes
  const okType = VIEW_TYPES[dtype].includes(name) || name === "Uint8Array";
  if (!okType) throw new DTypeError(`${dtype} tensor data must be ${VIEW_TYPES[dtype].join(" or ")}, got ${name}`);
  if (data.byteLength !== bytes) {
    throw new OutOfRangeError(
      `data for ${dtype} [${shape.join(", ")}] must be ${bytes} bytes (${bytes / dtypeInfo(dtype).bytes} ${dtypeInfo(dtype).block > 1 ? "blocks" : "values"}), got ${data.byteLength} bytes`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Block scales must be finite f16: Inf/NaN scales mean a corrupt file. */
function checkBlockScales(dtype: "q8_0" | "q4_0", raw: Uint8Array): void {
  const bb = dtypeInfo(dtype).bytes;
  for (let o = 0, b = 0; o < raw.length; o += bb, b++) {
    const hi = raw[o + 1];
    if ((hi & 0x7c) === 0x7c) throw new NonFiniteError(`${dtype} block ${b} has a non-finite scale (f16 0x${((hi << 8) | raw[o]).toString(16)}): corrupt data`);
  }
}
