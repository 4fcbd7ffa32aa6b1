/**
 * Speculative decoding per request, an edgespec extension of OpenAI's body:
 * `"drafter": "lookup"` and optionally `"draft_budget": n`. Only drafters that need no file
 * are served: a client must never make the server open a path (`model:PATH` is refused), and
 * every drafter here reuses the loaded weights (early exit shares the target's layers).
 * Verification is coupled, so the text is the same with or without a drafter; only the
 * number of forwards changes.
 */
import { DecodingOptionsError, type Drafter, draftBudget, type SpeculativeStats, verifyCostCurve } from "@edgespec/decoding";
import { createDrafter } from "@edgespec/drafters";
import type { LlamaModel, Tokenizer } from "@edgespec/models";
import { HttpError } from "./errors";

export const SERVED_DRAFTERS = "none, lookup, recycling, aded, stand, early-exit:N, rsd, rsd:early-exit:N, dyspec, dyspec:early-exit:N";
/** the largest tree the cost curve measures; bigger trees cost activations and logits for every node */
export const MAX_DRAFT_BUDGET = 64;
/** used where the clock cannot measure the cost curve (see defaultDraftBudget) */
export const FALLBACK_DRAFT_BUDGET = 8;

const SPEC = /^(?:(none|lookup|recycling|aded|stand)|early-exit:(\d{1,4})|(rsd|dyspec)(?::early-exit:(\d{1,4}))?)$/;

export interface DrafterChoice {
  spec: string;
  /** layers of the draft model, for early-exit / rsd / dyspec */
  layers?: number;
}

/** The request's drafter, checked before a slot is taken; null for none. */
export function parseDrafter(spec: string | undefined, budget: number | undefined, where: string): DrafterChoice | null {
  const bad = (param: string, why: string): never => {
    throw new HttpError(400, `${where}: ${why}`, undefined, param, "invalid_value");
  };
  if (spec === undefined || spec === "none") {
    if (budget !== undefined) bad("draft_budget", `"draft_budget" needs a "drafter" (one of ${SERVED_DRAFTERS})`);
    return null;
  }
  if (spec.startsWith("model:") || /:model:/.test(spec))
    bad("drafter", `"drafter" ${JSON.stringify(spec)}: draft models from files are not served (a request may not name a path); use one of ${SERVED_DRAFTERS}`);
  const m = SPEC.exec(spec);
  if (!m) bad("drafter", `"drafter" ${JSON.stringify(spec)} is not a drafter this server runs; use one of ${SERVED_DRAFTERS}`);
  const match = m as RegExpExecArray;
  if (match[1]) return { spec };
  const layers = match[2] ?? match[4];
  if (layers === undefined) return { spec };
  const n = Number(layers);
  if (n < 1) bad("drafter", `"drafter" ${JSON.stringify(spec)}: early exit needs at least 1 layer`);
  return { spec, layers: n };
}

/** The drafter for one generation on `model` (the request's own derived model). */
export async function makeDrafter(choice: DrafterChoice, model: LlamaModel, tokenizer: Tokenizer, where: string): Promise<Drafter> {
  const n = model.config.numLayers;
  if (choice.layers !== undefined && choice.layers > n)
    throw new HttpError(
      400,
      `${where}: "drafter" ${JSON.stringify(choice.spec)}: early exit after ${choice.layers} layers, but the model has ${n}`,
      undefined,
      "drafter",
      "invalid_value",
    );
  try {
    const d = await createDrafter(choice.spec, { model, tokenizer });
    if (!d) throw new Error(`${choice.spec} made no drafter`);
    return d;
  } catch (e) {
    if (e instanceof DecodingOptionsError) throw new HttpError(400, `${where}: "drafter": ${e.message}`, undefined, "drafter", "invalid_value");
    throw e;
  }
}

const budgets = new WeakMap<LlamaModel, number>();

/**
 * The budget when a request names none, measured once per loaded model rather than per
 * request: the cost curve takes about 60 forwards, too many to repeat for every request of a
 * big model. It is measured on a throwaway derived model so the shared one keeps no cache.
 * Where the clock stands still during computation (Workers advance it only at I/O), every
 * size measures as free and the curve would pick the largest tree; a fixed budget is used
 * there instead. Explicit budgets run without the engine's back-off, which needs a curve per
 * generation; with coupled verification that changes only the speed, never the text.
 */
export function defaultDraftBudget(base: LlamaModel): number {
  let b = budgets.get(base);
  if (b === undefined) {
    const probe = base.derive({});
    try {
      const curve = verifyCostCurve(probe);
      b = curve.every((p) => p.ratio === 1) ? FALLBACK_DRAFT_BUDGET : draftBudget(probe);
    } finally {
      probe.free();
    }
    budgets.set(base, b);
  }
  return b;
}

/** What a response reports about speculation (cheap: counters the engine keeps anyway). */
export function speculativeReport(spec: string, s: SpeculativeStats | undefined): Record<string, number | string> | undefined {
  if (!s) return undefined;
  return { drafter: spec, budget: s.budget, steps: s.steps, proposed: s.proposed, accepted: s.accepted, mean_accepted: s.meanAccepted };
}
