/**
 * A small constrained decode loop for the constraint tests (independent of generate()):
 * greedy over the full mask, masked sampling or AWRS. Returns the tokens (EOS left out),
 * whether the constraint finished, and the text as the constraint reads it.
 */
import type { LoadedModel } from "@edgespec/models";
import { awrsSample, maskedSample, type TokenConstraint } from "../src/constrained/index";
import { seededRng } from "../src/rng";
import { argmax } from "../src/sampling";

export type Mode = "greedy" | "mask" | "awrs";

export function constrainedDecode(loaded: LoadedModel, c: TokenConstraint, prompt: string, mode: Mode, seed: number, maxTokens: number) {
  const { model, tokenizer } = loaded;
  const rng = seededRng(seed);
  model.reset();
  let logits = model.prefill([tokenizer.bosId ?? 1, ...tokenizer.encode(prompt)]).logits;
  let state = c.initial();
  const tokens: number[] = [];
  let finished = false;
  for (let i = 0; i < maxTokens && !finished; i++) {
    if (c.isFinished(state)) {
      finished = true;
      break;
    }
    let token: number;
    if (mode === "greedy") {
      const mask = c.mask(state);
      token = argmax(Float32Array.from(logits, (x, t) => (mask[t] ? x : Number.NEGATIVE_INFINITY)));
    } else token = (mode === "mask" ? maskedSample : awrsSample)(c, state, logits, rng).token;
    const next = c.advance(state, token);
    if (next === null) throw new Error(`token ${token} was drawn but is not allowed`);
    state = next;
    if (tokenizer.eosIds.includes(token)) finished = true;
    else {
      tokens.push(token);
      logits = model.step(token);
    }
  }
  return { tokens, finished: finished || c.isFinished(state), text: c.text(tokens) };
}
