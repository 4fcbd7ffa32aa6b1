/**
 * Typed access to the `tokenizer.*` keys of GGUF metadata. A missing required key or a value
 * of the wrong type is a ModelFormatError naming the file and the key.
 */
import { ModelFormatError } from "../errors";
import type { GgufValue } from "../formats/gguf";
import { END_OF_GENERATION_TEXTS } from "./token-types";

export type GgufMetadata = ReadonlyMap<string, GgufValue>;

export function ggufTokenizerModel(md: GgufMetadata, file: string): string {
  const v = md.get("tokenizer.ggml.model");
  if (v === undefined) throw new ModelFormatError(file, 'has no "tokenizer.ggml.model" key (no vocabulary in this GGUF)');
  if (typeof v !== "string") throw new ModelFormatError(file, '"tokenizer.ggml.model" is not a string');
  return v;
}

export function optString(md: GgufMetadata, key: string, file: string): string | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new ModelFormatError(file, `"${key}" is not a string`);
  return v;
}

export function optBool(md: GgufMetadata, key: string, file: string): boolean | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new ModelFormatError(file, `"${key}" is not a bool`);
  return v;
}

/** A token id key; an id outside the vocabulary is ignored (llama.cpp warns and keeps its default). */
export function optTokenId(md: GgufMetadata, key: string, file: string, nVocab: number): number | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) throw new ModelFormatError(file, `"${key}" is not an integer`);
  return v >= 0 && v < nVocab ? v : undefined;
}

export function stringArray(md: GgufMetadata, key: string, file: string): string[] {
  const v = md.get(key);
  if (v === undefined) throw new ModelFormatError(file, `has no "${key}" key`);
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) throw new ModelFormatError(file, `"${key}" is not an array of strings`);
  return v as string[];
}

/** A numeric array of exactly `n` entries (scores, token types), or undefined when absent. */
export function optNumberArray(md: GgufMetadata, key: string, file: string, n: number): ArrayLike<number> | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  let arr: ArrayLike<number>;
  if (v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint32Array || v instanceof Int8Array || v instanceof Uint8Array) arr = v;
  else if (Array.isArray(v) && v.every((x) => typeof x === "number")) arr = v as number[];
  else throw new ModelFormatError(file, `"${key}" is not a numeric array`);
  if (arr.length !== n) throw new ModelFormatError(file, `"${key}" has ${arr.length} entries but the vocabulary has ${n} tokens`);
  return arr;
}

/**
 * End-of-generation ids as llama.cpp collects them: eos, eot and eom ids from the metadata,
 * plus every token whose text is a known end-of-turn marker.
 */
export function ggufEogIds(md: GgufMetadata, file: string, tokens: readonly string[], defaultEos: number | undefined): number[] {
  const ids = new Set<number>();
  const n = tokens.length;
  const eos = md.has("tokenizer.ggml.eos_token_id") ? optTokenId(md, "tokenizer.ggml.eos_token_id", file, n) : defaultEos;
  if (eos !== undefined) ids.add(eos);
  for (const key of ["tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"]) {
    const id = optTokenId(md, key, file, n);
    if (id !== undefined) ids.add(id);
  }
  tokens.forEach((t, i) => {
    if (END_OF_GENERATION_TEXTS.has(t)) ids.add(i);
  });
  return [...ids];
}
