/**
 * Constructor option checks (every drafter validates its options before it allocates
 * anything and throws DecodingOptionsError naming the drafter and the option) and a
 * draft-tree checker for tests and callers that want to verify a drafter's output.
 */
import { DecodingOptionsError, type DraftTree } from "@edgespec/decoding";

/** A positive integer option (or its default when undefined). */
export function intOption(drafter: string, name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw new DecodingOptionsError(`${drafter}: ${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  return v;
}

/** A finite number option in [min, max] (or its default when undefined). */
export function numberOption(
  drafter: string,
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  exclusiveMin = false,
): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || (exclusiveMin && v === min) || v > max)
    throw new DecodingOptionsError(`${drafter}: ${name} must be a number in ${exclusiveMin ? "(" : "["}${min}, ${max}], got ${String(value)}`);
  return v;
}

export function boolOption(drafter: string, name: string, value: boolean | undefined, fallback: boolean): boolean {
  const v = value ?? fallback;
  if (typeof v !== "boolean") throw new DecodingOptionsError(`${drafter}: ${name} must be a boolean, got ${String(value)}`);
  return v;
}

/** The target's vocabulary size: the ids a drafter proposes are checked against it. */
export function vocabOption(drafter: string, options: { vocabSize?: number } | undefined): number {
  if (options === null || typeof options !== "object")
    throw new DecodingOptionsError(`${drafter}: options with vocabSize (the target's vocabulary size) are required`);
  if (options.vocabSize === undefined) throw new DecodingOptionsError(`${drafter}: vocabSize (the target's vocabulary size) is required`);
  return intOption(drafter, "vocabSize", options.vocabSize, 0, 1, 2 ** 31 - 1);
}

/**
 * Why `tree` is not a valid draft for `budget` and `vocabSize`, or null when it is: parents
 * listed before their children, parents[i] in [-1, i), distinct tokens among a node's
 * children, at most `budget` nodes, every token an integer in [0, vocabSize), childDist
 * present for the sampled modes.
 */
export function draftTreeProblem(tree: DraftTree, budget: number, vocabSize: number): string | null {
  const { tokens, parents, mode } = tree;
  if (tokens.length !== parents.length) return `tokens (${tokens.length}) and parents (${parents.length}) differ in length`;
  if (tokens.length > Math.max(0, budget)) return `${tokens.length} nodes over the budget of ${budget}`;
  if (mode !== "deterministic" && mode !== "iid" && mode !== "without-replacement") return `unknown mode ${String(mode)}`;
  if (mode !== "deterministic" && typeof tree.childDist !== "function") return `mode ${mode} needs childDist`;
  const seen = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const p = parents[i];
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) return `node ${i}: token ${t} outside [0, ${vocabSize})`;
    if (!Number.isInteger(p) || p < -1 || p >= i) return `node ${i}: parent ${p} outside [-1, ${i})`;
    const key = `${p}:${t}`;
    if (seen.has(key)) return `node ${i}: token ${t} repeats a sibling under parent ${p}`;
    seen.add(key);
  }
  return null;
}

/** A non-empty array of numbers in (0, 1] (a prior per candidate rank). */
export function priorOption(drafter: string, name: string, value: readonly number[] | undefined, fallback: readonly number[]): readonly number[] {
  const v = value ?? fallback;
  if (!Array.isArray(v) || v.length === 0)
    throw new DecodingOptionsError(`${drafter}: ${name} must be a non-empty array of numbers in (0, 1], got ${String(value)}`);
  for (let i = 0; i < v.length; i++) numberOption(drafter, `${name}[${i}]`, v[i], 0, 0, 1, true);
  return v.slice();
}
