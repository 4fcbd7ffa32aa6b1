/**
 * Writing GGUF v3, so that our loader and llama.cpp (wllama) read the very same file.
 *
 * Layout (what formats/gguf.ts reads): "GGUF", version 3, tensor count, metadata count, typed
 * key/values, tensor infos (name, dims in ggml order, ggml type, offset), zero padding to
 * `general.alignment`, then each tensor's bytes padded to the alignment. The header (with every
 * offset) is computed from the tensor list up front, and tensor data is then accepted one
 * tensor (or one run of whole rows) at a time and passed straight to a sink, so a model never
 * has to sit in memory whole. Nothing here touches the file system: Node file writing is in
 * ../gguf-write-node.ts.
 *
 * Also here, because a Llama-family GGUF needs them all:
 * - ggml's reference quantizers (quantize_row_q8_0_ref / quantize_row_q4_0_ref), F16, BF16;
 * - the conversion of a Hugging Face Llama / Mistral / Qwen2 checkpoint as llama.cpp's
 *   convert_hf_to_gguf.py does it (names, q/k permutation, metadata);
 * - tokenizer metadata from a tokenizer.json, tiktoken ranks, or another GGUF's keys.
 */
import { f16ToF32, f32ToF16 } from "@edgespec/runtime";
import { ModelFormatError, UnsupportedModelError } from "../errors";
import { type LlamaConfig, llamaConfigFromHf } from "../llama/config";
import { binToByteLevel } from "../tokenizers/byte-level";
import { byteOfPiece } from "../tokenizers/bytes";
import { parseTiktokenRanks } from "../tokenizers/tiktoken";
import { TokenType } from "../tokenizers/token-types";
import type { GgufValue } from "./gguf";
import { STORED_BYTES, type StoredDType, type StoredTensor, storedByteLength } from "./stored";

// ---------------------------------------------------------------- metadata values

export type GgufScalarType = "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "bool" | "string" | "u64" | "i64" | "f64";

/** A metadata value with its GGUF type: llama.cpp checks the type of every key it reads. */
export type GgufTypedValue =
  | { type: "string"; value: string }
  | { type: "bool"; value: boolean }
  | { type: "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64"; value: number }
  | { type: "u64" | "i64"; value: number | bigint }
  | { type: "array"; of: GgufScalarType; value: readonly (string | number | bigint | boolean)[] | ArrayLike<number> };

/** Metadata in file order. */
export type GgufMetadataList = [key: string, value: GgufTypedValue][];

const TYPE_ID: Record<GgufScalarType | "array", number> = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
};

/** Shorthands: `ggufKv.u32(5)`, `ggufKv.array("string", tokens)`. */
export const ggufKv = {
  string: (value: string): GgufTypedValue => ({ type: "string", value }),
  bool: (value: boolean): GgufTypedValue => ({ type: "bool", value }),
  u32: (value: number): GgufTypedValue => ({ type: "u32", value }),
  i32: (value: number): GgufTypedValue => ({ type: "i32", value }),
  f32: (value: number): GgufTypedValue => ({ type: "f32", value }),
  u64: (value: number | bigint): GgufTypedValue => ({ type: "u64", value }),
  array: (of: GgufScalarType, value: readonly (string | number | bigint | boolean)[] | ArrayLike<number>): GgufTypedValue => ({ type: "array", of, value }),
};

// ---------------------------------------------------------------- tensors

/** A tensor as the header declares it. `dims` are in ggml order: dims[0] is the row length (PyTorch's shape reversed). */
export interface GgufTensorDescriptor {
  name: string;
  dims: readonly number[];
  type: StoredDType;
}

export interface GgufPlannedTensor extends GgufTensorDescriptor {
  /** relative to the data section */
  offset: number;
  byteLength: number;
}

const GGML_TYPE_ID: Record<StoredDType, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 };
/** llama.cpp: GGML_MAX_NAME is 64 bytes with the terminating NUL */
const MAX_TENSOR_NAME = 63;
const MAX_DIMS = 4;

// ---------------------------------------------------------------- header bytes

/** A growable little-endian byte buffer: a vocabulary header is a few MB of tiny fields. */
class ByteBuf {
  private buf = new Uint8Array(1 << 16);
  private dv = new DataView(this.buf.buffer);
  private static readonly utf8 = new TextEncoder();
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.dv.setUint8(this.length++, v);
  }
  u32(v: number): void {
    this.ensure(4);
    this.dv.setUint32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number | bigint): void {
    this.ensure(8);
    this.dv.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  scalar(type: GgufScalarType, v: number | bigint | boolean): void {
    const n = v as number;
    const sizes: Record<string, number> = { u8: 1, i8: 1, bool: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8 };
    this.ensure(sizes[type]);
    const dv = this.dv;
    const at = this.length;
    switch (type) {
      case "u8":
        dv.setUint8(at, n);
        break;
      case "i8":
        dv.setInt8(at, n);
        break;
      case "bool":
        dv.setUint8(at, v ? 1 : 0);
        break;
      case "u16":
        dv.setUint16(at, n, true);
        break;
      case "i16":
        dv.setInt16(at, n, true);
        break;
      case "u32":
        dv.setUint32(at, n, true);
        break;
      case "i32":
        dv.setInt32(at, n, true);
        break;
      case "f32":
        dv.setFloat32(at, n, true);
        break;
      case "u64":
        dv.setBigUint64(at, BigInt(v as number | bigint), true);
        break;
      case "i64":
        dv.setBigInt64(at, BigInt(v as number | bigint), true);
        break;
      case "f64":
        dv.setFloat64(at, n, true);
        break;
    }
    this.length += sizes[type];
  }
  string(s: string): void {
    const b = ByteBuf.utf8.encode(s);
    this.u64(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  zeros(n: number): void {
    this.ensure(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const INT_RANGE: Partial<Record<GgufScalarType, [number, number]>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};

function checkScalar(key: string, type: GgufScalarType, v: unknown): void {
  const bad = (what: string) => new RangeError(`GGUF metadata "${key}": ${what}`);
  if (type === "string") {
    if (typeof v !== "string") throw bad(`${String(v)} is not a string`);
  } else if (type === "bool") {
    if (typeof v !== "boolean") throw bad(`${String(v)} is not a boolean`);
  } else if (type === "u64" || type === "i64") {
    const lo = type === "u64" ? 0n : -(1n << 63n);
    const hi = type === "u64" ? (1n << 64n) - 1n : (1n << 63n) - 1n;
    if (typeof v === "number" && !Number.isSafeInteger(v)) throw bad(`${v} is not an integer`);
    if (typeof v !== "number" && typeof v !== "bigint") throw bad(`${String(v)} is not an integer`);
    if (BigInt(v) < lo || BigInt(v) > hi) throw bad(`${v} is out of range for ${type}`);
  } else {
    if (typeof v !== "number") throw bad(`${String(v)} is not a number`);
    const range = INT_RANGE[type];
    if (range && (!Number.isInteger(v) || v < range[0] || v > range[1])) throw bad(`${v} is out of range for ${type}`);
  }
}

function writeValue(buf: ByteBuf, key: string, v: GgufTypedValue): void {
  if (v.type === "array") {
    if ((v.of as string) === "array") throw new RangeError(`GGUF metadata "${key}": nested arrays are not written`);
    buf.u32(TYPE_ID[v.of]);
    const items = v.value;
    buf.u64(items.length);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      checkScalar(`${key}[${i}]`, v.of, item);
      if (v.of === "string") buf.string(item as string);
      else buf.scalar(v.of, item as number | bigint | boolean);
    }
    return;
  }
  checkScalar(key, v.type, v.value);
  if (v.type === "string") buf.string(v.value);
  else buf.scalar(v.type, v.value);
}

function padTo(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** The alignment the metadata declares (general.alignment, a u32 power of two) or the default 32. */
function alignmentOf(metadata: GgufMetadataList): number {
  const entry = metadata.find(([k]) => k === "general.alignment");
  if (!entry) return 32;
  const v = entry[1];
  if (v.type !== "u32" || v.value < 1 || v.value > 1 << 20 || (v.value & (v.value - 1)) !== 0)
    throw new RangeError(`general.alignment must be a u32 power of two, got ${JSON.stringify(v)}`);
  return v.value;
}

export interface GgufLayout {
  /** the header, zero-padded to the alignment: the data section starts right after it */
  header: Uint8Array;
  tensors: GgufPlannedTensor[];
  alignment: number;
  /** the whole file, every tensor padded to the alignment */
  totalBytes: number;
}

/** Header bytes and tensor offsets for a file with this metadata and these tensors (in this order). */
export function ggufLayout(metadata: GgufMetadataList, tensors: readonly GgufTensorDescriptor[]): GgufLayout {
  const alignment = alignmentOf(metadata);
  const buf = new ByteBuf();
  buf.u8(0x47);
  buf.u8(0x47);
  buf.u8(0x55);
  buf.u8(0x46);
  buf.u32(3);
  buf.u64(tensors.length);
  buf.u64(metadata.length);
  const keys = new Set<string>();
  for (const [key, value] of metadata) {
    // what the reader accepts, and llama.cpp's key rules
    if (!/^[\x20-\x7e]{1,256}$/.test(key)) throw new RangeError(`GGUF metadata key ${JSON.stringify(key)} is not 1..256 printable ASCII characters`);
    if (keys.has(key)) throw new RangeError(`GGUF metadata key "${key}" appears twice`);
    keys.add(key);
    buf.string(key);
    buf.u32(TYPE_ID[value.type]);
    writeValue(buf, key, value);
  }
  const planned: GgufPlannedTensor[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (new TextEncoder().encode(t.name).length > MAX_TENSOR_NAME || t.name.length === 0)
      throw new RangeError(`tensor name ${JSON.stringify(t.name)} must be 1..${MAX_TENSOR_NAME} bytes (llama.cpp's limit)`);
    if (names.has(t.name)) throw new RangeError(`tensor "${t.name}" appears twice`);
    names.add(t.name);
    if (t.dims.length < 1 || t.dims.length > MAX_DIMS) throw new RangeError(`tensor "${t.name}" has ${t.dims.length} dims (1..${MAX_DIMS})`);
    if (!(t.type in GGML_TYPE_ID)) throw new RangeError(`tensor "${t.name}": type ${t.type} is not written (F32, F16, BF16, Q8_0, Q4_0)`);
    const byteLength = storedByteLength(t.type, [...t.dims].reverse());
    if (typeof byteLength === "string") throw new RangeError(`tensor "${t.name}": ${byteLength}`);
    buf.string(t.name);
    buf.u32(t.dims.length);
    for (const d of t.dims) buf.u64(d);
    buf.u32(GGML_TYPE_ID[t.type]);
    buf.u64(offset);
    planned.push({ name: t.name, dims: [...t.dims], type: t.type, offset, byteLength });
    offset = padTo(offset + byteLength, alignment);
  }
  buf.zeros(padTo(buf.length, alignment) - buf.length);
  const header = buf.bytes();
  return { header, tensors: planned, alignment, totalBytes: header.length + offset };
}

// ---------------------------------------------------------------- sinks and the streaming writer

/** Where the bytes go. A sink may keep the chunk: the writer never reuses one after passing it. */
export interface GgufSink {
  write(chunk: Uint8Array): void | Promise<void>;
}

/** Chunks collected in memory (tests, small files, a browser download). */
export class MemorySink implements GgufSink {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  write(chunk: Uint8Array): void {
    // a Float32Array passed as F32 data is written as a view; the caller may reuse it
    this.chunks.push(chunk.slice());
    this.length += chunk.length;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/**
 * Writes one GGUF file in order: the header, then every declared tensor in declaration order.
 * A tensor's data may come in several calls (whole blocks each), as encoded bytes or as f32
 * values to encode in the tensor's type.
 */
export class GgufWriter {
  readonly layout: GgufLayout;
  private started = false;
  private index = 0;
  /** bytes of the current tensor already written */
  private done = 0;
  private position = 0;

  constructor(
    private readonly sink: GgufSink,
    metadata: GgufMetadataList,
    tensors: readonly GgufTensorDescriptor[],
    /** names the output in errors */
    readonly label = "GGUF output",
  ) {
    this.layout = ggufLayout(metadata, tensors);
  }

  get tensors(): readonly GgufPlannedTensor[] {
    return this.layout.tensors;
  }

  /** bytes handed to the sink so far */
  get bytesWritten(): number {
    return this.position;
  }

  /** The tensor the next data belongs to, or undefined when all are written. */
  get next(): GgufPlannedTensor | undefined {
    return this.layout.tensors[this.index];
  }

  private async emit(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    await this.sink.write(chunk);
    this.position += chunk.length;
  }

  async writeHeader(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.emit(this.layout.header);
  }

  /** Data of the next tensor (named, to catch order mistakes): encoded bytes, or f32 values encoded here. */
  async writeTensor(name: string, data: Uint8Array | Float32Array): Promise<void> {
    await this.writeHeader();
    const t = this.next;
    if (!t) throw new ModelFormatError(this.label, "every declared tensor is already written", name);
    if (t.name !== name) throw new ModelFormatError(this.label, `data arrived out of order: the next tensor is "${t.name}"`, name);
    const bytes = data instanceof Float32Array ? encodeTensorData(t.type, data, name, this.label) : data;
    if (this.done + bytes.length > t.byteLength) {
      throw new ModelFormatError(this.label, `got ${this.done + bytes.length} bytes, ${t.type} [${t.dims.join(", ")}] holds ${t.byteLength}`, name);
    }
    const { block, bytes: blockBytes } = STORED_BYTES[t.type];
    if (block > 1 && bytes.length % blockBytes) throw new ModelFormatError(this.label, `a chunk of ${bytes.length} bytes is not whole ${t.type} blocks`, name);
    await this.emit(bytes);
    this.done += bytes.length;
    if (this.done === t.byteLength) {
      await this.emit(new Uint8Array(padTo(t.byteLength, this.layout.alignment) - t.byteLength));
      this.index++;
      this.done = 0;
    }
  }

  /** Checks that every tensor was written; returns the file size. */
  async finish(): Promise<number> {
    await this.writeHeader();
    const t = this.next;
    if (t) throw new ModelFormatError(this.label, `was never written (${this.done} of ${t.byteLength} bytes)`, t.name);
    if (this.position !== this.layout.totalBytes) throw new Error(`GGUF writer: wrote ${this.position} bytes, planned ${this.layout.totalBytes}`);
    return this.position;
  }
}

// ---------------------------------------------------------------- encodings (ggml's reference rounding)

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function countNonFinite(x: Float32Array): number {
  let bad = 0;
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) bad++;
  return bad;
}

function needBlocks(x: Float32Array, what: string): number {
  if (x.length % 32) throw new RangeError(`${what} needs a multiple of 32 values, got ${x.length}`);
  return x.length / 32;
}

/**
 * ggml's quantize_row_q8_0_ref: per block of 32, d = amax / 127 (float), id = d ? 1/d : 0,
 * q = roundf(x * id) (half away from zero), d stored as f16. Every float op is rounded to
 * float32 as C does it; double-rounding through a JS double is exact for + - * /.
 */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const nb = needBlocks(x, "Q8_0");
  const out = new Uint8Array(nb * 34);
  for (let b = 0; b < nb; b++) {
    const base = b * 32;
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(x[base + j]);
      if (a > amax) amax = a;
    }
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const h = f32ToF16(d);
    const o = b * 34;
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < 32; j++) {
      const v = Math.fround(x[base + j] * id);
      // roundf; |v| + 0.5 is exact in a double, so 0.49999997 stays below 1
      const q = v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
      // +inf (a scale that underflowed) saturates like the wasm kernel's conversion
      out[o + 2 + j] = Math.min(q, 0x7fffffff) & 0xff;
    }
  }
  return out;
}

/**
 * ggml's quantize_row_q4_0_ref: max = the value with the largest |x| (the first one: strict >),
 * d = max / -8, id = d ? 1/d : 0, q = min(15, (int8)(x * id + 8.5f)); byte j holds q[j] in its
 * low nibble and q[j + 16] in its high nibble.
 */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  const nb = needBlocks(x, "Q4_0");
  const out = new Uint8Array(nb * 18);
  for (let b = 0; b < nb; b++) {
    const base = b * 32;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[base + j];
      const a = Math.abs(v);
      if (amax < a) {
        amax = a;
        max = v;
      }
    }
    const d = Math.fround(max / -8);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const h = f32ToF16(d);
    const o = b * 18;
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, toInt8(Math.fround(Math.fround(x[base + j] * id) + 8.5)));
      const q1 = Math.min(15, toInt8(Math.fround(Math.fround(x[base + 16 + j] * id) + 8.5)));
      out[o + 2 + j] = (q0 | (q1 << 4)) & 0xff;
    }
  }
  return out;
}

/**
 * C's (int8_t) of a float: truncation. Out of range only when a block's scale underflowed
 * (1/d is infinite; such a block dequantizes to zeros whatever its quants), where C leaves it
 * undefined: saturate as the wasm kernels do, so that both quantizers agree on every input.
 */
function toInt8(v: number): number {
  return Math.max(-128, Math.min(127, Math.trunc(v))) | 0;
}

/** IEEE binary16, round to nearest even (ggml's GGML_FP32_TO_FP16), little-endian. */
export function encodeF16(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length * 2);
  for (let i = 0; i < x.length; i++) {
    const h = f32ToF16(x[i]);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

/** ggml_compute_fp32_to_bf16: round to nearest even, NaN kept quiet. */
export function encodeBF16(x: Float32Array): Uint8Array {
  const u = new Uint32Array(Float32Array.from(x).buffer);
  const out = new Uint8Array(x.length * 2);
  for (let i = 0; i < u.length; i++) {
    const v = u[i];
    const h = (v & 0x7fffffff) > 0x7f800000 ? (v >>> 16) | 64 : (v + 0x7fff + ((v >>> 16) & 1)) >>> 16;
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = (h >>> 8) & 0xff;
  }
  return out;
}

export function encodeF32(x: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  const out = new Uint8Array(x.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) dv.setFloat32(4 * i, x[i], true);
  return out;
}

/**
 * f32 values in a file type. Block formats refuse NaN and infinities (ggml would write a
 * meaningless scale), F16 refuses values that overflow to infinity.
 */
export function encodeTensorData(type: StoredDType, x: Float32Array, name = "tensor", label = "GGUF output"): Uint8Array {
  if ((type === "Q8_0" || type === "Q4_0" || type === "F16") && countNonFinite(x) > 0)
    throw new ModelFormatError(label, `holds ${countNonFinite(x)} NaN or infinite values, which ${type} cannot store`, name);
  switch (type) {
    case "F32":
      return encodeF32(x);
    case "F16": {
      const out = encodeF16(x);
      for (let i = 1; i < out.length; i += 2) {
        if ((out[i] & 0x7c) === 0x7c) throw new ModelFormatError(label, `value ${x[(i - 1) / 2]} overflows F16 (|x| >= 65520)`, name);
      }
      return out;
    }
    case "BF16":
      return encodeBF16(x);
    case "Q8_0":
      return quantizeQ8_0(x);
    case "Q4_0":
      return quantizeQ4_0(x);
  }
}

/** A stored F32/F16/BF16 tensor's values as a fresh Float32Array (safe to modify). */
export function storedFloats(t: StoredTensor, label = "checkpoint"): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case "F32":
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    case "F16":
      for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
      return out;
    case "BF16": {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    default:
      throw new ModelFormatError(label, `${t.dtype} tensors are not converted (F32, F16, BF16 checkpoints)`, t.name);
  }
}

// ---------------------------------------------------------------- Llama-family layout (convert_hf_to_gguf.py)

export type GgufFileDType = "f32" | "f16" | "q8_0" | "q4_0";
export const GGUF_FILE_DTYPES: readonly GgufFileDType[] = ["f32", "f16", "q8_0", "q4_0"];

/** llama_ftype (general.file_type) */
const FILE_TYPE: Record<GgufFileDType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7 };
const MATRIX_TYPE: Record<GgufFileDType, StoredDType> = { f32: "F32", f16: "F16", q8_0: "Q8_0", q4_0: "Q4_0" };

/** HF parameter names -> GGUF names (the inverse of ggufToHfName in load.ts). */
const HF_LAYER_PARTS: Record<string, string> = {
  input_layernorm: "attn_norm",
  "self_attn.q_proj": "attn_q",
  "self_attn.k_proj": "attn_k",
  "self_attn.v_proj": "attn_v",
  "self_attn.o_proj": "attn_output",
  post_attention_layernorm: "ffn_norm",
  "mlp.gate_proj": "ffn_gate",
  "mlp.up_proj": "ffn_up",
  "mlp.down_proj": "ffn_down",
};

export function hfToGgufName(name: string): string | undefined {
  const fixed: Record<string, string> = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
  };
  if (name in fixed) return fixed[name];
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  const part = m ? HF_LAYER_PARTS[m[2]] : undefined;
  return m && part ? `blk.${m[1]}.${part}.${m[3]}` : undefined;
}

/**
 * LlamaModel.permute of convert_hf_to_gguf.py: within each head, rows [first half | second
 * half] become interleaved pairs, so that llama.cpp's adjacent-pair RoPE computes what HF's
 * rotate-half does. Row i*2+j of a head comes from row j*half+i. `cols` is 1 for a bias.
 */
export function permuteForInterleavedRope(w: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const hd = rows / heads;
  if (!Number.isInteger(hd) || hd % 2) throw new RangeError(`cannot permute ${rows} rows over ${heads} heads`);
  const half = hd / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const dst = (h * hd + 2 * i + j) * cols;
        const src = (h * hd + j * half + i) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

/** One tensor of a Llama-family GGUF and where its values come from. */
export interface LlamaGgufTensor extends GgufTensorDescriptor {
  /** the Hugging Face parameter it holds */
  hfName: string;
  /** PyTorch shape of the values the data callback gives ([out, in]; [n] for vectors) */
  shape: number[];
  /** q/k rows are permuted over this many heads before encoding */
  permuteHeads?: number;
}

export interface LlamaGgufPlan {
  architecture: "llama" | "qwen2";
  metadata: GgufMetadataList;
  tensors: LlamaGgufTensor[];
}

export interface LlamaGgufOptions {
  /** type of the 2-D weights; 1-D tensors are always F32 */
  dtype: GgufFileDType;
  /** tokenizer.* entries (ggufVocabFromHfTokenizer, ggufVocabFromTiktoken, ggufVocabFromMetadata) */
  vocab: GgufMetadataList;
  /** general.name */
  name?: string;
  /** default 32 */
  alignment?: number;
}

/**
 * The metadata and tensor list of a Llama (llama.cpp arch "llama": Llama, Mistral) or Qwen2
 * GGUF, as convert_hf_to_gguf.py lays it out: keys in its order, tensors sorted by HF name
 * (safetensors' key order), llama q/k rows permuted for interleaved RoPE (Qwen2 uses NeoX RoPE
 * in llama.cpp: no permutation), 1-D tensors F32, tied models without output.weight.
 * 2-D weights whose rows are not a multiple of 32 stay F32 in a block format (what our
 * loader's quantize-on-load does; llama.cpp's converter would fall back to F16).
 */
export function llamaGgufPlan(config: LlamaConfig, opts: LlamaGgufOptions): LlamaGgufPlan {
  const c = config;
  const label = opts.name ?? "model";
  const arch = c.modelType === "qwen2" ? "qwen2" : c.modelType === "llama" || c.modelType === "mistral" ? "llama" : undefined;
  if (!arch) throw new UnsupportedModelError(label, `model type ${JSON.stringify(c.modelType)} has no GGUF conversion (llama, mistral, qwen2)`);
  if (c.ropeStyle !== "neox") throw new UnsupportedModelError(label, "the config must describe Hugging Face (rotate-half) weights");
  if (arch === "llama" && c.attentionBias)
    throw new UnsupportedModelError(label, "q/k/v biases with architecture llama are not converted (our GGUF loader reads biases for qwen2 only)");
  if (c.ropeScaling.type !== "default" && c.ropeScaling.type !== "linear")
    throw new UnsupportedModelError(label, `rope scaling ${JSON.stringify(c.ropeScaling.type)} is not converted (default, linear)`);
  if (!GGUF_FILE_DTYPES.includes(opts.dtype)) throw new RangeError(`dtype ${JSON.stringify(opts.dtype)} is not one of ${GGUF_FILE_DTYPES.join(", ")}`);
  const p = (key: string) => `${arch}.${key}`;
  const metadata: GgufMetadataList = [
    ["general.architecture", ggufKv.string(arch)],
    ["general.type", ggufKv.string("model")],
  ];
  if (opts.name !== undefined) metadata.push(["general.name", ggufKv.string(opts.name)]);
  metadata.push(
    ["general.alignment", ggufKv.u32(opts.alignment ?? 32)],
    [p("block_count"), ggufKv.u32(c.numLayers)],
    [p("context_length"), ggufKv.u32(c.maxPositions)],
    [p("embedding_length"), ggufKv.u32(c.hiddenSize)],
    [p("feed_forward_length"), ggufKv.u32(c.intermediateSize)],
    [p("attention.head_count"), ggufKv.u32(c.numHeads)],
    [p("attention.head_count_kv"), ggufKv.u32(c.numKvHeads)],
    [p("rope.freq_base"), ggufKv.f32(c.ropeTheta)],
    [p("attention.layer_norm_rms_epsilon"), ggufKv.f32(c.rmsEps)],
    ["general.file_type", ggufKv.u32(FILE_TYPE[opts.dtype])],
    [p("vocab_size"), ggufKv.u32(c.vocabSize)],
    [p("rope.dimension_count"), ggufKv.u32(c.headDim)],
  );
  if (c.headDim * c.numHeads !== c.hiddenSize)
    metadata.push([p("attention.key_length"), ggufKv.u32(c.headDim)], [p("attention.value_length"), ggufKv.u32(c.headDim)]);
  if (c.ropeScaling.type === "linear")
    metadata.push([p("rope.scaling.type"), ggufKv.string("linear")], [p("rope.scaling.factor"), ggufKv.f32(c.ropeScaling.factor)]);
  metadata.push(["general.quantization_version", ggufKv.u32(2)]);
  for (const [k, v] of opts.vocab) {
    if (!k.startsWith("tokenizer.")) throw new RangeError(`vocab entry "${k}" is not a tokenizer.* key`);
    metadata.push([k, v]);
  }

  const h = c.hiddenSize;
  const qRows = c.numHeads * c.headDim;
  const kvRows = c.numKvHeads * c.headDim;
  const hf: [string, number[], number?][] = [
    ["model.embed_tokens.weight", [c.vocabSize, h]],
    ["model.norm.weight", [h]],
  ];
  if (!c.tieWordEmbeddings) hf.push(["lm_head.weight", [c.vocabSize, h]]);
  const permute = arch === "llama";
  for (let i = 0; i < c.numLayers; i++) {
    const l = `model.layers.${i}`;
    hf.push(
      [`${l}.input_layernorm.weight`, [h]],
      [`${l}.self_attn.q_proj.weight`, [qRows, h], permute ? c.numHeads : undefined],
      [`${l}.self_attn.k_proj.weight`, [kvRows, h], permute ? c.numKvHeads : undefined],
      [`${l}.self_attn.v_proj.weight`, [kvRows, h]],
      [`${l}.self_attn.o_proj.weight`, [h, qRows]],
      [`${l}.post_attention_layernorm.weight`, [h]],
      [`${l}.mlp.gate_proj.weight`, [c.intermediateSize, h]],
      [`${l}.mlp.up_proj.weight`, [c.intermediateSize, h]],
      [`${l}.mlp.down_proj.weight`, [h, c.intermediateSize]],
    );
    if (c.attentionBias) hf.push([`${l}.self_attn.q_proj.bias`, [qRows]], [`${l}.self_attn.k_proj.bias`, [kvRows]], [`${l}.self_attn.v_proj.bias`, [kvRows]]);
  }
  hf.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const matrixType = MATRIX_TYPE[opts.dtype];
  const tensors = hf.map(([hfName, shape, heads]): LlamaGgufTensor => {
    let type: StoredDType = "F32";
    if (shape.length === 2) type = (matrixType === "Q8_0" || matrixType === "Q4_0") && shape[1] % 32 ? "F32" : matrixType;
    const t: LlamaGgufTensor = { name: hfToGgufName(hfName) as string, dims: [...shape].reverse(), type, hfName, shape };
    if (heads !== undefined) t.permuteHeads = heads;
    return t;
  });
  return { architecture: arch, metadata, tensors };
}

/** A tensor's f32 values in HF layout: all at once, or in runs of whole rows. */
export type TensorValues = Float32Array | Iterable<Float32Array> | AsyncIterable<Float32Array>;

export interface GgufProgress {
  tensor: string;
  /** tensors finished, of `count` */
  index: number;
  count: number;
  bytes: number;
  totalBytes: number;
}

/**
 * Writes a planned Llama-family GGUF: for each tensor in file order, `values` gives its f32
 * values (HF layout); they are permuted when the plan says so, encoded and written. Peak
 * memory is one tensor (or one chunk of rows, for tensors that are not permuted).
 */
export async function writeLlamaGguf(
  sink: GgufSink,
  plan: LlamaGgufPlan,
  values: (t: LlamaGgufTensor) => TensorValues | Promise<TensorValues>,
  opts: { label?: string; onProgress?: (p: GgufProgress) => void } = {},
): Promise<{ bytes: number; layout: GgufLayout }> {
  const writer = new GgufWriter(sink, plan.metadata, plan.tensors, opts.label);
  await writer.writeHeader();
  let index = 0;
  for (const t of plan.tensors) {
    const cols = t.shape.length === 2 ? t.shape[1] : t.shape[0];
    const total = t.shape.reduce((a, b) => a * b, 1);
    const v = await values(t);
    let seen = 0;
    const take = async (chunk: Float32Array) => {
      if (chunk.length % cols) throw new ModelFormatError(writer.label, `a chunk of ${chunk.length} values is not whole rows of ${cols}`, t.hfName);
      seen += chunk.length;
      if (seen > total) throw new ModelFormatError(writer.label, `got more than the ${total} values of [${t.shape.join(", ")}]`, t.hfName);
      await writer.writeTensor(t.name, chunk);
    };
    if (t.permuteHeads !== undefined) {
      const all = await gather(v);
      if (all.length !== total) throw new ModelFormatError(writer.label, `got ${all.length} values, [${t.shape.join(", ")}] has ${total}`, t.hfName);
      await take(permuteForInterleavedRope(all, t.shape[0], t.shape.length === 2 ? t.shape[1] : 1, t.permuteHeads));
    } else if (v instanceof Float32Array) await take(v);
    else for await (const chunk of v as AsyncIterable<Float32Array>) await take(chunk);
    if (seen !== total) throw new ModelFormatError(writer.label, `got ${seen} values, [${t.shape.join(", ")}] has ${total}`, t.hfName);
    index++;
    opts.onProgress?.({ tensor: t.name, index, count: plan.tensors.length, bytes: writer.bytesWritten, totalBytes: writer.layout.totalBytes });
  }
  return { bytes: await writer.finish(), layout: writer.layout };
}

/** A permutation moves rows across the whole tensor: chunks are joined first. */
async function gather(v: TensorValues): Promise<Float32Array> {
  if (v instanceof Float32Array) return v;
  const chunks: Float32Array[] = [];
  for await (const chunk of v as AsyncIterable<Float32Array>) chunks.push(chunk);
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// ---------------------------------------------------------------- Hugging Face checkpoints

type Json = Record<string, unknown>;

/** A Hugging Face checkpoint with random access to its tensors (one at a time). */
export interface HfCheckpoint {
  /** the folder, for messages */
  label: string;
  config: Json;
  generation?: Json;
  /** every tensor of the safetensors file(s): HF name -> dtype and PyTorch shape */
  tensors: ReadonlyMap<string, { dtype: StoredDType; shape: readonly number[] }>;
  read(name: string): StoredTensor | Promise<StoredTensor>;
}

/** Tensors a checkpoint may hold that the GGUF does not need (llama.cpp's converter skips them too). */
const SKIPPED = /(^|\.)rotary_emb\.inv_freq$/;

/**
 * The GGUF plan of a Hugging Face checkpoint, checked against its tensors before anything is
 * written: every tensor the plan needs exists with its shape (a tied model may hold its
 * embedding as lm_head.weight only), and nothing unknown is silently dropped.
 */
export function planHfCheckpoint(ckpt: HfCheckpoint, opts: LlamaGgufOptions): { plan: LlamaGgufPlan; config: LlamaConfig; sourceOf: Map<string, string> } {
  const configFile = `${ckpt.label}/config.json`;
  const config = llamaConfigFromHf(configFile, ckpt.config, ckpt.generation);
  const plan = llamaGgufPlan(config, opts);
  const sourceOf = new Map<string, string>();
  const used = new Set<string>();
  for (const t of plan.tensors) {
    let src = t.hfName;
    // transformers' save_pretrained keeps one copy of tied weights, sometimes under lm_head
    if (!ckpt.tensors.has(src) && src === "model.embed_tokens.weight" && config.tieWordEmbeddings && ckpt.tensors.has("lm_head.weight")) src = "lm_head.weight";
    const have = ckpt.tensors.get(src);
    if (!have) throw new ModelFormatError(ckpt.label, "is missing", t.hfName);
    if (have.shape.length !== t.shape.length || have.shape.some((d, i) => d !== t.shape[i]))
      throw new ModelFormatError(ckpt.label, `has shape [${have.shape.join(", ")}], config.json needs [${t.shape.join(", ")}]`, src);
    if (have.dtype !== "F32" && have.dtype !== "F16" && have.dtype !== "BF16")
      throw new ModelFormatError(ckpt.label, `${have.dtype} tensors are not converted (F32, F16, BF16)`, src);
    sourceOf.set(t.hfName, src);
    used.add(src);
  }
  // a tied model's duplicate head is dropped: llama.cpp uses token_embd when output.weight is absent
  if (config.tieWordEmbeddings) used.add("lm_head.weight");
  const unknown = [...ckpt.tensors.keys()].filter((n) => !used.has(n) && !SKIPPED.test(n));
  if (unknown.length)
    throw new UnsupportedModelError(
      ckpt.label,
      `holds tensors the ${plan.architecture} GGUF has no place for: ${unknown.slice(0, 5).join(", ")}${unknown.length > 5 ? ", ..." : ""}`,
    );
  return { plan, config, sourceOf };
}

/** A Hugging Face Llama / Mistral / Qwen2 checkpoint to GGUF, tensor by tensor. */
export async function convertHfToGguf(
  ckpt: HfCheckpoint,
  sink: GgufSink,
  opts: LlamaGgufOptions & { onProgress?: (p: GgufProgress) => void; label?: string },
): Promise<{ bytes: number; plan: LlamaGgufPlan; config: LlamaConfig }> {
  const { plan, config, sourceOf } = planHfCheckpoint(ckpt, opts);
  const { bytes } = await writeLlamaGguf(sink, plan, async (t) => storedFloats(await ckpt.read(sourceOf.get(t.hfName) as string), ckpt.label), {
    label: opts.label,
    onProgress: opts.onProgress,
  });
  return { bytes, plan, config };
}

// ---------------------------------------------------------------- tokenizer metadata

/**
 * tokenizer.json -> GGUF "llama" (SentencePiece) metadata, for BPE tokenizers with byte
 * fallback and the SentencePiece space handling (normalizer Prepend "▁" + Replace " " -> "▁",
 * or a Metaspace pre-tokenizer): Llama 2, Mistral, TinyStories and the like.
 *
 * Why "llama" and not "gpt2": llama.cpp's gpt2 path maps text bytes to GPT-2's byte alphabet,
 * splits words with a pre-tokenizer regex and has no byte-fallback tokens; none of that is what
 * these tokenizers do (their pieces span spaces, "▁" is a literal character, unknown characters
 * become <0xNN> tokens). The SPM path has exactly their pipeline: add_space_prefix, spaces as
 * "▁", no pre-split, byte fallback. What it lacks is a merge list: it merges the adjacent pair
 * whose concatenation is the highest-scoring piece. So each token's score is minus the rank of
 * the first merge that produces it; then "best score" is "lowest merge rank", which is HF's BPE
 * order as long as no pair concatenates to a token through a split the merge list does not have
 * (checked on real text in the tests). Tokens no merge produces (single characters, bytes,
 * specials) score 0, as SentencePiece gives its control tokens.
 */
export function ggufVocabFromHfTokenizer(
  tokenizerJson: Json,
  tokenizerConfig: Json = {},
  opts: { vocabSize?: number; config?: Json; file?: string } = {},
): GgufMetadataList {
  const file = opts.file ?? "tokenizer.json";
  const model = tokenizerJson.model as Json | undefined;
  if (model?.type !== "BPE")
    throw new UnsupportedModelError(file, `model type ${JSON.stringify(model?.type)} is not converted to GGUF (BPE with byte fallback)`);
  if (model.byte_fallback !== true || !spaceHandling(tokenizerJson).sentencePiece)
    throw new UnsupportedModelError(
      file,
      "is not a SentencePiece-style BPE (byte_fallback and ▁ for spaces); byte-level BPE vocabularies are not converted from tokenizer.json yet: pass a vocab-only GGUF instead",
    );
  const vocab = model.vocab as Record<string, number>;
  const added = (Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens : []) as { id: number; content: string; special?: boolean }[];
  let n = opts.vocabSize ?? 0;
  for (const id of Object.values(vocab)) n = Math.max(n, id + 1);
  for (const a of added) n = Math.max(n, a.id + 1);
  const tokens: string[] = new Array(n);
  const types = new Int32Array(n);
  for (const [text, id] of Object.entries(vocab)) {
    tokens[id] = text;
    types[id] = byteOfPiece(text) >= 0 ? TokenType.BYTE : TokenType.NORMAL;
  }
  const unk = typeof model.unk_token === "string" ? vocab[model.unk_token] : undefined;
  for (const a of added) {
    tokens[a.id] = a.content;
    types[a.id] = a.id === unk ? TokenType.UNKNOWN : a.special ? TokenType.CONTROL : TokenType.USER_DEFINED;
  }
  if (unk !== undefined) types[unk] = TokenType.UNKNOWN;
  for (let i = 0; i < n; i++) {
    if (tokens[i] === undefined) {
      // convert_hf_to_gguf pads holes and the rest of the model's vocab_size the same way
      tokens[i] = `[PAD${i}]`;
      types[i] = TokenType.UNUSED;
    }
  }
  const scores = new Float32Array(n);
  const merged = new Set<number>();
  const merges = (model.merges ?? []) as (string | [string, string])[];
  merges.forEach((m, rank) => {
    const [a, b] = typeof m === "string" ? splitMerge(m) : m;
    const id = vocab[a + b];
    if (id !== undefined && !merged.has(id)) {
      merged.add(id);
      scores[id] = -rank;
    }
  });
  const idOfText = (v: unknown): number | undefined => {
    const text = typeof v === "string" ? v : v && typeof v === "object" ? ((v as Json).content as string | undefined) : undefined;
    if (text === undefined) return undefined;
    const a = added.find((x) => x.content === text);
    return a ? a.id : vocab[text];
  };
  const cfgId = (v: unknown): number | undefined => (typeof v === "number" ? v : Array.isArray(v) && typeof v[0] === "number" ? v[0] : undefined);
  const bos = idOfText(tokenizerConfig.bos_token) ?? cfgId(opts.config?.bos_token_id);
  const eos = idOfText(tokenizerConfig.eos_token) ?? cfgId(opts.config?.eos_token_id);
  const pad = idOfText(tokenizerConfig.pad_token);
  const out: GgufMetadataList = [
    ["tokenizer.ggml.model", ggufKv.string("llama")],
    ["tokenizer.ggml.tokens", ggufKv.array("string", tokens)],
    ["tokenizer.ggml.scores", ggufKv.array("f32", scores)],
    ["tokenizer.ggml.token_type", ggufKv.array("i32", types)],
  ];
  if (bos !== undefined) out.push(["tokenizer.ggml.bos_token_id", ggufKv.u32(bos)]);
  if (eos !== undefined) out.push(["tokenizer.ggml.eos_token_id", ggufKv.u32(eos)]);
  if (unk !== undefined) out.push(["tokenizer.ggml.unknown_token_id", ggufKv.u32(unk)]);
  if (pad !== undefined) out.push(["tokenizer.ggml.padding_token_id", ggufKv.u32(pad)]);
  out.push(
    ["tokenizer.ggml.add_bos_token", ggufKv.bool(typeof tokenizerConfig.add_bos_token === "boolean" ? tokenizerConfig.add_bos_token : true)],
    ["tokenizer.ggml.add_eos_token", ggufKv.bool(tokenizerConfig.add_eos_token === true)],
    ["tokenizer.ggml.add_space_prefix", ggufKv.bool(spaceHandling(tokenizerJson).prefix)],
  );
  const template = tokenizerConfig.chat_template;
  if (typeof template === "string") out.push(["tokenizer.chat_template", ggufKv.string(template)]);
  return out;
}

/** "a b" -> ["a", "b"], splitting at the first space after the first character as llama.cpp does. */
function splitMerge(m: string): [string, string] {
  const at = m.indexOf(" ", 1);
  return at > 0 ? [m.slice(0, at), m.slice(at + 1)] : [m, ""];
}

/** Whether spaces become "▁" (SentencePiece style) and whether one is prepended to the text. */
function spaceHandling(json: Json): { sentencePiece: boolean; prefix: boolean } {
  const flatten = (x: unknown, key: string): Json[] => {
    if (!x || typeof x !== "object") return [];
    const j = x as Json;
    return j.type === "Sequence" && Array.isArray(j[key]) ? (j[key] as Json[]) : [j];
  };
  const norms = flatten(json.normalizer, "normalizers");
  const pres = flatten(json.pre_tokenizer, "pretokenizers");
  const replaces = norms.some((n) => n.type === "Replace" && (n.pattern as Json | undefined)?.String === " " && n.content === "\u2581");
  const prepends = norms.some((n) => n.type === "Prepend" && n.prepend === "\u2581");
  const meta = pres.find((p) => p.type === "Metaspace");
  const other = norms.some((n) => n.type !== "Replace" && n.type !== "Prepend") || pres.some((p) => p.type !== "Metaspace");
  if (other) return { sentencePiece: false, prefix: false };
  if (meta) {
    const scheme = meta.prepend_scheme ?? (meta.add_prefix_space === false ? "never" : "always");
    return { sentencePiece: meta.replacement === "\u2581" && meta.split !== true, prefix: scheme !== "never" };
  }
  return { sentencePiece: replaces, prefix: prepends };
}

export interface TiktokenVocabOptions {
  /** llama.cpp pre-tokenizer name (tokenizer.ggml.pre): "qwen2", "llama-bpe"... */
  pre: string;
  /** special tokens after the ranks: text -> id; CONTROL unless listed in `userDefined` */
  specialTokens?: Record<string, number>;
  /** special tokens that are ordinary text to the model (Qwen's <tool_call>, FIM markers) */
  userDefined?: readonly string[];
  /** pad the vocabulary to this many ids with unused [PADn] tokens (the model's vocab_size) */
  size?: number;
  bosId?: number;
  eosId?: number;
  padId?: number;
  addBos?: boolean;
  chatTemplate?: string;
  file?: string;
}

/**
 * tiktoken ranks -> GGUF "gpt2" metadata: tokens in GPT-2's byte alphabet, and the merge list
 * HF's tiktoken converter (and so every Qwen / Llama 3 GGUF) derives from the ranks: for each
 * token, byte-pair merging with only the lower ranks allowed stops at two parts, and those two
 * are its merge. Merges are ordered by the token's rank, which makes merge order rank order.
 */
export function ggufVocabFromTiktoken(ranks: string | Uint8Array, opts: TiktokenVocabOptions): GgufMetadataList {
  const file = opts.file ?? "tiktoken ranks";
  const bins = parseTiktokenRanks(ranks, file);
  const specials = Object.entries(opts.specialTokens ?? {});
  let n = Math.max(bins.length, opts.size ?? 0);
  for (const [, id] of specials) n = Math.max(n, id + 1);
  const tokens: string[] = new Array(n);
  const types = new Int32Array(n).fill(TokenType.UNUSED);
  bins.forEach((bin, id) => {
    tokens[id] = binToByteLevel(bin);
    types[id] = TokenType.NORMAL;
  });
  const user = new Set(opts.userDefined ?? []);
  for (const [text, id] of specials) {
    if (!Number.isInteger(id) || id < bins.length)
      throw new ModelFormatError(file, `special token ${JSON.stringify(text)} has id ${id}, inside the ${bins.length} ranks`);
    tokens[id] = text;
    types[id] = user.has(text) ? TokenType.USER_DEFINED : TokenType.CONTROL;
  }
  for (let i = 0; i < n; i++) if (tokens[i] === undefined) tokens[i] = `[PAD${i}]`;
  const out: GgufMetadataList = [
    ["tokenizer.ggml.model", ggufKv.string("gpt2")],
    ["tokenizer.ggml.pre", ggufKv.string(opts.pre)],
    ["tokenizer.ggml.tokens", ggufKv.array("string", tokens)],
    ["tokenizer.ggml.token_type", ggufKv.array("i32", types)],
    ["tokenizer.ggml.merges", ggufKv.array("string", mergesFromRanks(bins))],
  ];
  if (opts.bosId !== undefined) out.push(["tokenizer.ggml.bos_token_id", ggufKv.u32(opts.bosId)]);
  if (opts.eosId !== undefined) out.push(["tokenizer.ggml.eos_token_id", ggufKv.u32(opts.eosId)]);
  if (opts.padId !== undefined) out.push(["tokenizer.ggml.padding_token_id", ggufKv.u32(opts.padId)]);
  if (opts.addBos !== undefined) out.push(["tokenizer.ggml.add_bos_token", ggufKv.bool(opts.addBos)]);
  if (opts.chatTemplate !== undefined) out.push(["tokenizer.chat_template", ggufKv.string(opts.chatTemplate)]);
  return out;
}

/** Merges ("a b" in GPT-2's alphabet) from byte-string ranks; tokens BPE cannot reach in one final pair get none. */
function mergesFromRanks(bins: readonly string[]): string[] {
  const rankOf = new Map<string, number>();
  for (let i = 0; i < bins.length; i++) rankOf.set(bins[i], i);
  const merges: string[] = [];
  for (let rank = 0; rank < bins.length; rank++) {
    const token = bins[rank];
    if (token.length < 2) continue;
    const parts = token.split("");
    while (parts.length > 2) {
      let best = -1;
      let bestRank = rank;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = rankOf.get(parts[i] + parts[i + 1]);
        if (r !== undefined && r < bestRank) {
          best = i;
          bestRank = r;
        }
      }
      if (best < 0) break;
      parts.splice(best, 2, parts[best] + parts[best + 1]);
    }
    if (parts.length === 2) merges.push(`${binToByteLevel(parts[0])} ${binToByteLevel(parts[1])}`);
  }
  return merges;
}

/** The types llama.cpp expects for the tokenizer keys it reads (it checks them). */
const TOKENIZER_KEY_TYPES: Record<string, GgufScalarType> = {
  "tokenizer.ggml.model": "string",
  "tokenizer.ggml.pre": "string",
  "tokenizer.chat_template": "string",
  "tokenizer.ggml.add_bos_token": "bool",
  "tokenizer.ggml.add_eos_token": "bool",
  "tokenizer.ggml.add_space_prefix": "bool",
  "tokenizer.ggml.remove_extra_whitespaces": "bool",
};

/**
 * The tokenizer.* keys of parsed GGUF metadata (another model's file, a vocab-only GGUF), typed
 * as llama.cpp's writer types them: ids u32, flags bool, token types i32, scores f32.
 */
export function ggufVocabFromMetadata(md: ReadonlyMap<string, GgufValue>): GgufMetadataList {
  const out: GgufMetadataList = [];
  for (const [key, v] of md) {
    if (!key.startsWith("tokenizer.")) continue;
    out.push([key, typedValue(key, v)]);
  }
  if (!out.some(([k]) => k === "tokenizer.ggml.model")) throw new ModelFormatError("vocabulary", 'has no "tokenizer.ggml.model" key');
  return out;
}

function typedValue(key: string, v: GgufValue): GgufTypedValue {
  if (typeof v === "string") return ggufKv.string(v);
  if (typeof v === "boolean") return ggufKv.bool(v);
  if (typeof v === "bigint") return v < 0n ? { type: "i64", value: v } : { type: "u64", value: v };
  if (typeof v === "number") {
    if (TOKENIZER_KEY_TYPES[key] === "bool") return ggufKv.bool(v !== 0);
    if (key.endsWith("_token_id") || (Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) return ggufKv.u32(v);
    return Number.isInteger(v) && v >= -0x80000000 && v < 0 ? ggufKv.i32(v) : ggufKv.f32(v);
  }
  if (v instanceof Float32Array) return ggufKv.array("f32", v);
  if (v instanceof Int32Array) return ggufKv.array("i32", v);
  if (v instanceof Uint32Array) return ggufKv.array("u32", v);
  if (v instanceof Uint8Array) return ggufKv.array("u8", v);
  if (v instanceof Int8Array) return ggufKv.array("i8", v);
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === "string")) return ggufKv.array("string", v as string[]);
    if (v.every((x) => typeof x === "boolean")) return ggufKv.array("bool", v as boolean[]);
    if (v.every((x) => typeof x === "number")) {
      const nums = v as number[];
      if (key === "tokenizer.ggml.token_type") return ggufKv.array("i32", nums);
      return nums.every((x) => Number.isInteger(x)) ? ggufKv.array("i32", nums) : ggufKv.array("f32", nums);
    }
  }
  throw new RangeError(`metadata "${key}": nested or mixed arrays are not copied`);
}
