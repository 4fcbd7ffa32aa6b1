/**
 * safetensors: u64 little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the data.
 * Offsets are relative to the end of the header. Every field is checked before use.
 */
import { ModelFormatError } from "../errors";
import { ByteStreamReader } from "./byte-stream";
import { MapTensorStore, plainBytes, type StoredDType, type StoredTensor, storedByteLength } from "./stored";

const DTYPES: Record<string, StoredDType> = { F32: "F32", F16: "F16", BF16: "BF16" };
/** real headers are kilobytes; this bounds what a corrupt length can make us allocate */
const MAX_HEADER = 100 * 1024 * 1024;

export interface SafetensorsEntry {
  name: string;
  dtype: StoredDType;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** byte offset of the data section */
  dataStart: number;
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
}

export function parseSafetensorsHeaderLength(file: string, first8: Uint8Array, fileSize?: number): number {
  if (first8.length < 8) throw new ModelFormatError(file, `file is ${first8.length} bytes; a safetensors file starts with an 8-byte header length`);
  const dv = new DataView(first8.buffer, first8.byteOffset, 8);
  const len = Number(dv.getBigUint64(0, true));
  if (len < 2 || len > MAX_HEADER)
    throw new ModelFormatError(file, `header length ${len} is absurd (expected 2..${MAX_HEADER}); not a safetensors file or corrupt`);
  if (fileSize !== undefined && 8 + len > fileSize)
    throw new ModelFormatError(file, `header length ${len} runs past the end of the ${fileSize}-byte file (truncated?)`);
  return len;
}

/** Parses and validates the JSON header; `dataSize` (when known) bounds the offsets. */
export function parseSafetensorsHeader(file: string, json: Uint8Array, dataSize?: number): SafetensorsHeader {
  let obj: unknown;
  try {
    obj = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (e) {
    throw new ModelFormatError(file, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw new ModelFormatError(file, "header is not a JSON object");
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(obj as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (v && typeof v === "object") metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== "object") throw new ModelFormatError(file, "header entry is not an object", name);
    const dtype = typeof e.dtype === "string" ? DTYPES[e.dtype] : undefined;
    if (!dtype) throw new ModelFormatError(file, `dtype ${JSON.stringify(e.dtype)} is not supported (F32, F16, BF16)`, name);
    if (!Array.isArray(e.shape) || e.shape.length > 8 || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new ModelFormatError(file, `shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`, name);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[1] < off[0]) {
      throw new ModelFormatError(file, `data_offsets ${JSON.stringify(off)} is not [begin, end] with 0 <= begin <= end`, name);
    }
    const shape = e.shape as number[];
    const want = storedByteLength(dtype, shape);
    if (typeof want === "string") throw new ModelFormatError(file, want, name);
    if (off[1] - off[0] !== want) {
      throw new ModelFormatError(file, `holds ${off[1] - off[0]} bytes but ${dtype} [${shape.join(", ")}] needs ${want}`, name);
    }
    if (dataSize !== undefined && off[1] > dataSize) {
      throw new ModelFormatError(file, `data_offsets [${off[0]}, ${off[1]}] run past the ${dataSize}-byte data section (truncated?)`, name);
    }
    entries.push({ name, dtype, shape, begin: off[0], end: off[1] });
  }
  entries.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].begin < entries[i - 1].end) {
      throw new ModelFormatError(file, `overlaps tensor "${entries[i - 1].name}"`, entries[i].name);
    }
  }
  return { dataStart: 8 + json.length, entries, metadata };
}

/** All tensors of an in-memory safetensors file, as views into `bytes`. */
export function readSafetensors(file: string, input: Uint8Array): { header: SafetensorsHeader; store: MapTensorStore } {
  const bytes = plainBytes(input);
  const len = parseSafetensorsHeaderLength(file, bytes.subarray(0, 8), bytes.length);
  const header = parseSafetensorsHeader(file, bytes.subarray(8, 8 + len), bytes.length - 8 - len);
  const map = new Map<string, StoredTensor>();
  for (const e of header.entries) {
    map.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, data: bytes.subarray(header.dataStart + e.begin, header.dataStart + e.end) });
  }
  return { header, store: new MapTensorStore(file, map) };
}

/**
 * Reads a safetensors file from a stream, yielding each tensor as soon as its bytes have
 * arrived, so peak memory is one tensor rather than the file.
 */
export async function* streamSafetensors(file: string, stream: ReadableStream<Uint8Array>, size?: number): AsyncGenerator<StoredTensor> {
  const r = new ByteStreamReader(stream, file, (f, want, pos) => new ModelFormatError(f, `ends at byte ${pos} while reading ${want} more bytes (truncated?)`));
  try {
    const len = parseSafetensorsHeaderLength(file, await r.read(8), size);
    const header = parseSafetensorsHeader(file, await r.read(len), size === undefined ? undefined : size - 8 - len);
    let pos = 0;
    for (const e of header.entries) {
      await r.skip(e.begin - pos);
      const data = await r.read(e.end - e.begin);
      pos = e.end;
      yield { name: e.name, dtype: e.dtype, shape: e.shape, data };
    }
  } finally {
    await r.cancel();
  }
}

const ITEM_BYTES: Partial<Record<StoredDType, number>> = { F32: 4, F16: 2, BF16: 2 };

/**
 * The header of a safetensors file holding `entries` back to back in that order: u64 LE length
 * plus the JSON, padded with spaces to a multiple of 8 so the data that follows stays aligned.
 */
export function safetensorsHeaderBytes(
  entries: readonly { name: string; dtype: StoredDType; shape: readonly number[] }[],
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: "pt", ...metadata } };
  let off = 0;
  for (const { name, dtype, shape } of entries) {
    const item = ITEM_BYTES[dtype];
    if (!item) throw new ModelFormatError(name, `dtype ${dtype} cannot be written to safetensors (F32, F16, BF16)`);
    const nbytes = shape.reduce((a, b) => a * b, 1) * item;
    header[name] = { dtype, shape, data_offsets: [off, off + nbytes] };
    off += nbytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + padded).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

/** A whole safetensors file from in-memory tensors (their `data` must match dtype and shape). */
export function encodeSafetensors(tensors: readonly StoredTensor[], metadata?: Record<string, string>): Uint8Array {
  const head = safetensorsHeaderBytes(tensors, metadata);
  let total = head.length;
  for (const t of tensors) {
    const expect = storedByteLength(t.dtype, t.shape);
    if (expect !== t.data.byteLength)
      throw new ModelFormatError(t.name, `holds ${t.data.byteLength} bytes; ${t.dtype} [${t.shape.join(", ")}] needs ${expect}`);
    total += t.data.byteLength;
  }
  const out = new Uint8Array(total);
  out.set(head, 0);
  let at = head.length;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}
