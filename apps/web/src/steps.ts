/**
 * Which generated token each speculative step produced: a drafter wrapper records, for every
 * verify step, where its pending token sits, how many drafts were accepted and the draft tree
 * the drafter proposed (from the VerifiedStep the engine hands to `observe`); each step then
 * owns its accepted drafts and the engine's bonus token after them.
 */
import type { DraftContext, Drafter, DraftTree, VerifiedStep } from "@edgespec/decoding";

export interface StepRecord {
  /** index in the generated tokens of the step's pending token */
  pending: number;
  proposed: number;
  accepted: number;
  /** the verified tree: set by recordingDrafter */
  tree?: StepTree;
}

/** One verify step's draft tree: what was proposed, which path was accepted, the bonus token. */
export interface StepTree {
  /** the pending token the tree grows from */
  root: number;
  /** proposed tokens, parents first; parents[i] = -1: node i follows the root */
  tokens: number[];
  parents: number[];
  /** accepted node indices, root first (a path) */
  acceptedNodes: number[];
  /** the engine's own token after the accepted path */
  bonus: number;
}

export type TreeNodeRole = "root" | "accepted" | "rejected" | "bonus";

export interface TreeNode {
  /** index in the proposed tree; -1: the root, tokens.length: the bonus token */
  node: number;
  token: number;
  /** -2 for the root, -1 for children of the root */
  parent: number;
  depth: number;
  role: TreeNodeRole;
  children: TreeNode[];
}

/**
 * The step's tree for drawing: the root (pending token), every proposed node under its parent
 * (accepted on the accepted path, rejected otherwise) and the bonus token as a child of the
 * last accepted node (or of the root).
 */
export function draftTree(t: StepTree): TreeNode {
  const root: TreeNode = { node: -1, token: t.root, parent: -2, depth: 0, role: "root", children: [] };
  const nodes: TreeNode[] = [];
  const accepted = new Set(t.acceptedNodes);
  t.tokens.forEach((token, i) => {
    const p = t.parents[i];
    const parent = p < 0 ? root : nodes[p];
    if (!parent) throw new Error(`draft node ${i} names parent ${p}, which does not come before it`);
    const n: TreeNode = { node: i, token, parent: p, depth: parent.depth + 1, role: accepted.has(i) ? "accepted" : "rejected", children: [] };
    nodes.push(n);
    parent.children.push(n);
  });
  const last = t.acceptedNodes.length ? nodes[t.acceptedNodes[t.acceptedNodes.length - 1]] : root;
  last.children.push({ node: t.tokens.length, token: t.bonus, parent: last.node, depth: last.depth + 1, role: "bonus", children: [] });
  return root;
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
      const { context, tree, acceptedNodes, bonus } = step;
      onStep({
        pending: context.length - promptLength - 1,
        proposed: tree.tokens.length,
        accepted: acceptedNodes.length,
        tree: { root: context[context.length - 1], tokens: [...tree.tokens], parents: [...tree.parents], acceptedNodes: [...acceptedNodes], bonus },
      });
    },
    free() {
      inner.free?.();
    },
  };
}
