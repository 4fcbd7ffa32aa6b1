/**
 * Logits processors: functions that rewrite one step's logits in place before a token is
 * picked. Filtered tokens become -Infinity (probability 0 in sampling.ts). Every filter keeps
 * at least one token, and ties at a cut-off are broken towards the lower token id so a seed
 * always gives the same tokens. Probabilities are computed in float64.
 */
import { DecodingOptionsError } from "./errors";
import { argmax, softmax } from "./sampling";

/** Modifies logits in place. context = every token so far (prompt + generated). */
export type LogitsProcessor = (logits: Float32Array, context: readonly number[]) => void;

export interface SamplingOptions {
  /** 0 = greedy (only the argmax, lowest id on ties, survives); default 1; must be ≥ 0 */
  temperature?: number;
  /** keep the k most likely tokens (exactly k: ties go to the lower id); integer ≥ 1, 0 or undefined = off */
  topK?: number;
  /** nucleus: the smallest most-likely set with mass ≥ topP; (0, 1], 1 = off */
  topP?: number;
  /** drop tokens with p < minP · p_max; [0, 1], 0 = off */
  minP?: number;
  /** locally typical sampling (Meister et al. 2022) with this mass; (0, 1], 1 = off */
  typicalP?: number;
  /** > 0; HF/CTRL: a positive logit of a token in the context is divided by it, a negative one multiplied; 1 = off */
  repetitionPenalty?: number;
  /** OpenAI: logit −= frequencyPenalty · count(token in context); finite, 0 = off */
  frequencyPenalty?: number;
  /** OpenAI: logit −= presencePenalty if the token occurs in the context; finite, 0 = off */
  presencePenalty?: number;
  /** added to the logit of each listed token id; -Infinity bans it */
  logitBias?: Record<number, number> | Map<number, number>;
  /** only these token ids may be picked */
  allowedTokens?: Iterable<number>;
  /** these token ids are never picked */
  bannedTokens?: Iterable<number>;
}

const NEG = Number.NEGATIVE_INFINITY;

export function applyProcessors(ps: readonly LogitsProcessor[], logits: Float32Array, context: readonly number[]): void {
  for (const p of ps) p(logits, context);
}

/**
 * HF order: penalties, bias, masks, then the warpers temperature, top-k, top-p, min-p,
 * typical-p. Options that are off add no processor, so {} gives [].
 *
 * The penalties count over the whole context, prompt included (as HF's repetition penalty
 * and llama.cpp do); OpenAI counts generated tokens only — use frequencyPresenceProcessor's
 * `from` for that.
 */
export function buildProcessors(opts: SamplingOptions, vocabSize: number): LogitsProcessor[] {
  validateSamplingOptions(opts, vocabSize);
  const ps: LogitsProcessor[] = [];
  if (opts.repetitionPenalty !== undefined && opts.repetitionPenalty !== 1) ps.push(repetitionPenaltyProcessor(opts.repetitionPenalty));
  const freq = opts.frequencyPenalty ?? 0;
  const pres = opts.presencePenalty ?? 0;
  if (freq !== 0 || pres !== 0) ps.push(frequencyPresenceProcessor(freq, pres));
  const bias = biasEntries(opts.logitBias);
  if (bias.length > 0) ps.push(logitBiasProcessor(bias, vocabSize));
  if (opts.allowedTokens !== undefined || opts.bannedTokens !== undefined) {
    ps.push(tokenMaskProcessor({ allowed: opts.allowedTokens, banned: opts.bannedTokens }, vocabSize));
  }
  const t = opts.temperature ?? 1;
  if (t !== 1) ps.push(temperatureProcessor(t));
  // after greedy only one token is left: the other warpers would be no-ops
  if (t === 0) return ps;
  if (opts.topK !== undefined && opts.topK !== 0 && opts.topK < vocabSize) ps.push(topKProcessor(opts.topK));
  if (opts.topP !== undefined && opts.topP < 1) ps.push(topPProcessor(opts.topP));
  if (opts.minP !== undefined && opts.minP > 0) ps.push(minPProcessor(opts.minP));
  if (opts.typicalP !== undefined && opts.typicalP < 1) ps.push(typicalPProcessor(opts.typicalP));
  return ps;
}

export function validateSamplingOptions(opts: SamplingOptions, vocabSize: number): void {
  const bad = (name: string, v: unknown, want: string): never => {
    throw new DecodingOptionsError(`${name} must be ${want}, got ${String(v)}`);
  };
  const { temperature: t, topK, topP, minP, typicalP, repetitionPenalty: rp, frequencyPenalty: fp, presencePenalty: pp } = opts;
  if (t !== undefined && !(Number.isFinite(t) && t >= 0)) bad("temperature", t, "a finite number ≥ 0");
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 0)) bad("topK", topK, "an integer ≥ 1 (0 = off)");
  if (topP !== undefined && !(topP > 0 && topP <= 1)) bad("topP", topP, "in (0, 1]");
  if (minP !== undefined && !(minP >= 0 && minP <= 1)) bad("minP", minP, "in [0, 1]");
  if (typicalP !== undefined && !(typicalP > 0 && typicalP <= 1)) bad("typicalP", typicalP, "in (0, 1]");
  if (rp !== undefined && !(Number.isFinite(rp) && rp > 0)) bad("repetitionPenalty", rp, "a finite number > 0");
  if (fp !== undefined && !Number.isFinite(fp)) bad("frequencyPenalty", fp, "finite");
  if (pp !== undefined && !Number.isFinite(pp)) bad("presencePenalty", pp, "finite");
  const bias = biasEntries(opts.logitBias);
  for (const [id, b] of bias) {
    checkId("logitBias", id, vocabSize);
    if (!(Number.isFinite(b) || b === NEG)) bad(`logitBias[${id}]`, b, "finite or -Infinity");
  }
  const allowed = opts.allowedTokens === undefined ? undefined : idSet("allowedTokens", opts.allowedTokens, vocabSize);
  const banned = idSet("bannedTokens", opts.bannedTokens ?? [], vocabSize);
  for (const [id, b] of bias) if (b === NEG) banned.add(id);
  // something must stay samplable, or every step would fail half-way through decoding
  const open = allowed === undefined ? vocabSize - banned.size : [...allowed].filter((id) => !banned.has(id)).length;
  if (open === 0) {
    throw new DecodingOptionsError(
      allowed !== undefined && allowed.size === 0
        ? "allowedTokens is empty: no token can be sampled"
        : "allowedTokens, bannedTokens and -Infinity logitBias together exclude every token: no token can be sampled",
    );
  }
}

function checkId(name: string, id: number, vocabSize: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new DecodingOptionsError(`${name}: token id ${id} is outside the vocabulary [0, ${vocabSize})`);
}

function idSet(name: string, ids: Iterable<number>, vocabSize: number): Set<number> {
  const s = new Set<number>();
  for (const id of ids) {
    checkId(name, id, vocabSize);
    s.add(id);
  }
  return s;
}

function biasEntries(bias: SamplingOptions["logitBias"]): [number, number][] {
  if (bias === undefined) return [];
  // Record keys are strings: "1.5" or "x" must fail the id check, not turn into 1 or NaN silently
  return bias instanceof Map ? [...bias.entries()] : Object.entries(bias).map(([k, v]) => [Number(k), v]);
}

/** Divide by t; t = 0 keeps only the argmax (lowest id on ties). */
export function temperatureProcessor(t: number): LogitsProcessor {
  if (!(Number.isFinite(t) && t >= 0)) throw new DecodingOptionsError(`temperature must be a finite number ≥ 0, got ${t}`);
  if (t === 0) {
    return (logits) => {
      const best = argmax(logits);
      for (let i = 0; i < logits.length; i++) if (i !== best) logits[i] = NEG;
    };
  }
  return (logits) => {
    for (let i = 0; i < logits.length; i++) logits[i] /= t;
  };
}

/**
 * Keep the m largest entries of `values` (ties at the cut go to the lower index), set the
 * rest of `logits` to -Infinity. A native numeric sort finds the cut value, which is much
 * faster than sorting indices with a comparator on 50k–150k vocabularies.
 */
function keepLargest(values: ArrayLike<number>, m: number, logits: Float32Array): void {
  const n = values.length;
  if (m >= n) return;
  const sorted = Float64Array.from(values).sort();
  const cut = sorted[n - m];
  let above = 0;
  for (let i = 0; i < n; i++) if (values[i] > cut) above++;
  let ties = m - above;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v > cut) continue;
    if (v === cut && ties > 0) {
      ties--;
      continue;
    }
    logits[i] = NEG;
  }
}

export function topKProcessor(k: number): LogitsProcessor {
  if (!(Number.isInteger(k) && k >= 1)) throw new DecodingOptionsError(`topK must be an integer ≥ 1, got ${k}`);
  return (logits) => keepLargest(logits, k, logits);
}

/** HF semantics: drop a token when the mass of the tokens ranked above it is already ≥ p. */
export function topPProcessor(p: number): LogitsProcessor {
  if (!(p > 0 && p <= 1)) throw new DecodingOptionsError(`topP must be in (0, 1], got ${p}`);
  return (logits) => {
    if (p === 1) return;
    const probs = softmax(logits);
    const desc = Float64Array.from(probs).sort().reverse();
    let m = 0;
    for (let acc = 0; m < desc.length && acc < p; m++) acc += desc[m];
    keepLargest(probs, m, logits);
  };
}

/** Drop tokens with p < minP · max p (the top token always survives). */
export function minPProcessor(minP: number): LogitsProcessor {
  if (!(minP >= 0 && minP <= 1)) throw new DecodingOptionsError(`minP must be in [0, 1], got ${minP}`);
  return (logits) => {
    if (minP === 0) return;
    const probs = softmax(logits);
    let max = 0;
    for (let i = 0; i < probs.length; i++) if (probs[i] > max) max = probs[i];
    const cut = minP * max;
    for (let i = 0; i < probs.length; i++) if (probs[i] < cut) logits[i] = NEG;
  };
}

/**
 * Locally typical sampling (Meister et al. 2022, HF TypicalLogitsWarper): rank tokens by
 * |−log p − H| ascending and keep the shortest prefix whose mass reaches `mass`. Equal
 * distances are ranked by lower id (HF keeps every tie at the cut instead).
 */
export function typicalPProcessor(mass: number): LogitsProcessor {
  if (!(mass > 0 && mass <= 1)) throw new DecodingOptionsError(`typicalP must be in (0, 1], got ${mass}`);
  return (logits) => {
    if (mass === 1) return;
    const probs = softmax(logits);
    let h = 0;
    for (let i = 0; i < probs.length; i++) if (probs[i] > 0) h -= probs[i] * Math.log(probs[i]);
    const live: number[] = [];
    const dist = new Float64Array(probs.length);
    for (let i = 0; i < probs.length; i++) {
      if (probs[i] <= 0) continue;
      dist[i] = Math.abs(-Math.log(probs[i]) - h);
      live.push(i);
    }
    live.sort((a, b) => dist[a] - dist[b] || a - b);
    let m = 0;
    for (let acc = 0; m < live.length && acc < mass; m++) acc += probs[live[m]];
    for (let j = m; j < live.length; j++) logits[live[j]] = NEG;
  };
}

/** HF/CTRL repetition penalty, once per distinct token of the context. */
export function repetitionPenaltyProcessor(penalty: number): LogitsProcessor {
  if (!(Number.isFinite(penalty) && penalty > 0)) throw new DecodingOptionsError(`repetitionPenalty must be a finite number > 0, got ${penalty}`);
  return (logits, context) => {
    for (const id of new Set(context)) {
      if (id < 0 || id >= logits.length) continue;
      const v = logits[id];
      logits[id] = v < 0 ? v * penalty : v / penalty;
    }
  };
}

/**
 * OpenAI frequency / presence penalties: logit −= frequency · count + presence · [count > 0].
 * Counts run over context[from..]; pass the prompt length as `from` for OpenAI's
 * generated-tokens-only semantics.
 */
export function frequencyPresenceProcessor(frequency: number, presence: number, from = 0): LogitsProcessor {
  if (!Number.isFinite(frequency)) throw new DecodingOptionsError(`frequencyPenalty must be finite, got ${frequency}`);
  if (!Number.isFinite(presence)) throw new DecodingOptionsError(`presencePenalty must be finite, got ${presence}`);
  if (!(Number.isInteger(from) && from >= 0)) throw new DecodingOptionsError(`from must be an integer ≥ 0, got ${from}`);
  return (logits, context) => {
    const counts = new Map<number, number>();
    for (let i = from; i < context.length; i++) counts.set(context[i], (counts.get(context[i]) ?? 0) + 1);
    for (const [id, c] of counts) if (id >= 0 && id < logits.length) logits[id] -= frequency * c + presence;
  };
}

/** Add bias[id] to logits[id]; -Infinity bans the token. */
export function logitBiasProcessor(bias: Record<number, number> | Map<number, number> | readonly [number, number][], vocabSize: number): LogitsProcessor {
  const entries = Array.isArray(bias) ? [...bias] : biasEntries(bias as Record<number, number> | Map<number, number>);
  for (const [id, b] of entries) {
    checkId("logitBias", id, vocabSize);
    if (!(Number.isFinite(b) || b === NEG)) throw new DecodingOptionsError(`logitBias[${id}] must be finite or -Infinity, got ${b}`);
  }
  const ids = Int32Array.from(entries, (e) => e[0]);
  const vals = Float32Array.from(entries, (e) => e[1]);
  return (logits) => {
    for (let j = 0; j < ids.length; j++) logits[ids[j]] += vals[j];
  };
}

/** Only `allowed` (default: every id) minus `banned` may be picked. */
export function tokenMaskProcessor(mask: { allowed?: Iterable<number>; banned?: Iterable<number> }, vocabSize: number): LogitsProcessor {
  const keep = new Uint8Array(vocabSize);
  if (mask.allowed === undefined) keep.fill(1);
  else for (const id of idSet("allowedTokens", mask.allowed, vocabSize)) keep[id] = 1;
  for (const id of idSet("bannedTokens", mask.banned ?? [], vocabSize)) keep[id] = 0;
  if (!keep.includes(1)) throw new DecodingOptionsError("allowedTokens and bannedTokens exclude every token: no token can be sampled");
  return (logits) => {
    for (let i = 0; i < logits.length; i++) if (keep[i] === 0) logits[i] = NEG;
  };
}
