/**
 * The HTTP API through its fetch handler (and once through a real Node socket): OpenAI
 * response shapes, streaming, seeds, stop strings, chat templates, limits and every kind of
 * bad request, on TinyStories-656K.
 */

import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { HfTokenizer, loadCausalLM } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";
import { afterAll, describe, expect, it } from "vitest";
import { sharedDir } from "../../models/test/shared";
import { createHandler, type Handler, type ModelEntry } from "../src/index";
import { serveNode } from "../src/node";

const TINY = sharedDir("models", "tinystories-656k");
/** the reference's greedy continuation of "Once upon a time" (tools/reference/llama_ref.py) */
const GREEDY_8 = [313, 598, 303, 1049, 1468, 267, 628, 333];

async function tinyEntry(id = "tinystories-656k", chatTemplate?: string): Promise<ModelEntry> {
  return {
    id,
    load: async () => {
      const loaded = await loadCausalLM(await resolveModelSource(TINY));
      if (!chatTemplate) return loaded;
      const json = JSON.parse(await readFile(join(TINY, "tokenizer.json"), "utf8"));
      const cfg = JSON.parse(await readFile(join(TINY, "tokenizer_config.json"), "utf8"));
      return { model: loaded.model, tokenizer: new HfTokenizer(json, { ...cfg, chat_template: chatTemplate }) };
    },
  };
}

/** TinyStories decodes a story (~100 tokens) in ~50 ms; abort tests need one that lasts seconds: 20 ms more per step. */
async function slowEntry(): Promise<ModelEntry> {
  const entry = await tinyEntry();
  return {
    id: entry.id,
    load: async () => {
      const served = await entry.load();
      const derive = served.model.derive.bind(served.model);
      served.model.derive = (o) => {
        const m = derive(o);
        const step = m.step.bind(m);
        m.step = (t) => {
          const until = performance.now() + 20;
          while (performance.now() < until);
          return step(t);
        };
        return m;
      };
      return served;
    },
  };
}

const CHAT_TEMPLATE = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

function post(handler: Handler, path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return handler(
    new Request(`http://edge.test${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
      ...init,
    }),
  );
}

async function sse(res: Response): Promise<{ events: Record<string, unknown>[]; done: boolean }> {
  const text = await res.text();
  const events: Record<string, unknown>[] = [];
  let done = false;
  for (const block of text.split("\n\n").filter(Boolean)) {
    expect(block.startsWith("data: ")).toBe(true);
    const data = block.slice(6);
    if (data === "[DONE]") done = true;
    else events.push(JSON.parse(data));
  }
  return { events, done };
}

const handler = createHandler({ models: [await tinyEntry(), await tinyEntry("tiny-chat", CHAT_TEMPLATE)] });

describe("routes", () => {
  it("GET /healthz and /v1/models", async () => {
    const h = await (await handler(new Request("http://edge.test/healthz"))).json();
    expect(h.status).toBe("ok");
    expect(h.models.map((m: { id: string }) => m.id)).toEqual(["tinystories-656k", "tiny-chat"]);
    const m = await (await handler(new Request("http://edge.test/v1/models"))).json();
    expect(m).toEqual({
      object: "list",
      data: [
        { id: "tinystories-656k", object: "model", created: 0, owned_by: "edgespec" },
        { id: "tiny-chat", object: "model", created: 0, owned_by: "edgespec" },
      ],
    });
  });

  it("/v1/completions: greedy text is the reference's, in OpenAI's shape", async () => {
    const res = await post(handler, "/v1/completions", { model: "tinystories-656k", prompt: "Once upon a time", max_tokens: 8, temperature: 0 });
    expect(res.status).toBe(200);
    const body = await res.json();
    const { tokenizer } = await loadCausalLM(await resolveModelSource(TINY));
    expect(body.object).toBe("text_completion");
    expect(body.id).toMatch(/^cmpl-[0-9a-f]{24}$/);
    expect(body.choices).toHaveLength(1);
    expect(body.choices[0].text).toBe(tokenizer.decode([1, ...tokenizer.encode("Once upon a time"), ...GREEDY_8]).slice("Once upon a time".length));
    expect(body.choices[0].finish_reason).toBe("length");
    const promptTokens = 1 + tokenizer.encode("Once upon a time").length; // BOS first
    expect(body.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: 8, total_tokens: promptTokens + 8 });
  });

  it("a seed reproduces a sampled completion; another seed gives another", async () => {
    const ask = async (seed: number) =>
      (await (await post(handler, "/v1/completions", { prompt: "Once upon a time", max_tokens: 24, temperature: 1, seed })).json()).choices[0].text;
    const a = await ask(7);
    expect(await ask(7)).toBe(a);
    expect(await ask(8)).not.toBe(a);
  });

  it("stream: true sends the same text as server-sent events, ending with [DONE]", async () => {
    const req = { prompt: "Once upon a time", max_tokens: 20, temperature: 0.8, seed: 3 };
    const whole = (await (await post(handler, "/v1/completions", req)).json()).choices[0].text;
    const res = await post(handler, "/v1/completions", { ...req, stream: true });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const { events, done } = await sse(res);
    expect(done).toBe(true);
    const choices = events.map((e) => (e.choices as { text: string; finish_reason: string | null }[])[0]);
    expect(choices.map((c) => c.text).join("")).toBe(whole);
    expect(choices.slice(0, -1).every((c) => c.finish_reason === null)).toBe(true);
    expect(choices[choices.length - 1].finish_reason).toBe("length");
    expect(events.length).toBeGreaterThan(3);
  });

  it("stop strings end the text before them", async () => {
    const base = { prompt: "Once upon a time", max_tokens: 40, temperature: 0 };
    const full = (await (await post(handler, "/v1/completions", base)).json()).choices[0].text as string;
    const word = full.trim().split(/\s+/)[3];
    const cut = await (await post(handler, "/v1/completions", { ...base, stop: [word] })).json();
    expect(cut.choices[0].text).toBe(full.slice(0, full.indexOf(word)));
    expect(cut.choices[0].finish_reason).toBe("stop");
  });

  it("/v1/chat/completions renders the chat template and streams deltas", async () => {
    const messages = [{ role: "user", content: "Tell me a story about a cat." }];
    const res = await post(handler, "/v1/chat/completions", { model: "tiny-chat", messages, max_tokens: 12, temperature: 0 });
    const body = await res.json();
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0].message.role).toBe("assistant");
    const direct = await (
      await post(handler, "/v1/completions", { model: "tiny-chat", prompt: "user: Tell me a story about a cat.\nassistant:", max_tokens: 12, temperature: 0 })
    ).json();
    expect(body.choices[0].message.content).toBe(direct.choices[0].text);
    const { events, done } = await sse(
      await post(handler, "/v1/chat/completions", { model: "tiny-chat", messages, max_tokens: 12, temperature: 0, stream: true }),
    );
    expect(done).toBe(true);
    const deltas = events.map((e) => (e.choices as { delta: { role?: string; content?: string } }[])[0].delta);
    expect(deltas[0].role).toBe("assistant");
    expect(deltas.map((d) => d.content ?? "").join("")).toBe(body.choices[0].message.content);
    // a model without a chat template says so
    const none = await post(handler, "/v1/chat/completions", { model: "tinystories-656k", messages });
    expect(none.status).toBe(400);
    expect((await none.json()).error.message).toMatch(/no chat template/);
  });
});

describe("bad requests get clear 4xx JSON", () => {
  const cases: [string, () => Promise<Response>, number, RegExp][] = [
    ["malformed JSON", () => post(handler, "/v1/completions", "{not json"), 400, /not valid JSON/],
    ["not an object", () => post(handler, "/v1/completions", "[1,2]"), 400, /must be a JSON object/],
    ["wrong content type", () => post(handler, "/v1/completions", "x", { headers: { "content-type": "text/plain" } }), 415, /application\/json/],
    ["missing prompt", () => post(handler, "/v1/completions", { max_tokens: 4 }), 400, /"prompt" is required/],
    ["prompt of the wrong type", () => post(handler, "/v1/completions", { prompt: 42 }), 400, /"prompt" must be a string or an array of strings/],
    ["temperature out of range", () => post(handler, "/v1/completions", { prompt: "a", temperature: 3 }), 400, /"temperature" must be at most 2/],
    ["max_tokens above the limit", () => post(handler, "/v1/completions", { prompt: "a", max_tokens: 100000 }), 400, /above this server's limit of 512/],
    ["n > 1", () => post(handler, "/v1/completions", { prompt: "a", n: 2 }), 400, /"n" must be at most 1/],
    ["unknown model", () => post(handler, "/v1/completions", { model: "gpt-9", prompt: "a" }), 404, /model "gpt-9" does not exist/],
    [
      "bad messages",
      () => post(handler, "/v1/chat/completions", { messages: [{ role: "user" }] }),
      400,
      /item 0 must be an object with a string "role" and a string "content"/,
    ],
    ["oversized body", () => post(handler, "/v1/completions", { prompt: "x".repeat(1.5 * 2 ** 20) }), 413, /limit/],
    ["unknown route", () => handler(new Request("http://edge.test/v2/nothing")), 404, /no route \/v2\/nothing/],
    ["wrong method", () => handler(new Request("http://edge.test/v1/completions")), 405, /GET is not allowed on \/v1\/completions; use POST/],
  ];
  for (const [name, send, status, message] of cases) {
    it(name, async () => {
      const res = await send();
      expect(res.status).toBe(status);
      const body = await res.json();
      expect(body.error.message).toMatch(message);
      expect(typeof body.error.type).toBe("string");
    });
  }
});

describe("concurrency", () => {
  it("concurrent generations keep their own caches: each equals the same request run alone", async () => {
    const reqs = [1, 2, 3, 4].map((seed) => ({ prompt: seed % 2 ? "Once upon a time" : "The little dog", max_tokens: 30, temperature: 1, seed }));
    const alone: string[] = [];
    for (const r of reqs) alone.push((await (await post(handler, "/v1/completions", r)).json()).choices[0].text);
    const together = await Promise.all(reqs.map(async (r) => (await (await post(handler, "/v1/completions", r)).json()).choices[0].text));
    expect(together).toEqual(alone);
  });

  it("beyond maxConcurrent and a full queue a request gets 429; a cancelled stream gives its slot back", async () => {
    const h = createHandler({ models: [await slowEntry()], limits: { maxConcurrent: 1, maxQueued: 0 } });
    const first = await post(h, "/v1/completions", { prompt: "Once upon a time", max_tokens: 500, stream: true });
    const reader = first.body?.getReader();
    await reader?.read();
    const second = await post(h, "/v1/completions", { prompt: "a", max_tokens: 2 });
    expect(second.status).toBe(429);
    expect((await second.json()).error.code).toBe("too_many_requests");
    await reader?.cancel();
    // the generation notices at its next token
    for (let i = 0; i < 100 && (await (await h(new Request("http://edge.test/healthz"))).json()).active_generations > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    const third = await post(h, "/v1/completions", { prompt: "a", max_tokens: 2 });
    expect(third.status).toBe(200);
  });
});

describe("queue", () => {
  it("requests beyond maxConcurrent wait their turn, in order, and complete; beyond the queue 429", async () => {
    const h = createHandler({ models: [await tinyEntry()], limits: { maxConcurrent: 1, maxQueued: 2 } });
    const reqs = [1, 2, 3].map((seed) => ({ prompt: "Once upon a time", max_tokens: 16, temperature: 1, seed }));
    const alone: string[] = [];
    for (const r of reqs) alone.push((await (await post(h, "/v1/completions", r)).json()).choices[0].text);
    const order: number[] = [];
    const all = reqs.map((r, i) =>
      post(h, "/v1/completions", r).then(async (res) => {
        order.push(i);
        return { status: res.status, body: await res.json() };
      }),
    );
    // one running and two waiting: a fourth is turned away
    const fourth = await post(h, "/v1/completions", { prompt: "a", max_tokens: 2 });
    expect(fourth.status).toBe(429);
    const done = await Promise.all(all);
    expect(done.map((d) => d.status)).toEqual([200, 200, 200]);
    expect(done.map((d) => d.body.choices[0].text)).toEqual(alone);
    expect(order).toEqual([0, 1, 2]);
    const health = await (await h(new Request("http://edge.test/healthz"))).json();
    expect([health.active_generations, health.queued_generations]).toEqual([0, 0]);
  });
});

describe("Node listener", () => {
  const servers: { close(): void }[] = [];
  afterAll(() => {
    for (const s of servers) s.close();
  });

  it("streams over a real socket, and a client that disconnects stops its generation", async () => {
    const h = createHandler({ models: [await slowEntry()] });
    const server = await serveNode(h, { host: "127.0.0.1", port: 0 });
    servers.push(server);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const res = await fetch(`${base}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "Once upon a time", max_tokens: 12, temperature: 0, stream: true }),
    });
    const { events, done } = await sse(res);
    expect(done).toBe(true);
    const direct = (await (await post(h, "/v1/completions", { prompt: "Once upon a time", max_tokens: 12, temperature: 0 })).json()).choices[0].text;
    expect(events.map((e) => (e.choices as { text: string }[])[0].text).join("")).toBe(direct);

    const abort = new AbortController();
    const long = await fetch(`${base}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "Once upon a time", max_tokens: 500, stream: true }),
      signal: abort.signal,
    });
    await long.body?.getReader().read();
    expect((await (await fetch(`${base}/healthz`)).json()).active_generations).toBe(1);
    abort.abort();
    // stopped within a step or two, long before the story could end (>= 2 s)
    const t0 = performance.now();
    let active = 1;
    while (active > 0 && performance.now() - t0 < 1000) {
      await new Promise((r) => setTimeout(r, 10));
      active = (await (await fetch(`${base}/healthz`)).json()).active_generations;
    }
    expect(active).toBe(0);
  });
});
