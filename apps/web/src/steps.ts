/**
 * Which generated token each speculative step produced: a drafter wrapper records, for every
 * verify step, where its pending token sits and how many drafts were accepted; each step then
 * owns its accepted drafts and the engine's bonus token after them.
 */
import type { DraftContext, Drafter, DraftTree, VerifiedStep } from "@edgespec/decoding";

export interface StepRecord {
  /** index in the generated tokens of the step's pending token */
  pending: number;
  proposed: number;
  accepted: number;
}

export type TokenRole = { step: number; kind: "accepted" | "bonus" };

/** Roles of generated tokens: step s's accepted drafts are pending+1..pending+a, its bonus pending+a+1. */
export function tokenRoles(steps: readonly StepRecord[]): Map<number, TokenRole> {
  const roles = new Map<number, TokenRole>();
  steps.forEach((s, step) => {
    for (let i = 1; i <= s.accepted; i++) roles.set(s.pending + i, { step, kind: "accepted" });
    roles.set(s.pending + s.accepted + 1, { step, kind: "bonus" });
  });
  return roles;
}

/** A colour per step: golden-angle hues so neighbouring steps differ. */
export function stepHue(step: number): number {
  return Math.round((step * 137.508) % 360);
}

/** Wraps a drafter and reports each verified step as it happens. */
export function recordingDrafter(inner: Drafter, onStep: (s: StepRecord) => void): Drafter {
  let promptLength = 0;
  return {
    name: inner.name,
    vocabSize: inner.vocabSize,
    begin(promptIds: readonly number[]) {
      promptLength = promptIds.length;
      inner.begin(promptIds);
    },
    propose(ctx: DraftContext): DraftTree {
      return inner.propose(ctx);
    },
    observe(step: VerifiedStep) {
      inner.observe(step);
      onStep({ pending: step.context.length - promptLength - 1, proposed: step.tree.tokens.length, accepted: step.acceptedNodes.length });
    },
    free() {
      inner.free?.();
    },
  };
}
