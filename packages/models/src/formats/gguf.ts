/**
 * GGUF v2/v3 (llama.cpp): "GGUF", version, tensor count, metadata key/values, tensor infos
 * (name, dims in ggml order = reversed PyTorch order, ggml type, offset), padding to
 * `general.alignment`, then tensor data. Every count and length is checked against the
 * bytes that remain before anything is allocated.
 */
import { ModelFormatError } from "../errors";
import { ByteStreamReader } from "./byte-stream";
import { copyBytes, MapTensorStore, plainBytes, type StoredDType, type StoredTensor, storedByteLength } from "./stored";

export type GgufValue = number | bigint | boolean | string | GgufValue[] | Float32Array | Int32Array | Uint32Array | Uint8Array | Int8Array;

export interface GgufTensorInfo {
  name: string;
  dtype: StoredDType;
  /** PyTorch order ([out, in]) */
  shape: number[];
  /** relative to the data section */
  offset: number;
  byteLength: number;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** byte offset of the data section in the file */
  dataStart: number;
}

const GGML_TYPES: Record<number, StoredDType> = { 0: "F32", 1: "F16", 2: "Q4_0", 8: "Q8_0", 30: "BF16" };
const GGML_TYPE_NAMES: Record<number, string> = {
  3: "Q4_1",
  6: "Q5_0",
  7: "Q5_1",
  9: "Q8_1",
  10: "Q2_K",
  11: "Q3_K",
  12: "Q4_K",
  13: "Q5_K",
  14: "Q6_K",
  15: "Q8_K",
  16: "IQ2_XXS",
  17: "IQ2_XS",
  18: "IQ3_XXS",
  19: "IQ1_S",
  20: "IQ4_NL",
  21: "IQ3_S",
  22: "IQ2_S",
  23: "IQ4_XS",
  24: "I8",
  25: "I16",
  26: "I32",
  27: "I64",
  28: "F64",
  29: "IQ1_M",
};
const MAX_DIMS = 4;
const MAX_STREAMED_HEADER = 256 << 20;
const MAX_NESTING = 4;

/** Thrown by the cursor when a streamed header needs more bytes than have arrived. */
class NeedMore extends Error {}

class Cursor {
  pos = 0;
  private dv: DataView;
  // ignoreBOM: a token may be exactly U+FEFF (Llama 2's 30143), which must not be dropped
  private utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  constructor(
    private readonly file: string,
    private readonly bytes: Uint8Array,
    /** true when `bytes` is the whole file (running out is corruption, not "need more") */
    private readonly complete: boolean,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get remaining(): number {
    return this.bytes.length - this.pos;
  }
  need(n: number, what: string): void {
    if (n > this.remaining) {
      if (!this.complete) throw new NeedMore();
      throw new ModelFormatError(this.file, `${what} needs ${n} bytes at offset ${this.pos} but only ${this.remaining} remain (truncated or corrupt)`);
    }
  }
  u8(): number {
    this.need(1, "a u8");
    return this.bytes[this.pos++];
  }
  u32(what = "a u32"): number {
    this.need(4, what);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  /** a u64 that must fit a JS number; `limit` rejects absurd counts before any allocation */
  count(what: string, limit: number): number {
    this.need(8, what);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(limit)) {
      if (!this.complete && v <= BigInt(Number.MAX_SAFE_INTEGER)) throw new NeedMore();
      throw new ModelFormatError(this.file, `${what} is ${v}, more than the ${limit} the remaining bytes could hold (corrupt)`);
    }
    return Number(v);
  }
  string(what: string): string {
    const n = this.count(`length of ${what}`, this.complete ? this.remaining - 8 : Number.MAX_SAFE_INTEGER);
    this.need(n, what);
    try {
      const s = this.utf8.decode(this.bytes.subarray(this.pos, this.pos + n));
      this.pos += n;
      return s;
    } catch {
      throw new ModelFormatError(this.file, `${what} at offset ${this.pos} is not valid UTF-8`);
    }
  }
  value(type: number, key: string, depth: number): GgufValue {
    const dv = this.dv;
    const fixed = (n: number, read: (o: number) => GgufValue): GgufValue => {
      this.need(n, `value of ${key}`);
      const v = read(this.pos);
      this.pos += n;
      return v;
    };
    switch (type) {
      case 0:
        return fixed(1, (o) => dv.getUint8(o));
      case 1:
        return fixed(1, (o) => dv.getInt8(o));
      case 2:
        return fixed(2, (o) => dv.getUint16(o, true));
      case 3:
        return fixed(2, (o) => dv.getInt16(o, true));
      case 4:
        return fixed(4, (o) => dv.getUint32(o, true));
      case 5:
        return fixed(4, (o) => dv.getInt32(o, true));
      case 6:
        return fixed(4, (o) => dv.getFloat32(o, true));
      case 7:
        return fixed(1, (o) => {
          const b = dv.getUint8(o);
          if (b > 1) throw new ModelFormatError(this.file, `bool value of ${key} is ${b}`);
          return b === 1;
        });
      case 8:
        return this.string(`string value of ${key}`);
      case 10:
        return fixed(8, (o) => safe(dv.getBigUint64(o, true)));
      case 11:
        return fixed(8, (o) => safe(dv.getBigInt64(o, true)));
      case 12:
        return fixed(8, (o) => dv.getFloat64(o, true));
      case 9:
        return this.array(key, depth);
      default:
        throw new ModelFormatError(this.file, `metadata key "${key}" has unknown value type ${type}`);
    }
  }
  array(key: string, depth: number): GgufValue {
    if (depth >= MAX_NESTING) throw new ModelFormatError(this.file, `metadata key "${key}" nests arrays deeper than ${MAX_NESTING}`);
    const type = this.u32(`array type of ${key}`);
    const elem = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 }[type];
    // strings and arrays take at least 8 bytes each: bounds the count before allocating
    const minSize = elem ?? 8;
    const n = this.count(`element count of ${key}`, this.complete ? Math.floor(this.remaining / minSize) : Number.MAX_SAFE_INTEGER);
    if (elem !== undefined) this.need(n * elem, `array ${key}`);
    const at = this.pos;
    const slice = (bytes: number) => new Uint8Array(copyBytes(this.bytes.subarray(at, at + bytes)));
    switch (type) {
      case 0:
        this.pos += n;
        return slice(n);
      case 1:
        this.pos += n;
        return new Int8Array(slice(n).buffer);
      case 4:
        this.pos += 4 * n;
        return new Uint32Array(slice(4 * n).buffer);
      case 5:
        this.pos += 4 * n;
        return new Int32Array(slice(4 * n).buffer);
      case 6:
        this.pos += 4 * n;
        return new Float32Array(slice(4 * n).buffer);
      default: {
        const out: GgufValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.value(type, key, depth + 1));
        return out;
      }
    }
  }
}

function shorten(s: string): string {
  return JSON.stringify(s.length > 48 ? `${s.slice(0, 48)}...` : s);
}

function safe(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * Parses the header. `bytes` is the file or a prefix of it; with `complete` false a
 * prefix that is too short makes this return null (read more and call again).
 */
export function parseGgufHeader(file: string, input: Uint8Array, complete: boolean, fileSize?: number): GgufHeader | null {
  const bytes = plainBytes(input);
  const c = new Cursor(file, bytes, complete);
  try {
    c.need(8, "the GGUF magic and version");
    const magic = String.fromCharCode(...bytes.subarray(0, 4));
    if (magic !== "GGUF") throw new ModelFormatError(file, `starts with ${JSON.stringify(magic)}, not "GGUF" (not a GGUF file)`);
    c.pos = 4;
    const version = c.u32();
    if (version !== 2 && version !== 3) throw new ModelFormatError(file, `GGUF version ${version} is not supported (2 or 3)`);
    // every tensor info takes >= 24 bytes and every key/value >= 12
    const nTensors = c.count("tensor count", complete ? Math.floor(c.remaining / 24) : 1 << 24);
    const nKv = c.count("metadata count", complete ? Math.floor(c.remaining / 12) : 1 << 24);
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < nKv; i++) {
      const key = c.string(`metadata key ${i}`);
      if (key.length > 256 || !/^[\x20-\x7e]+$/.test(key))
        throw new ModelFormatError(file, `metadata key ${i} is not a short ASCII name: ${shorten(key)} (corrupt)`);
      const type = c.u32(`type of ${key}`);
      if (metadata.has(key)) throw new ModelFormatError(file, `metadata key "${key}" appears twice`);
      metadata.set(key, c.value(type, key, 0));
    }
    const alignment = metadata.get("general.alignment") ?? 32;
    if (typeof alignment !== "number" || alignment < 1 || alignment > 1 << 20 || (alignment & (alignment - 1)) !== 0) {
      throw new ModelFormatError(file, `general.alignment ${String(alignment)} is not a power of two`);
    }
    const tensors: GgufTensorInfo[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < nTensors; i++) {
      const name = c.string(`name of tensor ${i}`);
      if (name.length > 256) throw new ModelFormatError(file, `name of tensor ${i} is ${name.length} characters: ${shorten(name)} (corrupt)`);
      if (seen.has(name)) throw new ModelFormatError(file, "appears twice", name);
      seen.add(name);
      const nDims = c.u32(`dimension count of ${name}`);
      if (nDims < 1 || nDims > MAX_DIMS) throw new ModelFormatError(file, `has ${nDims} dimensions (1..${MAX_DIMS})`, name);
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) dims.push(c.count(`dimension ${d} of ${name}`, Number.MAX_SAFE_INTEGER));
      const typeId = c.u32(`type of ${name}`);
      const dtype = GGML_TYPES[typeId];
      if (!dtype) {
        const known = GGML_TYPE_NAMES[typeId];
        throw new ModelFormatError(file, `ggml type ${known ?? "unknown"} (${typeId}) is not supported (F32, F16, BF16, Q8_0, Q4_0)`, name);
      }
      const offset = c.count(`offset of ${name}`, Number.MAX_SAFE_INTEGER);
      if (offset % alignment) throw new ModelFormatError(file, `offset ${offset} is not a multiple of the alignment ${alignment}`, name);
      const shape = dims.reverse();
      const byteLength = storedByteLength(dtype, shape);
      if (typeof byteLength === "string") throw new ModelFormatError(file, byteLength, name);
      tensors.push({ name, dtype, shape, offset, byteLength });
    }
    const dataStart = Math.ceil(c.pos / alignment) * alignment;
    const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
    for (let i = 0; i < sorted.length; i++) {
      const t = sorted[i];
      if (i > 0 && t.offset < sorted[i - 1].offset + sorted[i - 1].byteLength) {
        throw new ModelFormatError(file, `overlaps tensor "${sorted[i - 1].name}"`, t.name);
      }
      if (fileSize !== undefined && dataStart + t.offset + t.byteLength > fileSize) {
        throw new ModelFormatError(file, `data [${t.offset}, ${t.offset + t.byteLength}) runs past the end of the file (truncated?)`, t.name);
      }
    }
    return { version, metadata, tensors, alignment, dataStart };
  } catch (e) {
    if (e instanceof NeedMore) return null;
    if (e instanceof ModelFormatError && looksTextDecoded(bytes.subarray(0, c.pos + 64))) {
      throw new ModelFormatError(
        file,
        `${e.message.slice(file.length + 2)}. The file holds U+FFFD replacement bytes (EF BF BD) where binary numbers belong: it was saved through a text decoder; download it again in binary mode`,
      );
    }
    throw e;
  }
}

/** A binary file that went through a UTF-8 text decoder has EF BF BD where bytes >= 0x80 were. */
function looksTextDecoded(bytes: Uint8Array): boolean {
  for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0xef && bytes[i + 1] === 0xbf && bytes[i + 2] === 0xbd) return true;
  return false;
}

/** An in-memory GGUF file: header plus tensors as views into `bytes`. */
export function readGguf(file: string, input: Uint8Array): { header: GgufHeader; store: MapTensorStore } {
  const bytes = plainBytes(input);
  const header = parseGgufHeader(file, bytes, true, bytes.length) as GgufHeader;
  const map = new Map<string, StoredTensor>();
  for (const t of header.tensors) {
    const at = header.dataStart + t.offset;
    map.set(t.name, { name: t.name, dtype: t.dtype, shape: t.shape, data: bytes.subarray(at, at + t.byteLength) });
  }
  return { header, store: new MapTensorStore(file, map) };
}

/**
 * A GGUF from a stream: the header first (re-parsed on a growing prefix until complete),
 * then each tensor as its bytes arrive.
 */
export async function streamGguf(
  file: string,
  stream: ReadableStream<Uint8Array>,
  size?: number,
): Promise<{ header: GgufHeader; tensors: AsyncGenerator<StoredTensor> }> {
  const short = (f: string, want: number, pos: number) => new ModelFormatError(f, `ends at byte ${pos} while reading ${want} more bytes (truncated?)`);
  const r = new ByteStreamReader(stream, file, short);
  let prefix = new Uint8Array(0);
  let header: GgufHeader | null = null;
  let want = 1 << 16;
  while (!header) {
    let more: Uint8Array;
    try {
      more = await r.read(size === undefined ? want : Math.min(want, size - prefix.length));
    } catch (e) {
      await r.cancel();
      // the stream ended: parse what there is as the whole file for a precise error
      if (e instanceof ModelFormatError) parseGgufHeader(file, prefix, true, prefix.length);
      throw e;
    }
    const grown = new Uint8Array(prefix.length + more.length);
    grown.set(prefix);
    grown.set(more, prefix.length);
    prefix = grown;
    // real headers (vocabularies included) are a few MB: past this, a count is corrupt
    const complete = (size !== undefined && prefix.length >= size) || prefix.length >= MAX_STREAMED_HEADER;
    header = parseGgufHeader(file, prefix, complete, size);
    if (!header && complete) throw new ModelFormatError(file, "header is incomplete");
    want = prefix.length;
  }
  const h = header;
  async function* tensors(): AsyncGenerator<StoredTensor> {
    try {
      let pos = prefix.length;
      for (const t of [...h.tensors].sort((a, b) => a.offset - b.offset)) {
        const start = h.dataStart + t.offset;
        let data: Uint8Array;
        if (start + t.byteLength <= pos) data = prefix.subarray(start, start + t.byteLength);
        else {
          // only the first tensor past the header can begin inside the prefix
          const have = start < prefix.length ? prefix.subarray(start) : new Uint8Array(0);
          if (start > pos) await r.skip(start - pos);
          const rest = await r.read(t.byteLength - have.length);
          data = have.length ? concat(have, rest) : rest;
          pos = start + t.byteLength;
        }
        yield { name: t.name, dtype: t.dtype, shape: t.shape, data };
      }
    } finally {
      await r.cancel();
    }
  }
  return { header: h, tensors: tensors() };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export function ggufString(h: GgufHeader, key: string): string | undefined {
  const v = h.metadata.get(key);
  return typeof v === "string" ? v : undefined;
}

export function ggufNumber(h: GgufHeader, key: string): number | undefined {
  const v = h.metadata.get(key);
  return typeof v === "number" ? v : undefined;
}
