/**
 * RoPE inverse frequencies, with the frequency-scaling schemes of Hugging Face's
 * `rope_scaling`. The rope kernel takes the result as a table, so a new scheme is a new
 * function here (or a user `custom` hook), never a kernel change.
 */
import { OutOfRangeError } from "./errors";

export type RopeScaling =
  | { type: "default" }
  /** positions divided by `factor` (HF "linear") */
  | { type: "linear"; factor: number }
  /** Llama 3.1: long wavelengths divided by `factor`, short kept, a smooth ramp between */
  | {
      type: "llama3";
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  /** any other scheme: receives the unscaled inverse frequencies, returns the scaled ones */
  | { type: "custom"; scale: (invFreq: Float64Array) => { invFreq: ArrayLike<number>; attentionFactor?: number } };

export interface RopeFrequencies {
  invFreq: Float32Array;
  attentionFactor: number;
}

/**
 * inv_freq[i] = 1 / theta^(2i / ropeDim), then the scaling scheme, with every step rounded
 * to float32 as Hugging Face's torch code does: at position 10^4 one ulp of inv_freq moves
 * the angle by ~1e-3 rad, so the roundings matter for matching the original logits.
 */
export function ropeFrequencies(ropeDim: number, theta: number, scaling: RopeScaling = { type: "default" }): RopeFrequencies {
  if (!Number.isInteger(ropeDim) || ropeDim < 2 || ropeDim % 2) throw new OutOfRangeError(`rope: ropeDim must be an even integer >= 2, got ${ropeDim}`);
  if (!(theta > 1) || !Number.isFinite(theta)) throw new OutOfRangeError(`rope: theta must be a finite number > 1, got ${theta}`);
  const half = ropeDim / 2;
  const fr = Math.fround;
  const base = new Float64Array(half);
  // 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all float32
  for (let i = 0; i < half; i++) base[i] = fr(1 / fr(fr(theta) ** fr((2 * i) / ropeDim)));
  let out: ArrayLike<number> = base;
  let attentionFactor = 1;
  switch (scaling.type) {
    case "default":
      break;
    case "linear": {
      positive("linear factor", scaling.factor);
      out = base.map((f) => fr(f / fr(scaling.factor)));
      break;
    }
    case "llama3": {
      const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: old } = scaling;
      positive("llama3 factor", factor);
      positive("llama3 lowFreqFactor", lowFreqFactor);
      positive("llama3 highFreqFactor", highFreqFactor);
      positive("llama3 originalMaxPositionEmbeddings", old);
      if (!(highFreqFactor > lowFreqFactor)) throw new OutOfRangeError("rope: llama3 highFreqFactor must exceed lowFreqFactor");
      // transformers' _compute_llama3_parameters, step by step in float32
      const lowWavelen = old / lowFreqFactor;
      const highWavelen = old / highFreqFactor;
      out = base.map((f) => {
        const wavelen = fr(fr(2 * Math.PI) / f);
        if (wavelen < highWavelen) return f;
        const scaled = fr(f / fr(factor));
        if (wavelen > lowWavelen) return scaled;
        const smooth = fr(fr(fr(fr(old) / wavelen) - fr(lowFreqFactor)) / fr(highFreqFactor - lowFreqFactor));
        // medium band: inv_freq_llama is still the unscaled f here
        return fr(fr(fr(fr(1 - smooth) * f) / fr(factor)) + fr(smooth * f));
      });
      break;
    }
    case "custom": {
      const r = scaling.scale(Float64Array.from(base));
      if (!r || r.invFreq?.length !== half) throw new OutOfRangeError(`rope: custom scaling must return ${half} inverse frequencies`);
      out = r.invFreq;
      attentionFactor = r.attentionFactor ?? 1;
      break;
    }
    default:
      throw new OutOfRangeError(`rope: unknown scaling type ${JSON.stringify((scaling as { type: unknown }).type)}`);
  }
  const invFreq = Float32Array.from(out);
  for (const f of invFreq) if (!Number.isFinite(f) || f <= 0) throw new OutOfRangeError("rope: scaling produced a non-positive or non-finite frequency");
  if (!Number.isFinite(attentionFactor)) throw new OutOfRangeError("rope: attentionFactor must be finite");
  return { invFreq, attentionFactor };
}

function positive(what: string, v: number): void {
  if (!(v > 0) || !Number.isFinite(v)) throw new OutOfRangeError(`rope: ${what} must be a positive number, got ${v}`);
}
