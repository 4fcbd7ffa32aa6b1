/**
 * A regex or JSON Schema constraint over a tokenizer's vocabulary. States are plain numbers
 * (the byte DFA's state, or FINISHED after an EOS token), so a caller can keep one per beam or
 * particle and compare or cache them freely. The text the constraint sees is the
 * concatenation of the tokens' bytes (Tokenizer.tokenBytes): a SentencePiece "▁the" adds
 * " the", even as the first token, so read the output with `text()` rather than `decode()`,
 * which drops the leading space that SentencePiece prepends.
 */
import type { Tokenizer } from "@edgespec/models";
import { ConstraintError } from "../errors";
import { type ByteDfa, compileRegex } from "./dfa";
import { type JsonSchemaOptions, jsonSchemaToRegex } from "./json-schema";
import { Vocabulary } from "./vocabulary";

declare const stateBrand: unique symbol;
/** An immutable constraint state. */
export type ConstraintState = number & { readonly [stateBrand]: true };

/** After an EOS token: nothing more may follow. */
export const FINISHED = -1 as ConstraintState;

export interface ConstraintOptions {
  /** ids that end generation; default the tokenizer's eosIds */
  eosIds?: readonly number[];
  /** most cached masks, by bytes of mask (default 64 MiB) */
  maskCacheBytes?: number;
}

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

function describeBytes(bytes: readonly number[]): string {
  const shown = bytes.slice(0, 12).map((b) => (b >= 0x20 && b < 0x7f ? JSON.stringify(String.fromCharCode(b)) : `0x${b.toString(16).padStart(2, "0")}`));
  return shown.join(", ") + (bytes.length > 12 ? `, ... (${bytes.length} bytes)` : "");
}

/** The bytes outside `alphabet` that the texts written with `alphabet` can go on with. */
function stuckOn(dfa: ByteDfa, alphabet: Uint8Array): number[] {
  const seen = new Uint8Array(dfa.size);
  const missing = new Uint8Array(256);
  const queue = [dfa.start];
  seen[dfa.start] = 1;
  for (let q = 0; q < queue.length; q++) {
    for (let b = 0; b < 256; b++) {
      const t = dfa.step(queue[q], b);
      if (t < 0) continue;
      if (!alphabet[b]) missing[b] = 1;
      else if (!seen[t]) {
        seen[t] = 1;
        queue.push(t);
      }
    }
  }
  return [...missing.keys()].filter((b) => missing[b]);
}

export class TokenConstraint {
  readonly vocabSize: number;
  /** the regex the automaton was built from (for a JSON Schema: the generated one) */
  readonly pattern: string;
  /**
   * Token checks so far: one per allows(), vocabSize per mask() that was not cached. The
   * construction-time check that some first token exists (a trie walk that stops at the
   * first hit) is not counted.
   */
  checks = 0;
  private readonly masks = new Map<number, Uint8Array>();
  private readonly maxMasks: number;

  /** the pattern's automaton restricted to the bytes this vocabulary can write */
  readonly dfa: ByteDfa;

  constructor(
    dfa: ByteDfa,
    readonly vocab: Vocabulary,
    pattern: string,
    opts: ConstraintOptions = {},
  ) {
    this.vocabSize = vocab.size;
    this.pattern = pattern;
    const alphabet = vocab.alphabet();
    const restricted = dfa.restrict(alphabet);
    if (!restricted) {
      throw new ConstraintError(
        `no text that this vocabulary can write matches the constraint: it gets stuck needing one of ${describeBytes(stuckOn(dfa, alphabet))}, which no token contains`,
      );
    }
    this.dfa = restricted;
    this.maxMasks = Math.max(1, Math.floor((opts.maskCacheBytes ?? 64 << 20) / Math.max(1, vocab.size)));
    // checked once here so that a vocabulary that cannot even start fails before decoding
    const start = restricted.start;
    if (!vocab.anyAllowed(restricted, start) && !(restricted.isAccepting(start) && vocab.isEos.includes(1))) {
      throw new ConstraintError(`no token of this vocabulary can start the constrained text: ${this.needs(start)}`);
    }
  }

  static regex(pattern: string, tokenizer: Tokenizer, opts: ConstraintOptions = {}): TokenConstraint {
    const dfa = compileRegex(pattern);
    return new TokenConstraint(dfa, Vocabulary.fromTokenizer(tokenizer, opts.eosIds ?? tokenizer.eosIds), pattern, opts);
  }

  /** `schema`: a JSON Schema object, or its JSON text. */
  static jsonSchema(schema: unknown, tokenizer: Tokenizer, opts: ConstraintOptions & JsonSchemaOptions = {}): TokenConstraint {
    const pattern = jsonSchemaToRegex(schema, opts);
    let dfa: ByteDfa;
    try {
      dfa = compileRegex(pattern);
    } catch (e) {
      if (e instanceof ConstraintError) throw new ConstraintError(`JSON Schema: ${e.message}`);
      throw e;
    }
    return new TokenConstraint(dfa, Vocabulary.fromTokenizer(tokenizer, opts.eosIds ?? tokenizer.eosIds), pattern, opts);
  }

  initial(): ConstraintState {
    return this.dfa.start as ConstraintState;
  }

  /** The state after `token`, or null if the constraint does not allow it (an EOS id is allowed exactly when accepting). */
  advance(state: ConstraintState, token: number): ConstraintState | null {
    this.checkToken(token);
    if (state === FINISHED) return null;
    if (this.vocab.isEos[token]) return this.dfa.isAccepting(state) ? FINISHED : null;
    const b = this.vocab.tokenBytes(token);
    if (!b || b.length === 0) return null;
    const next = this.dfa.walk(state, b);
    return next < 0 ? null : (next as ConstraintState);
  }

  /** One lazy check (AWRS): is `token` allowed in `state`? */
  allows(state: ConstraintState, token: number): boolean {
    this.checks++;
    return this.advance(state, token) !== null;
  }

  /**
   * Every allowed token as 1, EOS ids included iff accepting; cached per state (do not modify
   * the array). A state that allows nothing is a dead end for this vocabulary: ConstraintError.
   */
  mask(state: ConstraintState): Uint8Array {
    const cached = this.masks.get(state);
    if (cached) return cached;
    this.checks += this.vocabSize;
    const m = new Uint8Array(this.vocabSize);
    let count = 0;
    if (state !== FINISHED) {
      count = this.vocab.allowed(this.dfa, state, m);
      if (this.dfa.isAccepting(state)) {
        for (let id = 0; id < this.vocabSize; id++) {
          if (this.vocab.isEos[id]) {
            m[id] = 1;
            count++;
          }
        }
      }
    }
    if (count === 0) throw this.deadEnd(state);
    if (this.masks.size >= this.maxMasks) this.masks.delete(this.masks.keys().next().value as number);
    this.masks.set(state, m);
    return m;
  }

  /** The text so far is a complete match: EOS may come now. */
  isAccepting(state: ConstraintState): boolean {
    return state === FINISHED || this.dfa.isAccepting(state);
  }

  /** Generation must stop: EOS was taken, or the match is complete and no byte may follow. */
  isFinished(state: ConstraintState): boolean {
    return state === FINISHED || (this.dfa.isAccepting(state) && !this.dfa.hasTransitions(state));
  }

  /** The text of a token sequence as the constraint reads it (EOS ids add nothing). */
  text(tokens: readonly number[]): string {
    const parts: Uint8Array[] = [];
    let n = 0;
    for (const t of tokens) {
      this.checkToken(t);
      const b = this.vocab.isEos[t] ? null : this.vocab.tokenBytes(t);
      if (b) {
        parts.push(b);
        n += b.length;
      }
    }
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return decoder.decode(out);
  }

  /** A state in words, for messages: a shortest text that leads to it. */
  describe(state: ConstraintState): string {
    if (state === FINISHED) return "the end (EOS)";
    return `the text ${JSON.stringify(decoder.decode(this.dfa.example(state)))} (automaton state ${state})`;
  }

  /** The error for a state from which no token can go on. */
  deadEnd(state: ConstraintState): ConstraintError {
    if (state === FINISHED) return new ConstraintError("the constraint is finished (EOS was generated): no token may follow");
    const eos = this.dfa.isAccepting(state) ? " (the text is a complete match, but no EOS id was given)" : "";
    return new ConstraintError(`no token of this vocabulary can continue ${this.describe(state)}${eos}: ${this.needs(state)}`);
  }

  private needs(state: number): string {
    const next = this.dfa.nextBytes(state);
    return next.length === 0 ? "the match is complete and nothing may follow" : `the next byte must be one of ${describeBytes(next)}`;
  }

  private checkToken(token: number): void {
    if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize)
      throw new ConstraintError(`token id ${token} is outside the vocabulary (0..${this.vocabSize - 1})`);
  }
}
