/**
 * The saved-index container, one Uint8Array so that every host can store it as it likes:
 *
 *   0   "ESIX"                    magic
 *   4   kind, 4 ASCII bytes       "SPRS" sparse, "DENS" dense, "HYBR" hybrid
 *   8   u32 version               FORMAT_VERSION
 *   12  u32 section count         at most MAX_SECTIONS
 *   16  per section: 4-byte ASCII tag, u32 byte length, u32 CRC-32 of its bytes
 *   ..  u32 CRC-32 of everything before it (the header)
 *   ..  the sections' bytes, back to back in table order; nothing after them
 *
 * All integers are little-endian, as wasm memory is, so sections are copied to and from
 * the module without conversion. Reading checks, in order: magic, kind, version, that the
 * header is whole and its checksum, that the length is exactly what the table says
 * (truncated / trailing bytes), then each section's checksum, so a damaged file is
 * reported with what is wrong and where before any of it reaches the module.
 */
import { crc32 } from "./crc32";
import { IndexFormatError } from "./errors";

export const FORMAT_VERSION = 1;
const MAGIC = "ESIX";
const MAX_SECTIONS = 16;

export type IndexKind = "SPRS" | "DENS" | "HYBR";

const KIND_NAMES: Record<IndexKind, string> = { SPRS: "sparse", DENS: "dense", HYBR: "hybrid" };

export interface Section {
  tag: string;
  bytes: Uint8Array;
}

function ascii(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + 4));
}

function putAscii(out: Uint8Array, at: number, s: string): void {
  for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
}

export function writeContainer(kind: IndexKind, sections: Section[]): Uint8Array {
  const head = 16 + 12 * sections.length + 4;
  let total = head;
  for (const s of sections) total += s.bytes.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  putAscii(out, 0, MAGIC);
  putAscii(out, 4, kind);
  dv.setUint32(8, FORMAT_VERSION, true);
  dv.setUint32(12, sections.length, true);
  let at = head;
  sections.forEach((s, i) => {
    putAscii(out, 16 + 12 * i, s.tag);
    dv.setUint32(20 + 12 * i, s.bytes.length, true);
    dv.setUint32(24 + 12 * i, crc32(s.bytes), true);
    out.set(s.bytes, at);
    at += s.bytes.length;
  });
  dv.setUint32(head - 4, crc32(out.subarray(0, head - 4)), true);
  return out;
}

/** Parse and check a container; returns its sections by tag, in file order. */
export function readContainer(bytes: Uint8Array, kind: IndexKind): Map<string, Uint8Array> {
  if (!(bytes instanceof Uint8Array)) throw new IndexFormatError("layout", "a saved index must be a Uint8Array");
  const what = `${KIND_NAMES[kind]} index file`;
  const n = bytes.length;
  for (let i = 0; i < Math.min(4, n); i++) {
    if (bytes[i] !== MAGIC.charCodeAt(i)) throw new IndexFormatError("magic", `not an edgespec index: wrong magic bytes (expected "${MAGIC}")`);
  }
  if (n < 16) throw new IndexFormatError("truncated", `${what} is truncated: ${n} bytes, shorter than the 16-byte header`);
  const found = ascii(bytes, 4);
  if (found !== kind) {
    const name = KIND_NAMES[found as IndexKind];
    throw new IndexFormatError("kind", name ? `expected a ${what}, got a ${name} index file` : `${what}: unknown index kind ${JSON.stringify(found)}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== FORMAT_VERSION) throw new IndexFormatError("version", `${what} has format version ${version}; this build reads version ${FORMAT_VERSION}`);
  const count = dv.getUint32(12, true);
  if (count > MAX_SECTIONS) throw new IndexFormatError("layout", `${what} claims ${count} sections (at most ${MAX_SECTIONS}): the header is damaged`);
  const head = 16 + 12 * count + 4;
  if (n < head) throw new IndexFormatError("truncated", `${what} is truncated inside its header (${n} of ${head} bytes)`);
  if (dv.getUint32(head - 4, true) !== crc32(bytes.subarray(0, head - 4)))
    throw new IndexFormatError("checksum", `${what}: header checksum mismatch (the section table is damaged)`, "header");
  let expected = head;
  for (let i = 0; i < count; i++) expected += dv.getUint32(20 + 12 * i, true);
  if (n < expected) throw new IndexFormatError("truncated", `${what} is truncated: ${n} bytes, the header describes ${expected}`);
  if (n > expected) throw new IndexFormatError("trailing", `${what} has ${n - expected} unexpected bytes after its last section`);
  const out = new Map<string, Uint8Array>();
  let at = head;
  for (let i = 0; i < count; i++) {
    const tag = ascii(bytes, 16 + 12 * i);
    const len = dv.getUint32(20 + 12 * i, true);
    const body = bytes.subarray(at, at + len);
    if (crc32(body) !== dv.getUint32(24 + 12 * i, true)) throw new IndexFormatError("checksum", `${what}: checksum mismatch in section ${tag}`, tag);
    if (out.has(tag)) throw new IndexFormatError("layout", `${what}: section ${tag} appears twice`, tag);
    out.set(tag, body);
    at += len;
  }
  return out;
}

/** A section that must be present with exactly `length` bytes (when given). */
export function requireSection(sections: Map<string, Uint8Array>, tag: string, length: number | undefined, what: string): Uint8Array {
  const s = sections.get(tag);
  if (!s) throw new IndexFormatError("layout", `${what}: section ${tag} is missing`, tag);
  if (length !== undefined && s.length !== length)
    throw new IndexFormatError("layout", `${what}: section ${tag} holds ${s.length} bytes, expected ${length}`, tag);
  return s;
}

/** Little-endian u32 fields of a small section. */
export function u32Fields(bytes: Uint8Array): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length >> 2 }, (_, i) => dv.getUint32(4 * i, true));
}

export function u32Section(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setUint32(4 * i, values[i], true);
  return out;
}
