/**
 * The draft tree of one verify step: the pending token as the root, the drafter's proposed
 * nodes under their parents (accepted path nodes in the step's colour, rejected ones struck
 * through in red) and the engine's bonus token after the accepted path (grey, underlined in the
 * step's colour, as in the output). A slider picks the step (it follows the latest while
 * generating); clicking a coloured token of the output shows its step, whose tokens in the
 * output are then outlined.
 */
import type { LoadedModel } from "@edgespec/models";
import { draftTree, type StepRecord, stepHue, type TreeNode } from "./steps";

type Tokenizer = LoadedModel["tokenizer"];

const utf8 = new TextDecoder();
const ROLE_CLASS = { root: "root", accepted: "acc", rejected: "rej", bonus: "bonus" } as const;

/** A token as it reads in the text (its exact bytes where the tokenizer has them), blanks made visible. */
export function tokenLabel(tokenizer: Tokenizer, id: number): string {
  const bytes = tokenizer.tokenBytes?.(id);
  const text = bytes ? utf8.decode(bytes) : tokenizer.decode([id], { skipSpecial: false });
  const shown = text.replace(/ /g, "␣").replace(/\n/g, "⏎").replace(/\t/g, "⇥");
  return shown === "" ? `⟨${id}⟩` : shown;
}

export interface TreeViewElements {
  box: HTMLElement;
  slider: HTMLInputElement;
  caption: HTMLElement;
  tree: HTMLElement;
  /** the output whose tokens carry data-step: the shown step's get the class "sel" */
  output?: HTMLElement;
}

export class TreeView {
  private steps: StepRecord[] = [];
  private follow = true;
  private tokenizer: Tokenizer | undefined;

  constructor(private readonly el: TreeViewElements) {
    el.slider.addEventListener("input", () => {
      const i = Number(el.slider.value);
      this.follow = i === this.steps.length - 1;
      this.show(i);
    });
  }

  /** A new generation: no steps yet (the view stays hidden until the first one). */
  reset(tokenizer: Tokenizer): void {
    this.tokenizer = tokenizer;
    this.steps = [];
    this.follow = true;
    this.el.box.hidden = true;
    this.el.tree.replaceChildren();
    this.el.caption.textContent = "";
    delete this.el.tree.dataset.step;
  }

  /** A verified step: shown at once while the slider follows the latest step. */
  push(step: StepRecord): void {
    this.steps.push(step);
    this.el.box.hidden = false;
    this.el.slider.max = String(this.steps.length - 1);
    if (this.follow) this.select(this.steps.length - 1);
  }

  select(i: number): void {
    if (i < 0 || i >= this.steps.length) return;
    this.follow = i === this.steps.length - 1;
    this.el.slider.value = String(i);
    this.show(i);
  }

  private show(i: number): void {
    const s = this.steps[i];
    const tokenizer = this.tokenizer;
    if (!s?.tree || !tokenizer) return;
    const label = (id: number) => tokenLabel(tokenizer, id);
    const hue = String(stepHue(i));
    const t = this.el.tree;
    t.dataset.step = String(i);
    t.dataset.proposed = String(s.proposed);
    t.dataset.accepted = String(s.accepted);
    t.style.setProperty("--hue", hue);
    this.el.caption.textContent =
      `step ${i + 1} of ${this.steps.length}: ${s.proposed} proposed, ${s.accepted} accepted, bonus ${label(s.tree.bonus)}` +
      (s.proposed === 0 ? " (no drafts this step)" : "");
    const node = (n: TreeNode): HTMLLIElement => {
      const li = document.createElement("li");
      const span = document.createElement("span");
      span.className = `tree-node ${ROLE_CLASS[n.role]}`;
      span.textContent = label(n.token);
      span.title = `${n.role} · token ${n.token}${n.role === "accepted" || n.role === "rejected" ? ` · node ${n.node}, parent ${n.parent}` : ""}`;
      span.dataset.token = String(n.token);
      span.dataset.role = n.role;
      if (n.role === "accepted" || n.role === "rejected") {
        span.dataset.node = String(n.node);
        span.dataset.parent = String(n.parent);
      }
      li.append(span);
      if (n.children.length) {
        const ul = document.createElement("ul");
        // the accepted branch first, then the bonus, then the rejected ones
        const order = { root: 0, accepted: 0, bonus: 1, rejected: 2 };
        for (const c of [...n.children].sort((a, b) => order[a.role] - order[b.role] || a.node - b.node)) ul.append(node(c));
        li.append(ul);
      }
      return li;
    };
    const ul = document.createElement("ul");
    ul.className = "tree";
    ul.append(node(draftTree(s.tree)));
    t.replaceChildren(ul);
    for (const e of this.el.output?.querySelectorAll(".tok.sel") ?? []) e.classList.remove("sel");
    for (const e of this.el.output?.querySelectorAll(`.tok[data-step="${i}"]`) ?? []) e.classList.add("sel");
  }
}
