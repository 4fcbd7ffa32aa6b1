/**
 * End to end: the playground in headless Debian Chromium, served by Vite's dev server and by
 * `vite build` + `vite preview`, loads TinyStories-656K from the shared fixtures over HTTP
 * and must reproduce the numpy reference's greedy text, with and without drafters, and Node's
 * text for every cross-host case (apps/deno/cases.json: sampled, seeded, top-p, with and
 * without drafters); then the retrieval demo on the random-weight splade-tiny checkpoint must
 * give the hits that the same library calls give in Node. The page is cross-origin isolated,
 * and the first load runs the kernels on 2 threads (the worker pool in browser Workers), the
 * second on one. The draft tree view must draw each step's proposed nodes with its accepted
 * path in the step's colour (the output's accepted tokens of that step), its rejected nodes
 * and its bonus token.
 *
 * The dev-server run saves a screenshot to test-results/playground.png (git-ignored); with
 * EDGESPEC_SAVE_SCREENSHOT=1 also to results/playground.png, the committed one.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalModelSource } from "@edgespec/models/node";
import { loadSpladeEncoder } from "@edgespec/retrieval";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { writeEncoderFixture } from "../../../packages/retrieval/test/fixtures/encoders";
import { DOC_TOP_K, documentLines, HITS, QUERY_TOP_K, type RetrievalResult, retrieve } from "../src/retrieval";

const here = dirname(fileURLToPath(import.meta.url));
const app = resolve(here, "..");
const repoRoot = resolve(app, "../..");
const CHROMIUM = process.env.EDGESPEC_CHROMIUM ?? "/usr/bin/chromium";
const fixtures = resolve(repoRoot, process.env.EDGESPEC_FIXTURES ?? "../shared");
const modelDir = join(fixtures, "models", "tinystories-656k");
const golden = JSON.parse(readFileSync(join(repoRoot, "packages/models/test/golden/tinystories-656k.json"), "utf8")) as {
  cases: { text: string; greedy: number[]; greedy_text: string }[];
};
const viteBin = join(app, "node_modules", "vite", "bin", "vite.js");
const spladeTmp = mkdtempSync(join(tmpdir(), "edgespec-web-splade-"));
const spladeDir = join(spladeTmp, "splade-tiny");
let spladeReady: Promise<void> | undefined;
/** The random-weight SPLADE checkpoint (bert-tiny shape, real bert-base-uncased tokenizer) that /splade/ serves. */
function spladeFixture(): Promise<void> {
  spladeReady ??= writeEncoderFixture("splade-tiny", spladeDir);
  return spladeReady;
}
const results = join(app, "test-results");
/** the committed screenshot, rewritten only when asked (EDGESPEC_SAVE_SCREENSHOT=1) */
const committedScreenshot = join(app, "results", "playground.png");

/** A cross-host case, in generate()'s option names (the page's inputs). */
interface Case {
  prompt: string;
  maxTokens: number;
  temperature: number;
  topP?: number;
  seed?: number;
  drafter?: string;
  draftBudget?: number;
}
const denoApp = join(repoRoot, "apps", "deno");
const CASES = (JSON.parse(readFileSync(join(denoApp, "cases.json"), "utf8")) as { cases: Case[] }).cases;
let nodeTexts: string[] | undefined;
/** Node's texts for CASES: the very script Deno's test compares against (`node answers.mjs MODEL_DIR`). */
function nodeAnswers(): string[] {
  nodeTexts ??= JSON.parse(execFileSync(process.execPath, [join(denoApp, "answers.mjs"), modelDir], { encoding: "utf8", timeout: 120_000 })) as string[];
  return nodeTexts;
}

function freePort(): Promise<number> {
  return new Promise((ok, bad) => {
    const s = createServer();
    s.once("error", bad);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

interface Served {
  url: string;
  close(): Promise<void>;
}

/** Runs the vite CLI on a free port of 127.0.0.1 and waits until it answers. */
async function vite(args: string[]): Promise<Served> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [viteBin, ...args, "--host", "127.0.0.1", "--port", String(port), "--strictPort"], {
    cwd: app,
    env: { ...process.env, EDGESPEC_FIXTURES: fixtures, EDGESPEC_SPLADE_DIR: spladeDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout?.on("data", (d) => (log += d));
  child.stderr?.on("data", (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vite ${args.join(" ")} exited (${child.exitCode}):\n${log}`);
    try {
      if ((await fetch(`${url}/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`vite ${args.join(" ")} did not answer on ${url} within 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    close: () =>
      new Promise<void>((ok) => {
        if (child.exitCode !== null) return ok();
        child.once("exit", () => ok());
        child.kill("SIGTERM");
      }),
  };
}

async function waitReady(page: Page, what: string): Promise<void> {
  await page.waitForFunction(() => ["ready", "error"].includes(document.getElementById("status")?.dataset.state ?? ""), undefined, { timeout: 120_000 });
  const state = await page.getAttribute("#status", "data-state");
  if (state !== "ready") throw new Error(`${what}: ${await page.textContent("#status")}`);
}

interface Generated {
  text: string;
  steps: number;
  bonus: number;
  accepted: number;
}

/** One generation through the page's inputs, every one of them set (blank top p and budget: the defaults). */
async function generateWith(page: Page, c: Case): Promise<Generated> {
  const drafter = c.drafter ?? "none";
  await page.fill("#prompt", c.prompt);
  await page.fill("#max-tokens", String(c.maxTokens));
  await page.fill("#temperature", String(c.temperature));
  await page.fill("#top-p", c.topP === undefined ? "" : String(c.topP));
  await page.fill("#seed", String(c.seed ?? 0));
  await page.selectOption("#drafter", drafter);
  await page.fill("#budget", c.draftBudget === undefined ? "" : String(c.draftBudget));
  await page.click("#generate");
  await page.waitForFunction(
    () => document.getElementById("output")?.dataset.done === "true" || document.getElementById("status")?.dataset.state === "error",
    undefined,
    { timeout: 120_000 },
  );
  await waitReady(page, `generate with ${drafter}`);
  return {
    text: (await page.textContent("#output")) ?? "",
    steps: Number(await page.getAttribute("#output", "data-steps")),
    bonus: await page.locator("#output .tok.bonus").count(),
    accepted: await page.locator("#output .tok.acc").count(),
  };
}

function generateText(page: Page, drafter: string, maxTokens: number, prompt: string, draftBudget?: number): Promise<Generated> {
  return generateWith(page, { prompt, maxTokens, temperature: 0, drafter, draftBudget });
}

/**
 * Every cross-host case in the page equals Node's text; each drafter case also equals the
 * same case without its drafter (coupled verification), and its drafter really ran.
 */
async function exerciseCases(page: Page, cases: readonly number[] = CASES.map((_, i) => i)): Promise<void> {
  const node = nodeAnswers();
  expect(node).toHaveLength(CASES.length);
  let sampledAccepted = 0;
  for (const i of cases) {
    const c = CASES[i];
    const what = JSON.stringify(c);
    const r = await generateWith(page, c);
    expect(r.text, what).toBe(node[i]);
    if (!c.drafter) continue;
    expect(r.steps, what).toBeGreaterThan(0);
    if (c.temperature > 0) sampledAccepted += r.accepted;
    const { drafter: _d, draftBudget: _b, ...plain } = c;
    expect((await generateWith(page, plain)).text, `${what} without the drafter`).toBe(r.text);
  }
  if (cases.some((i) => CASES[i].drafter && CASES[i].temperature > 0)) expect(sampledAccepted).toBeGreaterThan(0);
}

let browser: Browser | undefined;

/** Checked in each test (not in a hook), so a missing requirement fails every test rather than skipping it. */
async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set EDGESPEC_CHROMIUM)`);
  if (!existsSync(join(modelDir, "model.safetensors")))
    throw new Error(`TinyStories-656K not found at ${modelDir}: the shared fixtures live in ../shared beside the repo (or set EDGESPEC_FIXTURES)`);
  if (!existsSync(viteBin)) throw new Error(`vite not installed at ${viteBin}: run pnpm install`);
  browser ??= await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  return browser;
}

afterAll(async () => {
  await browser?.close();
  rmSync(spladeTmp, { recursive: true, force: true });
});

/** The demo's computation in this process, on the same checkpoint read from disk. */
async function expectedRetrieval(docs: string[], query: string): Promise<RetrievalResult> {
  const encoder = await loadSpladeEncoder(new LocalModelSource(spladeDir), { topK: DOC_TOP_K, query: { topK: QUERY_TOP_K } });
  return retrieve(encoder, docs, query);
}

/** One run of the retrieval demo with its defaults: 16 query terms, 5 hits as in Node. */
async function exerciseRetrieval(page: Page): Promise<void> {
  expect(await page.inputValue("#splade-url")).toBe("/splade/");
  const docs = documentLines(await page.inputValue("#docs"));
  const query = await page.inputValue("#query");
  expect(docs.length).toBe(8);
  await page.click("#search");
  await page.waitForFunction(() => ["done", "error"].includes(document.getElementById("retrieval-status")?.dataset.state ?? ""), undefined, {
    timeout: 120_000,
  });
  const status = (await page.textContent("#retrieval-status")) ?? "";
  expect(await page.getAttribute("#retrieval-status", "data-state"), status).toBe("done");
  expect(status).toMatch(/2 layers, hidden 128, vocab 30522/);
  const terms = await page
    .locator("#query-terms tbody tr")
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")));
  expect(terms.length).toBe(QUERY_TOP_K);
  const hits = await page.locator("#hits li").evaluateAll((lis) =>
    lis.map((li) => ({
      id: Number((li as HTMLElement).dataset.id),
      score: Number((li as HTMLElement).dataset.score),
      match: li.querySelector(".match")?.textContent ?? "",
    })),
  );
  expect(hits.length).toBe(HITS);
  for (let i = 1; i < hits.length; i++) expect(hits[i].score).toBeLessThanOrEqual(hits[i - 1].score);

  const want = await expectedRetrieval(docs, query);
  expect(terms.map((t) => [t[0], Number(t[1])])).toEqual(want.queryTerms.map((t) => [t.term, t.id]));
  expect(hits.map((h) => h.id)).toEqual(want.hits.map((h) => h.id));
  expect(hits.map((h) => h.score)).toEqual(want.hits.map((h) => h.score));
  for (const h of hits) expect(h.match).toMatch(/^matching terms: \S/);
}

interface TreeNodeInfo {
  role: string;
  token: number;
  node: number;
  parent: number;
  background: string;
}

/**
 * The draft tree view of the step it shows: every proposed node is drawn (under a drawn
 * parent), the accepted-coloured nodes are as many as the step accepted and are the output's
 * accepted tokens of that step, in order, in the same colour; one bonus token, the output's.
 * Returns the step's [proposed, accepted].
 */
async function checkTree(page: Page, step: number): Promise<[number, number]> {
  const tree = page.locator("#draft-tree");
  expect(Number(await tree.getAttribute("data-step"))).toBe(step);
  const proposed = Number(await tree.getAttribute("data-proposed"));
  const accepted = Number(await tree.getAttribute("data-accepted"));
  const nodes: TreeNodeInfo[] = await page.locator("#draft-tree .tree-node").evaluateAll((els) =>
    els.map((e) => {
      const d = (e as HTMLElement).dataset;
      return {
        role: d.role ?? "",
        token: Number(d.token),
        node: Number(d.node ?? -1),
        parent: Number(d.parent ?? -2),
        background: getComputedStyle(e).backgroundColor,
      };
    }),
  );
  const out = await page.locator(`#output .tok[data-step="${step}"]`).evaluateAll((els) =>
    els.map((e) => ({
      kind: e.classList.contains("acc") ? "acc" : "bonus",
      token: Number((e as HTMLElement).dataset.token),
      background: getComputedStyle(e).backgroundColor,
    })),
  );
  const what = `step ${step}`;
  expect(
    nodes.filter((n) => n.role === "root"),
    what,
  ).toHaveLength(1);
  const drafted = nodes.filter((n) => n.role === "accepted" || n.role === "rejected");
  expect(drafted, what).toHaveLength(proposed);
  expect(new Set(drafted.map((n) => n.node)).size, what).toBe(proposed);
  for (const n of drafted) expect(n.parent === -1 || drafted.some((m) => m.node === n.parent), `${what}: parent of node ${n.node}`).toBe(true);
  const outAccepted = out.filter((o) => o.kind === "acc");
  expect(outAccepted.length, what).toBe(accepted);
  // accepted-coloured: the background the output gives this step's accepted tokens
  const accColour = outAccepted[0]?.background;
  const coloured = accColour ? nodes.filter((n) => n.background === accColour) : [];
  expect(coloured.length, `${what}: accepted-coloured nodes`).toBe(accepted);
  expect(coloured.every((n) => n.role === "accepted")).toBe(true);
  expect(
    coloured.map((n) => n.token),
    `${what}: the accepted path is the output's accepted tokens`,
  ).toEqual(outAccepted.map((o) => o.token));
  const bonus = nodes.filter((n) => n.role === "bonus");
  expect(
    bonus.map((n) => n.token),
    `${what}: bonus`,
  ).toEqual(out.filter((o) => o.kind === "bonus").map((o) => o.token));
  const rejected = drafted.filter((n) => n.role === "rejected");
  expect(rejected.length, what).toBe(proposed - accepted);
  for (const n of [...rejected, ...bonus]) expect(n.background, `${what}: ${n.role} colour`).not.toBe(accColour);
  expect(await page.textContent("#tree-caption")).toMatch(new RegExp(`^step ${step + 1} of \\d+: ${proposed} proposed, ${accepted} accepted, bonus `));
  return [proposed, accepted];
}

/** The tree view after a speculative run: the step of the first accepted token (clicked), then a step with accepted and rejected nodes left shown. */
async function exerciseTree(page: Page, steps: number): Promise<void> {
  expect(await page.isVisible("#tree-box")).toBe(true);
  const slider = page.locator("#tree-step");
  expect(Number(await slider.getAttribute("max"))).toBe(steps - 1);
  // it follows the latest step while generating
  expect(Number(await page.getAttribute("#draft-tree", "data-step"))).toBe(steps - 1);
  const first = page.locator("#output .tok.acc").first();
  const clicked = Number(await first.getAttribute("data-step"));
  await first.click();
  const [proposed, accepted] = await checkTree(page, clicked);
  expect(proposed).toBeGreaterThan(0);
  expect(accepted).toBeGreaterThan(0);
  let mixed = -1;
  // the last step's tokens may be cut by max tokens: the ones before it are compared in full
  for (let i = 0; i < steps - 1 && mixed < 0; i++) {
    await slider.fill(String(i));
    const [p, a] = await checkTree(page, i);
    if (a > 0 && p > a) mixed = i;
  }
  expect(mixed, "a step with accepted and rejected drafts").toBeGreaterThanOrEqual(0);
  await slider.fill(String(mixed));
  await checkTree(page, mixed);
}

/** The whole flow on one served page, with screenshots written to `screenshots`. */
async function exercise(url: string, screenshots: string[] = []): Promise<void> {
  const page = await (await launch()).newPage({ viewport: { width: 1100, height: 1000 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    // the SPLADE loader asks whether the folder has the optional idf.json and modules.json
    // (HEAD); the fixture has neither, and Chromium logs each 404 answer as a console error
    const probe = /\/splade\/(idf|modules)\.json$/.test(m.location().url) && m.text().includes("status of 404");
    if (m.type() === "error" && !probe) errors.push(`${m.text()} (${m.location().url})`);
  });
  try {
    await page.goto(url);
    expect(await page.inputValue("#model-url")).toBe("/models/tinystories-656k/");
    // the page is cross-origin isolated (vite.config.ts), so the kernels' worker pool runs
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await page.selectOption("#threads", "2");
    await page.click("#load");
    await waitReady(page, "load the default model");
    expect(await page.textContent("#status")).toMatch(/safetensors, 2 layers, hidden 128, vocab 2048\) in \d+ ms on 2 threads$/);

    const c = golden.cases[0];
    const n = c.greedy.length;
    const plain = await generateText(page, "none", n, c.text);
    expect(plain.text).toBe(c.greedy_text);
    expect(plain.steps).toBe(0);

    for (const drafter of ["lookup", "recycling"]) {
      const r = await generateText(page, drafter, n, c.text);
      expect(r.text, drafter).toBe(c.greedy_text);
      // every token after the first came out of a verify step: accepted drafts or a bonus
      expect(r.steps, drafter).toBeGreaterThan(0);
      expect(r.bonus, drafter).toBeGreaterThan(0);
      expect(r.bonus + r.accepted, drafter).toBe(n - 1);
    }

    // sampled (seed, top p) and speculative cases: the bytes Node gives
    await exerciseCases(page);

    // a longer greedy run: speculation must still give plain greedy's text, and some drafts get
    // accepted. The budget is fixed: the default one follows timings and backs off while
    // speculation does not pay on this machine, so on a loaded CI runner it may draft nothing.
    const long = await generateText(page, "none", 96, c.text);
    const spec = await generateText(page, "recycling", 96, c.text, 8);
    expect(spec.text).toBe(long.text);
    expect(spec.accepted).toBeGreaterThan(0);
    await exerciseTree(page, spec.steps);
    expect(
      await page
        .locator("#output .tok.acc")
        .first()
        .evaluate((e) => getComputedStyle(e).backgroundColor),
    ).not.toBe("rgba(0, 0, 0, 0)");

    await page.fill("#max-tokens", "48");
    await page.click("#compare");
    await page.waitForFunction(
      () => document.getElementById("compare-results")?.dataset.done === "true" || document.getElementById("status")?.dataset.state === "error",
      undefined,
      { timeout: 120_000 },
    );
    await waitReady(page, "compare drafters");
    const rows = await page
      .locator("#compare-results tbody tr")
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
    expect(rows.map((r) => r[0])).toEqual(["none", "lookup", "recycling"]);
    for (const r of rows) {
      expect(Number(r[1]), `tok/s of ${r[0]}`).toBeGreaterThan(0);
      expect(Number(r[2]), `mean accepted of ${r[0]}`).toBeGreaterThanOrEqual(1);
      expect(r[4], `same text for ${r[0]}`).toBe("yes");
    }
    // the chart drew something
    const inked = await page.$eval("#chart", (cv) => {
      const canvas = cv as HTMLCanvasElement;
      const d = canvas.getContext("2d")?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(100);

    for (const screenshot of screenshots) {
      mkdirSync(dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot, fullPage: true });
    }

    // the file picker: the same folder's files as an in-memory ModelSource
    await page.selectOption("#threads", "1");
    const names = ["config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"];
    await page.setInputFiles(
      "#files",
      names.map((f) => join(modelDir, f)),
    );
    await waitReady(page, "load the model from picked files");
    expect(await page.textContent("#status")).toMatch(/picked files \(safetensors, 2 layers.* on 1 thread$/);
    const picked = await generateText(page, "lookup", n, c.text);
    expect(picked.text).toBe(c.greedy_text);
    // on one thread too: a sampled case with a drafter
    await exerciseCases(page, [CASES.findIndex((x) => x.drafter && x.temperature > 0 && x.topP !== undefined)]);

    await exerciseRetrieval(page);
    expect(errors).toEqual([]);
  } finally {
    await page.close();
  }
}

describe("playground in headless Chromium", () => {
  it("dev server: loads TinyStories-656K, greedy text = numpy reference, with and without drafters", async () => {
    await launch();
    await spladeFixture();
    const server = await vite([]);
    try {
      await exercise(`${server.url}/`, [join(results, "playground.png"), ...(process.env.EDGESPEC_SAVE_SCREENSHOT === "1" ? [committedScreenshot] : [])]);
    } finally {
      await server.close();
    }
  });

  it("vite build + vite preview: the bundled page does the same", async () => {
    await launch();
    await spladeFixture();
    const out = mkdtempSync(join(tmpdir(), "edgespec-web-"));
    try {
      const build = spawn(process.execPath, [viteBin, "build", "--outDir", out, "--emptyOutDir"], { cwd: app, stdio: ["ignore", "pipe", "pipe"] });
      let log = "";
      build.stdout?.on("data", (d) => (log += d));
      build.stderr?.on("data", (d) => (log += d));
      const code = await new Promise<number | null>((ok) => build.once("exit", ok));
      if (code !== 0) throw new Error(`vite build failed (${code}):\n${log}`);
      const server = await vite(["preview", "--outDir", out]);
      try {
        await exercise(`${server.url}/`);
      } finally {
        await server.close();
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
