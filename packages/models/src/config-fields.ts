/** Reading numbers out of a Hugging Face config.json, refusing what a model cannot run with. */
import { UnsupportedModelError } from "./errors";

export function configFields(file: string, cfg: Record<string, unknown>) {
  return {
    /** a positive integer (the fallback when the key is absent) */
    int(key: string, fallback?: number): number {
      const v = cfg[key] ?? fallback;
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0)
        throw new UnsupportedModelError(file, `"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
      return v;
    },
    /** a positive finite number */
    num(key: string, fallback: number): number {
      const v = cfg[key] ?? fallback;
      if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
        throw new UnsupportedModelError(file, `"${key}" must be a positive number, got ${JSON.stringify(v)}`);
      return v;
    },
  };
}
