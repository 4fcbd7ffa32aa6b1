/**
 * Regex building blocks for JSON values: strings, numbers, integer and decimal ranges, and
 * string formats. Numbers are written in canonical form (no leading zeros, no "+"), which
 * every JSON parser reads; bounded numbers are written without an exponent so that a regex
 * can bound them exactly. Digits are capped at what a double holds (16 integer digits unless
 * a bound needs more, 15 fraction digits, 3 exponent digits): valid numbers all the same,
 * and greedy decoding cannot run on in "0.000000..." forever.
 */

/** One character of a JSON string: unescaped (no quote, backslash or control) or a short escape. \u escapes are not generated. */
export const JSON_CHAR = '(?:[^"\\\\\\x00-\\x1f]|\\\\["\\\\/bfnrt])';
export const JSON_STRING = `"${JSON_CHAR}*"`;
/** most integer digits written when no bound says otherwise */
export const INTEGER_DIGITS = 16;
export const JSON_INTEGER = `-?(?:0|[1-9][0-9]{0,${INTEGER_DIGITS - 1}})`;
const FRACTION = "(?:\\.[0-9]{1,15})?";
const ZERO_FRACTION = "(?:\\.0{1,15})?";
/** a fraction that is not zero: its last digit is not 0 */
const NONZERO_FRACTION = "\\.[0-9]{0,14}[1-9]";
export const JSON_NUMBER = `${JSON_INTEGER}${FRACTION}(?:[eE][+-]?[0-9]{1,3})?`;
export const JSON_SCALAR = `(?:${JSON_STRING}|${JSON_NUMBER}|true|false|null)`;

const alt = (parts: string[]) => (parts.length === 1 ? parts[0] : `(?:${parts.join("|")})`);
const digit = (lo: string, hi: string) => (lo === hi ? lo : `[${lo}-${hi}]`);
const anyDigits = (n: number) => (n === 0 ? "" : n === 1 ? "[0-9]" : `[0-9]{${n}}`);

/** Decimal strings of the same length lo..hi (lo <= hi). */
function sameLength(lo: string, hi: string): string {
  const n = lo.length;
  if (lo === hi) return lo;
  if (n === 1) return digit(lo, hi);
  if (lo[0] === hi[0]) return lo[0] + sameLength(lo.slice(1), hi.slice(1));
  const loRestZero = /^0*$/.test(lo.slice(1));
  const hiRestNine = /^9*$/.test(hi.slice(1));
  const parts: string[] = [];
  const from = loRestZero ? Number(lo[0]) : Number(lo[0]) + 1;
  const to = hiRestNine ? Number(hi[0]) : Number(hi[0]) - 1;
  if (!loRestZero) parts.push(lo[0] + sameLength(lo.slice(1), "9".repeat(n - 1)));
  if (from <= to) parts.push(digit(String(from), String(to)) + anyDigits(n - 1));
  if (!hiRestNine) parts.push(hi[0] + sameLength("0".repeat(n - 1), hi.slice(1)));
  return alt(parts);
}

/** Non-negative integers in [a, b] (b null: no upper bound), canonical decimal; null if empty. */
function naturals(a: bigint, b: bigint | null): string | null {
  if (b !== null && a > b) return null;
  const parts: string[] = [];
  const lenA = a.toString().length;
  const lenB = b === null ? lenA : b.toString().length;
  for (let d = lenA; d <= lenB; d++) {
    const lo = d === 1 ? 0n : 10n ** BigInt(d - 1);
    const hi = 10n ** BigInt(d) - 1n;
    const from = a > lo ? a : lo;
    const to = b !== null && b < hi ? b : hi;
    if (from <= to) parts.push(sameLength(from.toString(), to.toString()));
  }
  // longer than any bound written so far
  if (b === null) parts.push(`[1-9][0-9]{${lenA},}`);
  return alt(parts);
}

/** Integers in [lo, hi] (null: unbounded on that side); null if there are none. */
export function integerRange(lo: bigint | null, hi: bigint | null): string | null {
  if (lo !== null && hi !== null && lo > hi) return null;
  const parts: string[] = [];
  if (lo === null || lo < 0n) {
    // negatives -m with m in [max(1, -hi), -lo]
    const mLo = hi !== null && hi < 0n ? -hi : 1n;
    const m = naturals(mLo, lo === null ? null : -lo);
    if (m) parts.push(`-${m}`);
  }
  if (hi === null || hi >= 0n) {
    const n = naturals(lo !== null && lo > 0n ? lo : 0n, hi);
    if (n) parts.push(n);
  }
  return parts.length === 0 ? null : alt(parts);
}

export interface Bound {
  value: bigint;
  inclusive: boolean;
}

/** Non-negative decimals m with a (<= or <) m (<= or <) b, a >= 0 an integer, b integer or null. */
function magnitudes(a: Bound, b: Bound | null): string | null {
  if (b !== null && (a.value > b.value || (a.value === b.value && !(a.inclusive && b.inclusive)))) return null;
  if (b !== null && a.value === b.value) return a.value.toString() + ZERO_FRACTION;
  const parts: string[] = [];
  // integer part a: any fraction if a itself is allowed, else a non-zero one
  parts.push(a.value.toString() + (a.inclusive ? FRACTION : NONZERO_FRACTION));
  const inner = integerRange(a.value + 1n, b === null ? null : b.value - 1n);
  if (inner) parts.push(inner + FRACTION);
  if (b?.inclusive) parts.push(b.value.toString() + ZERO_FRACTION);
  return alt(parts);
}

/** Decimals (no exponent) within the bounds (null: unbounded); null if there are none. */
export function decimalRange(lo: Bound | null, hi: Bound | null): string | null {
  if (lo !== null && hi !== null && (lo.value > hi.value || (lo.value === hi.value && !(lo.inclusive && hi.inclusive)))) return null;
  const parts: string[] = [];
  if (lo === null || lo.value < 0n) {
    // negatives -m, 0 < m, m within [-hi, -lo]
    const mLo: Bound = hi !== null && hi.value < 0n ? { value: -hi.value, inclusive: hi.inclusive } : { value: 0n, inclusive: false };
    const m = magnitudes(mLo, lo === null ? null : { value: -lo.value, inclusive: lo.inclusive });
    if (m) parts.push(`-${m}`);
  }
  if (hi === null || hi.value >= 0n) {
    const a: Bound = lo !== null && lo.value >= 0n ? lo : { value: 0n, inclusive: true };
    const m = magnitudes(a, hi);
    if (m) parts.push(m);
  }
  return parts.length === 0 ? null : alt(parts);
}

// every valid date except 29 February, which a regex cannot tie to leap years
const DATE = "[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))";
const TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])";
const HEX = "[0-9a-fA-F]";
const OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";

/** String formats written as regexes (the content between the quotes). */
export const FORMATS: Readonly<Record<string, string>> = {
  date: DATE,
  time: TIME,
  "date-time": `${DATE}T${TIME}`,
  uuid: `${HEX}{8}-${HEX}{4}-${HEX}{4}-${HEX}{4}-${HEX}{12}`,
  ipv4: `${OCTET}(?:\\.${OCTET}){3}`,
};
