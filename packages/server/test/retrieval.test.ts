/**
 * /v1/embeddings and /v1/search on random-weight SPLADE and DupMAE checkpoints (bert-tiny
 * shape, the real bert-base-uncased tokenizer; DupMAE with a 128 -> 64 Dense projection): the
 * routes return what the library computes, in the documented shapes, and refuse what they
 * cannot serve.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveModelSource } from "@edgespec/models/node";
import {
  BruteForceSparse,
  type DupMaeEncoder,
  dupmaeScore,
  HybridIndex,
  loadDupMaeEncoder,
  loadSpladeEncoder,
  SparseIndex,
  type SpladeEncoder,
} from "@edgespec/retrieval";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeEncoderFixture } from "../../retrieval/test/fixtures/encoders";
import { createHandler, type Handler } from "../src/index";

const DOCS = ["The cat sat on the mat.", "Dogs like to run in the park.", "A small red boat sailed across the lake.", "Sparse retrieval reads like keywords."];
let dir: string;
let handler: Handler;
let encoder: SpladeEncoder;
/** a server with only a DupMAE encoder and a hybrid index built with it (as `edgespec serve --index` of a dupmae index) */
let dupmaeHandler: Handler;
let dupmae: DupMaeEncoder;
let hybrid: HybridIndex;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgespec-server-retrieval-"));
  await writeEncoderFixture("splade-tiny", join(dir, "splade"));
  const load = async () => loadSpladeEncoder(await resolveModelSource(join(dir, "splade")), { topK: 64, query: { topK: 16 } });
  encoder = await load();
  handler = createHandler({
    models: [{ id: "unused", load: () => Promise.reject(new Error("no model")) }],
    retrieval: {
      splade: load,
      search: async () => {
        const index = await SparseIndex.create();
        DOCS.forEach((t, id) => {
          index.add(id, encoder.encodeDocument(t));
        });
        return { mode: "splade", index, texts: new Map(DOCS.map((t, i) => [i, t])) };
      },
    },
  });
  await writeEncoderFixture("dupmae-tiny", join(dir, "dupmae"));
  const loadDupMae = async () => loadDupMaeEncoder(await resolveModelSource(join(dir, "dupmae")));
  dupmae = await loadDupMae();
  hybrid = await HybridIndex.create({ vocab: dupmae.model.config.vocabSize, dim: dupmae.encode("").dense.length });
  DOCS.forEach((t, id) => {
    hybrid.add(id, dupmae.encode(t));
  });
  dupmaeHandler = createHandler({
    models: [{ id: "unused", load: () => Promise.reject(new Error("no model")) }],
    retrieval: { dupmae: loadDupMae, search: async () => ({ mode: "dupmae", index: hybrid, texts: new Map(DOCS.map((t, i) => [i, t])) }) },
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function post(path: string, body: unknown, h: Handler = handler): Promise<Response> {
  return h(new Request(`http://edge.test${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
}

describe("/v1/embeddings", () => {
  it("returns the SPLADE vectors the encoder computes, as {indices, values}", async () => {
    const res = await post("/v1/embeddings", { input: ["the cat", "a boat"], encoding: "splade" });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.object).toBe("list");
    expect(body.data).toHaveLength(2);
    const want = encoder.encodeDocument("the cat");
    expect(body.data[0].embedding.indices).toEqual(Array.from(want.ids));
    expect(body.data[0].embedding.values).toEqual(Array.from(want.weights));
    expect(body.data[0].embedding.indices).toHaveLength(64);
    // query mode uses the query pruning
    const q = await (await post("/v1/embeddings", { input: "the cat", query: true })).json();
    expect(q.data[0].embedding.indices).toHaveLength(16);
    expect(body.usage.prompt_tokens).toBe(encoder.inputIds("the cat").length + encoder.inputIds("a boat").length);
  });

  it("returns the DupMAE vectors the encoder computes: dense, and the bag of words as {indices, values}", async () => {
    const res = await post("/v1/embeddings", { input: ["the cat", "a boat"], encoding: "dupmae" }, dupmaeHandler);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.object).toBe("list");
    expect(body.model).toBe("dupmae");
    expect(body.data).toHaveLength(2);
    for (const [i, text] of ["the cat", "a boat"].entries()) {
      const want = dupmae.encode(text);
      expect(body.data[i]).toEqual({
        object: "embedding",
        index: i,
        embedding: { dense: Array.from(want.dense), sparse: { indices: Array.from(want.sparse.ids), values: Array.from(want.sparse.weights) } },
      });
    }
    // the fixture's projection (128 -> 64) and the default 256 bag-of-words terms
    expect(body.data[0].embedding.dense).toHaveLength(64);
    expect(body.data[0].embedding.sparse.indices).toHaveLength(256);
    expect(body.usage.prompt_tokens).toBe(dupmae.inputIds("the cat").length + dupmae.inputIds("a boat").length);
    // a single string, and the model name the client sent
    const one = await (await post("/v1/embeddings", { input: "the cat", encoding: "dupmae", model: "my-dupmae" }, dupmaeHandler)).json();
    expect(one.model).toBe("my-dupmae");
    expect(one.data[0]).toEqual(body.data[0]);
    // this server has no SPLADE encoder, and SPLADE is the default encoding
    const splade = await post("/v1/embeddings", { input: "x" }, dupmaeHandler);
    expect(splade.status).toBe(400);
    expect((await splade.json()).error).toMatchObject({ message: "/v1/embeddings: this server has no splade encoder", code: "unsupported_encoding" });
  });

  it("refuses what it cannot serve", async () => {
    const none = await post("/v1/embeddings", { input: "x", encoding: "dupmae" });
    expect(none.status).toBe(400);
    expect((await none.json()).error.message).toMatch(/no dupmae encoder/);
    const bad = await post("/v1/embeddings", { input: 5 });
    expect(bad.status).toBe(400);
    const empty = await post("/v1/embeddings", { input: [] });
    expect(empty.status).toBe(400);
  });
});

describe("/v1/search", () => {
  it("returns the exact top k with the documents' texts", async () => {
    const res = await post("/v1/search", { query: "a cat on a mat", k: 3 });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.data).toHaveLength(3);
    // brute force over the same vectors
    const brute = new BruteForceSparse(30522);
    for (const [id, t] of DOCS.entries()) brute.add(id, encoder.encodeDocument(t));
    const want = brute.search(encoder.encodeQuery("a cat on a mat"), 3);
    expect(body.data.map((d: { id: number }) => d.id)).toEqual(Array.from(want.ids));
    expect(body.data.map((d: { score: number }) => d.score)).toEqual(Array.from(want.scores));
    for (const d of body.data) expect(d.text).toBe(DOCS[d.id]);
  });

  it("searches a DupMAE (hybrid) index with the DupMAE query: dense . dense + bow . bow", async () => {
    const res = await post("/v1/search", { query: "a cat on a mat", k: 3 }, dupmaeHandler);
    expect(res.status).toBe(200);
    const body = await res.json();
    const q = dupmae.encode("a cat on a mat");
    const want = hybrid.search({ dense: q.dense, sparse: q.sparse }, 3);
    expect(body.data.map((d: { id: number }) => d.id)).toEqual(Array.from(want.ids));
    expect(body.data.map((d: { score: number }) => d.score)).toEqual(Array.from(want.scores));
    for (const d of body.data) expect(d.text).toBe(DOCS[d.id]);
    // the same order as the exact DupMAE score over every document
    const exact = DOCS.map((t, id) => ({ id, s: dupmaeScore(q, dupmae.encode(t)) })).sort((a, b) => b.s - a.s);
    expect(body.data.map((d: { id: number }) => d.id)).toEqual(exact.slice(0, 3).map((e) => e.id));
  });

  it("validates the request, and says when there is no index", async () => {
    expect((await post("/v1/search", { query: "x", k: 0 })).status).toBe(400);
    expect((await post("/v1/search", {})).status).toBe(400);
    const bare = createHandler({ models: [{ id: "m", load: () => Promise.reject(new Error("no")) }] });
    const r = await bare(new Request("http://edge.test/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: '{"query":"x"}' }));
    expect(r.status).toBe(404);
    expect((await r.json()).error.code).toBe("no_index");
  });
});
