/**
 * Decoder-only echo sparse encoding against tools/reference/retrieval_ref.py, which runs
 * llama_ref.py's forward on the llama-gqa3 random fixture (tools/reference/fixtures.json:
 * GQA, F16 weights, vocab 256, 128 positions). The fixture has no tokenizer, so both sides use
 * bytes: id = UTF-8 byte.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LlamaModel, loadLlama, type Tokenizer } from "@edgespec/models";
import { LocalModelSource } from "@edgespec/models/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFixture } from "../../models/test/fixtures/generate";
import { DEFAULT_ECHO_TEMPLATE, EchoSparseEncoder } from "../src/encoders/index";
import { readEncoderGolden, relErr } from "./fixtures/encoders";

/** max |ours - golden| / max |golden| over the 256 weights: float32 wasm vs float64 numpy (we see ~1e-6). */
const TOL = 2e-5;

const bytes: Tokenizer = {
  vocabSize: 256,
  bosId: null,
  eosIds: [],
  addBos: false,
  encode: (text) => [...new TextEncoder().encode(text)],
  decode: (ids) => new TextDecoder().decode(Uint8Array.from(ids)),
};

const g = readEncoderGolden().echo;
let tmp: string;
let model: LlamaModel;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "edgespec-echo-"));
  await writeFixture(g.fixture, join(tmp, g.fixture));
  ({ model } = await loadLlama(await LocalModelSource.fromPath(join(tmp, g.fixture))));
});
afterAll(async () => {
  model?.free();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("echo sparse encoder", () => {
  it("matches retrieval_ref.py: ids, second-copy positions, pooled weights", () => {
    expect(g.template).toBe(DEFAULT_ECHO_TEMPLATE);
    const enc = new EchoSparseEncoder(model, bytes);
    let worst = 0;
    for (const t of g.texts) {
      const input = enc.input(t.text);
      expect(input.ids).toEqual(t.ids);
      expect(input.secondCopy).toEqual(t.second_copy_positions);
      expect(input.textTokens).toBe(t.text_bytes_kept);
      const w = enc.weightsOf(input);
      const err = relErr(w, t.weights);
      expect(err, t.text).toBeLessThanOrEqual(TOL);
      worst = Math.max(worst, err);
      const v = enc.encode(t.text);
      expect(v.ids.length).toBe(t.nnz);
      expect(model.length).toBe(0);
    }
    console.log(`[echo] ${g.fixture}: worst max|ours - golden| / max ${worst.toExponential(2)}`);
  });

  it("pools the second copy only", () => {
    const enc = new EchoSparseEncoder(model, bytes);
    const input = enc.input("abc");
    const firstCopy = { ...input, secondCopy: input.secondCopy.map((p) => p - 3 - "\nPassage again: ".length) };
    expect(enc.input("abc").ids.slice(firstCopy.secondCopy[0], firstCopy.secondCopy[0] + 3)).toEqual([97, 98, 99]);
    expect(enc.weightsOf(firstCopy)).not.toEqual(enc.weightsOf(input));
  });

  it("takes a template with two slots, prunes, and names terms", async () => {
    const enc = new EchoSparseEncoder(model, bytes, { template: "Q {text} again {text}.", topK: 3 });
    const input = enc.input("xy");
    expect(bytes.decode(input.ids)).toBe("Q xy again xy.");
    expect(input.secondCopy).toEqual([11, 12]);
    const v = enc.encode("xy");
    expect(v.ids.length).toBe(3);
    const terms = enc.terms(v);
    expect(terms[0].term).toBe(bytes.decode([terms[0].id]));
    expect(terms[0].weight).toBeGreaterThanOrEqual(terms[2].weight);
    const out = await enc.encodeMany(["a", "b"], { onProgress: () => {} });
    expect(out).toHaveLength(2);
    expect(() => new EchoSparseEncoder(model, bytes, { template: "just {text}" })).toThrow(/two "\{text\}" slots, got 1/);
    expect(() => new EchoSparseEncoder(model, bytes, { maxLength: 20 })).toThrow(/leaving no room/);
  });
});
