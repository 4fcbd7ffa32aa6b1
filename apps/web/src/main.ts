import { type Drafter, type GenerateOptions, type GenerateResult, generate } from "@edgespec/decoding";
import { createDrafter } from "@edgespec/drafters";
import { type LoadedModel, type LoadOptions, loadCausalLM, type ModelSource, resolveRemoteModelSource } from "@edgespec/models";
import { WasmBackend } from "@edgespec/runtime";
import { drawChart, type Series } from "./chart";
import { FilesModelSource } from "./file-source";
import { setupRetrieval } from "./retrieval";
import { recordingDrafter, type StepRecord, stepHue, type TokenRole, tokenRoles } from "./steps";
import { TreeView } from "./tree";
import "./style.css";

const $ = <T extends HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};

const ui = {
  url: $<HTMLInputElement>("model-url"),
  load: $<HTMLButtonElement>("load"),
  threads: $<HTMLSelectElement>("threads"),
  files: $<HTMLInputElement>("files"),
  folder: $<HTMLInputElement>("folder"),
  status: $<HTMLDivElement>("status"),
  prompt: $<HTMLTextAreaElement>("prompt"),
  maxTokens: $<HTMLInputElement>("max-tokens"),
  temperature: $<HTMLInputElement>("temperature"),
  topP: $<HTMLInputElement>("top-p"),
  seed: $<HTMLInputElement>("seed"),
  drafter: $<HTMLSelectElement>("drafter"),
  budget: $<HTMLInputElement>("budget"),
  generate: $<HTMLButtonElement>("generate"),
  stop: $<HTMLButtonElement>("stop"),
  compare: $<HTMLButtonElement>("compare"),
  promptEcho: $<HTMLSpanElement>("prompt-echo"),
  output: $<HTMLSpanElement>("output"),
  runStats: $<HTMLDivElement>("run-stats"),
  chart: $<HTMLCanvasElement>("chart"),
  compareTable: $<HTMLTableElement>("compare-results"),
};

const treeView = new TreeView({
  box: $("tree-box"),
  slider: $<HTMLInputElement>("tree-step"),
  caption: $("tree-caption"),
  tree: $("draft-tree"),
  output: ui.output,
});
// a coloured token of the output shows the draft tree of its step
ui.output.addEventListener("click", (e) => {
  const step = (e.target as HTMLElement).dataset?.step;
  if (step !== undefined) treeView.select(Number(step));
});

let loaded: LoadedModel | undefined;
/** the backend of the loaded model; replaced (and its worker threads stopped) on every load */
let backend: WasmBackend | undefined;
let abort: AbortController | undefined;

type State = "idle" | "loading" | "ready" | "generating" | "comparing" | "error";
function setStatus(state: State, text: string): void {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
  const busy = state === "loading" || state === "generating" || state === "comparing";
  ui.generate.disabled = ui.compare.disabled = busy || !loaded;
  ui.load.disabled = ui.files.disabled = ui.folder.disabled = busy;
  ui.stop.disabled = !(state === "generating" || state === "comparing");
}

function fail(e: unknown): void {
  console.error(e);
  setStatus("error", `error: ${(e as Error).message ?? String(e)}`);
}

async function loadFrom(source: ModelSource, opts: LoadOptions = {}): Promise<void> {
  setStatus("loading", `loading ${source.location}…`);
  loaded?.model.free();
  loaded = undefined;
  backend?.close();
  backend = undefined;
  const t0 = performance.now();
  try {
    // threads need a cross-origin isolated page (COOP/COEP, which vite.config.ts sends); elsewhere one thread runs
    const threads = ui.threads.value === "auto" ? "auto" : Number(ui.threads.value);
    backend = await WasmBackend.create({ threads });
    loaded = await loadCausalLM(source, {
      ...opts,
      backend,
      onProgress: (p) => {
        if (p.total && p.total > 1e6) ui.status.textContent = `loading ${p.file}: ${((100 * p.loaded) / p.total).toFixed(0)}%`;
      },
    });
    const c = loaded.config;
    const ms = (performance.now() - t0).toFixed(0);
    const threadText = `${backend.threads} thread${backend.threads > 1 ? "s" : ""}${backend.threadsNote ? ` (${backend.threadsNote})` : ""}`;
    setStatus(
      "ready",
      `loaded ${source.location} (${loaded.format}, ${c.numLayers} layers, hidden ${c.hiddenSize}, vocab ${c.vocabSize}) in ${ms} ms on ${threadText}`,
    );
  } catch (e) {
    fail(e);
  }
}

ui.load.addEventListener("click", () => {
  try {
    void loadFrom(resolveRemoteModelSource(new URL(ui.url.value, location.href).href));
  } catch (e) {
    fail(e);
  }
});

for (const input of [ui.files, ui.folder]) {
  input.addEventListener("change", () => {
    const files = [...(input.files ?? [])];
    if (!files.length) return;
    try {
      const src = new FilesModelSource(files, files.length === 1 ? files[0].name : `${files.length} picked files`);
      const tok = src.llama2cTokenizer;
      void loadFrom(src, src.entry?.endsWith(".bin") && tok ? { tokenizer: { source: src, file: tok } } : {});
    } catch (e) {
      fail(e);
    }
  });
}

function options(): { prompt: string; maxTokens: number; temperature: number; topP: number | undefined; seed: number; budget: number | undefined } {
  const num = (el: HTMLInputElement, d: number) => (el.value.trim() === "" || !Number.isFinite(Number(el.value)) ? d : Number(el.value));
  return {
    prompt: ui.prompt.value,
    maxTokens: Math.max(1, Math.floor(num(ui.maxTokens, 64))),
    temperature: Math.max(0, num(ui.temperature, 0)),
    topP: ui.topP.value.trim() === "" ? undefined : Math.min(1, Math.max(0, num(ui.topP, 1))),
    seed: Math.floor(num(ui.seed, 0)),
    budget: ui.budget.value.trim() === "" ? undefined : Math.max(1, Math.floor(num(ui.budget, 8))),
  };
}

const yieldToPage = () => new Promise<void>((r) => setTimeout(r, 0));

interface Run {
  result: GenerateResult;
  text: string;
  steps: StepRecord[];
  series: [number, number][];
}

/** One generation streamed into #output: a span per token, coloured by step when drafting. */
async function run(spec: string, o: ReturnType<typeof options>, signal: AbortSignal, live: boolean): Promise<Run> {
  const { model, tokenizer } = loaded as LoadedModel;
  const inner = await createDrafter(spec, { model, tokenizer });
  const steps: StepRecord[] = [];
  const spans: HTMLSpanElement[] = [];
  const paint = (i: number, role: TokenRole | undefined) => {
    const span = spans[i];
    if (!span || !role) return;
    span.className = `tok ${role.kind === "accepted" ? "acc" : "bonus"}`;
    span.style.setProperty("--hue", String(stepHue(role.step)));
    span.dataset.step = String(role.step);
  };
  let drafter: Drafter | undefined;
  if (inner)
    drafter = recordingDrafter(inner, (s) => {
      steps.push(s);
      if (!live) return;
      const roles = tokenRoles([s]);
      for (const [i, r] of roles) paint(i, { ...r, step: steps.length - 1 });
      treeView.push(s);
    });
  const gopts: GenerateOptions = { maxTokens: o.maxTokens, temperature: o.temperature, seed: o.seed, signal };
  if (o.topP !== undefined) gopts.topP = o.topP;
  if (drafter) {
    gopts.drafter = drafter;
    if (o.budget !== undefined) gopts.draftBudget = o.budget;
  }
  const series: [number, number][] = [];
  const times: number[] = [];
  let text = "";
  let lastPaint = performance.now();
  const gen = generate(model, tokenizer, o.prompt, gopts);
  try {
    for await (const t of gen) {
      const now = performance.now();
      times.push(now);
      text += t.text;
      if (live) {
        const span = document.createElement("span");
        span.textContent = t.text;
        span.dataset.token = String(t.token);
        spans.push(span);
        ui.output.append(span);
        const roles = tokenRoles(steps);
        paint(spans.length - 1, roles.get(spans.length - 1));
      }
      const n = times.length;
      if (n > 1) {
        const k = Math.max(0, n - 9);
        const dt = (now - times[k]) / 1000;
        if (dt > 0) series.push([(now - times[0]) / 1000, (n - 1 - k) / dt]);
      }
      if (live && now - lastPaint > 50) {
        lastPaint = now;
        drawChart(ui.chart, [{ label: spec, color: "#1565c0", points: series }]);
        await yieldToPage();
      }
    }
    const result = await gen;
    return { result, text, steps, series };
  } finally {
    drafter?.free?.();
  }
}

function describe(r: Run): string {
  const s = r.result.stats;
  const parts = [
    `${s.generatedTokens} tokens`,
    `${s.tokensPerSecond.toFixed(1)} tok/s`,
    `prefill ${s.prefillMs.toFixed(1)} ms`,
    `finish: ${r.result.finishReason}`,
  ];
  if (s.speculative) {
    const sp = s.speculative;
    parts.push(
      `${sp.steps} verify steps`,
      `${sp.accepted}/${sp.proposed} drafts accepted`,
      `mean ${sp.meanAccepted.toFixed(2)} tokens/step`,
      `budget ${sp.budget}`,
    );
  }
  return parts.join(" · ");
}

ui.generate.addEventListener("click", async () => {
  if (!loaded) return;
  const o = options();
  const spec = ui.drafter.value;
  abort = new AbortController();
  ui.output.replaceChildren();
  ui.output.dataset.done = "false";
  ui.output.dataset.steps = "0";
  ui.promptEcho.textContent = o.prompt;
  treeView.reset(loaded.tokenizer);
  ui.runStats.textContent = "";
  setStatus("generating", `generating with ${spec === "none" ? "no drafter" : `drafter ${spec}`}…`);
  try {
    const r = await run(spec, o, abort.signal, true);
    drawChart(ui.chart, [{ label: spec, color: "#1565c0", points: r.series }]);
    ui.runStats.textContent = describe(r);
    ui.output.dataset.steps = String(r.steps.length);
    ui.output.dataset.done = "true";
    setStatus("ready", `done (${spec})`);
  } catch (e) {
    fail(e);
  }
});

ui.stop.addEventListener("click", () => abort?.abort());

const COLORS: Record<string, string> = { none: "#555", lookup: "#2e7d32", recycling: "#c62828" };

ui.compare.addEventListener("click", async () => {
  if (!loaded) return;
  const o = { ...options(), temperature: 0, topP: undefined };
  abort = new AbortController();
  const body = ui.compareTable.tBodies[0];
  body.replaceChildren();
  ui.compareTable.hidden = false;
  ui.compareTable.dataset.done = "false";
  setStatus("comparing", "comparing drafters…");
  try {
    // warm up the wasm tiers so the first row is not charged for compilation
    await run("none", { ...o, maxTokens: Math.min(o.maxTokens, 8) }, abort.signal, false);
    const series: Series[] = [];
    let baseline: string | undefined;
    for (const spec of ["none", "lookup", "recycling"]) {
      ui.status.textContent = `comparing drafters: ${spec}…`;
      await yieldToPage();
      const r = await run(spec, o, abort.signal, false);
      baseline ??= r.text;
      const s = r.result.stats;
      const row = body.insertRow();
      row.dataset.drafter = spec;
      const cells = [
        spec,
        s.tokensPerSecond.toFixed(1),
        (s.speculative?.meanAccepted ?? 1).toFixed(2),
        String(s.speculative?.steps ?? s.generatedTokens),
        r.text === baseline ? "yes" : "NO",
      ];
      for (const c of cells) row.insertCell().textContent = c;
      series.push({ label: spec, color: COLORS[spec], points: r.series });
      drawChart(ui.chart, series);
    }
    ui.compareTable.dataset.done = "true";
    setStatus("ready", "comparison done");
  } catch (e) {
    fail(e);
  }
});

setStatus("idle", "no model loaded");
drawChart(ui.chart, []);
setupRetrieval();
