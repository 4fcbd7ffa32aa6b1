// deno test: the HTTP API on Deno.serve answers like the reference (greedy) and streams SSE;
// the drafter cases of cases.json sent as requests (drafter, draft_budget) give generate()'s text.

import { answerAll, CASES } from "./answers.mjs";
import { defaultModel } from "./generate.ts";
import { denoHandler } from "./serve.ts";

Deno.test("Deno.serve: /v1/completions greedy text is the reference's; stream: true adds up to it", async () => {
  const golden = JSON.parse(await Deno.readTextFile(new URL("../../packages/models/test/golden/tinystories-656k.json", import.meta.url)));
  const handler = denoHandler(defaultModel());
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => handler(req));
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const ask = (stream: boolean) =>
      fetch(`${base}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: golden.cases[0].text, max_tokens: 8, temperature: 0, stream }),
      });
    const body = await (await ask(false)).json();
    if (body.choices[0].text !== golden.cases[0].greedy_text)
      throw new Error(`got ${JSON.stringify(body.choices[0].text)}, reference ${JSON.stringify(golden.cases[0].greedy_text)}`);
    const events = (await (await ask(true)).text())
      .split("\n\n")
      .filter(Boolean)
      .map((b) => b.slice(6));
    if (events[events.length - 1] !== "[DONE]") throw new Error("the stream does not end with [DONE]");
    const text = events
      .slice(0, -1)
      .map((e) => JSON.parse(e).choices[0].text)
      .join("");
    if (text !== golden.cases[0].greedy_text) throw new Error(`streamed ${JSON.stringify(text)}`);
    const bad = await fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    if (bad.status !== 400) throw new Error(`malformed JSON gave ${bad.status}`);
    await bad.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("Deno.serve: requests with a drafter give the text generate() gives (cases.json)", async () => {
  const expected: string[] = await answerAll(defaultModel());
  const handler = denoHandler(defaultModel());
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => handler(req));
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    let asked = 0;
    for (const [i, c] of CASES.entries()) {
      if (!c.drafter) continue;
      const body = {
        prompt: c.prompt,
        max_tokens: c.maxTokens,
        temperature: c.temperature,
        top_p: c.topP,
        seed: c.seed,
        drafter: c.drafter,
        draft_budget: c.draftBudget,
      };
      const res = await fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const out = await res.json();
      if (res.status !== 200) throw new Error(`${JSON.stringify(body)}: HTTP ${res.status} ${JSON.stringify(out)}`);
      if (out.choices[0].text !== expected[i])
        throw new Error(`${JSON.stringify(body)}: got ${JSON.stringify(out.choices[0].text)}, generate() gave ${JSON.stringify(expected[i])}`);
      if (out.speculative?.drafter !== c.drafter || !(out.speculative.steps > 0))
        throw new Error(`${JSON.stringify(body)}: no speculative stats: ${JSON.stringify(out.speculative)}`);
      asked++;
    }
    if (asked < 4) throw new Error(`only ${asked} drafter cases in cases.json`);
  } finally {
    await server.shutdown();
  }
});
