/** Reading the committed golden logits of tools/reference/llama_ref.py. */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface GoldenRows {
  offset: number;
  shape: [number, number];
  positions: number[];
}

export interface GoldenCase {
  text?: string;
  prompt: number[];
  greedy: number[];
  greedy_margins: number[];
  prompt_logits: GoldenRows;
  decode_logits: GoldenRows;
}

export interface LlamaGolden {
  name: string;
  vocab_size: number;
  cases: GoldenCase[];
  bos_greedy?: { prompt: number[]; tokens: number[]; reliable_prefix: number };
  floats: Float32Array;
}

export const GOLDEN_DIR = join(__dirname, "golden");

export function readGolden(name: string, logitsFile = `${name}.logits.f32`): LlamaGolden {
  const meta = JSON.parse(readFileSync(join(GOLDEN_DIR, `${name}.json`), "utf8"));
  const raw = readFileSync(join(GOLDEN_DIR, logitsFile));
  const floats = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return { ...meta, floats };
}

export function rows(g: LlamaGolden, r: GoldenRows, i: number): Float32Array {
  const v = r.shape[1];
  return g.floats.subarray(r.offset + i * v, r.offset + (i + 1) * v);
}

/** max |a - b| / max |b|: the relative error the tests bound. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relErr: lengths differ (${a.length} and ${b.length})`);
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
}

export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}
