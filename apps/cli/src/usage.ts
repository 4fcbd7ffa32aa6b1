import { parseArgs } from "node:util";

/** A bad command line: reported with the usage text and exit code 2. */
export class UsageError extends Error {}

export function intOption(name: string, v: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

/** --threads: "auto" (the host's cores, at most 8) or 1..8; default 1. */
export function threadsOption(v: string | undefined): number | "auto" {
  return v === "auto" ? "auto" : intOption("threads", v, 1, 1, 8);
}

export function numberOption(name: string, v: string | undefined, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`--${name} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>["options"]>;

/** A command's flags (no positionals); an unknown or malformed flag is a UsageError. */
export function parseOptions(argv: string[], options: Options): Record<string, string | boolean | string[] | undefined> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | string[] | undefined>;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
