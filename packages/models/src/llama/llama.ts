/**
 * The Llama family (Llama 2/3/3.1, Mistral, Qwen2, SmolLM2) in one file, llama2.c style.
 *
 *   x = embed_tokens[tokens]
 *   for each layer:
 *     h = input_layernorm(x)
 *     q, k, v = q_proj(h), k_proj(h), v_proj(h)      (+ biases for Qwen2)
 *     rope(q, k) at each token's position; k, v -> KV cache
 *     x += o_proj(attention(q, cache))                (causal, or a tree mask for verify)
 *     h = post_attention_layernorm(x)
 *     x += down_proj(silu(gate_proj(h)) * up_proj(h))
 *   logits = lm_head(norm(x))                         (lm_head = embed_tokens when tied)
 *
 * The KV cache holds `length` committed positions. `verify` writes a tree of candidate
 * tokens after them without committing; `commit(path)` keeps one root-to-leaf path of
 * that tree and `rollback(n)` forgets the last n positions.
 *
 * A model may hold more sequences than its own (beams, parallel samples): each
 * LlamaSequence has its own KV cache, and `stepBatch` advances many of them in one forward
 * whose matmuls read every weight once for all of them.
 *
 * Every method that returns logits has an async twin (prefillAsync, stepAsync, ...): the same
 * forward, queued synchronously, then read with `await backend.readAsync`. A backend whose
 * `syncRead` is false (WebGPU) can only be used through the async twins.
 */
import { type Backend, BackendUnavailableError, OutOfRangeError, ropeFrequencies, ShapeError, type Tensor } from "@edgespec/runtime";
import type { WeightSource } from "../weights";
import type { LlamaConfig } from "./config";

interface LlamaLayer {
  input_layernorm: Tensor;
  q_proj: Tensor;
  k_proj: Tensor;
  v_proj: Tensor;
  o_proj: Tensor;
  q_bias: Tensor | null;
  k_bias: Tensor | null;
  v_bias: Tensor | null;
  post_attention_layernorm: Tensor;
  gate_proj: Tensor;
  up_proj: Tensor;
  down_proj: Tensor;
}

/** The buffers every Scratch views: rows for the largest batch seen so far. */
interface ScratchPool {
  rows: number;
  logitRows: number;
  buffers: Tensor[];
  x: Tensor;
  h: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  attn: Tensor;
  o: Tensor;
  gate: Tensor;
  up: Tensor;
  act: Tensor;
  logits: Tensor;
  lastH: Tensor;
}

/** Activations for a batch of n tokens: views into the pool. */
interface Scratch {
  n: number;
  x: Tensor;
  h: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  q3: Tensor;
  k3: Tensor;
  attn: Tensor;
  attn2: Tensor;
  o: Tensor;
  gate: Tensor;
  up: Tensor;
  act: Tensor;
  /** logits of every row, or of the last row only */
  logits: Tensor;
  lastH: Tensor;
  all: boolean;
}

/** The KV cache of one sequence: per layer [numKvHeads, capacity, headDim] for K and for V. */
export class LlamaSequence {
  /** committed positions */
  length = 0;
  capacity: number;
  readonly kCache: Tensor[] = [];
  readonly vCache: Tensor[] = [];
  /** verify's tree, waiting for commit */
  pending: { start: number; parents: Int32Array } | null = null;
  freed = false;

  constructor(readonly model: LlamaModel) {
    const c = model.config;
    this.capacity = Math.min(model.contextLength, 256);
    try {
      for (let l = 0; l < c.numLayers; l++) {
        this.kCache.push(model.backend.empty(model.kvCache, [c.numKvHeads, this.capacity, c.headDim]));
        this.vCache.push(model.backend.empty(model.kvCache, [c.numKvHeads, this.capacity, c.headDim]));
      }
    } catch (e) {
      for (const t of [...this.kCache, ...this.vCache]) t.free();
      throw e;
    }
  }

  /** Make this sequence a copy of `other` (a sequence of the same model). */
  copyFrom(other: LlamaSequence): void {
    if (other === this) return;
    if (!(other instanceof LlamaSequence) || other.model !== this.model) throw new OutOfRangeError("copyFrom: the sequence belongs to another model");
    if (this.freed || other.freed) throw new OutOfRangeError("copyFrom: the sequence was freed");
    this.reserve(other.length);
    const c = this.model.config;
    const be = this.model.backend;
    const row = this.model.kvRowBytes;
    const bytes = other.length * row;
    if (bytes > 0) {
      for (let l = 0; l < c.numLayers; l++) {
        for (const [dst, src] of [
          [this.kCache[l], other.kCache[l]],
          [this.vCache[l], other.vCache[l]],
        ]) {
          for (let h = 0; h < c.numKvHeads; h++)
            be.copy(be.view(dst, h * this.capacity * row, "u8", [bytes]), be.view(src, h * other.capacity * row, "u8", [bytes]));
        }
      }
    }
    this.length = other.length;
    this.pending = null;
  }

  /** Forget the last n committed positions. */
  rollback(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.length) throw new OutOfRangeError(`rollback: n must be an integer in [0, ${this.length}], got ${n}`);
    this.pending = null;
    this.length -= n;
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    for (const t of [...this.kCache, ...this.vCache]) t.free();
    this.model.forgetSequence(this);
  }

  /** Grow every layer's cache (doubling) until it holds `positions` slots. */
  reserve(positions: number): void {
    if (positions <= this.capacity) return;
    const c = this.model.config;
    const be = this.model.backend;
    let cap = this.capacity;
    while (cap < positions) cap *= 2;
    cap = Math.min(cap, this.model.contextLength);
    const row = this.model.kvRowBytes;
    const keepSlots = this.pending ? this.length + this.pending.parents.length : this.length;
    for (const caches of [this.kCache, this.vCache]) {
      for (let l = 0; l < caches.length; l++) {
        const old = caches[l];
        const grown = be.empty(this.model.kvCache, [c.numKvHeads, cap, c.headDim]);
        for (let h = 0; h < c.numKvHeads; h++) {
          if (keepSlots === 0) break;
          const bytes = keepSlots * row;
          be.copy(be.view(grown, h * cap * row, "u8", [bytes]), be.view(old, h * this.capacity * row, "u8", [bytes]));
        }
        old.free();
        caches[l] = grown;
      }
    }
    this.capacity = cap;
  }
}

/** Rows of one forward that belong to one sequence. */
interface Group {
  seq: LlamaSequence;
  /** first row in the batch */
  row: number;
  tokens: readonly number[];
  /** absolute position of each token */
  positions: number[];
  mask: "causal" | Uint8Array;
}

export interface LlamaOptions {
  /** most positions the cache may hold; default the config's max_position_embeddings */
  contextLength?: number;
  /**
   * KV cache storage (default "f32"). "f16" halves the cache's memory and the bytes attention
   * reads per step; K and V are rounded to f16 as they are stored, all arithmetic stays f32.
   */
  kvCache?: "f32" | "f16";
}

/** A model over another's weights (see LlamaModel.derive). */
export interface DeriveOptions {
  /** run only the first n layers, then the final norm and head (early-exit self-drafting) */
  layers?: number;
  /** cut the LM head to these token ids (VocabTrim): logit j is token vocabRows[j] */
  vocabRows?: readonly number[];
  contextLength?: number;
}

interface Derived {
  base: LlamaModel;
  layers: number;
  vocabRows?: readonly number[];
}

export interface ForwardResult {
  /** [rows, vocab] row-major */
  logits: Float32Array;
  rows: number;
}

/** A forward whose ops are queued on the backend: its logits tensor (a scratch view) is yet to be read. */
interface QueuedForward {
  logits: Tensor;
  rows: number;
}

export class LlamaModel {
  readonly layers: LlamaLayer[] = [];
  readonly embed_tokens: Tensor;
  readonly norm: Tensor;
  readonly lm_head: Tensor;
  readonly contextLength: number;
  private readonly invFreq: Float32Array;
  private readonly attentionFactor: number;
  private scratch: Scratch[] = [];
  private pool: ScratchPool | null = null;
  private freed = false;
  /** weights this model frees (a derived model owns only its trimmed head) */
  private readonly owned: Tensor[] = [];
  /** ids of input tokens: the embedding's rows (a trimmed head has fewer logits) */
  readonly inputVocabSize: number;
  /** element type of every sequence's KV cache */
  readonly kvCache: "f32" | "f16";

  /** bytes of one cached K or V row (one head, one position) */
  get kvRowBytes(): number {
    return this.config.headDim * (this.kvCache === "f16" ? 2 : 4);
  }
  /** every sequence made by newSequence() and not freed, plus the model's own */
  private readonly sequences = new Set<LlamaSequence>();
  /** the sequence of prefill/step/verify/commit/rollback */
  private readonly main: LlamaSequence;

  constructor(
    readonly backend: Backend,
    readonly config: LlamaConfig,
    weights: WeightSource | Derived,
    opts: LlamaOptions = {},
  ) {
    const c = config;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    this.contextLength = Math.min(opts.contextLength ?? c.maxPositions, c.maxPositions);
    if (!Number.isInteger(this.contextLength) || this.contextLength < 1)
      throw new OutOfRangeError(`contextLength must be a positive integer, got ${opts.contextLength}`);
    this.kvCache = opts.kvCache ?? "f32";
    if (this.kvCache !== "f32" && this.kvCache !== "f16") throw new OutOfRangeError(`kvCache must be "f32" or "f16", got ${JSON.stringify(opts.kvCache)}`);
    const owned = this.owned;
    const keep = (t: Tensor) => {
      owned.push(t);
      return t;
    };
    try {
      if ("base" in weights) {
        const { base } = weights;
        this.embed_tokens = base.embed_tokens;
        this.layers.push(...base.layers.slice(0, weights.layers));
        this.norm = base.norm;
        this.lm_head = weights.vocabRows ? keep(trimHead(backend, base.lm_head, weights.vocabRows)) : base.lm_head;
      } else {
        // tied checkpoints saved by some exporters keep only lm_head (safetensors metadata aliases it)
        const embedName = weights.has("model.embed_tokens.weight") || !weights.has("lm_head.weight") ? "model.embed_tokens.weight" : "lm_head.weight";
        this.embed_tokens = keep(weights.matrix(embedName, [c.vocabSize, c.hiddenSize]));
        for (let l = 0; l < c.numLayers; l++) {
          const p = `model.layers.${l}.`;
          const w = (name: string, shape: number[]) => keep(weights.matrix(p + name, shape));
          const bias = (name: string, n: number) => (c.attentionBias ? keep(weights.vector(p + name, n)) : null);
          this.layers.push({
            input_layernorm: keep(weights.vector(`${p}input_layernorm.weight`, c.hiddenSize)),
            q_proj: w("self_attn.q_proj.weight", [qDim, c.hiddenSize]),
            k_proj: w("self_attn.k_proj.weight", [kvDim, c.hiddenSize]),
            v_proj: w("self_attn.v_proj.weight", [kvDim, c.hiddenSize]),
            o_proj: w("self_attn.o_proj.weight", [c.hiddenSize, qDim]),
            q_bias: bias("self_attn.q_proj.bias", qDim),
            k_bias: bias("self_attn.k_proj.bias", kvDim),
            v_bias: bias("self_attn.v_proj.bias", kvDim),
            post_attention_layernorm: keep(weights.vector(`${p}post_attention_layernorm.weight`, c.hiddenSize)),
            gate_proj: w("mlp.gate_proj.weight", [c.intermediateSize, c.hiddenSize]),
            up_proj: w("mlp.up_proj.weight", [c.intermediateSize, c.hiddenSize]),
            down_proj: w("mlp.down_proj.weight", [c.hiddenSize, c.intermediateSize]),
          });
        }
        this.norm = keep(weights.vector("model.norm.weight", c.hiddenSize));
        const tied = c.tieWordEmbeddings || !weights.has("lm_head.weight") || embedName === "lm_head.weight";
        this.lm_head = tied ? this.embed_tokens : keep(weights.matrix("lm_head.weight", [c.vocabSize, c.hiddenSize]));
      }
      this.inputVocabSize = this.embed_tokens.shape[0];
      this.main = new LlamaSequence(this);
    } catch (e) {
      for (const t of owned) t.free();
      throw e;
    }
    const rope = ropeFrequencies(c.headDim, c.ropeTheta, c.ropeScaling);
    this.invFreq = rope.invFreq;
    this.attentionFactor = rope.attentionFactor;
  }

  /**
   * A model over these same weights (nothing is copied) with its own KV caches: the first
   * `layers` layers followed by the final norm and head (early-exit self-drafting), and/or
   * a head cut to `vocabRows` (VocabTrim; its logit j is token vocabRows[j]). Free it before
   * this model; its free() releases only its caches and trimmed head.
   */
  derive(opts: DeriveOptions): LlamaModel {
    if (this.freed) throw new OutOfRangeError("the model was freed");
    const layers = opts.layers ?? this.layers.length;
    if (!Number.isInteger(layers) || layers < 1 || layers > this.layers.length)
      throw new OutOfRangeError(`derive: layers must be an integer in [1, ${this.layers.length}], got ${opts.layers}`);
    let vocabSize = this.config.vocabSize;
    if (opts.vocabRows) {
      const rows = opts.vocabRows;
      if (rows.length === 0) throw new OutOfRangeError("derive: vocabRows is empty");
      const seen = new Set<number>();
      for (const r of rows) {
        if (!Number.isInteger(r) || r < 0 || r >= this.config.vocabSize)
          throw new OutOfRangeError(`derive: vocab row ${r} is outside [0, ${this.config.vocabSize})`);
        if (seen.has(r)) throw new OutOfRangeError(`derive: vocab row ${r} appears twice`);
        seen.add(r);
      }
      vocabSize = rows.length;
    }
    const config: LlamaConfig = { ...this.config, numLayers: layers, vocabSize };
    return new LlamaModel(
      this.backend,
      config,
      { base: this, layers, vocabRows: opts.vocabRows },
      {
        contextLength: opts.contextLength ?? this.contextLength,
        kvCache: this.kvCache,
      },
    );
  }

  /** Bytes of weights one decode step reads (for roofline numbers). */
  weightBytes(): number {
    let n = this.norm.byteLength + this.lm_head.byteLength;
    for (const L of this.layers) {
      for (const t of [L.input_layernorm, L.q_proj, L.k_proj, L.v_proj, L.o_proj, L.post_attention_layernorm, L.gate_proj, L.up_proj, L.down_proj])
        n += t.byteLength;
    }
    return n;
  }

  // ------------------------------------------------------------------ public API

  /** committed positions of the model's own sequence */
  get length(): number {
    return this.main.length;
  }

  /** false where the backend reads asynchronously only (WebGPU): use the *Async methods there */
  get syncRead(): boolean {
    return this.backend.syncRead;
  }

  /**
   * Run the prompt (or its continuation) after the committed positions and commit it.
   * Returns the logits of the last token, or of every token with `allLogits`.
   */
  prefill(tokens: readonly number[], opts: { allLogits?: boolean } = {}): ForwardResult {
    return this.readNow("prefill", () => this.prefillOn(this.main, tokens, opts.allLogits ?? false));
  }

  /** prefill() on any backend (the only way on one without syncRead, WebGPU): the logits are awaited. */
  async prefillAsync(tokens: readonly number[], opts: { allLogits?: boolean } = {}): Promise<ForwardResult> {
    return this.readLater(this.prefillOn(this.main, tokens, opts.allLogits ?? false));
  }

  /** One token after the committed positions; commits it and returns its logits [vocab]. */
  step(token: number): Float32Array {
    return this.readNow("step", () => this.prefillOn(this.main, [token], false)).logits;
  }

  /** step() with the logits awaited (any backend). */
  async stepAsync(token: number): Promise<Float32Array> {
    return (await this.readLater(this.prefillOn(this.main, [token], false))).logits;
  }

  /**
   * Logits for every node of a tree of candidate tokens, in one batched forward. Node i
   * follows node parents[i], or the last committed token when parents[i] is -1; parents
   * come before their children. Nothing is committed until commit(path).
   */
  verify(tokens: readonly number[], parents: readonly number[]): ForwardResult {
    return this.readNow("verify", () => this.verifyOn(tokens, parents));
  }

  /** verify() with the logits awaited (any backend). */
  async verifyAsync(tokens: readonly number[], parents: readonly number[]): Promise<ForwardResult> {
    return this.readLater(this.verifyOn(tokens, parents));
  }

  private verifyOn(tokens: readonly number[], parents: readonly number[]): QueuedForward {
    const n = tokens.length;
    if (n === 0) throw new ShapeError("verify: no tokens");
    if (parents.length !== n) throw new ShapeError(`verify: ${n} tokens but ${parents.length} parents`);
    const seq = this.main;
    seq.pending = null;
    const depth = new Int32Array(n);
    const mask = new Uint8Array(n * n);
    for (let i = 0; i < n; i++) {
      const p = parents[i];
      if (!Number.isInteger(p) || p < -1 || p >= i) throw new OutOfRangeError(`verify: parent of node ${i} is ${p}; it must be -1 or an earlier node`);
      depth[i] = p < 0 ? 0 : depth[p] + 1;
      if (p >= 0) mask.set(mask.subarray(p * n, p * n + n), i * n);
      mask[i * n + i] = 1;
    }
    const positions = Array.from(depth, (d) => seq.length + d);
    const r = this.forward([{ seq, row: 0, tokens, positions, mask }], true);
    seq.pending = { start: seq.length, parents: Int32Array.from(parents) };
    return r;
  }

  /**
   * Keep a root-to-leaf path of the last verify's tree (node indices, root first): their
   * K/V move next to the committed prefix and become committed.
   */
  commit(path: readonly number[]): void {
    const seq = this.main;
    const tree = seq.pending;
    if (!tree) throw new OutOfRangeError("commit: no verified tree is pending (call verify first)");
    const n = tree.parents.length;
    for (let j = 0; j < path.length; j++) {
      const node = path[j];
      if (!Number.isInteger(node) || node < 0 || node >= n) throw new OutOfRangeError(`commit: node ${node} is not in the verified tree of ${n} nodes`);
      const want = j === 0 ? -1 : path[j - 1];
      if (tree.parents[node] !== want)
        throw new OutOfRangeError(`commit: node ${node} does not follow ${j === 0 ? "the committed prefix" : `node ${want}`}; a path goes root to leaf`);
    }
    const c = this.config;
    const row = this.kvRowBytes;
    for (let j = 0; j < path.length; j++) {
      // path[j] >= j, so moving slots in increasing j never overwrites a later source
      if (path[j] === j) continue;
      const from = tree.start + path[j];
      const to = tree.start + j;
      for (const cache of [...seq.kCache, ...seq.vCache]) {
        for (let h = 0; h < c.numKvHeads; h++) {
          const base = h * seq.capacity * row;
          this.backend.copy(this.backend.view(cache, base + to * row, "u8", [row]), this.backend.view(cache, base + from * row, "u8", [row]));
        }
      }
    }
    seq.length = tree.start + path.length;
    seq.pending = null;
  }

  /** Forget the last n committed positions. */
  rollback(n: number): void {
    this.main.rollback(n);
  }

  /** Empty the cache (a new sequence). */
  reset(): void {
    this.main.pending = null;
    this.main.length = 0;
  }

  // ------------------------------------------------------------------ many sequences

  /** A new, empty sequence with its own KV cache (free it when done; free() frees all). */
  newSequence(): LlamaSequence {
    if (this.freed) throw new OutOfRangeError("the model was freed");
    const seq = new LlamaSequence(this);
    this.sequences.add(seq);
    return seq;
  }

  /** Append tokens to `seq` (e.g. its prompt); logits of the last token [vocab]. */
  prefillSequence(seq: LlamaSequence, tokens: readonly number[]): Float32Array {
    return this.readNow("prefillSequence", () => this.prefillOn(this.ownSequence(seq, "prefillSequence"), tokens, false)).logits;
  }

  /** prefillSequence() with the logits awaited (any backend). */
  async prefillSequenceAsync(seq: LlamaSequence, tokens: readonly number[]): Promise<Float32Array> {
    return (await this.readLater(this.prefillOn(this.ownSequence(seq, "prefillSequence"), tokens, false))).logits;
  }

  /**
   * Append tokens[i] to seqs[i] for every i in one forward: the matmuls run over all rows
   * at once, attention runs per sequence over its own cache. Logits [n, vocab].
   */
  stepBatch(seqs: readonly LlamaSequence[], tokens: readonly number[]): ForwardResult {
    return this.readNow("stepBatch", () => this.stepBatchOn(seqs, tokens));
  }

  /** stepBatch() with the logits awaited (any backend). */
  async stepBatchAsync(seqs: readonly LlamaSequence[], tokens: readonly number[]): Promise<ForwardResult> {
    return this.readLater(this.stepBatchOn(seqs, tokens));
  }

  private stepBatchOn(seqs: readonly LlamaSequence[], tokens: readonly number[]): QueuedForward {
    if (seqs.length === 0) throw new ShapeError("stepBatch: no sequences");
    if (seqs.length !== tokens.length) throw new ShapeError(`stepBatch: ${seqs.length} sequences but ${tokens.length} tokens`);
    const seen = new Set<LlamaSequence>();
    const groups: Group[] = seqs.map((s, i) => {
      const seq = this.ownSequence(s, "stepBatch");
      if (seen.has(seq)) throw new OutOfRangeError(`stepBatch: sequence ${i} appears twice; each sequence takes one token per step`);
      seen.add(seq);
      seq.pending = null;
      return { seq, row: i, tokens: [tokens[i]], positions: [seq.length], mask: "causal" };
    });
    const r = this.forward(groups, true);
    for (const g of groups) g.seq.length += 1;
    return r;
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    for (const t of new Set(this.owned)) t.free();
    this.main.free();
    for (const s of [...this.sequences]) s.free();
    this.freeScratch();
  }

  /** @internal a sequence freed by its owner */
  forgetSequence(seq: LlamaSequence): void {
    this.sequences.delete(seq);
  }

  // ------------------------------------------------------------------ forward

  private ownSequence(seq: LlamaSequence, op: string): LlamaSequence {
    if (!(seq instanceof LlamaSequence) || seq.model !== this) throw new OutOfRangeError(`${op}: the sequence belongs to another model`);
    if (seq.freed) throw new OutOfRangeError(`${op}: the sequence was freed`);
    return seq;
  }

  /**
   * Queue a forward and read its logits at once. The check comes first: a backend that cannot
   * read synchronously must not be left with a forward committed whose logits nobody saw.
   */
  private readNow(op: string, queue: () => QueuedForward): ForwardResult {
    const be = this.backend;
    if (!be.syncRead) throw new BackendUnavailableError(`${op}: the ${be.name} backend cannot read synchronously; use ${op}Async`);
    const q = queue();
    return { logits: be.read(q.logits) as Float32Array, rows: q.rows };
  }

  /**
   * Read a queued forward's logits. readAsync is called before the first await, so the read is
   * queued right behind the forward, before any later forward reuses the scratch logits.
   */
  private async readLater(q: QueuedForward): Promise<ForwardResult> {
    return { logits: (await this.backend.readAsync(q.logits)) as Float32Array, rows: q.rows };
  }

  private prefillOn(seq: LlamaSequence, tokens: readonly number[], allLogits: boolean): QueuedForward {
    if (tokens.length === 0) throw new ShapeError("prefill: no tokens");
    seq.pending = null;
    const positions = Array.from({ length: tokens.length }, (_, i) => seq.length + i);
    const r = this.forward([{ seq, row: 0, tokens, positions, mask: "causal" }], allLogits);
    seq.length += tokens.length;
    return r;
  }

  /**
   * Queue one forward over the rows of every group (each group's K/V go after its sequence's
   * committed positions); returns the logits tensor, not yet read.
   */
  private forward(groups: readonly Group[], allLogits: boolean): QueuedForward {
    if (this.freed) throw new OutOfRangeError("the model was freed");
    const c = this.config;
    const be = this.backend;
    const tokens = groups.length === 1 ? groups[0].tokens : groups.flatMap((g) => g.tokens);
    const positions = groups.length === 1 ? groups[0].positions : groups.flatMap((g) => g.positions);
    const n = tokens.length;
    for (let i = 0; i < n; i++) {
      const t = tokens[i];
      if (!Number.isInteger(t) || t < 0 || t >= this.inputVocabSize)
        throw new OutOfRangeError(`token ${t} at index ${i} is outside the vocabulary [0, ${this.inputVocabSize})`);
    }
    for (const g of groups) {
      const end = g.seq.length + g.tokens.length;
      if (end > this.contextLength)
        throw new OutOfRangeError(`context is full: ${g.seq.length} + ${g.tokens.length} tokens exceed the context length ${this.contextLength}`);
    }
    for (const g of groups) g.seq.reserve(g.seq.length + g.tokens.length);
    const s = this.scratchFor(n, allLogits);
    const row = c.headDim * 4;
    const qRow = c.numHeads * c.headDim * 4;
    // per-group views of the query and output rows (the whole batch when there is one group)
    const parts = groups.map((g) =>
      groups.length === 1
        ? { g, q: s.q3, attn: s.attn }
        : {
            g,
            q: be.view(s.q, g.row * qRow, "f32", [g.tokens.length, c.numHeads, c.headDim]),
            attn: be.view(s.attn, g.row * qRow, "f32", [g.tokens.length, c.numHeads, c.headDim]),
          },
    );

    const rope = { invFreq: this.invFreq, style: c.ropeStyle, attentionFactor: this.attentionFactor };
    be.getRows(s.x, this.embed_tokens, tokens);
    for (let l = 0; l < this.layers.length; l++) {
      const L = this.layers[l];
      // attention
      be.rmsnorm(s.h, s.x, L.input_layernorm, c.rmsEps);
      be.matmulShared(
        [
          [s.q, L.q_proj],
          [s.k, L.k_proj],
          [s.v, L.v_proj],
        ],
        s.h,
      );
      if (L.q_bias && L.k_bias && L.v_bias) {
        be.add(s.q, s.q, L.q_bias);
        be.add(s.k, s.k, L.k_bias);
        be.add(s.v, s.v, L.v_bias);
      }
      be.rope(s.q3, positions, rope);
      be.rope(s.k3, positions, rope);
      for (const { g, q, attn } of parts) {
        const { seq } = g;
        const kCache = seq.kCache[l];
        const vCache = seq.vCache[l];
        // cache layout is [kvHead, slot, headDim]; the new rows arrive as [token, kvHead, headDim]
        const kvRow = this.kvRowBytes;
        for (let t = 0; t < g.tokens.length; t++) {
          for (let h = 0; h < c.numKvHeads; h++) {
            const src = ((g.row + t) * c.numKvHeads + h) * row;
            const dst = (h * seq.capacity + seq.length + t) * kvRow;
            const kSrc = be.view(s.k, src, "f32", [c.headDim]);
            const vSrc = be.view(s.v, src, "f32", [c.headDim]);
            if (this.kvCache === "f32") {
              be.copy(be.view(kCache, dst, "f32", [c.headDim]), kSrc);
              be.copy(be.view(vCache, dst, "f32", [c.headDim]), vSrc);
            } else {
              be.quantize(be.view(kCache, dst, "f16", [c.headDim]), kSrc);
              be.quantize(be.view(vCache, dst, "f16", [c.headDim]), vSrc);
            }
          }
        }
        be.attention(attn, q, kCache, vCache, { kvLen: seq.length + g.tokens.length, mask: g.mask });
      }
      be.matmul(s.o, L.o_proj, s.attn2);
      be.add(s.x, s.x, s.o);
      // feed-forward
      be.rmsnorm(s.h, s.x, L.post_attention_layernorm, c.rmsEps);
      be.matmulShared(
        [
          [s.gate, L.gate_proj],
          [s.up, L.up_proj],
        ],
        s.h,
      );
      be.swiglu(s.act, s.gate, s.up);
      be.matmul(s.o, L.down_proj, s.act);
      be.add(s.x, s.x, s.o);
    }
    if (s.all) {
      be.rmsnorm(s.h, s.x, this.norm, c.rmsEps);
      be.matmul(s.logits, this.lm_head, s.h);
    } else {
      const last = be.view(s.x, (n - 1) * c.hiddenSize * 4, "f32", [1, c.hiddenSize]);
      be.rmsnorm(s.lastH, last, this.norm, c.rmsEps);
      be.matmul(s.logits, this.lm_head, s.lastH);
    }
    return { logits: s.logits, rows: s.all ? n : 1 };
  }

  /**
   * Activations for n rows: views into one pool of buffers that grows (doubling) to the
   * largest batch seen, so verify trees of every size, decode steps and prefills share memory
   * and a new size costs a few views, not an allocation.
   */
  private scratchFor(n: number, all: boolean): Scratch {
    const hit = this.scratch.findIndex((s) => s.n === n && s.all === all);
    if (hit >= 0) return this.scratch[hit];
    const c = this.config;
    const be = this.backend;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const logitRows = all ? n : 1;
    if (!this.pool || this.pool.rows < n || this.pool.logitRows < logitRows) {
      const rows = Math.max(n, this.pool?.rows ?? 0, 8);
      const lrows = Math.max(logitRows, this.pool?.logitRows ?? 0);
      this.freeScratch();
      const buffers: Tensor[] = [];
      const make = (shape: number[]) => {
        const t = be.empty("f32", shape);
        buffers.push(t);
        return t;
      };
      const grow = (r: number) => 2 ** Math.ceil(Math.log2(r));
      const R = grow(rows);
      const LR = grow(lrows);
      this.pool = {
        rows: R,
        logitRows: LR,
        buffers,
        x: make([R, c.hiddenSize]),
        h: make([R, c.hiddenSize]),
        q: make([R, qDim]),
        k: make([R, kvDim]),
        v: make([R, kvDim]),
        attn: make([R, qDim]),
        o: make([R, c.hiddenSize]),
        gate: make([R, c.intermediateSize]),
        up: make([R, c.intermediateSize]),
        act: make([R, c.intermediateSize]),
        logits: make([LR, c.vocabSize]),
        lastH: make([1, c.hiddenSize]),
      };
    }
    const P = this.pool;
    const rows = (t: Tensor, shape: number[]) => be.view(t, 0, "f32", shape);
    const q = rows(P.q, [n, qDim]);
    const k = rows(P.k, [n, kvDim]);
    const attn = rows(P.attn, [n, c.numHeads, c.headDim]);
    const s: Scratch = {
      n,
      all,
      x: rows(P.x, [n, c.hiddenSize]),
      h: rows(P.h, [n, c.hiddenSize]),
      q,
      k,
      v: rows(P.v, [n, kvDim]),
      q3: rows(P.q, [n, c.numHeads, c.headDim]),
      k3: rows(P.k, [n, c.numKvHeads, c.headDim]),
      attn,
      attn2: rows(P.attn, [n, qDim]),
      o: rows(P.o, [n, c.hiddenSize]),
      gate: rows(P.gate, [n, c.intermediateSize]),
      up: rows(P.up, [n, c.intermediateSize]),
      act: rows(P.act, [n, c.intermediateSize]),
      logits: rows(P.logits, [logitRows, c.vocabSize]),
      lastH: P.lastH,
    };
    this.scratch.unshift(s);
    // views are cheap; keep the recent sizes
    if (this.scratch.length > 32) this.scratch.pop();
    return s;
  }

  private freeScratch(): void {
    if (this.pool) for (const t of this.pool.buffers) t.free();
    this.pool = null;
    this.scratch = [];
  }
}

/**
 * The rows of a head (any dtype), in the given order, as a new tensor of the same dtype.
 * Gathered and requantized on the backend (what fromF32 of the read rows gives, byte for
 * byte), so it also works where reads are async only.
 */
function trimHead(be: Backend, head: Tensor, rows: readonly number[]): Tensor {
  const shape = [rows.length, head.shape[1]];
  const f32 = be.empty("f32", shape);
  const out = head.dtype === "f32" ? f32 : be.empty(head.dtype, shape);
  try {
    be.getRows(f32, head, rows);
    if (out !== f32) be.quantize(out, f32);
    return out;
  } catch (e) {
    out.free();
    throw e;
  } finally {
    if (out !== f32) f32.free();
  }
}
