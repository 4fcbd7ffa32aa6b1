/**
 * Drawing one constrained token from logits (temperature and other processors already
 * applied), two ways with the same target, the model's distribution p restricted to the
 * allowed set A and renormalised:
 *
 * maskedSample checks the whole vocabulary (one cached mask per automaton state).
 *
 * awrsSample is Adaptive Weighted Rejection Sampling (Lipkin et al. 2025, "Fast Controlled
 * Generation from Language Models with Adaptive Weighted Rejection Sampling"): draw from p,
 * check only the drawn token, and on a rejection remove it and draw again from what is left
 * (sampling without replacement: a few inverse-CDF draws, then a lazy Gumbel-top-k order). The first accepted token is an exact draw from p restricted
 * to A. Its weight is the paper's recursive estimate of the allowed mass Z = p(A): with R the
 * mass rejected so far and x accepted, draw one more token y from what is left without x; the
 * weight is (1 - R) when y is allowed too and p(x) when it is not (1 - R when x was the
 * only token left). An optional cap on rejections switches to the full mask, whose exact Z
 * keeps the weights proper. E[weight * f(x)] = sum over A of p(a) f(a), so the weight is an unbiased
 * estimate of Z and the pair is properly weighted for sequential Monte Carlo; maskedSample's
 * weight is Z itself. Tokens that no state can allow (special ids without text) are removed
 * before drawing, without checks.
 */
import { ConstraintError, DecodingOptionsError } from "../errors";
import type { Rng } from "../rng";
import { logSoftmax, sampleProbs } from "../sampling";
import { type ConstraintState, FINISHED, type TokenConstraint } from "./constraint";
import { GumbelOrder } from "./gumbel-order";

export interface ConstrainedDraw {
  token: number;
  /** log of the importance weight: log p(A) (masked) or its unbiased estimate (AWRS) */
  logWeight: number;
  /** token checks this draw performed */
  checks: number;
}

function checkLogits(c: TokenConstraint, logits: ArrayLike<number>): void {
  if (logits.length !== c.vocabSize) throw new DecodingOptionsError(`logits have ${logits.length} entries but the constraint's vocabulary has ${c.vocabSize}`);
}

function noMass(c: TokenConstraint, state: ConstraintState): ConstraintError {
  return new ConstraintError(`every token the constraint allows after ${c.describe(state)} has probability 0 under these logits`);
}

export function maskedSample(c: TokenConstraint, state: ConstraintState, logits: ArrayLike<number>, rng: Rng): ConstrainedDraw {
  checkLogits(c, logits);
  const before = c.checks;
  const mask = c.mask(state);
  const logp = logSoftmax(logits);
  const p = new Float64Array(logits.length);
  let z = 0;
  for (let i = 0; i < p.length; i++) {
    if (mask[i]) {
      p[i] = Math.exp(logp[i]);
      z += p[i];
    }
  }
  if (!(z > 0)) throw noMass(c, state);
  const token = sampleProbs(p, rng);
  return { token, logWeight: Math.log(z), checks: c.checks - before };
}

/** Draws by inverse CDF before the sampler switches to a Gumbel order (cheaper per draw, dearer to set up). */
const CDF_DRAWS = 4;

/**
 * The next token of a without-replacement draw from p (`left`, with rejected entries zeroed):
 * the first few by one inverse-CDF scan each, then from a Gumbel order over what is left.
 */
class WithoutReplacement {
  private order: GumbelOrder | undefined;
  private draws = 0;
  private total: number;

  constructor(
    private readonly left: Float64Array,
    private readonly logp: Float64Array,
    private readonly rng: Rng,
  ) {
    this.total = sum(left, -1);
  }

  next(): number {
    if (this.order) return this.order.next();
    if (this.draws++ >= CDF_DRAWS) {
      this.order = new GumbelOrder(this.logp, (i) => this.left[i] > 0, this.rng);
      return this.order.next();
    }
    return cdfDraw(this.left, -1, this.total, this.rng);
  }

  /** Takes a rejected token out. */
  remove(x: number): void {
    this.total -= this.left[x];
    this.left[x] = 0;
    // a running difference loses precision once most of the mass is gone
    if (this.total < 1e-6) this.total = sum(this.left, -1);
  }

  /** The token after `x` (accepted, not removed) in the same without-replacement draw, or -1. */
  after(x: number): number {
    if (this.order) return this.order.next();
    return cdfDraw(this.left, x, sum(this.left, x), this.rng);
  }
}

/** A draw from w without `skip`, whose other entries sum to `total`, with one uniform; -1 when nothing has mass. */
function cdfDraw(w: Float64Array, skip: number, total: number, rng: Rng): number {
  if (!(total > 0)) return -1;
  let u = rng() * total;
  let last = -1;
  for (let i = 0; i < w.length; i++) {
    if (i === skip || w[i] <= 0) continue;
    last = i;
    u -= w[i];
    if (u < 0) return i;
  }
  // rounding left u a hair above 0
  return last;
}

function sum(w: Float64Array, skip: number): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) if (i !== skip) s += w[i];
  return s;
}

export interface AwrsOptions {
  /**
   * After this many rejections, take the full mask of the state (counted as vocabulary-size
   * checks unless cached) and draw exactly; the weight is then Z itself. Caps the work where
   * the model and the constraint disagree. Default Infinity: pure AWRS.
   */
  maxRejections?: number;
}

export function awrsSample(c: TokenConstraint, state: ConstraintState, logits: ArrayLike<number>, rng: Rng, opts: AwrsOptions = {}): ConstrainedDraw {
  checkLogits(c, logits);
  if (state === FINISHED) throw c.deadEnd(state);
  const maxRejections = opts.maxRejections ?? Number.POSITIVE_INFINITY;
  if (!(maxRejections >= 0)) throw new DecodingOptionsError(`maxRejections must be >= 0, got ${maxRejections}`);
  const before = c.checks;
  const logp = logSoftmax(logits);
  // what is left to draw from: p on the tokens that some state may allow
  const left = new Float64Array(logp.length);
  const candidate = c.vocab.candidate;
  for (let i = 0; i < left.length; i++) if (candidate[i]) left[i] = Math.exp(logp[i]);
  const draws = new WithoutReplacement(left, logp, rng);
  for (let rejections = 0; ; rejections++) {
    if (rejections >= maxRejections) {
      const draw = maskedSample(c, state, logits, rng);
      return { ...draw, checks: c.checks - before };
    }
    const x = draws.next();
    if (x < 0) {
      // every token with mass was rejected: a dead end (mask throws naming it) or no allowed mass
      c.mask(state);
      throw noMass(c, state);
    }
    if (!c.allows(state, x)) {
      draws.remove(x);
      continue;
    }
    // the mass not rejected, summed afresh in float64 rather than carried as a difference
    const remaining = sum(left, -1);
    const y = draws.after(x);
    const logWeight = y < 0 || c.allows(state, y) ? Math.log(remaining) : logp[x];
    return { token: x, logWeight, checks: c.checks - before };
  }
}
