/**
 * SPLADE against tools/reference/retrieval_ref.py (numpy, float64) on random-weight
 * BertForMaskedLM checkpoints at the bert-tiny (2 x 128) and bert-base (12 x 768) shapes and a
 * DistilBertForMaskedLM one, vocab 30522, with the real bert-base-uncased tokenizer; then the
 * options (pruning, doc-only queries, idf.json, special tokens, truncation) and the loader's
 * refusals.
 */

import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BertModel, bertConfigFromHf, HfTokenizer, weightsFromStore } from "@edgespec/models";
import { LocalModelSource } from "@edgespec/models/node";
import { createBackend } from "@edgespec/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedDir } from "../../models/test/shared";
import { inspectEncoderCheckpoint, loadSpladeEncoder, SpladeEncoder, sparseDot } from "../src/encoders/index";
import { compareSummary, encoderSpec, encoderStore, readEncoderGolden, writeEncoderFixture } from "./fixtures/encoders";

/**
 * Tolerances, relative to the golden vector's largest weight (and for sum / sum of squares,
 * relative to the golden value): float32 wasm against a float64 reference. We see ~1e-7 at
 * both shapes; float32 numpy is at ~2e-6 (tiny) and ~7e-6 (base, logits up to |80|), so the
 * bounds leave room for other float32 summation orders.
 */
const TOL_TINY = 2e-5;
const TOL_BASE = 1e-4;

const golden = readEncoderGolden();
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "edgespec-splade-"));
  for (const name of ["splade-tiny", "splade-distil-tiny"]) await writeEncoderFixture(name, join(tmp, name));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function load(name: string, opts = {}): Promise<SpladeEncoder> {
  return loadSpladeEncoder(await LocalModelSource.fromPath(join(tmp, name)), opts);
}

describe("SPLADE matches retrieval_ref.py", () => {
  it.each(["splade-tiny", "splade-distil-tiny"])("%s: max and sum pooling, tokenizer ids", async (name) => {
    const enc = await load(name);
    const sumEnc = new SpladeEncoder(enc.model, enc.tokenizer, { pooling: "sum" });
    try {
      let worst = 0;
      for (const t of golden.splade[name]) {
        const ids = enc.inputIds(t.text);
        expect(ids, t.text).toEqual(t.ids);
        worst = Math.max(worst, compareSummary(enc.weightsOfIds(ids), t.max, TOL_TINY, `${name} max "${t.text}"`));
        worst = Math.max(worst, compareSummary(sumEnc.weightsOfIds(ids), t.sum, TOL_TINY, `${name} sum "${t.text}"`));
        // the sparse vector is the pooled one with its zeros dropped, ids ascending
        const v = enc.encodeDocument(t.text);
        const dense = enc.weightsOfIds(ids);
        expect(v.ids.length).toBe(dense.filter((w) => w > 0).length);
        for (let i = 0; i < v.ids.length; i++) {
          if (i > 0) expect(v.ids[i]).toBeGreaterThan(v.ids[i - 1]);
          expect(v.weights[i]).toBe(dense[v.ids[i]]);
        }
      }
      console.log(`[splade] ${name}: worst top-50 |ours - golden| / max ${worst.toExponential(2)}`);
    } finally {
      enc.model.free();
    }
  });

  it("splade-base (12 x 768, vocab 30522): max pooling", async () => {
    const fx = encoderSpec("splade-base");
    const backend = await createBackend("wasm");
    const model = new BertModel(backend, bertConfigFromHf("splade-base/config.json", fx.config), weightsFromStore(backend, encoderStore("splade-base")));
    const dir = sharedDir("tokenizers", "bert-base-uncased");
    const tok = new HfTokenizer(
      JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")),
      JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")),
    );
    const enc = new SpladeEncoder(model, tok);
    try {
      for (const t of golden.splade["splade-base"]) {
        const ids = enc.inputIds(t.text);
        expect(ids).toEqual(t.ids);
        const worst = compareSummary(enc.weightsOfIds(ids), t.max, TOL_BASE, `splade-base "${t.text}"`);
        console.log(`[splade] splade-base: worst top-50 |ours - golden| / max ${worst.toExponential(2)}`);
      }
    } finally {
      model.free();
    }
  });
});

describe("SPLADE options", () => {
  let enc: SpladeEncoder;
  beforeAll(async () => {
    enc = await load("splade-tiny");
  });
  afterAll(() => enc?.model.free());

  it("prunes to the top k and a minimum weight", () => {
    const t = golden.splade["splade-tiny"][0];
    const k = 20;
    const top = new SpladeEncoder(enc.model, enc.tokenizer, { topK: k }).encodeDocument(t.text);
    expect(top.ids.length).toBe(k);
    // the golden's top 20 by id (no near-tie at the 20th place in this text)
    expect([...top.ids]).toEqual(
      t.max.top50
        .slice(0, k)
        .map(([id]) => id)
        .sort((a, b) => a - b),
    );
    // halfway between the golden's 40th and 41st weights
    const min = (t.max.top50[39][1] + t.max.top50[40][1]) / 2;
    const heavy = new SpladeEncoder(enc.model, enc.tokenizer, { minWeight: min }).encodeDocument(t.text);
    expect(heavy.ids.length).toBe(40);
    for (const w of heavy.weights) expect(w).toBeGreaterThanOrEqual(min);
    // query-side pruning only touches queries
    const q = new SpladeEncoder(enc.model, enc.tokenizer, { query: { topK: 5 } });
    expect(q.encodeQuery(t.text).ids.length).toBe(5);
    expect(q.encodeDocument(t.text).ids.length).toBe(t.max.nnz);
  });

  it("bag-of-words queries: the query's own tokens with weight 1 (SpladeDoc)", () => {
    const bow = new SpladeEncoder(enc.model, enc.tokenizer, { queryMode: "bag-of-words" });
    for (const t of golden.splade["splade-tiny"]) {
      const v = bow.encodeQuery(t.text);
      expect([...v.ids]).toEqual(t.bow_query_ids);
      expect([...v.weights]).toEqual(t.bow_query_ids.map(() => 1));
    }
  });

  it("terms view through the tokenizer, heaviest first", () => {
    const t = golden.splade["splade-tiny"][1];
    const terms = new SpladeEncoder(enc.model, enc.tokenizer, { topK: 5 }).terms(enc.encodeDocument(t.text));
    expect(terms.slice(0, 3).map((x) => x.id)).toEqual(t.max.top50.slice(0, 3).map(([id]) => id));
    expect(terms[0].term).toBe(enc.tokenizer.token(terms[0].id));
    const bow = new SpladeEncoder(enc.model, enc.tokenizer, { queryMode: "bag-of-words" });
    expect(
      bow
        .terms(bow.encodeQuery("sparse retrieval"))
        .map((x) => x.term)
        .sort(),
    ).toEqual(["retrieval", "sparse"]);
  });

  it("truncates long texts to max_position_embeddings, keeping [CLS] and [SEP]", () => {
    const long = "retrieval ".repeat(600);
    const ids = enc.inputIds(long);
    expect(ids.length).toBe(512);
    expect([ids[0], ids[511]]).toEqual([101, 102]);
    expect(enc.encodeDocument(long).ids.length).toBeGreaterThan(0);
    const short = new SpladeEncoder(enc.model, enc.tokenizer, { maxLength: 8 });
    expect(short.inputIds(long)).toEqual([101, ...new Array(6).fill(ids[1]), 102]);
    expect(() => new SpladeEncoder(enc.model, enc.tokenizer, { maxLength: 1 })).toThrow(/maxLength/);
  });

  it("encodes batches with progress", async () => {
    const texts = golden.splade["splade-tiny"].map((t) => t.text);
    const seen: [number, number][] = [];
    const out = await enc.encodeDocuments(texts, { onProgress: (d, n) => seen.push([d, n]) });
    expect(seen).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    expect(out[2]).toEqual(enc.encodeDocument(texts[2]));
    const ac = new AbortController();
    ac.abort();
    await expect(enc.encodeDocuments(texts, { signal: ac.signal })).rejects.toThrow();
  });
});

describe("SPLADE loader", () => {
  it("doc-only checkpoints with idf.json: idf-weighted query tokens, special tokens zeroed in documents", async () => {
    const dir = join(tmp, "splade-doc");
    await writeEncoderFixture("splade-tiny", dir);
    await writeFile(join(dir, "idf.json"), JSON.stringify({ sparse: 2.5, retrieval: 1.25, what: 0.5, "[CLS]": 0, "not-a-token": 9 }));
    const enc = await loadSpladeEncoder(await LocalModelSource.fromPath(dir));
    try {
      expect(enc.queryMode).toBe("idf");
      const q = enc.encodeQuery("what is learned sparse retrieval?");
      const id = (s: string) => enc.tokenizer.encode(s)[0];
      expect([...q.ids]).toEqual([id("what"), id("sparse"), id("retrieval")].sort((a, b) => a - b));
      expect(Object.fromEntries([...q.ids].map((i, k) => [enc.tokenizer.token(i), q.weights[k]]))).toEqual({ what: 0.5, sparse: 2.5, retrieval: 1.25 });
      // a binary bag-of-words query ignores the idf table
      const bow = new SpladeEncoder(enc.model, enc.tokenizer, { ...enc.options, queryMode: "bag-of-words" }).encodeQuery("sparse retrieval");
      expect([...bow.weights]).toEqual([1, 1]);
      const d = enc.encodeDocument(golden.splade["splade-tiny"][0].text);
      for (const special of [0, 100, 101, 102, 103]) expect([...d.ids]).not.toContain(special);
      expect(sparseDot(q, d)).toBeGreaterThan(0);
    } finally {
      enc.model.free();
    }
  });

  it("reports the layout it recognised", async () => {
    const info = await inspectEncoderCheckpoint(await LocalModelSource.fromPath(join(tmp, "splade-tiny")));
    expect([info.layout, info.prefix, info.idf, info.projection, info.supports]).toEqual(["bert-mlm", "bert.", false, null, ["splade", "dupmae"]]);
    const distil = await inspectEncoderCheckpoint(await LocalModelSource.fromPath(join(tmp, "splade-distil-tiny")));
    expect([distil.layout, distil.prefix, distil.supports]).toEqual(["distilbert-mlm", "distilbert.", ["splade"]]);
  });

  it("refuses checkpoints without an MLM head, naming what is missing", async () => {
    const dir = join(tmp, "no-head");
    await writeEncoderFixture("splade-tiny", dir);
    const fx = encoderSpec("splade-tiny");
    // a BertModel save: the same encoder, no cls.predictions.*
    const { bertSafetensorsBytes, bertTensors } = await import("../../models/test/fixtures/bert");
    const noHead = bertTensors(fx).filter((t) => !t.name.startsWith("cls."));
    await writeFile(join(dir, "model.safetensors"), bertSafetensorsBytes(noHead));
    const src = await LocalModelSource.fromPath(dir);
    await expect(loadSpladeEncoder(src)).rejects.toThrow(
      /has no masked-LM head \(missing cls\.predictions\.transform\.dense\.weight, .*cls\.predictions\.bias\)/,
    );

    await writeFile(join(dir, "config.json"), JSON.stringify({ ...fx.config, model_type: "new", architectures: ["NewForMaskedLM"] }));
    await expect(loadSpladeEncoder(src)).rejects.toThrow(/model_type "new" is not supported/);

    await rm(join(dir, "model.safetensors"));
    await writeFile(join(dir, "config.json"), JSON.stringify(fx.config));
    await writeFile(join(dir, "pytorch_model.bin"), "");
    await expect(loadSpladeEncoder(src)).rejects.toThrow(/only pytorch_model\.bin/);
  });
});
