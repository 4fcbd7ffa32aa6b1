/**
 * Draft models: a small language model with the target's tokenizer guesses what follows.
 *
 * `DraftRunner` keeps the draft model's KV cache in step with the accepted context: it
 * remembers which tokens the cache holds, and on every proposal rolls back what the
 * context no longer has (drafts the target rejected) and prefills what it has not seen
 * (the accepted drafts, the bonus token). Drafts the chain drafter stepped through stay in
 * the cache, so an accepted draft is never run twice. Trees are evaluated with the draft
 * model's own verify(tree), which commits nothing.
 *
 * `DraftModelDrafter` drafts a chain: the argmax continuation when the target is greedy
 * ("deterministic"), or tokens drawn one after another from the draft distribution when it
 * samples ("iid": childDist(node) is the distribution node's child was drawn from).
 */
import { argmax, DecodingOptionsError, type DraftContext, type Drafter, type DraftTree, keyedUniform, type Rng, type VerifiedStep } from "@edgespec/decoding";
import type { LlamaModel } from "@edgespec/models";

/** What a draft model must do (LlamaModel does; so do its derived early-exit / trimmed-head models). */
export interface DraftLanguageModel {
  readonly config: { readonly vocabSize: number };
  /** rows of the input embedding when it differs from the head (a trimmed head) */
  readonly inputVocabSize?: number;
  readonly contextLength: number;
  /** committed positions */
  readonly length: number;
  prefill(tokens: readonly number[], opts?: { allLogits?: boolean }): { logits: Float32Array; rows: number };
  /** logits of every node of a tree after the committed positions; commits nothing */
  verify(tokens: readonly number[], parents: readonly number[]): { logits: Float32Array; rows: number };
  rollback(n: number): void;
  reset(): void;
  free?(): void;
}

export interface DraftModelOptions {
  /** the draft model (same tokenizer as the target) */
  model: DraftLanguageModel;
  /** the target's vocabulary size; the draft model's must match (or its vocabRows lie inside it) */
  targetVocabSize: number;
  /** when the draft head is trimmed (VocabTrim): its logit j is token vocabRows[j] */
  vocabRows?: readonly number[];
  /** temperature of the draft distribution when sampling (default 1); greedy drafts ignore it */
  temperature?: number;
  /** free the model in free() (default false; early-exit and trimmed drafters own the model they derive) */
  ownsModel?: boolean;
  /** shown in errors and stats */
  name?: string;
}

/** The draft model's cache, kept in step with the context, and its distributions in target ids. */
export class DraftRunner {
  readonly model: DraftLanguageModel;
  readonly targetVocabSize: number;
  readonly vocabRows: Int32Array | null;
  readonly temperature: number;
  readonly name: string;
  /** the tokens the model's cache holds, in order */
  private held: number[] = [];
  private freed = false;

  constructor(opts: DraftModelOptions, defaultName: string) {
    const { model, targetVocabSize } = opts;
    this.name = opts.name ?? defaultName;
    if (!model || typeof model.prefill !== "function" || typeof model.verify !== "function")
      throw new DecodingOptionsError(`${this.name}: model must be a draft language model (prefill, verify, rollback, reset)`);
    if (!Number.isInteger(targetVocabSize) || targetVocabSize < 1)
      throw new DecodingOptionsError(`${this.name}: targetVocabSize must be a positive integer, got ${targetVocabSize}`);
    const temperature = opts.temperature ?? 1;
    if (!(temperature > 0) || !Number.isFinite(temperature))
      throw new DecodingOptionsError(`${this.name}: temperature must be a positive number, got ${opts.temperature}`);
    this.temperature = temperature;
    const heads = model.config.vocabSize;
    const inputs = model.inputVocabSize ?? heads;
    if (inputs !== targetVocabSize)
      throw new DecodingOptionsError(
        `${this.name}: the draft model has a ${inputs}-token vocabulary but the target has ${targetVocabSize}; a draft model must share the target's tokenizer`,
      );
    if (opts.vocabRows) {
      const rows = opts.vocabRows;
      if (rows.length !== heads)
        throw new DecodingOptionsError(`${this.name}: vocabRows has ${rows.length} ids but the draft model's head has ${heads} rows; they must match`);
      const seen = new Set<number>();
      for (const r of rows) {
        if (!Number.isInteger(r) || r < 0 || r >= targetVocabSize)
          throw new DecodingOptionsError(`${this.name}: vocab row ${r} is outside the target's ${targetVocabSize}-token vocabulary`);
        if (seen.has(r)) throw new DecodingOptionsError(`${this.name}: vocab row ${r} appears twice`);
        seen.add(r);
      }
      this.vocabRows = Int32Array.from(rows);
    } else {
      if (heads !== targetVocabSize)
        throw new DecodingOptionsError(
          `${this.name}: the draft model's head has ${heads} tokens but the target's vocabulary has ${targetVocabSize}; pass vocabRows for a trimmed head`,
        );
      this.vocabRows = null;
    }
    this.model = model;
    this.targetVocabSize = targetVocabSize;
  }

  /** draft-head index j → target token id */
  tokenOf(j: number): number {
    return this.vocabRows ? this.vocabRows[j] : j;
  }

  get isFreed(): boolean {
    return this.freed;
  }

  /** whether `extra` more positions fit after `context` */
  fits(contextLength: number, extra: number): boolean {
    return contextLength + extra <= this.model.contextLength;
  }

  /**
   * Bring the cache to `tokens` (rolling back what differs, prefilling what is new, always
   * at least the last token) and return the draft logits after the last token.
   */
  sync(tokens: readonly number[]): Float32Array {
    if (this.freed) throw new DecodingOptionsError(`${this.name}: the drafter was freed`);
    if (tokens.length === 0) throw new DecodingOptionsError(`${this.name}: no context to draft after`);
    const m = this.model;
    // someone else moved the cache: start over
    if (m.length !== this.held.length) {
      m.reset();
      this.held = [];
    }
    const keep = this.commonPrefix(tokens, tokens.length - 1);
    this.trim(keep);
    const fresh = tokens.slice(keep);
    const out = m.prefill(fresh);
    this.held.push(...fresh);
    return out.logits.length === this.model.config.vocabSize ? out.logits : out.logits.subarray(out.logits.length - this.model.config.vocabSize);
  }

  /** Append one token to the cache; its logits. */
  step(token: number): Float32Array {
    const out = this.model.prefill([token]);
    this.held.push(token);
    return out.logits;
  }

  /** Forget cached tokens that `context` does not start with (drafts the target rejected). */
  forget(context: readonly number[]): void {
    if (this.freed) return;
    if (this.model.length !== this.held.length) {
      this.model.reset();
      this.held = [];
      return;
    }
    this.trim(this.commonPrefix(context, context.length));
  }

  /** Forget every cached token after `n`. */
  truncate(n: number): void {
    this.trim(Math.min(n, this.held.length));
  }

  /** Cached tokens. */
  get length(): number {
    return this.held.length;
  }

  /**
   * Draft logits at the given nodes of a tree that follows the cached tokens (node i follows
   * parents[i], -1: the last cached token). Only the nodes and their ancestors are run, in
   * one verify; nothing is committed.
   */
  evalNodes(tokens: readonly number[], parents: readonly number[], nodes: readonly number[]): Float32Array[] {
    const need = new Uint8Array(tokens.length);
    for (const n of nodes) for (let a = n; a >= 0 && !need[a]; a = parents[a]) need[a] = 1;
    const index = new Int32Array(tokens.length).fill(-1);
    const sub: number[] = [];
    const subParents: number[] = [];
    for (let i = 0; i < tokens.length; i++) {
      if (!need[i]) continue;
      index[i] = sub.length;
      sub.push(tokens[i]);
      subParents.push(parents[i] < 0 ? -1 : index[parents[i]]);
    }
    const out = this.model.verify(sub, subParents);
    const v = this.model.config.vocabSize;
    return nodes.map((n) => out.logits.slice(index[n] * v, (index[n] + 1) * v));
  }

  /** The draft distribution (softmax of logits / temperature) over the draft head's rows. */
  probs(logits: ArrayLike<number>, temperature = this.temperature): Float32Array {
    const n = logits.length;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
    const e = new Float64Array(n);
    let s = 0;
    for (let i = 0; i < n; i++) {
      const x = Math.exp((logits[i] - max) / temperature);
      e[i] = Number.isNaN(x) ? 0 : x;
      s += e[i];
    }
    const p = new Float32Array(n);
    for (let i = 0; i < n; i++) p[i] = e[i] / s;
    return p;
  }

  /** A draft-head distribution as probabilities over the target's vocabulary (0 outside vocabRows). */
  toTarget(p: Float32Array): Float32Array {
    if (!this.vocabRows) return p;
    const out = new Float32Array(this.targetVocabSize);
    for (let j = 0; j < p.length; j++) out[this.vocabRows[j]] = p[j];
    return out;
  }

  free(owns: boolean): void {
    if (this.freed) return;
    this.freed = true;
    if (owns) this.model.free?.();
  }

  private commonPrefix(tokens: readonly number[], cap: number): number {
    const held = this.held;
    const n = Math.min(cap, held.length);
    let i = 0;
    while (i < n && held[i] === tokens[i]) i++;
    return i;
  }

  private trim(n: number): void {
    if (n < this.held.length) {
      this.model.rollback(this.held.length - n);
      this.held.length = n;
    }
  }
}

/** One draw from p (Float32 probabilities; zeros never drawn). */
export function drawFrom(p: Float32Array, rng: Rng, taken?: Set<number>): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) if (!taken?.has(i)) total += p[i];
  if (!(total > 0)) return -1;
  let u = rng() * total;
  let last = -1;
  for (let i = 0; i < p.length; i++) {
    if (p[i] <= 0 || taken?.has(i)) continue;
    last = i;
    u -= p[i];
    if (u < 0) return i;
  }
  return last;
}

/** k draws without replacement from p, in draw order (fewer when p has fewer nonzero entries). */
/**
 * argmax_j log p[j] + G(seed, position, id(j)): a draw from p with the keyed Gumbel noise the
 * target uses for the same position and token ids, so draft and target draws coincide
 * wherever p matches the target. -1 when p has no mass.
 */
export function keyedDraw(p: Float32Array, id: (j: number) => number, seed: number, position: number): number {
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < p.length; j++) {
    if (!(p[j] > 0)) continue;
    const score = Math.log(p[j]) - Math.log(-Math.log(keyedUniform(seed, position, id(j))));
    if (score > bestScore) {
      bestScore = score;
      best = j;
    }
  }
  return best;
}

export function drawWithoutReplacement(p: Float32Array, k: number, rng: Rng): number[] {
  const taken = new Set<number>();
  const out: number[] = [];
  while (out.length < k) {
    const i = drawFrom(p, rng, taken);
    if (i < 0) break;
    taken.add(i);
    out.push(i);
  }
  return out;
}

/** The k largest entries, best first (ties to the lower index; zeros and NaN skipped). */
export function topK(p: ArrayLike<number>, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    if (!(v > Number.NEGATIVE_INFINITY)) continue;
    if (idx.length === k && v <= p[idx[k - 1]]) continue;
    let j = idx.length < k ? idx.length : k - 1;
    if (idx.length < k) idx.push(i);
    while (j > 0 && p[idx[j - 1]] < v) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = i;
  }
  return idx;
}

export interface DraftModelDrafterOptions extends DraftModelOptions {
  /** longest chain (default 8); the engine's budget also caps it */
  maxDepth?: number;
  /** end the chain once a drafted token's draft probability is below this (default 0: never) */
  minProb?: number;
}

/** An integer option in [1, 1024] (or its default). */
export function checkInt(name: string, what: string, v: number | undefined, dflt: number): number {
  const d = v ?? dflt;
  if (!Number.isInteger(d) || d < 1 || d > 1024) throw new DecodingOptionsError(`${name}: ${what} must be an integer in [1, 1024], got ${v}`);
  return d;
}

/**
 * What every drafter backed by a draft model shares: option checks, the cache runner,
 * rollback of rejected drafts in observe(), and freeing a derived model it owns.
 */
export abstract class DraftModelBase implements Drafter {
  readonly name: string;
  readonly vocabSize: number;
  protected readonly runner: DraftRunner;
  private readonly ownsModel: boolean;

  constructor(opts: DraftModelOptions, defaultName: string) {
    this.runner = new DraftRunner(opts, defaultName);
    this.name = this.runner.name;
    this.vocabSize = opts.targetVocabSize;
    this.ownsModel = opts.ownsModel ?? false;
  }

  /** The draft model (an early-exit or trimmed model derived by a helper is owned and freed by the drafter). */
  get model(): DraftLanguageModel {
    return this.runner.model;
  }

  begin(_promptIds: readonly number[]): void {
    // the cache follows the context lazily (a shared prefix with the last generation is reused)
  }

  abstract propose(ctx: DraftContext): DraftTree;

  observe(step: VerifiedStep): void {
    // drop rejected drafts now; accepted ones stay cached for the next proposal
    const accepted = step.acceptedNodes.map((n) => step.tree.tokens[n]);
    this.runner.forget([...step.context, ...accepted, step.bonus]);
  }

  free(): void {
    this.runner.free(this.ownsModel);
  }

  /** childDist over stored draft-head distributions (node -1: the pending token), widened to the target's vocabulary once. */
  protected childDistOf(dists: Map<number, Float32Array>): (node: number) => Float32Array {
    const wide = new Map<number, Float32Array>();
    return (node: number) => {
      let d = wide.get(node);
      if (d) return d;
      const p = dists.get(node);
      if (!p) throw new RangeError(`${this.name}: node ${node} has no drafted children, so no child distribution`);
      d = this.runner.toTarget(p);
      wide.set(node, d);
      return d;
    };
  }
}

/** A chain drafter backed by a small LM with the target's tokenizer. */
export class DraftModelDrafter extends DraftModelBase {
  readonly maxDepth: number;
  readonly minProb: number;

  constructor(opts: DraftModelDrafterOptions) {
    super(opts, "draft-model");
    this.maxDepth = checkInt(this.name, "maxDepth", opts.maxDepth, 8);
    const minProb = opts.minProb ?? 0;
    if (!(minProb >= 0 && minProb < 1)) throw new DecodingOptionsError(`${this.name}: minProb must be in [0, 1), got ${opts.minProb}`);
    this.minProb = minProb;
  }

  propose(ctx: DraftContext): DraftTree {
    const depth = Math.min(this.maxDepth, ctx.budget);
    const r = this.runner;
    if (depth <= 0 || r.isFreed || !r.fits(ctx.tokens.length, depth)) return { tokens: [], parents: [], mode: "deterministic" };
    let logits = r.sync(ctx.tokens);
    const tokens: number[] = [];
    const dists: Float32Array[] = [];
    for (let d = 0; d < depth; d++) {
      let j: number;
      if (ctx.sampling) {
        const p = r.probs(logits);
        // coupled verification: the target's own noise for this position (see DraftContext)
        j = ctx.noiseSeed === undefined ? drawFrom(p, ctx.rng) : keyedDraw(p, (i) => r.tokenOf(i), ctx.noiseSeed, ctx.tokens.length + d);
        if (j < 0) break;
        dists.push(p);
        if (p[j] < this.minProb) d = depth; // keep this draft, stop after it
      } else {
        j = argmax(logits);
        if (this.minProb > 0 && r.probs(logits, 1)[j] < this.minProb) break;
      }
      tokens.push(r.tokenOf(j));
      if (d < depth - 1) logits = r.step(r.tokenOf(j));
    }
    const parents = tokens.map((_, i) => i - 1);
    if (!ctx.sampling) return { tokens, parents, mode: "deterministic" };
    const byNode = new Map<number, Float32Array>();
    // token i was drawn from dists[i], the distribution after its parent (node i - 1)
    for (let i = 0; i < tokens.length; i++) byNode.set(i - 1, dists[i]);
    return { tokens, parents, mode: "iid", childDist: this.childDistOf(byNode) };
  }
}
export interface EarlyExitOptions extends Omit<DraftModelDrafterOptions, "model" | "targetVocabSize" | "ownsModel"> {}

/**
 * Early-exit self-drafting: the target's first `layers` layers, then its final norm and head
 * (nothing is copied: a derived model over the target's weights with its own KV cache; with
 * vocabRows also a trimmed head). The drafter frees the derived model; free it before the target.
 */
export function earlyExitDrafter(target: LlamaModel, layers: number, opts: EarlyExitOptions = {}): DraftModelDrafter {
  const n = target.config.numLayers;
  if (!Number.isInteger(layers) || layers < 1 || layers > n)
    throw new DecodingOptionsError(`early exit: layers must be an integer in [1, ${n}] (the target has ${n}), got ${layers}`);
  const model = target.derive({ layers, ...(opts.vocabRows ? { vocabRows: opts.vocabRows } : {}) });
  try {
    return new DraftModelDrafter({
      name: `early-exit-${layers}${opts.vocabRows ? `-trim${opts.vocabRows.length}` : ""}`,
      ...opts,
      model,
      targetVocabSize: target.config.vocabSize,
      ownsModel: true,
    });
  } catch (e) {
    model.free();
    throw e;
  }
}
