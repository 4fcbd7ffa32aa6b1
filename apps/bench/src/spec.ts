/**
 * Speculative decoding benchmark, in the manner of Spec-Bench: for every model and category
 * of the suite (spec-suite.ts), plain greedy decoding and greedy decoding with each drafter,
 * in the same run. Reports the mean accepted tokens per verify step (MAT) and the wall-clock
 * speedup over plain decoding (medians of rounds), and checks that every drafter's output
 * is token for token the plain output.
 *
 * At the SmolLM2-135M shape (random weights, where acceptance means nothing) it reports a
 * projected speedup instead: the MAT measured on TinyStories-656K with the budget that
 * SmolLM2's own verify cost curve picks, × step cost ÷ verify cost at that budget.
 *
 * The drafters include stories260K transplanted onto TinyStories-656K's tokenizer (see
 * transplant.ts): a draft model across tokenizers, for TinyStories-656K only.
 *
 * Every round's fresh drafter first serves WARMUP_PROMPTS (untimed, never the suite's
 * prompts): the hot start of Token Recycling's paper, where stores persist across requests.
 * `--warmup N` serves the first N of them (0: every drafter starts cold).
 *
 *   edgespec bench spec [--drafter a,b,...] [--budget N] [--warmup N] [--quick] [--json]
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DecodingOptionsError, type Drafter, draftBudget, generate, verifyCostCurve } from "@edgespec/decoding";
import { createDrafter, DRAFTER_SPECS } from "@edgespec/drafters";
import { LlamaModel, type LoadedModel, loadCausalLM, loadLlama } from "@edgespec/models";
import { resolveModelSource } from "@edgespec/models/node";
import { WasmBackend } from "@edgespec/runtime";
import { randomWeights, SHAPES } from "./decode";
import { fixtures, repoRoot } from "./paths";
import { SPEC_SUITE, type SpecCategory, WARMUP_PROMPTS } from "./spec-suite";
import { median } from "./stats";
import { writeTransplantedDrafter } from "./transplant";

export interface SpecResult {
  model: string;
  category: SpecCategory | "all";
  drafter: string;
  /** mean accepted tokens per verify step, the bonus token included */
  mat: number;
  /** plain decoding time ÷ speculative time (measured), or MAT × step ÷ verify (projected) */
  speedup: number;
  projected: boolean;
  /** draft nodes per step */
  budget: number;
  /** every output equalled plain greedy decoding */
  identical: boolean;
}

async function loadModels(): Promise<{ name: string; loaded: LoadedModel }[]> {
  const tiny = await loadCausalLM(await resolveModelSource(fixtures("spec", "models", "tinystories-656k")));
  const storiesDir = fixtures("spec", "models", "stories260K");
  const tok = await resolveModelSource(join(storiesDir, "tok512.bin"));
  const stories = await loadCausalLM(await resolveModelSource(join(storiesDir, "stories260K.bin")), {
    tokenizer: { source: tok, file: tok.entry ?? "tok512.bin" },
  });
  return [
    { name: "tinystories-656k", loaded: tiny },
    { name: "stories260k", loaded: stories },
  ];
}

interface RunTotals {
  ms: number[];
  tokens: number;
  steps: number;
  identical: boolean;
}

export async function benchSpec(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const quick = argv.includes("--quick");
  const at = argv.indexOf("--drafter");
  const fastdraft = `model:${join(repoRoot, "packages", "drafters", "weights", "fastdraft-tinystories")}`;
  // the distilled drafter shares TinyStories-656K's tokenizer only; drafters that do not fit a model are skipped for it
  // stories260K given TinyStories-656K's tokenizer by OMP: a draft model across tokenizers
  const scratch = mkdtempSync(join(tmpdir(), "edgespec-spec-"));
  const transplanted = `model:${await writeTransplantedDrafter(scratch)}`;
  const drafterSpecs = at >= 0 ? (argv[at + 1] ?? "").split(",").filter(Boolean) : [...DRAFTER_SPECS, fastdraft, transplanted];
  const bi = argv.indexOf("--budget");
  const fixedBudget = bi >= 0 ? Number(argv[bi + 1]) : undefined;
  if (fixedBudget !== undefined && (!Number.isInteger(fixedBudget) || fixedBudget < 0))
    throw new Error(`--budget must be a non-negative integer, got ${argv[bi + 1]}`);
  const wi = argv.indexOf("--warmup");
  const warmup = wi >= 0 ? Number(argv[wi + 1]) : quick ? 4 : WARMUP_PROMPTS.length;
  if (!Number.isInteger(warmup) || warmup < 0 || warmup > WARMUP_PROMPTS.length)
    throw new Error(`--warmup must be an integer in [0, ${WARMUP_PROMPTS.length}], got ${argv[wi + 1]}`);
  const rounds = quick ? 1 : 3;
  const maxTokens = quick ? 48 : 128;
  const suite = quick ? SPEC_SUITE.filter((_, i) => i % 4 === 0) : SPEC_SUITE;
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const results: SpecResult[] = [];
  const categories = [...new Set(suite.map((p) => p.category))];
  log(
    `edgespec speculative benchmark: ${suite.length} prompts × ${maxTokens} tokens, ${rounds} round(s), greedy, one thread; drafters warmed on ${warmup} other prompts`,
  );

  const models = await loadModels();
  // the budget SmolLM2-135M's own cost curve picks, for the projection
  const smolBackend = await WasmBackend.create();
  const smol = new LlamaModel(smolBackend, SHAPES["smollm2-135m"], randomWeights(smolBackend, "q8_0", 1234), { contextLength: 256 });
  const smolCurve = verifyCostCurve(smol);
  const smolBudget = draftBudget(smol);
  const smolRatio = smolCurve.find((p) => p.nodes === smolBudget + 1)?.ratio ?? 1;
  smol.free();
  log(`  smollm2-135m q8_0 verify cost: ${smolCurve.map((p) => `${p.nodes}:${p.ratio.toFixed(2)}`).join(" ")} → budget ${smolBudget}`);

  for (const { name, loaded } of models) {
    const { model, tokenizer } = loaded;
    const budget = fixedBudget ?? draftBudget(model);
    log(
      `  ${name}: verify cost ${verifyCostCurve(model)
        .map((p) => `${p.nodes}:${p.ratio.toFixed(2)}`)
        .join(" ")} → budget ${budget}`,
    );
    const plainTokens = new Map<string, number[]>();
    const plain = new Map<SpecCategory, RunTotals>();
    for (const c of categories) plain.set(c, { ms: [], tokens: 0, steps: 0, identical: true });
    // round 0 warms the JIT and the kernels' scratch and is not timed
    for (let r = -1; r < rounds; r++) {
      const byCat = new Map<SpecCategory, number>();
      for (const p of suite) {
        const t = performance.now();
        const out = await generate(model, tokenizer, p.prompt, { temperature: 0, maxTokens });
        byCat.set(p.category, (byCat.get(p.category) ?? 0) + performance.now() - t);
        plainTokens.set(p.prompt, out.tokens);
      }
      if (r >= 0) for (const [c, ms] of byCat) plain.get(c)?.ms.push(ms);
    }
    for (const spec of drafterSpecs) {
      try {
        (await createDrafter(spec, { model, tokenizer, loadModel: loadDraftModel }))?.free?.();
      } catch (e) {
        if (!(e instanceof DecodingOptionsError)) throw e;
        log(`  ${name.padEnd(16)} ${label(spec).padEnd(14)} skipped: ${e.message}`);
        continue;
      }
      const run = async (draftBudgetOverride?: number) => {
        const totals = new Map<SpecCategory, RunTotals>();
        for (const c of categories) totals.set(c, { ms: [], tokens: 0, steps: 0, identical: true });
        // round -1 warms the JIT and is not timed. Each round starts a fresh drafter whose stores
        // (Token Recycling's adjacency...) persist across the suite's prompts, as across a
        // deployment's requests, but never see a prompt twice: greedy outputs repeat exactly.
        for (let r = -1; r < (draftBudgetOverride === undefined ? rounds : 1); r++) {
          const drafter = (await createDrafter(spec, { model, tokenizer, loadModel: loadDraftModel })) as Drafter;
          const fixed = draftBudgetOverride ?? fixedBudget;
          const budgetOption = fixed !== undefined ? { draftBudget: fixed } : {};
          for (const p of WARMUP_PROMPTS.slice(0, warmup)) await generate(model, tokenizer, p, { temperature: 0, maxTokens, drafter, ...budgetOption });
          const byCat = new Map<SpecCategory, number>();
          for (const p of suite) {
            const t = performance.now();
            // the measured budget is the default (with back-off while drafting does not pay); a fixed one is passed
            const out = await generate(model, tokenizer, p.prompt, { temperature: 0, maxTokens, drafter, ...budgetOption });
            byCat.set(p.category, (byCat.get(p.category) ?? 0) + performance.now() - t);
            const tot = totals.get(p.category) as RunTotals;
            const s = out.stats.speculative;
            if (r === 0 && s) {
              tot.tokens += s.accepted + s.steps;
              tot.steps += s.steps;
            }
            if (r === 0 && (plainTokens.get(p.prompt) ?? []).join() !== out.tokens.join()) tot.identical = false;
          }
          if (r >= 0) for (const [c, ms] of byCat) totals.get(c)?.ms.push(ms);
          drafter.free?.();
        }
        return totals;
      };
      const measured = await run();
      const all = { ms: 0, plainMs: 0, tokens: 0, steps: 0, identical: true };
      for (const c of categories) {
        const m = measured.get(c) as RunTotals;
        const p = plain.get(c) as RunTotals;
        const res: SpecResult = {
          model: name,
          category: c,
          drafter: label(spec),
          mat: round(m.steps ? m.tokens / m.steps : 1),
          speedup: round(median(p.ms) / median(m.ms)),
          projected: false,
          budget,
          identical: m.identical,
        };
        results.push(res);
        all.ms += median(m.ms);
        all.plainMs += median(p.ms);
        all.tokens += m.tokens;
        all.steps += m.steps;
        all.identical &&= m.identical;
      }
      results.push({
        model: name,
        category: "all",
        drafter: label(spec),
        mat: round(all.steps ? all.tokens / all.steps : 1),
        speedup: round(all.plainMs / all.ms),
        projected: false,
        budget,
        identical: all.identical,
      });
      const rows = results.filter((x) => x.model === name && x.drafter === label(spec));
      log(
        `  ${name.padEnd(16)} ${label(spec).padEnd(14)} ${rows.map((x) => `${x.category} MAT ${x.mat.toFixed(2)} ${x.speedup.toFixed(2)}x`).join(" | ")}${all.identical ? "" : "  OUTPUT DIFFERS"}`,
      );
      // projection at the SmolLM2-135M shape, from TinyStories' acceptance at SmolLM2's budget
      if (name === "tinystories-656k") {
        const atSmol = await run(smolBudget);
        let tokens = 0;
        let steps = 0;
        for (const c of categories) {
          const m = atSmol.get(c) as RunTotals;
          const mat = m.steps ? m.tokens / m.steps : 1;
          tokens += m.tokens;
          steps += m.steps;
          results.push({
            model: "smollm2-135m",
            category: c,
            drafter: label(spec),
            mat: round(mat),
            speedup: round(mat / smolRatio),
            projected: true,
            budget: smolBudget,
            identical: m.identical,
          });
        }
        const mat = steps ? tokens / steps : 1;
        results.push({
          model: "smollm2-135m",
          category: "all",
          drafter: label(spec),
          mat: round(mat),
          speedup: round(mat / smolRatio),
          projected: true,
          budget: smolBudget,
          identical: true,
        });
        log(
          `  ${"smollm2-135m*".padEnd(16)} ${label(spec).padEnd(14)} projected: MAT ${mat.toFixed(2)} at budget ${smolBudget} → ${(mat / smolRatio).toFixed(2)}x`,
        );
      }
    }
    model.free();
  }
  rmSync(scratch, { recursive: true, force: true });
  const bad = results.filter((r) => !r.identical);
  if (json) process.stdout.write(`${JSON.stringify({ results })}\n`);
  if (bad.length) {
    log(`bench spec: ${bad.length} result(s) whose output differs from plain greedy decoding`);
    return 1;
  }
  return 0;
}

async function loadDraftModel(path: string): Promise<LlamaModel> {
  return (await loadLlama(await resolveModelSource(path))).model;
}

/** A drafter's name in reports: a draft model by its folder name. */
function label(spec: string): string {
  return spec.startsWith("model:") ? `model:${spec.slice(6).split(/[\\/]/).filter(Boolean).pop()}` : spec;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
