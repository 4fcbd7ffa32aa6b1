/**
 * A range of code points as UTF-8 byte-range sequences (the construction RE2 and Rust's
 * regex-syntax use): [U+0000, U+10FFFF] minus surrogates becomes a handful of sequences such
 * as [C2-DF][80-BF]. Each sequence is a list of [lo, hi] byte ranges, one per byte; the
 * sequences of one range are disjoint, so the automaton stays exact at the byte level and a
 * token that ends inside a character leaves it mid-sequence.
 */
export type ByteRange = readonly [number, number];

const MAX_BY_LENGTH = [0x7f, 0x7ff, 0xffff, 0x10ffff];

function encode(cp: number): number[] {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 0x3f)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
}

/** Byte-range sequences for [lo, hi] (no surrogates inside: the caller's sets never hold them). */
export function utf8Sequences(lo: number, hi: number, out: ByteRange[][] = []): ByteRange[][] {
  if (lo > hi) return out;
  // one encoded length at a time
  for (const max of MAX_BY_LENGTH) {
    if (lo <= max && hi > max) {
      utf8Sequences(lo, max, out);
      utf8Sequences(max + 1, hi, out);
      return out;
    }
  }
  if (hi < 0x80) {
    out.push([[lo, hi]]);
    return out;
  }
  // split until every continuation byte spans its full 80..BF range below the first difference
  for (let i = 1; i < 4; i++) {
    const m = (1 << (6 * i)) - 1;
    if ((lo & ~m) !== (hi & ~m)) {
      if ((lo & m) !== 0) {
        utf8Sequences(lo, lo | m, out);
        utf8Sequences((lo | m) + 1, hi, out);
        return out;
      }
      if ((hi & m) !== m) {
        utf8Sequences(lo, (hi & ~m) - 1, out);
        utf8Sequences(hi & ~m, hi, out);
        return out;
      }
    }
  }
  const a = encode(lo);
  const b = encode(hi);
  out.push(a.map((x, k) => [x, b[k]] as const));
  return out;
}
