/** Anchors: tokens two vocabularies share, matched by meaning across tokenizer families. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BpeTokenizer, HfTokenizer, LLAMA3_TIKTOKEN, SpmTokenizer, TokenizerError, TokenType } from "@edgespec/models";
import { describe, expect, it } from "vitest";
import { matchVocabularies, normalizedVocabulary } from "../src/index";
import { realCheckpoint, sharedDir } from "./helpers";

async function mistral(): Promise<HfTokenizer> {
  const dir = sharedDir("tokenizers", "mistral-minueza");
  return new HfTokenizer(JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8")), {
    bos_token: "<s>",
    eos_token: "</s>",
    unk_token: "<unk>",
  });
}

async function llama3(): Promise<BpeTokenizer> {
  return BpeTokenizer.fromTiktoken(await readFile(sharedDir("tokenizers", "llama3", "tokenizer.model")), LLAMA3_TIKTOKEN);
}

/** A small SentencePiece vocabulary of the given pieces after <unk>, <s>, </s>. */
function spm(pieces: string[]): SpmTokenizer {
  const all = ["<unk>", "<s>", "</s>", ...pieces];
  return new SpmTokenizer({
    pieces: all,
    scores: all.map((_, i) => -i),
    types: all.map((_, i) => (i === 0 ? TokenType.UNKNOWN : i < 3 ? TokenType.CONTROL : TokenType.NORMAL)),
    bosId: 1,
    eosIds: [2],
    unkId: 0,
    addBos: true,
    addSpacePrefix: true,
  });
}

describe("normalized vocabularies", () => {
  it("matches SentencePiece ▁ words with byte-level Ġ words, byte tokens with single bytes, and specials by role", async () => {
    const [m, l] = [await mistral(), await llama3()];
    const match = matchVocabularies(m, l);
    const llamaId = (text: string) => {
      const ids = l.encode(text);
      expect(ids).toHaveLength(1);
      return ids[0];
    };
    const mistralPiece = (piece: string) => {
      const id = Array.from({ length: m.vocabSize }, (_, i) => i).find((i) => m.token(i) === piece);
      expect(id, piece).toBeDefined();
      return id as number;
    };
    // " the": "Ġthe" in Llama 3, "▁the" in Mistral
    expect(match.donorToBase[llamaId(" the")]).toBe(mistralPiece("▁the"));
    // "\n": Llama 3's "Ċ" is Mistral's byte-fallback token <0x0A>
    expect(match.donorToBase[llamaId("\n")]).toBe(mistralPiece("<0x0A>"));
    // BOS by role: <|begin_of_text|> is <s>
    expect(l.bosId).not.toBeNull();
    expect(match.donorToBase[l.bosId as number]).toBe(m.bosId);
    // and most of Mistral's 32000 tokens have a twin among Llama 3's 128K
    expect(match.anchors.length).toBeGreaterThan(20000);
    expect(match.anchors.length + match.unmatched.length).toBeLessThanOrEqual(l.vocabSize);
  });

  it("the real models' vocabularies: every anchor decodes to the same text on both sides", async () => {
    for (const [b, d] of [
      ["stories260k", "tinystories"],
      ["tinystories", "stories260k"],
      ["aidreams", "tinystories"],
    ] as const) {
      const base = (await realCheckpoint(b)).tokenizer;
      const donor = (await realCheckpoint(d)).tokenizer;
      const match = matchVocabularies(base, donor);
      expect(match.anchors.length).toBeGreaterThan(100);
      for (const id of match.anchors) {
        const bytesD = donor.tokenBytes?.(id);
        const bytesB = base.tokenBytes?.(match.donorToBase[id]);
        if (bytesD && bytesB) expect(Buffer.from(bytesB).equals(Buffer.from(bytesD)), `donor ${id}`).toBe(true);
      }
      // every donor token is an anchor or to be approximated, never both
      const seen = new Set([...match.anchors, ...match.unmatched]);
      expect(seen.size).toBe(match.anchors.length + match.unmatched.length);
    }
  });

  it("refuses vocabularies that share nothing but special tokens", () => {
    expect(() => matchVocabularies(spm(["a", "b", "c"]), spm(["x", "y", "z"]))).toThrow(/share no token beyond special ones/);
    // one shared piece is enough
    expect(matchVocabularies(spm(["a", "b", "c"]), spm(["x", "b"])).anchors.length).toBe(4); // <unk>, <s>, </s>, b
  });

  it("refuses tokenizers it cannot compare (WordPiece)", async () => {
    const dir = sharedDir("tokenizers", "bert-base-uncased");
    const bert = new HfTokenizer(JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8")), {});
    expect(bert.modelType).toBe("WordPiece");
    expect(() => normalizedVocabulary(bert, "donor tokenizer")).toThrow(TokenizerError);
    expect(() => matchVocabularies(spm(["a"]), bert)).toThrow(/donor tokenizer: a WordPiece tokenizer.json is not supported for transplantation/);
  });
});
