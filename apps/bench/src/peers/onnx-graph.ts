/**
 * A minimal ONNX ModelProto writer: protobuf wire format by hand (varints and
 * length-delimited fields), enough for the tiny MatMul / MatMulNBits graphs that the
 * onnxruntime-web op benchmark (./ort.ts) runs.
 *
 * Field numbers follow onnx/onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
 * TensorProto, ValueInfoProto, TypeProto, TensorShapeProto, OperatorSetIdProto). Repeated
 * scalars are written unpacked (one tag each), which every protobuf parser accepts.
 *
 * Weight conversion: GGUF q4_0 stores each block of 32 as an f16 scale d and 16 bytes
 * whose low nibbles are elements 0..15 and high nibbles elements 16..31. MatMulNBits
 * (bits 4) packs codes low-first along K: byte j holds element 2j in its low nibble and
 * element 2j + 1 in its high nibble. Both decode as (code - 8) * scale when no zero
 * points are given, so converting is a nibble shuffle plus f16 -> f32 scales.
 */
import { f16ToF32 } from "@edgespec/runtime";

// ---------------------------------------------------------------- protobuf wire format

/** A protobuf message under construction: a list of byte chunks (big payloads are kept by reference). */
export class ProtoWriter {
  private parts: Uint8Array[] = [];
  private scratch: number[] = [];
  private length = 0;

  get byteLength(): number {
    return this.length + this.scratch.length;
  }

  private flush(): void {
    if (this.scratch.length) {
      this.parts.push(Uint8Array.from(this.scratch));
      this.length += this.scratch.length;
      this.scratch = [];
    }
  }

  /** Unsigned varint, 7 bits a byte, low group first; negative int64s take 10 bytes (two's complement). */
  private rawVarint(v: number | bigint): void {
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) throw new RangeError(`varint: ${v} is not a safe integer`);
      if (v >= 0) {
        while (v >= 0x80) {
          this.scratch.push((v % 0x80) | 0x80);
          v = Math.floor(v / 0x80);
        }
        this.scratch.push(v);
        return;
      }
      v = BigInt(v);
    }
    let u = BigInt.asUintN(64, v);
    while (u >= 0x80n) {
      this.scratch.push(Number(u & 0x7fn) | 0x80);
      u >>= 7n;
    }
    this.scratch.push(Number(u));
  }

  private tag(field: number, wire: 0 | 1 | 2 | 5): void {
    this.rawVarint(field * 8 + wire);
  }

  /** int32 / int64 / enum / bool field (wire type 0). */
  varint(field: number, v: number | bigint): this {
    this.tag(field, 0);
    this.rawVarint(v);
    return this;
  }

  /** float field (wire type 5, little-endian IEEE single). */
  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.scratch.push(...b);
    return this;
  }

  /** bytes field (wire type 2); the payload is referenced, not copied, until finish(). */
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2);
    this.rawVarint(data.byteLength);
    if (data.byteLength < 64) {
      for (let i = 0; i < data.byteLength; i++) this.scratch.push(data[i]);
    } else {
      this.flush();
      this.parts.push(data);
      this.length += data.byteLength;
    }
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** Embedded message field (wire type 2). */
  message(field: number, m: ProtoWriter): this {
    this.tag(field, 2);
    this.rawVarint(m.byteLength);
    this.flush();
    m.flush();
    this.parts.push(...m.parts);
    this.length += m.length;
    return this;
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out;
  }
}

// ---------------------------------------------------------------- ONNX messages

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

export interface OnnxTensor {
  name: string;
  dataType: DataTypeCode;
  dims: readonly number[];
  /** little-endian element bytes (TensorProto.raw_data) */
  raw: Uint8Array;
}

export type OnnxAttribute =
  | { name: string; int: number }
  | { name: string; float: number }
  | { name: string; ints: readonly number[] }
  | { name: string; string: string };

export interface OnnxNode {
  opType: string;
  /** "" (default ONNX domain) or e.g. "com.microsoft" */
  domain?: string;
  name?: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: readonly OnnxAttribute[];
}

export interface OnnxValueInfo {
  name: string;
  elemType: DataTypeCode;
  /** a number is a fixed size, a string a symbolic dimension */
  shape: readonly (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

export interface OnnxModelOptions {
  /** default [{ domain: "", version: 17 }] */
  opsets?: readonly { domain: string; version: number }[];
  /** default 8 (the IR that opset 17 shipped with) */
  irVersion?: number;
  producer?: string;
}

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

function tensorProto(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.varint(1, d); // dims
  w.varint(2, t.dataType); // data_type
  w.string(8, t.name); // name
  w.bytes(9, t.raw); // raw_data
  return w;
}

function attributeProto(a: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name); // name
  if ("int" in a) w.varint(3, a.int).varint(20, ATTR_INT);
  else if ("float" in a) w.float(2, a.float).varint(20, ATTR_FLOAT);
  else if ("ints" in a) {
    for (const v of a.ints) w.varint(8, v);
    w.varint(20, ATTR_INTS);
  } else w.string(4, a.string).varint(20, ATTR_STRING);
  return w;
}

function nodeProto(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, attributeProto(a));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function valueInfoProto(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = typeof d === "number" ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d);
    shape.message(1, dim); // TensorShapeProto.dim
  }
  const tensorType = new ProtoWriter().varint(1, v.elemType).message(2, shape); // TypeProto.Tensor
  const type = new ProtoWriter().message(1, tensorType); // TypeProto.tensor_type
  return new ProtoWriter().string(1, v.name).message(2, type);
}

function graphProto(g: OnnxGraph): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, nodeProto(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, tensorProto(t));
  for (const v of g.inputs) w.message(11, valueInfoProto(v));
  for (const v of g.outputs) w.message(12, valueInfoProto(v));
  return w;
}

/** Serialize a graph as an ONNX ModelProto. */
export function encodeModel(graph: OnnxGraph, opts: OnnxModelOptions = {}): Uint8Array {
  const w = new ProtoWriter();
  w.varint(1, opts.irVersion ?? 8); // ir_version
  w.string(2, opts.producer ?? "edgespec-bench"); // producer_name
  w.message(7, graphProto(graph)); // graph
  for (const o of opts.opsets ?? [{ domain: "", version: 17 }]) {
    w.message(8, new ProtoWriter().string(1, o.domain).varint(2, o.version)); // opset_import
  }
  return w.finish();
}

// ---------------------------------------------------------------- MatMul graphs

function bytesOf(a: Float32Array | Uint8Array | Int8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** One weight of a MatMul graph: W [K, N] row-major f32 (note: transposed from our [out, in]). */
export interface F32Weight {
  kind: "f32";
  w: Float32Array;
}

/** One weight of a MatMulNBits graph: B uint8 [N, K / blockSize, blockSize * bits / 8], scales f32 [N * K / blockSize]. */
export interface NBitsWeight {
  kind: "nbits";
  bits: 4 | 8;
  blockSize: number;
  b: Uint8Array;
  scales: Float32Array;
}

/**
 * One weight of a com.microsoft DynamicQuantizeMatMul graph (what ORT fuses the
 * DynamicQuantizeLinear + MatMulInteger chain of a dynamically quantized "q8" model into):
 * B int8 [K, N] row-major, per-column scales f32 [N], zero point 0. X is quantized to
 * uint8 per call (one scale for the whole tensor).
 */
export interface Int8Weight {
  kind: "int8";
  b: Int8Array;
  scales: Float32Array;
}

export type MatmulWeight = F32Weight | NBitsWeight | Int8Weight;

export interface MatmulGraphOptions {
  /** rows of X (tokens); a string makes it a symbolic dimension, so one session takes any n */
  n: number | string;
  /** inner dimension */
  K: number;
  /** output features */
  N: number;
  /**
   * One node per weight, all reading the same X: Y0 = X W0, Y1 = X W1, ... Several copies
   * let a benchmark stream more weight bytes than the caches hold in one session.run.
   * Every Yi is a graph output; a caller may fetch only Y0 (onnxruntime still runs every
   * node: it plans execution for all graph outputs, whichever are fetched).
   */
  weights: readonly MatmulWeight[];
  /** MatMulNBits accuracy_level (0: fp32 compute, 4: int8 activations); omitted when undefined */
  accuracyLevel?: number;
}

/**
 * A graph of MatMul (f32), com.microsoft MatMulNBits or DynamicQuantizeMatMul nodes:
 * X [n, K] -> Yi [n, N].
 * Opset 17, plus com.microsoft version 1 when a contrib node is present.
 */
export function matmulModel(o: MatmulGraphOptions): Uint8Array {
  const { n, K, N } = o;
  if (o.weights.length === 0) throw new RangeError("matmulModel: no weights");
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const outputs: OnnxValueInfo[] = [];
  let contrib = false;
  o.weights.forEach((wt, i) => {
    const y = `Y${i}`;
    if (wt.kind === "f32") {
      if (wt.w.length !== K * N) throw new RangeError(`matmulModel: weight ${i} has ${wt.w.length} values, expected K * N = ${K * N}`);
      initializers.push({ name: `W${i}`, dataType: DataType.FLOAT, dims: [K, N], raw: bytesOf(wt.w) });
      nodes.push({ opType: "MatMul", name: `matmul${i}`, inputs: ["X", `W${i}`], outputs: [y] });
    } else if (wt.kind === "int8") {
      contrib = true;
      if (wt.b.length !== K * N) throw new RangeError(`matmulModel: B ${i} has ${wt.b.length} values, expected K * N = ${K * N}`);
      if (wt.scales.length !== N) throw new RangeError(`matmulModel: scales ${i} has ${wt.scales.length} values, expected N = ${N}`);
      initializers.push({ name: `B${i}`, dataType: DataType.INT8, dims: [K, N], raw: bytesOf(wt.b) });
      initializers.push({ name: `S${i}`, dataType: DataType.FLOAT, dims: [N], raw: bytesOf(wt.scales) });
      nodes.push({ opType: "DynamicQuantizeMatMul", domain: "com.microsoft", name: `dqmatmul${i}`, inputs: ["X", `B${i}`, `S${i}`], outputs: [y] });
    } else {
      contrib = true;
      const blocks = Math.ceil(K / wt.blockSize);
      const blob = (wt.blockSize * wt.bits) / 8;
      if (wt.b.byteLength !== N * blocks * blob) throw new RangeError(`matmulModel: B ${i} has ${wt.b.byteLength} bytes, expected ${N * blocks * blob}`);
      if (wt.scales.length !== N * blocks) throw new RangeError(`matmulModel: scales ${i} has ${wt.scales.length} values, expected ${N * blocks}`);
      initializers.push({ name: `B${i}`, dataType: DataType.UINT8, dims: [N, blocks, blob], raw: wt.b });
      initializers.push({ name: `S${i}`, dataType: DataType.FLOAT, dims: [N * blocks], raw: bytesOf(wt.scales) });
      const attributes: OnnxAttribute[] = [
        { name: "K", int: K },
        { name: "N", int: N },
        { name: "bits", int: wt.bits },
        { name: "block_size", int: wt.blockSize },
      ];
      if (o.accuracyLevel !== undefined) attributes.push({ name: "accuracy_level", int: o.accuracyLevel });
      nodes.push({ opType: "MatMulNBits", domain: "com.microsoft", name: `matmulnbits${i}`, inputs: ["X", `B${i}`, `S${i}`], outputs: [y], attributes });
    }
    outputs.push({ name: y, elemType: DataType.FLOAT, shape: [n, N] });
  });
  const opsets = [{ domain: "", version: 17 }];
  if (contrib) opsets.push({ domain: "com.microsoft", version: 1 });
  return encodeModel({ name: "matmul", nodes, initializers, inputs: [{ name: "X", elemType: DataType.FLOAT, shape: [n, K] }], outputs }, { opsets });
}

/** The smallest graph: Y = Identity(X) over `size` floats, for timing session.run's fixed cost. */
export function identityModel(size: number): Uint8Array {
  return encodeModel({
    name: "identity",
    nodes: [{ opType: "Identity", inputs: ["X"], outputs: ["Y"] }],
    initializers: [],
    inputs: [{ name: "X", elemType: DataType.FLOAT, shape: [1, size] }],
    outputs: [{ name: "Y", elemType: DataType.FLOAT, shape: [1, size] }],
  });
}

// ---------------------------------------------------------------- weight conversion

/** W [rows=out, cols=in] row-major (our layout) -> W^T [K=in, N=out] row-major (ONNX MatMul's B). */
export function transposeToKN(w: Float32Array, rows: number, cols: number): Float32Array {
  if (w.length !== rows * cols) throw new RangeError(`transposeToKN: ${w.length} values for [${rows}, ${cols}]`);
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    for (let c = 0; c < cols; c++) t[c * rows + r] = w[src + c];
  }
  return t;
}

/**
 * GGUF q4_0 rows ([N rows of K / 32 blocks of 18 bytes: f16 scale, 16 nibble bytes]) ->
 * MatMulNBits bits=4, block_size=32, symmetric (no zero points): B [N, K / 32, 16] and
 * scales [N * K / 32]. Nibbles move from q4_0's split halves (element j low, j + 16 high)
 * to MatMulNBits's low-first pairs (element 2j low, 2j + 1 high); the values are unchanged.
 */
export function q4_0ToMatMulNBits(q: Uint8Array, N: number, K: number): NBitsWeight {
  if (K % 32) throw new RangeError(`q4_0ToMatMulNBits: K = ${K} is not a multiple of 32`);
  const blocks = (N * K) / 32;
  if (q.byteLength !== blocks * 18) throw new RangeError(`q4_0ToMatMulNBits: ${q.byteLength} bytes, expected ${blocks * 18} for [${N}, ${K}]`);
  const b = new Uint8Array(blocks * 16);
  const scales = new Float32Array(blocks);
  const codes = new Uint8Array(32);
  for (let i = 0; i < blocks; i++) {
    const s = i * 18;
    scales[i] = f16ToF32(q[s] | (q[s + 1] << 8));
    for (let j = 0; j < 16; j++) {
      const byte = q[s + 2 + j];
      codes[j] = byte & 15;
      codes[j + 16] = byte >> 4;
    }
    const d = i * 16;
    for (let j = 0; j < 16; j++) b[d + j] = codes[2 * j] | (codes[2 * j + 1] << 4);
  }
  return { kind: "nbits", bits: 4, blockSize: 32, b, scales };
}

/**
 * GGUF q8_0 rows ([N rows of K / 32 blocks of 34 bytes: f16 scale, 32 int8]) ->
 * MatMulNBits bits=8, block_size=32, no zero points (the default zero point is 128):
 * code = q + 128, so (code - 128) * scale = q * scale.
 */
export function q8_0ToMatMulNBits(q: Uint8Array, N: number, K: number): NBitsWeight {
  if (K % 32) throw new RangeError(`q8_0ToMatMulNBits: K = ${K} is not a multiple of 32`);
  const blocks = (N * K) / 32;
  if (q.byteLength !== blocks * 34) throw new RangeError(`q8_0ToMatMulNBits: ${q.byteLength} bytes, expected ${blocks * 34} for [${N}, ${K}]`);
  const b = new Uint8Array(blocks * 32);
  const scales = new Float32Array(blocks);
  for (let i = 0; i < blocks; i++) {
    const s = i * 34;
    scales[i] = f16ToF32(q[s] | (q[s + 1] << 8));
    for (let j = 0; j < 32; j++) b[i * 32 + j] = q[s + 2 + j] ^ 0x80; // int8 two's complement + 128
  }
  return { kind: "nbits", bits: 8, blockSize: 32, b, scales };
}

/** Dequantize MatMulNBits weights (no zero points) to W [N, K] f32, for references. */
export function dequantizeNBits(wt: NBitsWeight, N: number, K: number): Float32Array {
  const blocks = Math.ceil(K / wt.blockSize);
  const blob = (wt.blockSize * wt.bits) / 8;
  const zero = 1 << (wt.bits - 1);
  const out = new Float32Array(N * K);
  for (let r = 0; r < N; r++) {
    for (let blk = 0; blk < blocks; blk++) {
      const s = wt.scales[r * blocks + blk];
      const base = (r * blocks + blk) * blob;
      for (let e = 0; e < wt.blockSize; e++) {
        const k = blk * wt.blockSize + e;
        if (k >= K) break;
        const code = wt.bits === 8 ? wt.b[base + e] : (wt.b[base + (e >> 1)] >> ((e & 1) * 4)) & 15;
        out[r * K + k] = (code - zero) * s;
      }
    }
  }
  return out;
}

/**
 * W [rows=out, cols=in] f32 (our layout) -> DynamicQuantizeMatMul weights: symmetric int8
 * per output feature (a column of B), scale = max |w| / 127, B = W^T as [K=in, N=out].
 */
export function int8PerColumn(w: Float32Array, rows: number, cols: number): Int8Weight {
  if (w.length !== rows * cols) throw new RangeError(`int8PerColumn: ${w.length} values for [${rows}, ${cols}]`);
  const b = new Int8Array(rows * cols);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let amax = 0;
    for (let c = 0; c < cols; c++) amax = Math.max(amax, Math.abs(w[r * cols + c]));
    const d = amax / 127;
    scales[r] = d;
    const inv = d > 0 ? 1 / d : 0;
    for (let c = 0; c < cols; c++) b[c * rows + r] = Math.max(-127, Math.min(127, Math.round(w[r * cols + c] * inv)));
  }
  return { kind: "int8", b, scales };
}
