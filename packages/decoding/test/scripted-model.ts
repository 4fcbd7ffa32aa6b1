/**
 * A CausalLM that "predicts" a fixed script: after the prompt, the logits at position i peak
 * at script[i] (then at EOS). For testing what generate() does with tokens (streaming text,
 * stop strings, chat prompts) independently of any network's numbers.
 */
import type { CausalLM, ForwardOutput } from "../src/model";

export class ScriptedModel implements CausalLM {
  readonly config: { vocabSize: number; eosTokenIds: number[] };
  readonly contextLength: number;
  length = 0;
  /** every prefill's tokens, for checking prompts */
  readonly prefills: number[][] = [];
  private generated = 0;

  constructor(
    vocabSize: number,
    private readonly script: readonly number[],
    eos: number,
    contextLength = 4096,
  ) {
    this.config = { vocabSize, eosTokenIds: [eos] };
    this.contextLength = contextLength;
  }

  private next(): Float32Array {
    const logits = new Float32Array(this.config.vocabSize);
    const t = this.generated < this.script.length ? this.script[this.generated] : this.config.eosTokenIds[0];
    logits[t] = 20;
    return logits;
  }

  prefill(tokens: readonly number[]): ForwardOutput {
    this.prefills.push([...tokens]);
    this.length += tokens.length;
    this.generated = 0;
    return { logits: this.next(), rows: 1 };
  }

  step(_token: number): Float32Array {
    this.length++;
    this.generated++;
    return this.next();
  }

  rollback(n: number): void {
    this.length -= n;
  }

  reset(): void {
    this.length = 0;
  }
}
