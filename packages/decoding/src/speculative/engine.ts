/**
 * The speculative decoding cycle: draft → verify(tree) → accept → commit.
 *
 *   tree  = pending token (row 0) + the drafter's guesses below it
 *   rows  = model.verify(tree)            one forward for every node
 *   walk  from the root: pick the target's token at the node (greedy: argmax; sampling:
 *         the keyed Gumbel-max draw plain sampling takes (coupled), or acceptance.ts's
 *         rejection rules against the node's children); a matching child is accepted and
 *         the walk moves to it; otherwise the picked token is the bonus
 *   commit(root + accepted path); the bonus becomes the next pending token
 *
 * Greedy output is token for token plain greedy decoding; coupled sampled output is token for
 * token plain sampling with the same seed; with the rejection rules it has exactly the
 * distribution of plain sampling with the same processors.
 */
import { DecodingOptionsError } from "../errors";
import { type ForwardOutput, forwardsOf, type TreeVerifyingLM } from "../model";
import { applyProcessors, type LogitsProcessor } from "../processors";
import type { Rng } from "../rng";
import { argmax, gumbelSample, logSumExp, softmax } from "../sampling";
import { acceptChild } from "./acceptance";
import type { CostPoint } from "./budget";
import type { Drafter, DraftTree } from "./drafter";

export interface StepStats {
  /** draft nodes proposed */
  proposed: number;
  /** draft tokens accepted (the bonus token not counted) */
  accepted: number;
  draftMs: number;
  verifyMs: number;
}

export interface SpeculativeStats {
  /** verify forwards */
  steps: number;
  proposed: number;
  accepted: number;
  /** tokens per verify step, the bonus included (Spec-Bench's mean accepted tokens, MAT) */
  meanAccepted: number;
  draftMs: number;
  verifyMs: number;
  /** the node budget used */
  budget: number;
  perStep: StepStats[];
}

/** A drafted tree, ready for verify: the pending token as row 0, then the drafter's nodes. */
interface Drafted {
  tree: DraftTree;
  tokens: number[];
  parents: number[];
  /** when drafting began and ended (performance.now) */
  t0: number;
  t1: number;
}

export interface Produced {
  token: number;
  /** log-probability under the model before processors */
  logprob: number;
}

interface EngineOptions {
  /** most draft nodes per step */
  budget: number;
  /**
   * verify(n) ÷ step() (budget.ts). With it the engine backs off: while speculation costs
   * more than it gains on this machine (a running mean of (accepted + 1) ÷ verify cost in
   * steps, times the share of the step's time spent verifying rather than drafting, below 0.9), it decodes without drafts for a while (8 steps, doubling up to 256 while
   * probes keep failing), then tries again.
   */
  costCurve?: readonly CostPoint[];
  greedy: boolean;
  /** before truncation: steering, penalties, bias, masks, temperature */
  processors: readonly LogitsProcessor[];
  /** truncation samplers */
  warpers: readonly LogitsProcessor[];
  /** drafters' sampling, and the rejection rules of acceptance.ts */
  rng: Rng;
  /**
   * Coupled verification (generate's default): the token at each position is the keyed
   * Gumbel-max draw of sampling.ts, the one plain sampling with this seed takes, and a child is
   * accepted exactly when it is that token. Lossless, and the text does not depend on the
   * drafter, the budget or timing. Without it, the rejection rules of acceptance.ts (Leviathan,
   * SpecInfer, RSD) decide, with `rng`.
   */
  coupledSeed?: number;
}

export class SpeculativeEngine {
  readonly perStep: StepStats[] = [];
  /** running mean of (accepted + 1) ÷ verify cost in steps: above 1, speculation pays */
  private gain = 1;
  /** steps left without drafts, and the length of the next such pause */
  private pause = 0;
  private nextPause = 8;

  constructor(
    private readonly model: TreeVerifyingLM,
    private readonly drafter: Drafter,
    private readonly opts: EngineOptions,
  ) {
    checkDrafterVocabulary(drafter, model.config.vocabSize);
  }

  /**
   * One cycle after `context` (prompt, generated, and last the pending token, which is not
   * in the model's cache yet). Returns the accepted draft tokens and the bonus token.
   */
  step(context: readonly number[]): Produced[] {
    const d = this.draft(context);
    return this.accept(context, d, this.model.verify(d.tokens, d.parents));
  }

  /** step() for any model: verifyAsync where the model cannot read synchronously (WebGPU), else verify. */
  async stepAsync(context: readonly number[]): Promise<Produced[]> {
    const d = this.draft(context);
    return this.accept(context, d, await forwardsOf(this.model).verify(d.tokens, d.parents));
  }

  private draft(context: readonly number[]): Drafted {
    const { model, drafter, opts } = this;
    const vocab = model.config.vocabSize;
    const pending = context[context.length - 1];
    // room: the tree after the pending token, and one slot for the next pending token
    const room = model.contextLength - model.length - 2;
    const paused = this.pause > 0;
    if (paused) this.pause--;
    const budget = paused ? 0 : Math.max(0, Math.min(opts.budget, room));
    const t0 = performance.now();
    const tree = budget > 0 ? drafter.propose({ tokens: context, budget, rng: opts.rng, sampling: !opts.greedy, noiseSeed: opts.coupledSeed }) : emptyTree();
    checkTree(tree, budget, vocab, drafter.name, !opts.greedy);
    return { tree, tokens: [pending, ...tree.tokens], parents: [-1, ...tree.parents.map((p) => p + 1)], t0, t1: performance.now() };
  }

  /** Walk the verified tree from the root, commit the accepted path, tell the drafter. */
  private accept(context: readonly number[], { tree, t0, t1 }: Drafted, out: ForwardOutput): Produced[] {
    const { model, drafter, opts } = this;
    const vocab = model.config.vocabSize;
    const t2 = performance.now();
    const n = tree.tokens.length;

    const children: number[][] = Array.from({ length: n + 1 }, () => []);
    for (const [i, p] of tree.parents.entries()) children[p + 1].push(i + 1);
    const produced: Produced[] = [];
    const path = [0];
    const pathTokens: number[] = [];
    let node = 0;
    for (;;) {
      const row = out.logits.subarray(node * vocab, (node + 1) * vocab);
      const lse = logSumExp(row);
      const work = row.slice();
      const ctx = pathTokens.length ? [...context, ...pathTokens] : context;
      applyProcessors(opts.processors, work, ctx);
      const kids = children[node];
      const kidTokens = kids.map((c) => tree.tokens[c - 1]);
      let next = -1;
      let token: number;
      if (opts.greedy) {
        token = argmax(work);
        next = kidTokens.indexOf(token);
      } else {
        applyProcessors(opts.warpers, work, ctx);
        if (opts.coupledSeed !== undefined) {
          token = gumbelSample(work, opts.coupledSeed, ctx.length);
          next = kidTokens.indexOf(token);
        } else {
          const p = softmax(work);
          const q = kids.length && tree.mode !== "deterministic" && tree.childDist ? tree.childDist(node - 1) : null;
          const a = acceptChild(p, kidTokens, tree.mode, q, opts.rng);
          next = a.accepted;
          token = a.token;
        }
      }
      produced.push({ token, logprob: row[token] - lse });
      if (next < 0) break;
      node = kids[next];
      path.push(node);
      pathTokens.push(token);
    }
    model.commit(path);
    const stats: StepStats = { proposed: n, accepted: path.length - 1, draftMs: t1 - t0, verifyMs: t2 - t1 };
    this.perStep.push(stats);
    // tokens this step gave ÷ steps its verify cost, scaled down by the time drafting took
    if (opts.costCurve && n > 0) this.adapt(((path.length / costOf(opts.costCurve, n + 1)) * (t2 - t1)) / Math.max(t2 - t0, 1e-9));
    drafter.observe({
      context,
      tree,
      acceptedNodes: path.slice(1).map((i) => i - 1),
      bonus: produced[produced.length - 1].token,
      logits: out.logits,
      vocabSize: vocab,
    });
    return produced;
  }

  /** Back off while speculating costs more than it gains; probe again after a doubling pause. */
  private adapt(stepGain: number): void {
    this.gain = 0.7 * this.gain + 0.3 * stepGain;
    // a little hysteresis: one rejected draft after a good run is not yet a reason to stop
    if (this.gain >= 0.9) {
      this.nextPause = 8;
      return;
    }
    this.pause = this.nextPause;
    this.nextPause = Math.min(this.nextPause * 2, 256);
    // the probe after the pause starts from neutral
    this.gain = 1;
  }

  stats(): SpeculativeStats {
    const s = this.perStep;
    const sum = (f: (x: StepStats) => number) => s.reduce((a, x) => a + f(x), 0);
    const accepted = sum((x) => x.accepted);
    return {
      steps: s.length,
      proposed: sum((x) => x.proposed),
      accepted,
      meanAccepted: s.length ? (accepted + s.length) / s.length : 0,
      draftMs: sum((x) => x.draftMs),
      verifyMs: sum((x) => x.verifyMs),
      budget: this.opts.budget,
      perStep: s,
    };
  }
}

/** verify cost in steps of `rows` rows, interpolated on the measured curve. */
function costOf(curve: readonly CostPoint[], rows: number): number {
  let lo = curve[0];
  for (const p of curve) {
    if (p.nodes === rows) return p.ratio;
    if (p.nodes > rows) return lo.nodes >= rows ? p.ratio : lo.ratio + ((p.ratio - lo.ratio) * (rows - lo.nodes)) / (p.nodes - lo.nodes);
    lo = p;
  }
  // beyond the curve: linear in rows from its last point
  return (lo.ratio * rows) / lo.nodes;
}

/** A drafter must propose ids of the model's vocabulary (a transplanted drafter is mapped before it gets here). */
export function checkDrafterVocabulary(drafter: Drafter, vocab: number): void {
  if (drafter.vocabSize !== vocab)
    throw new DecodingOptionsError(`drafter ${drafter.name} proposes ids of a ${drafter.vocabSize}-token vocabulary; the model has ${vocab}`);
}

function emptyTree(): DraftTree {
  return { tokens: [], parents: [], mode: "deterministic" };
}

/** A drafter's tree must be one the rules above can verify; a bad one is a drafter bug, named as such. */
function checkTree(tree: DraftTree, budget: number, vocab: number, name: string, sampling: boolean): void {
  const bad = (why: string): never => {
    throw new DecodingOptionsError(`drafter ${name} proposed a bad tree: ${why}`);
  };
  const { tokens, parents, mode } = tree;
  if (!Array.isArray(tokens) || !Array.isArray(parents) || tokens.length !== parents.length) bad("tokens and parents must be arrays of the same length");
  if (tokens.length > budget) bad(`${tokens.length} nodes exceed the budget of ${budget}`);
  if (mode !== "deterministic" && mode !== "iid" && mode !== "without-replacement") bad(`unknown mode ${JSON.stringify(mode)}`);
  if (sampling && mode !== "deterministic" && typeof tree.childDist !== "function") bad(`mode ${mode} needs childDist`);
  const seen = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const p = parents[i];
    if (!Number.isInteger(t) || t < 0 || t >= vocab) bad(`node ${i} has token ${t}, outside [0, ${vocab})`);
    if (!Number.isInteger(p) || p < -1 || p >= i) bad(`node ${i} has parent ${p}; parents come first`);
    // i.i.d. draws may repeat a token; the other rules need distinct siblings
    if (mode !== "iid") {
      const key = `${p}:${t}`;
      if (seen.has(key)) bad(`node ${i} repeats token ${t} under the same parent`);
      seen.add(key);
    }
  }
}
