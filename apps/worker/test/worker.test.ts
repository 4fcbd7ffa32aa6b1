// The Worker in workerd (@cloudflare/vitest-pool-workers): dist/worker.js runs as its own
// Worker beside this test, loads TinyStories-656K from a Fetcher binding that serves
// ../shared (as static assets would), and answers over the EDGE service binding. The
// expected texts come from the same requests answered in Node (vitest.workers.config.ts),
// for the cases of apps/deno/cases.json that Deno and Chromium answer too. A third Worker reads
// everything from an R2 bucket that the R2 tests fill first.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

interface Edge {
  fetch(input: string, init?: RequestInit): Promise<Response>;
}
const edge = (env as unknown as { EDGE: Edge }).EDGE;
/** the same Worker with MAX_CONCURRENT 1 and a queue of 32 */
const queued = (env as unknown as { QUEUED: Edge }).QUEUED;
/** the same Worker with every file in the R2 bucket WEIGHTS: the model, DupMAE and a DupMAE index */
const r2edge = (env as unknown as { R2EDGE: Edge }).R2EDGE;
const crossHost = JSON.parse((env as unknown as { CROSS_HOST: string }).CROSS_HOST) as {
  requests: Record<string, unknown>[];
  dupmaeRequest: Record<string, unknown>;
  node: { completions: string[]; plain: (string | null)[]; embeddings: unknown; search: unknown; dupmae: unknown; searchDupmae: unknown };
};

interface Speculative {
  drafter: string;
  budget: number;
  steps: number;
  proposed: number;
  accepted: number;
  mean_accepted: number;
}
interface Completion {
  choices: { text: string }[];
  speculative?: Speculative;
}
interface MemoryPart {
  wasm_bytes: number;
  arena_used_bytes?: number;
  arena_peak_bytes?: number;
  loaded?: MemoryPart;
}
interface Memory extends MemoryPart {
  arena_used_bytes: number;
  arena_peak_bytes: number;
  parts: Record<string, MemoryPart>;
}

const MB = 2 ** 20;
/**
 * Half the isolate's 128 MB: the wasm memories of this configuration (TinyStories-656K, the
 * 2 × 128 SPLADE encoder, the index) must leave the other half to JavaScript (tokenizers,
 * the file a loader reads, request bodies) with room to spare.
 */
const WASM_BUDGET = 64 * MB;

async function memory(): Promise<Memory> {
  return ((await (await edge.fetch("http://edge/healthz")).json()) as { memory: Memory }).memory;
}

function post(path: string, body: unknown, headers: Record<string, string> = { "content-type": "application/json" }): Promise<Response> {
  return edge.fetch(`http://edge${path}`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
}

async function events(res: Response): Promise<string[]> {
  return (await res.text())
    .split("\n\n")
    .filter(Boolean)
    .map((b) => b.slice("data: ".length));
}

describe("edgespec Worker in workerd", () => {
  it("answers /healthz and /v1/models before any model is loaded", async () => {
    const h = (await (await edge.fetch("http://edge/healthz")).json()) as { status: string; models: { id: string }[]; memory: Memory };
    expect(h.status).toBe("ok");
    expect(h.models.map((m) => m.id)).toEqual(["tinystories-656k"]);
    // nothing is loaded yet, so no wasm memory exists
    expect(h.memory).toEqual({ wasm_bytes: 0, arena_used_bytes: 0, arena_peak_bytes: 0, parts: {} });
    const m = (await (await edge.fetch("http://edge/v1/models")).json()) as { data: { id: string }[] };
    expect(m.data.map((x) => x.id)).toEqual(["tinystories-656k"]);
  });

  it("the same request gives byte-identical text in workerd and in Node (greedy and seeded sampling)", async () => {
    for (let i = 0; i < crossHost.requests.length; i++) {
      const res = await post("/v1/completions", crossHost.requests[i]);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Completion;
      expect(body.choices[0].text, JSON.stringify(crossHost.requests[i])).toBe(crossHost.node.completions[i]);
    }
    expect(crossHost.node.completions[0].length).toBeGreaterThan(20);
  });

  it("with a drafter, sampled text is the same in workerd and in Node, and the same as without the drafter", async () => {
    const drafted = crossHost.requests.flatMap((r, i) => (r.drafter === undefined ? [] : [i]));
    const sampled = drafted.filter((i) => (crossHost.requests[i].temperature as number) > 0);
    expect(sampled.length).toBeGreaterThanOrEqual(4);
    let accepted = 0;
    for (const i of drafted) {
      const req = crossHost.requests[i];
      const what = JSON.stringify(req);
      // coupled verification: Node already gives the drafter's text without the drafter
      expect(crossHost.node.plain[i], what).toBe(crossHost.node.completions[i]);
      const res = await post("/v1/completions", req);
      expect(res.status, what).toBe(200);
      const body = (await res.json()) as Completion;
      expect(body.choices[0].text, what).toBe(crossHost.node.completions[i]);
      const { drafter: _d, draft_budget: _b, ...bare } = req;
      const plain = (await (await post("/v1/completions", bare)).json()) as Completion;
      expect(plain.choices[0].text, what).toBe(body.choices[0].text);
      expect(plain.speculative).toBeUndefined();
      // the drafter really ran in workerd: verify steps with the budget asked for (or the server's)
      const s = body.speculative as Speculative;
      expect(s.drafter, what).toBe(req.drafter);
      expect(s.steps, what).toBeGreaterThan(0);
      expect(s.budget, what).toBe(req.draft_budget ?? s.budget);
      expect(Number.isInteger(s.budget) && s.budget >= 1 && s.budget <= 64, what).toBe(true);
      if ((req.temperature as number) > 0) accepted += s.accepted;
    }
    // drafts were accepted while sampling, so the accept path is what made these texts
    expect(accepted).toBeGreaterThan(0);
  });

  it("streams speculative text: the same pieces add up, and the last chunk reports the drafter's stats", async () => {
    const i = crossHost.requests.findIndex((r) => r.drafter !== undefined && (r.temperature as number) > 0);
    const data = await events(await post("/v1/completions", { ...crossHost.requests[i], stream: true }));
    expect(data[data.length - 1]).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Completion);
    expect(chunks.map((c) => c.choices[0].text).join("")).toBe(crossHost.node.completions[i]);
    expect(chunks[chunks.length - 1].speculative?.drafter).toBe(crossHost.requests[i].drafter);
  });

  it("streams server-sent events that add up to the same text", async () => {
    const res = await post("/v1/completions", { ...crossHost.requests[1], stream: true });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const data = await events(res);
    expect(data[data.length - 1]).toBe("[DONE]");
    const text = data
      .slice(0, -1)
      .map((d) => (JSON.parse(d) as { choices: { text: string }[] }).choices[0].text)
      .join("");
    expect(text).toBe(crossHost.node.completions[1]);
  });

  it("a client that stops reading gives its generation slot back", async () => {
    const res = await post("/v1/completions", { prompt: "Once upon a time", max_tokens: 256, temperature: 1, seed: 1, stream: true });
    const reader = res.body?.getReader();
    await reader?.read();
    await reader?.cancel();
    let active = 1;
    for (let i = 0; i < 100 && active > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      active = ((await (await edge.fetch("http://edge/healthz")).json()) as { active_generations: number }).active_generations;
    }
    expect(active).toBe(0);
  });

  it("runs concurrent requests, each with its own cache, and refuses more than MAX_CONCURRENT", async () => {
    const two = await Promise.all([post("/v1/completions", crossHost.requests[0]), post("/v1/completions", crossHost.requests[1])]);
    const texts = await Promise.all(two.map(async (r) => ((await r.json()) as { choices: { text: string }[] }).choices[0].text));
    expect(texts).toEqual([crossHost.node.completions[0], crossHost.node.completions[1]]);
    // hold both slots with streams, then a third request is turned away
    const held = await Promise.all([1, 2].map((seed) => post("/v1/completions", { prompt: "Once upon a time", max_tokens: 256, seed, stream: true })));
    const readers = held.map((r) => r.body?.getReader());
    await Promise.all(readers.map((r) => r?.read()));
    const third = await post("/v1/completions", { prompt: "a", max_tokens: 2 });
    expect([200, 429]).toContain(third.status);
    if (third.status === 429) expect(((await third.json()) as { error: { code: string } }).error.code).toBe("too_many_requests");
    else await third.text();
    await Promise.all(readers.map((r) => r?.cancel()));
  });

  it("queued requests, cold and warm, all complete: waiting on another request's load or slot is not a hang", async () => {
    const ask = (i: number) =>
      queued.fetch("http://queued/v1/completions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...crossHost.requests[1], max_tokens: 24, seed: 100 + i, stream: true, ...(i % 2 ? { drafter: "lookup" } : {}) }),
      });
    for (const round of ["cold: all wait for the first request's model load", "warm: all wait for the one slot"]) {
      const texts = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const res = await ask(i);
          const data = await events(res);
          expect(res.status, `${round}: request ${i}: ${data.join(" ").slice(0, 300)}`).toBe(200);
          expect(data[data.length - 1], `${round}: request ${i}`).toBe("[DONE]");
          return data.length;
        }),
      );
      expect(texts.every((n) => n > 2)).toBe(true);
      const h = (await (await queued.fetch("http://queued/healthz")).json()) as { active_generations: number; queued_generations: number };
      expect([h.active_generations, h.queued_generations], round).toEqual([0, 0]);
    }
  });

  it("/v1/embeddings and /v1/search answer as in Node (SPLADE and the index, wasm imported as a module)", async () => {
    const e = await post("/v1/embeddings", { input: ["the cat", "a boat"], encoding: "splade" });
    expect(e.status).toBe(200);
    expect(((await e.json()) as { data: unknown }).data).toEqual(crossHost.node.embeddings);
    const s = await post("/v1/search", { query: "a cat on a mat", k: 3 });
    expect(s.status).toBe(200);
    const hits = ((await s.json()) as { data: { id: number; text: string }[] }).data;
    expect(hits).toEqual(crossHost.node.search);
    expect(hits).toHaveLength(3);
  });

  it("/v1/embeddings with encoding dupmae answers as in Node: the same JSON (dense and sparse parts, usage)", async () => {
    const e = await post("/v1/embeddings", crossHost.dupmaeRequest);
    expect(e.status).toBe(200);
    const body = (await e.json()) as { data: { embedding: { dense: number[]; sparse: { indices: number[]; values: number[] } } }[] };
    expect(body).toEqual(crossHost.node.dupmae);
    // the fixture's Dense projection (128 -> 64) and the default 256 bag-of-words terms
    expect(body.data).toHaveLength(2);
    expect(body.data[0].embedding.dense).toHaveLength(64);
    expect(body.data[0].embedding.sparse.indices).toHaveLength(256);
  });

  it("an encoding the Worker has no checkpoint for is a clear 400", async () => {
    // the queued Worker has neither SPLADE_PATH nor DUPMAE_PATH
    for (const encoding of ["dupmae", "splade"]) {
      const r = await queued.fetch("http://queued/v1/embeddings", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ input: "the cat", encoding }),
      });
      expect(r.status, encoding).toBe(400);
      const err = ((await r.json()) as { error: { message: string; code: string; param: string } }).error;
      expect(err.message).toBe(`/v1/embeddings: this server has no ${encoding} encoder`);
      expect([err.code, err.param]).toEqual(["unsupported_encoding", "encoding"]);
    }
  });

  it("malformed and oversized requests get clear 4xx JSON", async () => {
    const cases: [Promise<Response>, number, RegExp][] = [
      [post("/v1/completions", "{oops"), 400, /not valid JSON/],
      [post("/v1/completions", { prompt: "a", max_tokens: 100000 }), 400, /limit of 256/],
      [post("/v1/completions", { prompt: "x".repeat(2 ** 20 + 10) }), 413, /limit/],
      [post("/v1/completions", "a", { "content-type": "text/plain" }), 415, /application\/json/],
      [post("/v1/chat/completions", { messages: "hi" }), 400, /"messages" must be a non-empty array/],
      [post("/v1/completions", { prompt: "a", drafter: "medusa" }), 400, /"drafter" "medusa" is not a drafter this server runs; use one of none, lookup/],
      [post("/v1/completions", { prompt: "a", drafter: "model:/etc/passwd" }), 400, /draft models from files are not served/],
      [post("/v1/completions", { prompt: "a", drafter: "early-exit:9" }), 400, /early exit after 9 layers, but the model has 2/],
      [post("/v1/completions", { prompt: "a", drafter: "lookup", draft_budget: 1000 }), 400, /"draft_budget" must be at most 64/],
      [post("/v1/completions", { prompt: "a", drafter: "lookup", draft_budget: 2.5 }), 400, /"draft_budget" must be an integer/],
      [post("/v1/completions", { prompt: "a", draft_budget: 4 }), 400, /"draft_budget" needs a "drafter"/],
      [post("/v1/completions", { prompt: "a", drafter: 7 }), 400, /"drafter" must be a string/],
      [edge.fetch("http://edge/v1/nothing"), 404, /no route/],
    ];
    for (const [res, status, message] of cases) {
      const r = await res;
      expect(r.status).toBe(status);
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(message);
    }
  });

  it("wasm memory stays well under 128 MB, and repeated requests do not grow it", async () => {
    // load everything this configuration serves: the model, the SPLADE encoder, the index
    const drafted = crossHost.requests.filter((r) => r.drafter !== undefined);
    const ok = async (res: Promise<Response>) => {
      const r = await res;
      const text = await r.text();
      expect(r.status, text).toBe(200);
    };
    const round = async () => {
      for (const r of [...crossHost.requests, ...drafted.map((r) => ({ ...r, stream: true }))]) await ok(post("/v1/completions", r));
      await ok(post("/v1/embeddings", { input: ["the cat", "a boat"], encoding: "splade" }));
      await ok(post("/v1/embeddings", crossHost.dupmaeRequest));
      await ok(post("/v1/search", { query: "a cat on a mat", k: 3 }));
    };
    await round();
    const warm = await memory();
    console.log(`workerd wasm memory after a round of requests: ${JSON.stringify(warm)}`);
    expect(Object.keys(warm.parts).sort()).toEqual(["dupmae", "index", "model:tinystories-656k", "splade"]);
    const model = warm.parts["model:tinystories-656k"];
    // TinyStories-656K's f32 weights (2.6 MB) are in there, and the arena never held more than its memory
    expect(model.arena_used_bytes).toBeGreaterThan(2.5e6);
    expect(model.arena_peak_bytes).toBeLessThanOrEqual(model.wasm_bytes);
    // the load's peak: the memory grew to it and cannot shrink; the Worker's memories start at
    // 1 MiB, so it is what the load needed, not the runtime's 16 MiB default floor
    const load = model.loaded as MemoryPart;
    expect(load.wasm_bytes).toBeLessThan(4 * MB);
    expect(load.arena_peak_bytes).toBeGreaterThan(2.5e6);
    expect(load.wasm_bytes).toBeLessThanOrEqual(model.wasm_bytes);
    for (const name of ["splade", "dupmae", "index"]) expect(warm.parts[name].loaded?.wasm_bytes, name).toBeGreaterThan(0);
    expect(warm.wasm_bytes).toBeLessThan(WASM_BUDGET);
    for (let i = 0; i < 3; i++) await round();
    const later = await memory();
    // a WebAssembly.Memory never shrinks, so any growth would show here; the caches and
    // scratch of every request were given back to the arena
    expect(later.wasm_bytes).toBe(warm.wasm_bytes);
    expect(later.arena_used_bytes).toBe(warm.arena_used_bytes);
    expect(later.arena_peak_bytes).toBe(warm.arena_peak_bytes);
  });
});

interface R2BucketPut {
  put(key: string, value: ArrayBuffer): Promise<unknown>;
}

describe("edgespec Worker with its files in an R2 bucket", () => {
  const bucket = (env as unknown as { WEIGHTS: R2BucketPut }).WEIGHTS;
  const files = (env as unknown as { MODEL_FILES: Edge }).MODEL_FILES;
  const paths = JSON.parse((env as unknown as { R2_FILES: string }).R2_FILES) as string[];

  function ask(path: string, body: unknown): Promise<Response> {
    return r2edge.fetch(`http://r2${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  }

  it("reports nothing loaded, then serves the model from R2 once the bucket holds it", async () => {
    const h = (await (await r2edge.fetch("http://r2/healthz")).json()) as { models: { id: string; loaded: boolean }[]; memory: Memory };
    expect(h.models).toEqual([{ id: "tinystories-656k", loaded: false }]);
    expect(h.memory.wasm_bytes).toBe(0);
    // the bucket is empty: the load fails as a clear 503, and the next request tries again
    const before = await ask("/v1/completions", crossHost.requests[0]);
    expect(before.status).toBe(503);
    expect(((await before.json()) as { error: { message: string } }).error.message).toMatch(
      /model "tinystories-656k" could not be loaded: .*r2:models\/tinystories-656k/,
    );
    // copy the files into the bucket under keys without the leading /
    expect(paths.some((p) => p.endsWith("tinystories-656k/model.safetensors"))).toBe(true);
    for (const path of paths) {
      const res = await files.fetch(`https://assets.local${path}`);
      expect(res.status, path).toBe(200);
      await bucket.put(path.slice(1), await res.arrayBuffer());
    }
  });

  it("generates the same text from R2 as from the static-assets path (and as Node)", async () => {
    for (const i of [0, 1, crossHost.requests.length - 1]) {
      const req = crossHost.requests[i];
      const fromR2 = await ask("/v1/completions", req);
      expect(fromR2.status, JSON.stringify(req)).toBe(200);
      const text = ((await fromR2.json()) as Completion).choices[0].text;
      const fromAssets = ((await (await post("/v1/completions", req)).json()) as Completion).choices[0].text;
      expect(text, JSON.stringify(req)).toBe(fromAssets);
      expect(text, JSON.stringify(req)).toBe(crossHost.node.completions[i]);
    }
    // streamed too
    const data = await events(await ask("/v1/completions", { ...crossHost.requests[1], stream: true }));
    expect(data[data.length - 1]).toBe("[DONE]");
    const streamed = data
      .slice(0, -1)
      .map((d) => (JSON.parse(d) as Completion).choices[0].text)
      .join("");
    expect(streamed).toBe(crossHost.node.completions[1]);
  });

  it("serves DupMAE embeddings and search on a DupMAE (hybrid) index from R2, as Node does", async () => {
    const e = await ask("/v1/embeddings", crossHost.dupmaeRequest);
    expect(e.status).toBe(200);
    expect(await e.json()).toEqual(crossHost.node.dupmae);
    const s = await ask("/v1/search", { query: "a cat on a mat", k: 3 });
    expect(s.status).toBe(200);
    const hits = ((await s.json()) as { data: { id: number; score: number; text: string }[] }).data;
    expect(hits).toEqual(crossHost.node.searchDupmae);
    expect(hits).toHaveLength(3);
    // this Worker has no SPLADE checkpoint
    const splade = await ask("/v1/embeddings", { input: "the cat", encoding: "splade" });
    expect(splade.status).toBe(400);
    await splade.text();
    const m = ((await (await r2edge.fetch("http://r2/healthz")).json()) as { memory: Memory }).memory;
    expect(Object.keys(m.parts).sort()).toEqual(["dupmae", "index", "index:dense", "model:tinystories-656k"]);
    expect(m.wasm_bytes).toBeLessThan(WASM_BUDGET);
  });
});
