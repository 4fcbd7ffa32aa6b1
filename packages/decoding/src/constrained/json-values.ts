/**
 * Whether an enum/const value fits the keywords beside it (type, numeric bounds, string
 * length and pattern), so that `{"type": "string", "const": 3}` is found unsatisfiable
 * instead of generating a value that fails validation. Deeper keywords are not checked.
 */
type Json = Record<string, unknown>;

export function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function typeFits(v: unknown, type: unknown): boolean {
  if (type === undefined) return true;
  const types = Array.isArray(type) ? type : [type];
  const t = jsonType(v);
  return types.some((x) => x === t || (x === "number" && t === "integer"));
}

export function fitsSchema(v: unknown, s: Json): boolean {
  if (!typeFits(v, s.type)) return false;
  if (typeof v === "number") {
    const n = (k: string) => (typeof s[k] === "number" ? (s[k] as number) : undefined);
    const min = n("minimum");
    const max = n("maximum");
    if (min !== undefined && (s.exclusiveMinimum === true ? v <= min : v < min)) return false;
    if (max !== undefined && (s.exclusiveMaximum === true ? v >= max : v > max)) return false;
    const exMin = n("exclusiveMinimum");
    const exMax = n("exclusiveMaximum");
    if (exMin !== undefined && v <= exMin) return false;
    if (exMax !== undefined && v >= exMax) return false;
  }
  if (typeof v === "string") {
    const len = [...v].length;
    if (typeof s.minLength === "number" && len < s.minLength) return false;
    if (typeof s.maxLength === "number" && len > s.maxLength) return false;
    if (typeof s.pattern === "string") {
      try {
        if (!new RegExp(s.pattern, "u").test(v)) return false;
      } catch {
        return false;
      }
    }
  }
  return true;
}
