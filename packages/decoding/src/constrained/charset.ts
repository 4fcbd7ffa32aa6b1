/**
 * Sets of Unicode scalar values as sorted, disjoint, non-adjacent inclusive ranges
 * [lo0, hi0, lo1, hi1, ...]. Surrogates (U+D800..U+DFFF) are never members: the automaton
 * runs over UTF-8, which cannot encode them.
 */
export type CharSet = readonly number[];

export const MAX_CP = 0x10ffff;
const SURROGATES: CharSet = [0xd800, 0xdfff];

function normalise(pairs: [number, number][]): number[] {
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    if (lo > hi) continue;
    const n = out.length;
    if (n > 0 && lo <= out[n - 1] + 1) out[n - 1] = Math.max(out[n - 1], hi);
    else out.push(lo, hi);
  }
  return out;
}

function pairsOf(s: CharSet): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < s.length; i += 2) out.push([s[i], s[i + 1]]);
  return out;
}

export function range(lo: number, hi: number): CharSet {
  return subtract([lo, hi], SURROGATES);
}

export function single(cp: number): CharSet {
  return range(cp, cp);
}

export function union(...sets: CharSet[]): CharSet {
  return normalise(sets.flatMap(pairsOf));
}

/** Every scalar value not in s. */
export function negate(s: CharSet): CharSet {
  const out: [number, number][] = [];
  let next = 0;
  for (let i = 0; i < s.length; i += 2) {
    out.push([next, s[i] - 1]);
    next = s[i + 1] + 1;
  }
  out.push([next, MAX_CP]);
  return subtract(normalise(out), SURROGATES);
}

export function subtract(a: CharSet, b: CharSet): CharSet {
  const out: [number, number][] = [];
  for (const [lo, hi] of pairsOf(a)) {
    let from = lo;
    for (let j = 0; j < b.length && from <= hi; j += 2) {
      if (b[j + 1] < from || b[j] > hi) continue;
      if (b[j] > from) out.push([from, b[j] - 1]);
      from = b[j + 1] + 1;
    }
    if (from <= hi) out.push([from, hi]);
  }
  return normalise(out);
}

export function intersect(a: CharSet, b: CharSet): CharSet {
  return subtract(a, negate(b));
}

export function isEmpty(s: CharSet): boolean {
  return s.length === 0;
}

export function has(s: CharSet, cp: number): boolean {
  for (let i = 0; i < s.length; i += 2) if (cp >= s[i] && cp <= s[i + 1]) return true;
  return false;
}

/** JS RegExp's classes in `u` mode (no `i` flag). */
export const DIGIT = range(0x30, 0x39);
export const WORD = union(range(0x30, 0x39), range(0x41, 0x5a), range(0x5f, 0x5f), range(0x61, 0x7a));
export const SPACE = union(
  range(0x09, 0x0d),
  single(0x20),
  single(0xa0),
  single(0x1680),
  range(0x2000, 0x200a),
  range(0x2028, 0x2029),
  single(0x202f),
  single(0x205f),
  single(0x3000),
  single(0xfeff),
);
/** `.`: anything but a line terminator */
export const DOT = negate(union(single(0x0a), single(0x0d), range(0x2028, 0x2029)));
export const ANY = negate([]);
