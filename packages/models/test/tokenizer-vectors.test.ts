/**
 * llama.cpp's tokenizer test vectors (models/ggml-vocab-*.gguf.inp/.out) against intact
 * sources of the same vocabularies. The GGUF files beside the vectors are damaged (they went
 * through a UTF-8 text decoder), so:
 *   llama-spm ← llama2/tokenizer.bin (llama2.c export of the Llama 2 SentencePiece vocab)
 *   llama-bpe ← llama3/tokenizer.model (tiktoken ranks)
 *   qwen2     ← qwen/qwen.tiktoken
 *   bert-bge  ← bert-base-uncased/tokenizer.json (bge-small-en-v1.5 uses that vocabulary)
 * Each set is also run through the GGUF-metadata constructors, with metadata built from the
 * intact source the way llama.cpp's converter lays it out.
 *
 * File format: each input is followed by "\n__ggml_vocab_test__\n" (that newline is not part
 * of the text); the .out file has one line per input, the ids each preceded by a space, and
 * the ids are what the Hugging Face tokenizer gives with add_special_tokens=False (no BOS, no
 * [CLS]/[SEP]). command-r has vectors but no vocabulary source here and is not tested.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ModelFormatError } from "../src/errors";
import { type GgufValue, readGguf } from "../src/formats/gguf";
import { binToByteLevel } from "../src/tokenizers/byte-level";
import {
  BpeTokenizer,
  HfTokenizer,
  LLAMA3_TIKTOKEN,
  parseLlama2cTokenizer,
  parseTiktokenRanks,
  QWEN_TIKTOKEN,
  SpmTokenizer,
  type Tokenizer,
  TokenType,
  tokenizerFromGguf,
  WordPieceTokenizer,
  wordPieceToPhantom,
} from "../src/tokenizers/index";
import { sharedDir } from "./shared";

const SEP = "\n__ggml_vocab_test__\n";

interface Vector {
  index: number;
  text: string;
  ids: number[];
}

function readVectors(name: string): Vector[] {
  const dir = sharedDir("tokenizers", "llama.cpp-vocab");
  const inp = readFileSync(join(dir, `ggml-vocab-${name}.gguf.inp`), "utf8");
  const out = readFileSync(join(dir, `ggml-vocab-${name}.gguf.out`), "utf8");
  if (!inp.endsWith(SEP) || !out.endsWith("\n")) throw new Error(`ggml-vocab-${name}: unexpected vector file layout`);
  const texts = inp.slice(0, -SEP.length).split(SEP);
  const lines = out.slice(0, -1).split("\n");
  if (texts.length !== lines.length) throw new Error(`ggml-vocab-${name}: ${texts.length} inputs but ${lines.length} expected lines`);
  return texts.map((text, index) => ({ index, text, ids: lines[index].trim() === "" ? [] : lines[index].trim().split(" ").map(Number) }));
}

const label = (v: Vector) => `#${v.index} ${JSON.stringify(v.text).slice(0, 40)}`;

/** One lazily built tokenizer per source, shared by the cases. */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

const llama2Bin = lazy(() => readFileSync(sharedDir("tokenizers", "llama2", "tokenizer.bin")));
const llama3Ranks = lazy(() => readFileSync(sharedDir("tokenizers", "llama3", "tokenizer.model"), "utf8"));
const bertDir = () => sharedDir("tokenizers", "bert-base-uncased");
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));

const spmDirect = lazy(() => SpmTokenizer.fromLlama2c(llama2Bin(), 32000, "llama2/tokenizer.bin"));
const llama3Direct = lazy(() => BpeTokenizer.fromTiktoken(llama3Ranks(), { ...LLAMA3_TIKTOKEN, file: "llama3/tokenizer.model" }));
const qwenDirect = lazy(() =>
  BpeTokenizer.fromTiktoken(readFileSync(sharedDir("tokenizers", "qwen", "qwen.tiktoken"), "utf8"), { ...QWEN_TIKTOKEN, file: "qwen.tiktoken" }),
);
const bertDirect = lazy(() => new HfTokenizer(readJson(join(bertDir(), "tokenizer.json")), readJson(join(bertDir(), "tokenizer_config.json"))));

/** SPM GGUF metadata ("llama") as llama.cpp's converter writes it, from the llama2.c export. */
const spmFromMetadata = lazy(() => {
  const v = parseLlama2cTokenizer(llama2Bin(), "llama2/tokenizer.bin", 32000);
  const md = new Map<string, GgufValue>([
    ["tokenizer.ggml.model", "llama"],
    ["tokenizer.ggml.tokens", v.pieces],
    ["tokenizer.ggml.scores", v.scores],
    ["tokenizer.ggml.token_type", Int32Array.from(v.types)],
    ["tokenizer.ggml.bos_token_id", 1],
    ["tokenizer.ggml.eos_token_id", 2],
    ["tokenizer.ggml.unknown_token_id", 0],
    ["tokenizer.ggml.add_bos_token", true],
    ["tokenizer.ggml.add_space_prefix", true],
  ]);
  return tokenizerFromGguf(md, "llama2-from-bin.gguf");
});

/**
 * GPT-2-style merges from tiktoken ranks (what HF's tiktoken converter does, and so what
 * llama.cpp's GGUF holds): a token's merge is the last pair that BPE with the lower ranks
 * leaves; tokens it cannot reach in one pair get no merge.
 */
function mergesFromRanks(ranks: string[]): string[] {
  const rankOf = new Map(ranks.map((t, i) => [t, i]));
  const merges: string[] = [];
  ranks.forEach((token, rank) => {
    if (token.length < 2) return;
    const parts = [...token];
    for (;;) {
      let best = -1;
      let bestRank = rank;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = rankOf.get(parts[i] + parts[i + 1]);
        if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
      }
      if (best < 0) break;
      parts.splice(best, 2, parts[best] + parts[best + 1]);
    }
    if (parts.length === 2) merges.push(`${binToByteLevel(parts[0])} ${binToByteLevel(parts[1])}`);
  });
  return merges;
}

/** BPE GGUF metadata ("gpt2", pre "llama-bpe") from the Llama 3 ranks. */
const llama3FromMetadata = lazy(() => {
  const ranks = parseTiktokenRanks(llama3Ranks(), "llama3/tokenizer.model");
  const specials = Object.entries(LLAMA3_TIKTOKEN.specialTokens ?? {}).sort((a, b) => a[1] - b[1]);
  const tokens = [...ranks.map(binToByteLevel), ...specials.map(([t]) => t)];
  const types = Int32Array.from(tokens, (_, i) => (i < ranks.length ? TokenType.NORMAL : TokenType.CONTROL));
  const md = new Map<string, GgufValue>([
    ["tokenizer.ggml.model", "gpt2"],
    ["tokenizer.ggml.pre", "llama-bpe"],
    ["tokenizer.ggml.tokens", tokens],
    ["tokenizer.ggml.token_type", types],
    ["tokenizer.ggml.merges", mergesFromRanks(ranks)],
    ["tokenizer.ggml.bos_token_id", 128000],
    ["tokenizer.ggml.eos_token_id", 128001],
  ]);
  return tokenizerFromGguf(md, "llama3-from-tiktoken.gguf");
});

const bertVocabTxt = lazy(() => readFileSync(join(bertDir(), "vocab.txt"), "utf8").replace(/\n$/, "").split("\n"));

/** WordPiece GGUF metadata ("bert") in llama.cpp's phantom-space spelling, from vocab.txt. */
const bertFromMetadata = lazy(() => {
  const vocab = bertVocabTxt();
  const specials = new Set(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
  const md = new Map<string, GgufValue>([
    ["tokenizer.ggml.model", "bert"],
    ["tokenizer.ggml.tokens", vocab.map(wordPieceToPhantom)],
    ["tokenizer.ggml.token_type", Int32Array.from(vocab, (t) => (specials.has(t) ? TokenType.CONTROL : TokenType.NORMAL))],
    ["tokenizer.ggml.unknown_token_id", 100],
    ["tokenizer.ggml.cls_token_id", 101],
    ["tokenizer.ggml.seperator_token_id", 102],
    ["tokenizer.ggml.padding_token_id", 0],
    ["tokenizer.ggml.mask_token_id", 103],
  ]);
  return tokenizerFromGguf(md, "bert-from-vocab.gguf");
});

const SETS: { name: string; sources: [string, () => Tokenizer][]; lossless: boolean }[] = [
  {
    name: "llama-spm",
    sources: [
      ["llama2/tokenizer.bin", spmDirect],
      ["GGUF metadata (llama)", spmFromMetadata],
    ],
    lossless: true,
  },
  {
    name: "llama-bpe",
    sources: [
      ["llama3/tokenizer.model", llama3Direct],
      ["GGUF metadata (gpt2, llama-bpe, merges)", llama3FromMetadata],
    ],
    lossless: true,
  },
  { name: "qwen2", sources: [["qwen/qwen.tiktoken", qwenDirect]], lossless: true },
  {
    name: "bert-bge",
    sources: [
      ["bert-base-uncased/tokenizer.json", bertDirect],
      ["GGUF metadata (bert)", bertFromMetadata],
    ],
    // lowercasing, accent stripping, whitespace: not invertible
    lossless: false,
  },
];

for (const set of SETS) {
  const vectors = readVectors(set.name);
  describe(`llama.cpp vectors ${set.name} (${vectors.length} cases)`, () => {
    it("has llama.cpp's 46 cases", () => {
      expect(vectors.length).toBe(46);
    });
    for (const [source, tok] of set.sources) {
      describe(source, () => {
        it.each(vectors.map((v) => [label(v), v] as const))("%s", (_, v) => {
          const ids = tok().encode(v.text);
          expect(ids).toEqual(v.ids);
          if (set.lossless) expect(tok().decode(ids)).toBe(v.text);
        });
      });
    }
  });
}

describe("vector sources", () => {
  it("bert-base-uncased vocab.txt and tokenizer.json hold the same 30,522 ids, and the bge vectors carry no [CLS]/[SEP]", () => {
    const vocab = bertVocabTxt();
    expect(vocab.length).toBe(30522);
    const json = readJson(join(bertDir(), "tokenizer.json")) as { model: { vocab: Record<string, number> } };
    expect(Object.keys(json.model.vocab).length).toBe(30522);
    vocab.forEach((t, i) => {
      if (json.model.vocab[t] !== i) throw new Error(`vocab.txt line ${i} ${JSON.stringify(t)} is id ${json.model.vocab[t]} in tokenizer.json`);
    });
    const all = readVectors("bert-bge").flatMap((v) => v.ids);
    expect(all).not.toContain(101);
    expect(all).not.toContain(102);
  });

  it("the spm and bpe vectors start with no BOS (llama.cpp runs them with add_special=false)", () => {
    expect(readVectors("llama-spm").map((v) => v.ids[0])).not.toContain(1);
    expect(readVectors("llama-bpe").map((v) => v.ids[0])).not.toContain(128000);
  });

  it("GGUF-metadata tokenizers report the same specials as the direct ones", () => {
    const spm = spmFromMetadata();
    expect(spm).toBeInstanceOf(SpmTokenizer);
    expect([spm.vocabSize, spm.bosId, spm.eosIds, spm.addBos]).toEqual([32000, 1, [2], true]);
    const bpe = llama3FromMetadata();
    expect(bpe).toBeInstanceOf(BpeTokenizer);
    expect([bpe.vocabSize, bpe.bosId, bpe.addBos]).toEqual([128256, 128000, true]);
    // <|eot_id|> ends generation by its text, as in llama.cpp
    expect([...bpe.eosIds].sort()).toEqual([128001, 128009]);
    const bert = bertFromMetadata() as WordPieceTokenizer;
    expect(bert).toBeInstanceOf(WordPieceTokenizer);
    expect([bert.vocabSize, bert.bosId, bert.sepId, bert.addBos]).toEqual([30522, 101, 102, true]);
    expect(bert.decode(bert.encode("Hello, World!"))).toBe("hello, world!");
  });
});

describe("llama.cpp-vocab GGUF files (damaged by a text decoder)", () => {
  const dir = sharedDir("tokenizers", "llama.cpp-vocab");
  const files = readdirSync(dir).filter((f) => f.endsWith(".gguf"));
  it("are all there", () => {
    expect(files.length).toBe(12);
  });
  it.each(files)("readGguf rejects %s, naming it and the text-decoder damage", (f) => {
    const bytes = readFileSync(join(dir, f));
    let err: unknown;
    try {
      readGguf(f, bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelFormatError);
    const msg = (err as Error).message;
    expect(msg.startsWith(`${f}:`)).toBe(true);
    expect(msg).toMatch(/EF BF BD.*text decoder/);
  });
});
