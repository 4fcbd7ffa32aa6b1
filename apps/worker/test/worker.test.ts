// The Worker in workerd (@cloudflare/vitest-pool-workers): dist/worker.js runs as its own
// Worker beside this test, loads TinyStories-656K from a Fetcher binding that serves
// ../shared (as static assets would), and answers over the EDGE service binding.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

interface Edge {
  fetch(input: string, init?: RequestInit): Promise<Response>;
}
const edge = (env as unknown as { EDGE: Edge }).EDGE;
const crossHost = JSON.parse((env as unknown as { CROSS_HOST: string }).CROSS_HOST) as {
  requests: Record<string, unknown>[];
  node: { completions: string[]; embeddings: unknown; search: unknown };
};

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
    const h = (await (await edge.fetch("http://edge/healthz")).json()) as { status: string; models: { id: string }[] };
    expect(h.status).toBe("ok");
    expect(h.models.map((m) => m.id)).toEqual(["tinystories-656k"]);
    const m = (await (await edge.fetch("http://edge/v1/models")).json()) as { data: { id: string }[] };
    expect(m.data.map((x) => x.id)).toEqual(["tinystories-656k"]);
  });

  it("the same request gives byte-identical text in workerd and in Node (greedy and seeded sampling)", async () => {
    for (let i = 0; i < crossHost.requests.length; i++) {
      const res = await post("/v1/completions", crossHost.requests[i]);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { choices: { text: string }[] };
      expect(body.choices[0].text).toBe(crossHost.node.completions[i]);
    }
    expect(crossHost.node.completions[0].length).toBeGreaterThan(20);
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

  it("malformed and oversized requests get clear 4xx JSON", async () => {
    const cases: [Promise<Response>, number, RegExp][] = [
      [post("/v1/completions", "{oops"), 400, /not valid JSON/],
      [post("/v1/completions", { prompt: "a", max_tokens: 100000 }), 400, /limit of 256/],
      [post("/v1/completions", { prompt: "x".repeat(2 ** 20 + 10) }), 413, /limit/],
      [post("/v1/completions", "a", { "content-type": "text/plain" }), 415, /application\/json/],
      [post("/v1/chat/completions", { messages: "hi" }), 400, /"messages" must be a non-empty array/],
      [edge.fetch("http://edge/v1/nothing"), 404, /no route/],
    ];
    for (const [res, status, message] of cases) {
      const r = await res;
      expect(r.status).toBe(status);
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(message);
    }
  });
});
