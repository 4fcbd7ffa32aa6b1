/**
 * The API's drafter extension (`drafter`, `draft_budget`) and the wasm memory in /healthz, on
 * TinyStories-656K: a drafter never changes the text (coupled verification), its stats come
 * back, bad names and budgets are 4xx, and requests give back every byte they took.
 */
import { loadCausalLM } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";
import { describe, expect, it, vi } from "vitest";
import { sharedDir } from "../../models/test/shared";
import { createHandler, defaultDraftBudget, FALLBACK_DRAFT_BUDGET, type Handler, type MemoryReport, memoryReport } from "../src/index";

const TINY = sharedDir("models", "tinystories-656k");
const entry = { id: "tiny", load: async () => loadCausalLM(await resolveModelSource(TINY)) };

function post(handler: Handler, body: unknown, path = "/v1/completions"): Promise<Response> {
  return handler(new Request(`http://edge.test${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
}

async function health(handler: Handler): Promise<{ active_generations: number; memory: MemoryReport }> {
  return (await handler(new Request("http://edge.test/healthz"))).json();
}

const handler = createHandler({ models: [entry] });
const SAMPLED = { prompt: "Tom and Tom and Tom and Tom and", max_tokens: 40, temperature: 0.5, top_p: 0.9, seed: 5 };

describe("drafter in the request body", () => {
  it("every served drafter gives the text of the same request without one, and reports its stats", async () => {
    const plain = await (await post(handler, SAMPLED)).json();
    expect(plain.speculative).toBeUndefined();
    let accepted = 0;
    for (const drafter of ["lookup", "recycling", "aded", "stand", "early-exit:1", "rsd", "dyspec:early-exit:1"]) {
      for (const budget of [undefined, 1, 8]) {
        const res = await post(handler, { ...SAMPLED, drafter, ...(budget === undefined ? {} : { draft_budget: budget }) });
        expect(res.status, drafter).toBe(200);
        const body = await res.json();
        expect(body.choices[0].text, `${drafter} budget ${budget}`).toBe(plain.choices[0].text);
        const s = body.speculative;
        expect(s.drafter).toBe(drafter);
        expect(s.steps).toBeGreaterThan(0);
        expect(s.accepted).toBeLessThanOrEqual(s.proposed);
        expect(s.budget).toBe(budget ?? s.budget);
        accepted += s.accepted;
      }
    }
    expect(accepted).toBeGreaterThan(0);
  });

  it("greedy, chat-free and streamed: the same text, the last chunk carries the stats", async () => {
    const req = { prompt: "Once upon a time", max_tokens: 24, temperature: 0 };
    const plain = (await (await post(handler, req)).json()).choices[0].text;
    const res = await post(handler, { ...req, drafter: "recycling", draft_budget: 4, stream: true });
    const events = (await res.text())
      .split("\n\n")
      .filter(Boolean)
      .map((b) => b.slice("data: ".length));
    expect(events.pop()).toBe("[DONE]");
    const chunks = events.map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.choices[0].text).join("")).toBe(plain);
    expect(chunks[chunks.length - 1].speculative).toMatchObject({ drafter: "recycling", budget: 4 });
    expect(chunks.slice(0, -1).every((c) => c.speculative === undefined)).toBe(true);
  });

  it('"none" is no drafter', async () => {
    const body = await (await post(handler, { ...SAMPLED, drafter: "none" })).json();
    expect(body.speculative).toBeUndefined();
    expect(body.choices[0].text).toBe((await (await post(handler, SAMPLED)).json()).choices[0].text);
  });

  const bad: [string, Record<string, unknown>, RegExp, string][] = [
    [
      "an unknown name",
      { drafter: "medusa" },
      /"drafter" "medusa" is not a drafter this server runs; use one of none, lookup, recycling, aded, stand/,
      "drafter",
    ],
    ["a draft model from a path", { drafter: "model:/etc" }, /draft models from files are not served \(a request may not name a path\)/, "drafter"],
    ["a draft model from a path under rsd", { drafter: "rsd:model:/etc" }, /draft models from files are not served/, "drafter"],
    ["early exit after no layer", { drafter: "early-exit:0" }, /early exit needs at least 1 layer/, "drafter"],
    ["early exit beyond the model", { drafter: "early-exit:3" }, /early exit after 3 layers, but the model has 2/, "drafter"],
    ["a budget of 0", { drafter: "lookup", draft_budget: 0 }, /"draft_budget" must be at least 1/, "draft_budget"],
    ["a budget above 64", { drafter: "lookup", draft_budget: 65 }, /"draft_budget" must be at most 64/, "draft_budget"],
    ["a fractional budget", { drafter: "lookup", draft_budget: 1.5 }, /"draft_budget" must be an integer/, "draft_budget"],
    ["a budget without a drafter", { draft_budget: 4 }, /"draft_budget" needs a "drafter"/, "draft_budget"],
    ["a budget with drafter none", { drafter: "none", draft_budget: 4 }, /"draft_budget" needs a "drafter"/, "draft_budget"],
    ["a drafter that is not a string", { drafter: ["lookup"] }, /"drafter" must be a string/, "drafter"],
  ];
  for (const [name, extra, message, param] of bad) {
    it(`400 for ${name}`, async () => {
      const res = await post(handler, { prompt: "a", max_tokens: 2, ...extra });
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body.error.message).toMatch(message);
      expect(body.error.param).toBe(param);
    });
  }

  it("a drafter refused after the model loaded gives its slot back", async () => {
    const h = createHandler({ models: [entry], limits: { maxConcurrent: 1, maxQueued: 0 } });
    expect((await post(h, { prompt: "a", drafter: "early-exit:3" })).status).toBe(400);
    expect((await health(h)).active_generations).toBe(0);
    expect((await post(h, { prompt: "a", max_tokens: 2, drafter: "early-exit:2" })).status).toBe(200);
  });

  it("the default budget is measured once per model; a clock that stands still gets the fixed fallback", async () => {
    const { model } = await entry.load();
    const measured = defaultDraftBudget(model);
    expect(Number.isInteger(measured) && measured >= 1 && measured <= 64).toBe(true);
    expect(defaultDraftBudget(model)).toBe(measured);
    // as in workerd, where performance.now() moves only at I/O
    const { model: frozen } = await entry.load();
    const now = vi.spyOn(performance, "now").mockReturnValue(1000);
    try {
      expect(defaultDraftBudget(frozen)).toBe(FALLBACK_DRAFT_BUDGET);
    } finally {
      now.mockRestore();
    }
    model.free();
    frozen.free();
  });
});

describe("memory in /healthz", () => {
  it("reports the loaded model's wasm memory, and requests give back what they take", async () => {
    const h = createHandler({ models: [entry] });
    expect((await health(h)).memory).toEqual({ wasm_bytes: 0, arena_used_bytes: 0, arena_peak_bytes: 0, parts: {} });
    const run = async () => {
      for (const r of [SAMPLED, { ...SAMPLED, drafter: "recycling", draft_budget: 8 }, { ...SAMPLED, drafter: "early-exit:1", stream: true }])
        expect((await (await post(h, r)).text()).length).toBeGreaterThan(0);
    };
    await run();
    const first = (await health(h)).memory;
    const part = first.parts["model:tiny"];
    expect(part.wasm_bytes).toBe(first.wasm_bytes);
    // the f32 weights (2.6 MB) stay; the arena's peak fits the memory it grew
    expect(part.arena_used_bytes).toBeGreaterThan(2.5e6);
    expect(part.arena_peak_bytes).toBeGreaterThanOrEqual(part.arena_used_bytes ?? 0);
    expect(part.arena_peak_bytes).toBeLessThanOrEqual(part.wasm_bytes);
    // the snapshot at load: what loading needed at most, before any request's cache
    const load = part.loaded as NonNullable<typeof part.loaded>;
    expect(load.arena_peak_bytes).toBeGreaterThan(2.5e6);
    expect(load.arena_peak_bytes).toBeLessThanOrEqual(part.arena_peak_bytes ?? 0);
    expect(load.wasm_bytes).toBeLessThanOrEqual(part.wasm_bytes);
    for (let i = 0; i < 3; i++) await run();
    expect((await health(h)).memory).toEqual(first);
  });

  it("memoryReport adds up the parts and counts a shared memory once", () => {
    const memory = { buffer: { byteLength: 1 << 20 } };
    const backend = { memory, memoryStats: () => ({ used: 1000, peak: 3000 }) };
    const report = memoryReport([
      ["a", backend],
      ["b", { memory, memoryStats: () => ({ used: 1000, peak: 3000 }) }],
      ["index", { stats: () => ({ memoryBytes: 65536 }) }],
      ["missing", undefined],
    ]);
    expect(report).toEqual({
      wasm_bytes: (1 << 20) + 65536,
      arena_used_bytes: 1000,
      arena_peak_bytes: 3000,
      parts: {
        a: { wasm_bytes: 1 << 20, arena_used_bytes: 1000, arena_peak_bytes: 3000 },
        b: { wasm_bytes: 1 << 20, arena_used_bytes: 1000, arena_peak_bytes: 3000, shared_with: "a" },
        index: { wasm_bytes: 65536 },
      },
    });
  });
});
