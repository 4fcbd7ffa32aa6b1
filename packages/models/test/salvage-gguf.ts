/**
 * TEST-ONLY salvage reader for GGUF files that went through a UTF-8 text decoder (llama.cpp's
 * models/ggml-vocab-*.gguf in the shared fixtures). The real reader (src/formats/gguf.ts)
 * rejects such files and must keep doing so; this one exists so that tests can still use the
 * vocabularies in them.
 *
 * What the decoder did: every maximal invalid UTF-8 subsequence (1 to 3 bytes) became
 * EF BF BD (U+FFFD), every valid sequence was kept. So a byte of the damaged file is an
 * original byte unless it belongs to an EF BF BD triple (EF is a lead byte, never a
 * continuation, so the triples sit on character boundaries), and an EF BF BD stands for 1 to 3
 * original bytes >= 0x80. (An EF BF BD can also be original: Llama's vocabulary has the token
 * "\uFFFD\uFFFD".) Token texts, merges and keys are valid UTF-8 and survive whole; binary
 * numbers with a byte >= 0x80 do not: array counts such as 50257 (51 C4 00 .. became
 * 51 EF BF BD 00 ..), string lengths >= 128, f32 values, token ids >= 128.
 *
 * How the damage is undone, and how each step checks itself:
 * - A damaged number is never guessed from its pattern alone. A candidate value is accepted
 *   only if running its bytes through a UTF-8 decoder (TextDecoder, the same WHATWG/Unicode
 *   "maximal subpart" replacement) gives back exactly the damaged bytes in the file, AND the
 *   structure around it checks out as below.
 * - A damaged string length: the string's text is valid UTF-8 without NUL and is followed by
 *   the next element's length field (a small u64: at least six zero bytes) or by the next key;
 *   so the only possible text ends lie before the first NUL after the length field. Each end
 *   whose text is valid UTF-8, whose length re-encodes to the damaged field and after which
 *   a plausible element or key starts is a candidate; exactly one must remain (a shorter end
 *   would need a length field inside NUL-free text, a longer one NULs inside the text), else
 *   the salvage throws.
 * - A damaged array count: elements are read until the next key (or the end of the file, for
 *   the last key) starts at an element boundary and the number read re-encodes to the damaged
 *   count. Every way the count field could end (each U+FFFD standing for 1 to 3 bytes) is
 *   tried; exactly one must parse.
 * - A damaged scalar (an f32 epsilon, a u32 token id >= 128...) or a numeric array whose
 *   elements are damaged (SentencePiece f32 scores): the value is lost. The reader moves to the
 *   only place where the next key starts (or the file ends, for the last key) such that the
 *   bytes skipped could encode the value, records the key in `damaged` and leaves it out of
 *   the metadata.
 * - A key must be plausible (length < 128, ASCII [a-z0-9_.] text, prefix general., tokenizer.
 *   or <general.architecture>., a valid value type after it); the header's tensor count must
 *   be 0 (vocab-only file); the number of keys read must equal the header's key count and the
 *   last value must end exactly at the end of the file (these files hold no tensor data).
 * Anything that does not fit throws; nothing is guessed silently. The caller validates the
 * result further (tokenizer-vectors-salvaged.test.ts): token count vs. token_type count and the
 * model's known vocabulary size, every merge "a b" with both halves tokens, every id of the
 * test vectors inside the vocabulary.
 *
 * What cannot be salvaged: values whose bytes are lost. SentencePiece vocabularies
 * (tokenizer.ggml.model "llama": llama-spm, phi-3, baichuan) need their f32 scores, which are
 * damaged beyond recovery, so they cannot be turned back into tokenizers from these files.
 */
import type { GgufValue } from "../src/formats/gguf";

const STRING = 8;
const ARRAY = 9;
/** byte size per scalar value type (STRING, ARRAY: variable) */
const SCALAR_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

export interface SalvagedGguf {
  file: string;
  version: number;
  /** the recovered key/value pairs, typed as src/formats/gguf.ts gives them */
  metadata: Map<string, GgufValue>;
  /** every key/value pair in file order, the damaged ones included, with its value type and place in the file */
  entries: SalvagedEntry[];
  /** keys whose values were lost, with the damaged bytes (hex) or a summary */
  damaged: Map<string, string>;
  /** keys whose array count or string length(s) were re-derived, and what was derived */
  rederived: Map<string, string>;
}

export interface SalvagedEntry {
  key: string;
  /** GGUF value type; for arrays also the element type */
  type: number;
  elemType?: number;
  /** file offsets: the key's length field, the value (after the type field), the end of the value */
  start: number;
  valueStart: number;
  end: number;
}

export class GgufSalvageError extends Error {}

// ignoreBOM: a token text may start with U+FEFF (Llama's vocabulary has one), which must be kept
const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // replacing, like the decoder that did the damage
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

function u64le(n: number): Uint8Array {
  const out = new Uint8Array(8);
  let v = n;
  for (let i = 0; i < 8; i++, v = Math.floor(v / 256)) out[i] = v % 256;
  return out;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** A trial parse from one candidate position failed. */
class WrongGuess extends Error {}

class Salvager {
  private pos = 0;
  private arch: string | undefined;
  private readonly metadata = new Map<string, GgufValue>();
  private readonly entries: SalvagedEntry[] = [];
  private readonly damaged = new Map<string, string>();
  private readonly rederived = new Map<string, string>();

  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
  ) {}

  private fail(msg: string, at = this.pos): never {
    throw new GgufSalvageError(`${this.file}: ${msg} (offset ${at})`);
  }

  private isFffd(p: number): boolean {
    return this.bytes[p] === 0xef && this.bytes[p + 1] === 0xbf && this.bytes[p + 2] === 0xbd;
  }

  /** Whether the `size` bytes from `at` hold no U+FFFD (so they are the original bytes). */
  private clean(at: number, size: number): boolean {
    if (at + size > this.bytes.length) return false;
    for (let p = at; p < at + size; p++) if (this.isFffd(p)) return false;
    return true;
  }

  private uint(at: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.bytes[at + i];
    return v;
  }

  /** Where a field of `size` original bytes starting at `at` may end, each U+FFFD standing for 1 to 3 bytes. */
  private fieldEnds(at: number, size: number): number[] {
    const ends = new Set<number>();
    const walk = (p: number, n: number) => {
      if (n === size) ends.add(p);
      else if (p < this.bytes.length) {
        if (!this.isFffd(p)) walk(p + 1, n + 1);
        else for (let w = 1; w <= 3 && n + w <= size; w++) walk(p + 3, n + w);
      }
    };
    walk(at, 0);
    return [...ends].sort((a, b) => a - b);
  }

  /** Whether a text decoder turns `original` into exactly the bytes at..end (with a non-continuation byte after). */
  private encodesAs(original: Uint8Array, at: number, end: number): boolean {
    const withStop = new Uint8Array(original.length + 1);
    withStop.set(original);
    const got = encoder.encode(decoder.decode(withStop));
    if (got.length !== end - at + 1) return false;
    for (let i = 0; i < end - at; i++) if (got[i] !== this.bytes[at + i]) return false;
    return true;
  }

  /** An unsigned integer field that must not be damaged (header counts, value types). */
  private intactUint(size: 4 | 8, what: string): number {
    if (!this.clean(this.pos, size)) this.fail(`${what} is damaged: ${hex(this.bytes.subarray(this.pos, this.pos + 3 * size))}`);
    const v = this.uint(this.pos, size);
    if (!Number.isSafeInteger(v)) this.fail(`${what} is too large`);
    this.pos += size;
    return v;
  }

  /** The key whose header starts at q, if one plausibly does: length, [a-z0-9_.] text, known prefix, value type. */
  private keyAt(q: number): string | undefined {
    const b = this.bytes;
    if (q + 12 > b.length) return undefined;
    const n = b[q];
    if (n === 0 || n >= 0x80) return undefined;
    for (let i = 1; i < 8; i++) if (b[q + i] !== 0) return undefined;
    const at = q + 8;
    if (at + n + 4 > b.length) return undefined;
    let key = "";
    for (let i = 0; i < n; i++) {
      const c = b[at + i];
      const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2e;
      if (!ok) return undefined;
      key += String.fromCharCode(c);
    }
    const prefix = key.slice(0, key.indexOf("."));
    if (prefix !== "general" && prefix !== "tokenizer" && prefix !== this.arch) return undefined;
    const typeOk = (p: number) => p + 4 <= b.length && b[p] <= 12 && b[p + 1] === 0 && b[p + 2] === 0 && b[p + 3] === 0;
    if (!typeOk(at + n)) return undefined;
    if (b[at + n] === ARRAY && !typeOk(at + n + 4)) return undefined;
    return key;
  }

  /** Where a key's value may end: where the next key starts, or at the end of the file after the last key. */
  private boundaryAt(q: number, last: boolean): boolean {
    return last ? q === this.bytes.length : this.keyAt(q) !== undefined;
  }

  /** A string's text: valid UTF-8 without NUL (U+FFFD allowed: it can be original). */
  private textAt(start: number, len: number): string | undefined {
    if (start + len > this.bytes.length) return undefined;
    const s = this.bytes.subarray(start, start + len);
    if (s.includes(0)) return undefined;
    try {
      return strictDecoder.decode(s);
    } catch {
      return undefined;
    }
  }

  /** Whether a string element plausibly starts at q: a u64 length < 2^16 (damaged or not) and, if intact, NUL-free text after it. */
  private elementAt(q: number): boolean {
    if (this.clean(q, 8)) {
      if (this.uint(q + 2, 6) !== 0) return false;
      const len = this.uint(q, 2);
      return q + 8 + len <= this.bytes.length && !this.bytes.subarray(q + 8, q + 8 + len).includes(0);
    }
    return this.fieldEnds(q, 8).some((e) => e - 6 >= q && this.clean(e - 6, 6) && this.uint(e - 6, 6) === 0);
  }

  /** A string at this.pos; `next(q)`: whether what follows a string that ends at q is plausible. */
  private string(what: string, next: (q: number) => boolean): { text: string; rederived: boolean } {
    const at = this.pos;
    if (this.clean(at, 8)) {
      const len = this.uint(at, 8);
      const text = this.textAt(at + 8, len);
      if (text === undefined) this.fail(`${what}: the ${len} bytes after its length are not NUL-free valid UTF-8`, at + 8);
      if (!next(at + 8 + len)) this.fail(`${what}: nothing plausible follows its ${len}-byte text`, at + 8 + len);
      this.pos = at + 8 + len;
      return { text, rederived: false };
    }
    // damaged length: the text ends before the first NUL after the length field
    const found: { end: number; text: string }[] = [];
    for (const start of this.fieldEnds(at, 8)) {
      let nul = this.bytes.indexOf(0, start);
      if (nul < 0) nul = this.bytes.length;
      for (let q = start; q <= nul; q++) {
        if (!next(q) || !this.encodesAs(u64le(q - start), at, start)) continue;
        const text = this.textAt(start, q - start);
        if (text !== undefined) found.push({ end: q, text });
      }
    }
    if (found.length !== 1) {
      const field = hex(this.bytes.subarray(at, at + 12));
      this.fail(`${what}: damaged length (${field}...) fits ${found.length} texts, need exactly one`);
    }
    this.pos = found[0].end;
    return { text: found[0].text, rederived: true };
  }

  /**
   * Where a lost value starting at `from` may end: at a boundary (with `firstOnly`, only the
   * first), with U+FFFD among the bytes skipped, and `fits(lo, hi)` for the range of original
   * byte counts those bytes could encode (each U+FFFD standing for 1 to 3 bytes).
   */
  private lostValueEnds(from: number, fits: (lo: number, hi: number) => boolean, maxBytes: number, last: boolean, firstOnly: boolean): number[] {
    const ends: number[] = [];
    let known = 0;
    let fffd = 0;
    for (let q = from; q <= this.bytes.length && known + fffd <= maxBytes; ) {
      if (fffd > 0 && this.boundaryAt(q, last)) {
        if (fits(known + fffd, known + 3 * fffd)) ends.push(q);
        // a value never runs over a key: with no size to go by, the first boundary is the end
        if (firstOnly) break;
      }
      if (q === this.bytes.length) break;
      if (this.isFffd(q)) {
        fffd++;
        q += 3;
      } else {
        known++;
        q++;
      }
    }
    return ends;
  }

  /** Skips a lost value of `size` bytes: to the one place it can end. */
  private skipLost(key: string, from: number, size: number, last: boolean): void {
    const ends = this.lostValueEnds(from, (lo, hi) => lo <= size && size <= hi, size, last, false);
    if (ends.length !== 1) this.fail(`${key}: damaged ${size}-byte value could end in ${ends.length} places, need exactly one`, from);
    this.markLost(key, from, ends[0]);
  }

  private markLost(key: string, from: number, end: number, what = ""): void {
    const region = this.bytes.subarray(from, end);
    let fffd = 0;
    for (let p = 0; p + 2 < region.length; p++) if (region[p] === 0xef && region[p + 1] === 0xbf && region[p + 2] === 0xbd) fffd++;
    this.damaged.set(key, what + (region.length <= 32 ? hex(region) : `${region.length} bytes, ${fffd} of them U+FFFD triples`));
    this.pos = end;
  }

  private scalar(key: string, type: number, last: boolean): void {
    const size = SCALAR_SIZE[type];
    const at = this.pos;
    if (!this.clean(at, size) || !this.boundaryAt(at + size, last)) {
      this.skipLost(key, at, size, last);
      return;
    }
    const dv = new DataView(this.bytes.buffer, this.bytes.byteOffset + at, size);
    const safe = (v: bigint) => (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v);
    let value: GgufValue;
    if (type === 7) {
      const b = dv.getUint8(0);
      if (b > 1) this.fail(`bool ${key} is ${b}`);
      value = b === 1;
    } else {
      const read: Record<number, () => GgufValue> = {
        0: () => dv.getUint8(0),
        1: () => dv.getInt8(0),
        2: () => dv.getUint16(0, true),
        3: () => dv.getInt16(0, true),
        4: () => dv.getUint32(0, true),
        5: () => dv.getInt32(0, true),
        6: () => dv.getFloat32(0, true),
        10: () => safe(dv.getBigUint64(0, true)),
        11: () => safe(dv.getBigInt64(0, true)),
        12: () => dv.getFloat64(0, true),
      };
      value = read[type]();
    }
    this.metadata.set(key, value);
    this.pos = at + size;
  }

  /** Elements of an array from this.pos until `done(n)`; throws WrongGuess (trial) or fails. */
  private elements(key: string, elemType: number, last: boolean, done: (n: number) => boolean, trial: boolean): { value: GgufValue; lengths: number } {
    const bail = (msg: string): never => {
      if (trial) throw new WrongGuess(msg);
      this.fail(`${key}: ${msg}`);
    };
    if (elemType === STRING) {
      const out: string[] = [];
      let lengths = 0;
      const next = (q: number) => this.elementAt(q) || this.boundaryAt(q, last);
      while (!done(out.length)) {
        if (this.pos >= this.bytes.length) bail(`ran out of file after ${out.length} strings`);
        let s: { text: string; rederived: boolean };
        try {
          s = this.string(`${key}[${out.length}]`, next);
        } catch (e) {
          if (trial && e instanceof GgufSalvageError) throw new WrongGuess(e.message);
          throw e;
        }
        out.push(s.text);
        if (s.rederived) lengths++;
      }
      return { value: out, lengths };
    }
    const size = SCALAR_SIZE[elemType];
    if (size === undefined) this.fail(`${key}: arrays of type ${elemType} are not handled`);
    const start = this.pos;
    let n = 0;
    while (!done(n)) {
      if (!this.clean(this.pos, size)) throw new DamagedElements(start);
      this.pos += size;
      n++;
    }
    const raw = this.bytes.slice(start, start + n * size);
    const dv = new DataView(raw.buffer);
    const value: GgufValue =
      (
        {
          0: () => raw,
          1: () => new Int8Array(raw.buffer),
          4: () => new Uint32Array(raw.buffer),
          5: () => new Int32Array(raw.buffer),
          6: () => new Float32Array(raw.buffer),
        } as Record<number, () => GgufValue>
      )[elemType]?.() ??
      Array.from({ length: n }, (_, i): GgufValue => {
        if (elemType === 7) return dv.getUint8(i) === 1;
        if (elemType === 2) return dv.getUint16(2 * i, true);
        if (elemType === 3) return dv.getInt16(2 * i, true);
        if (elemType === 12) return dv.getFloat64(8 * i, true);
        const v = elemType === 10 ? dv.getBigUint64(8 * i, true) : dv.getBigInt64(8 * i, true);
        return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
      });
    return { value, lengths: 0 };
  }

  private array(key: string, last: boolean): void {
    const elemType = this.intactUint(4, `element type of ${key}`);
    const countAt = this.pos;
    if (this.clean(countAt, 8)) {
      const count = this.uint(countAt, 8);
      this.pos = countAt + 8;
      try {
        const { value, lengths } = this.elements(key, elemType, last, (n) => n === count, false);
        if (!this.boundaryAt(this.pos, last)) this.fail(`${key}: no key follows its ${count} elements`);
        this.metadata.set(key, value);
        if (lengths) this.rederived.set(key, `${lengths} string lengths`);
      } catch (e) {
        if (!(e instanceof DamagedElements)) throw e;
        this.skipLost(key, e.start, count * SCALAR_SIZE[elemType], last);
      }
      return;
    }
    // damaged count: try each place the count field could end; exactly one must parse
    const results: { start: number; end: number; count: number; value: GgufValue; lengths: number }[] = [];
    const damagedElements: number[] = [];
    for (const start of this.fieldEnds(countAt, 8)) {
      this.pos = start;
      const done = (n: number) => this.boundaryAt(this.pos, last) && this.encodesAs(u64le(n), countAt, start);
      try {
        const { value, lengths } = this.elements(key, elemType, last, done, true);
        const count = Array.isArray(value) ? value.length : (value as ArrayLike<number>).length;
        results.push({ start, end: this.pos, count, value, lengths });
      } catch (e) {
        if (e instanceof DamagedElements) damagedElements.push(start);
        else if (!(e instanceof WrongGuess)) throw e;
      }
    }
    const field = hex(this.bytes.subarray(countAt, countAt + 12));
    const size = SCALAR_SIZE[elemType];
    if (results.length === 0 && damagedElements.length > 0 && size !== undefined) {
      // count and elements both damaged (f32 scores): the value ends at the next key, and some
      // count that re-encodes to the damaged count field must fit the bytes skipped
      const ends = new Set<number>();
      for (const start of damagedElements) {
        const fits = (lo: number, hi: number) => {
          for (let n = Math.ceil(lo / size); n * size <= hi; n++) if (this.encodesAs(u64le(n), countAt, start)) return true;
          return false;
        };
        for (const end of this.lostValueEnds(start, fits, Number.POSITIVE_INFINITY, last, true)) ends.add(end);
      }
      if (ends.size !== 1) this.fail(`${key}: count (${field}...) and elements damaged, ${ends.size} places where they could end`, countAt);
      this.markLost(key, countAt, [...ends][0], "count and elements: ");
      return;
    }
    if (results.length !== 1) this.fail(`${key}: damaged count (${field}...) parses ${results.length} ways, need exactly one`, countAt);
    const r = results[0];
    this.pos = r.end;
    this.metadata.set(key, r.value);
    this.rederived.set(key, `count ${r.count} (field ${hex(this.bytes.subarray(countAt, r.start))})${r.lengths ? `, ${r.lengths} string lengths` : ""}`);
  }

  run(): SalvagedGguf {
    const b = this.bytes;
    if (b.length < 24 || b[0] !== 0x47 || b[1] !== 0x47 || b[2] !== 0x55 || b[3] !== 0x46) this.fail("no GGUF magic", 0);
    this.pos = 4;
    const version = this.intactUint(4, "version");
    if (version !== 2 && version !== 3) this.fail(`version ${version}`);
    const nTensors = this.intactUint(8, "tensor count");
    if (nTensors !== 0) this.fail(`${nTensors} tensors: only vocab-only files are handled`);
    const nKv = this.intactUint(8, "key count");
    for (let i = 0; i < nKv; i++) {
      const last = i === nKv - 1;
      const key = this.keyAt(this.pos);
      if (key === undefined) this.fail(`key ${i} of ${nKv}: no plausible key here`);
      if (this.entries.some((e) => e.key === key)) this.fail(`key ${key} appears twice`);
      const start = this.pos;
      this.pos += 8 + key.length;
      const type = this.intactUint(4, `type of ${key}`);
      const valueStart = this.pos;
      if (type === STRING) {
        // the architecture names the next keys' prefix: known before the check that one follows
        if (key === "general.architecture" && this.clean(this.pos, 8)) this.arch = this.textAt(this.pos + 8, this.uint(this.pos, 8));
        const { text, rederived } = this.string(key, (q) => this.boundaryAt(q, last));
        this.metadata.set(key, text);
        if (rederived) this.rederived.set(key, "string length");
        if (key === "general.architecture") this.arch = text;
      } else if (type === ARRAY) this.array(key, last);
      else this.scalar(key, type, last);
      const elemType = type === ARRAY ? this.uint(valueStart, 4) : undefined;
      this.entries.push({ key, type, ...(elemType === undefined ? {} : { elemType }), start, valueStart, end: this.pos });
    }
    if (this.pos !== b.length) this.fail(`${b.length - this.pos} bytes after the last of the ${nKv} keys`);
    return { file: this.file, version, metadata: this.metadata, entries: this.entries, damaged: this.damaged, rederived: this.rederived };
  }
}

/** Numeric array elements hold U+FFFD: their values are lost. */
class DamagedElements extends Error {
  constructor(readonly start: number) {
    super("damaged elements");
  }
}

/** Recovers what survives of a text-decoded vocab-only GGUF; throws GgufSalvageError where the damage cannot be undone with certainty. */
export function salvageGguf(bytes: Uint8Array, file: string): SalvagedGguf {
  // a plain Uint8Array view: Buffer#slice would not copy
  return new Salvager(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file).run();
}

/** A GGUF value's bytes (little-endian) as llama.cpp's gguf writer lays them out. */
export function encodeGgufValue(type: number, value: GgufValue, elemType?: number): Uint8Array {
  const parts: Uint8Array[] = [];
  const num = (size: number, write: (dv: DataView) => void) => {
    const b = new Uint8Array(size);
    write(new DataView(b.buffer));
    parts.push(b);
  };
  const u64 = (n: number) => num(8, (dv) => dv.setBigUint64(0, BigInt(n), true));
  const one = (t: number, v: GgufValue) => {
    if (t === STRING) {
      const b = encoder.encode(v as string);
      u64(b.length);
      parts.push(b);
      return;
    }
    const n = v as number;
    const big = () => (typeof v === "bigint" ? v : BigInt(n));
    const writers: Record<number, (dv: DataView) => void> = {
      0: (dv) => dv.setUint8(0, n),
      1: (dv) => dv.setInt8(0, n),
      2: (dv) => dv.setUint16(0, n, true),
      3: (dv) => dv.setInt16(0, n, true),
      4: (dv) => dv.setUint32(0, n, true),
      5: (dv) => dv.setInt32(0, n, true),
      6: (dv) => dv.setFloat32(0, n, true),
      7: (dv) => dv.setUint8(0, v ? 1 : 0),
      10: (dv) => dv.setBigUint64(0, big(), true),
      11: (dv) => dv.setBigInt64(0, big(), true),
      12: (dv) => dv.setFloat64(0, n, true),
    };
    if (writers[t] === undefined) throw new Error(`cannot encode GGUF type ${t}`);
    num(SCALAR_SIZE[t], writers[t]);
  };
  if (type === ARRAY) {
    if (elemType === undefined) throw new Error("an array needs its element type");
    num(4, (dv) => dv.setUint32(0, elemType, true));
    const items = Array.isArray(value) ? value : Array.from(value as ArrayLike<number>);
    u64(items.length);
    for (const item of items) one(elemType, item);
  } else one(type, value);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What a UTF-8 text decoder makes of bytes, saved back as UTF-8: the damage these files went through. */
export function textDecoderDamage(bytes: Uint8Array): Uint8Array {
  return encoder.encode(decoder.decode(bytes));
}

/**
 * The salvage's strongest check: rebuilds the file from the salvaged metadata (lost values:
 * their bytes from the damaged file, as they are), passes each key/value pair through a text
 * decoder, and returns the result, which must be byte for byte the damaged file. Each pair is
 * decoded on its own; that is exact because every pair ends with a complete character or a
 * byte < 0x80 (a key's type field, a count's or length's high byte, a token type...).
 */
export function redamage(s: SalvagedGguf, damagedFile: Uint8Array): Uint8Array {
  const header = new Uint8Array(24);
  const hv = new DataView(header.buffer);
  header.set(encoder.encode("GGUF"));
  hv.setUint32(4, s.version, true);
  hv.setBigUint64(8, 0n, true);
  hv.setBigUint64(16, BigInt(s.entries.length), true);
  const parts: Uint8Array[] = [textDecoderDamage(header)];
  for (const e of s.entries) {
    const keyBytes = encoder.encode(e.key);
    const head = new Uint8Array(8 + keyBytes.length + 4);
    const dv = new DataView(head.buffer);
    dv.setBigUint64(0, BigInt(keyBytes.length), true);
    head.set(keyBytes, 8);
    dv.setUint32(8 + keyBytes.length, e.type, true);
    parts.push(textDecoderDamage(head));
    const value = s.metadata.get(e.key);
    if (s.damaged.has(e.key) || value === undefined) parts.push(damagedFile.subarray(e.valueStart, e.end));
    else parts.push(textDecoderDamage(encodeGgufValue(e.type, value, e.elemType)));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
