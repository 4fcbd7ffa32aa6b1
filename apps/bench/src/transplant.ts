/**
 * Tokenizer transplantation benchmark on the three real models of ../shared, which all have
 * their own tokenizer. For each (base, donor) pair and each method (OMP with k in {8, 32, 64},
 * mean, zero, randn) the base is given the donor's tokenizer and scored on held-out
 * TinyStories-style text against the base with its own tokenizer on the same text:
 * perplexity per token, next-token accuracy and bits per byte (the one of the three that
 * compares tokenizers of different granularity fairly).
 *
 * The text: stories sampled at temperature 1 with fixed seeds from TinyStories-656K and
 * stories260K (half each), from BOS with no prompt. Neither model is a base and a donor's
 * reference at once in a way the text favours more than its own sampling does.
 *
 * Speed: the OMP problem of the first pair as a transplant at the default settings poses it
 * (donor embeddings of the new tokens over the donor anchor embeddings, centred, k = 64, ridge
 * 1) solved by the Rust wasm solver and by a straightforward numpy OMP on one thread
 * (tools/reference/omp_numpy.py), with the share of identical atoms.
 *
 *   edgespec bench transplant [--quick] [--json]
 */

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generate } from "@edgespec/decoding";
import { resolveModelSource } from "@edgespec/models/node";
import { createBackend, OmpSolver } from "@edgespec/runtime";
import {
  type Checkpoint,
  checkpointFiles,
  checkpointModel,
  DEFAULT_K,
  DEFAULT_RIDGE,
  matchVocabularies,
  ompProblem,
  readCheckpoint,
  scoreTexts,
  transplantTokenizer,
} from "@edgespec/transplant";
import { fixtures, repoRoot } from "./paths";
import { median } from "./stats";

export interface TransplantBenchRow {
  base: string;
  donor: string;
  method: string;
  /** OMP atoms; null for the other methods */
  k: number | null;
  ppl: number;
  acc: number;
  bpb: number;
  seconds: number;
}

const MODELS = { stories260k: "stories260K", "tinystories-656k": "tinystories-656k", aidreams260k: "aidreams260K" } as const;
type ModelName = keyof typeof MODELS;
/** [base, donor]: both TinyStories directions, and aidreams260K with each of the others */
const PAIRS: [ModelName, ModelName][] = [
  ["stories260k", "tinystories-656k"],
  ["tinystories-656k", "stories260k"],
  ["aidreams260k", "tinystories-656k"],
  ["stories260k", "aidreams260k"],
];
const METHODS: { method: "omp" | "mean" | "zero" | "randn"; k?: number }[] = [
  { method: "omp", k: 8 },
  { method: "omp", k: 32 },
  { method: "omp", k: 64 },
  { method: "mean" },
  { method: "zero" },
  { method: "randn" },
];

/** Held-out text: stories sampled at temperature 1 with fixed seeds (see the header). */
export async function heldOutStories(models: Checkpoint[], perModel: number, maxTokens: number): Promise<string[]> {
  const backend = await createBackend("wasm");
  const texts: string[] = [];
  for (const ckpt of models) {
    const model = checkpointModel(ckpt, backend);
    for (let seed = 1; seed <= perModel; seed++) {
      // seeds from 1000: the speculative and decoding tests sample from the low seeds
      const g = await generate(model, ckpt.tokenizer, "", { temperature: 1, seed: 1000 + seed, maxTokens });
      if (g.text.trim()) texts.push(g.text.trim());
    }
    model.free();
  }
  return texts;
}

/**
 * stories260K speaking TinyStories-656K's tokenizer (OMP at the default settings: k = 64,
 * centred, ridge 1), written as a model folder under `dir`: a cross-tokenizer draft model for
 * TinyStories-656K. Returns the folder.
 */
export async function writeTransplantedDrafter(dir: string): Promise<string> {
  const base = await readCheckpoint(await resolveModelSource(fixtures("transplant", "models", "stories260K")));
  const donor = await readCheckpoint(await resolveModelSource(fixtures("transplant", "models", "tinystories-656k")));
  const r = await transplantTokenizer(base, donor, { method: "omp" });
  const out = join(dir, "stories260k-omp-tinystories");
  mkdirSync(out, { recursive: true });
  for (const [name, bytes] of checkpointFiles(r.checkpoint, r.record)) writeFileSync(join(out, name), bytes);
  return out;
}

export async function benchTransplant(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const quick = argv.includes("--quick");
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const ckpts = new Map<ModelName, Checkpoint>();
  for (const name of Object.keys(MODELS) as ModelName[])
    ckpts.set(name, await readCheckpoint(await resolveModelSource(fixtures("transplant", "models", MODELS[name]))));
  const get = (n: ModelName) => ckpts.get(n) as Checkpoint;

  const texts = await heldOutStories([get("tinystories-656k"), get("stories260k")], quick ? 4 : 16, quick ? 96 : 200);
  log(`held-out text: ${texts.length} stories, ${texts.reduce((a, t) => a + t.length, 0)} characters, sampled at temperature 1 (seeds 1001..)`);

  const backend = await createBackend("wasm");
  const solver = await OmpSolver.create();
  const results: TransplantBenchRow[] = [];
  const reference: Record<string, { ppl: number; acc: number; bpb: number }> = {};
  for (const name of new Set(PAIRS.map(([b]) => b))) {
    const model = checkpointModel(get(name), backend);
    const s = scoreTexts(model, get(name).tokenizer, texts);
    model.free();
    reference[name] = { ppl: s.ppl, acc: s.acc, bpb: s.bpb };
  }
  for (const [b, d] of PAIRS) {
    const match = matchVocabularies(get(b).tokenizer, get(d).tokenizer);
    log(`${b} <- tokenizer of ${d}: ${match.anchors.length} shared tokens, ${match.unmatched.length} to approximate`);
    for (const m of METHODS) {
      const r = await transplantTokenizer(get(b), get(d), { method: m.method, k: m.k, solver, seed: 1 });
      const model = checkpointModel(r.checkpoint, backend);
      const s = scoreTexts(model, r.checkpoint.tokenizer, texts);
      model.free();
      results.push({ base: b, donor: d, method: m.method, k: m.k ?? null, ppl: s.ppl, acc: s.acc, bpb: s.bpb, seconds: r.seconds });
    }
  }

  const speed = ompSpeed(get(PAIRS[0][0]), get(PAIRS[0][1]), solver, quick ? 1 : 3);
  if (json) {
    process.stdout.write(`${JSON.stringify({ results, reference_ppl: reference, numpy_seconds: speed?.numpySeconds ?? null, omp_speed: speed })}\n`);
    return 0;
  }
  const pad = (s: string | number, n: number) => String(s).padEnd(n);
  console.log(`${pad("base", 18)}${pad("donor tokenizer", 18)}${pad("method", 10)}${pad("ppl", 14)}${pad("acc", 8)}${pad("bits/byte", 11)}seconds`);
  for (const [b, ref] of Object.entries(reference)) {
    console.log(
      `${pad(b, 18)}${pad("(its own)", 18)}${pad("-", 10)}${pad(ref.ppl.toFixed(2), 14)}${pad(ref.acc.toFixed(3), 8)}${pad(ref.bpb.toFixed(3), 11)}-`,
    );
  }
  for (const r of results) {
    const method = r.k === null ? r.method : `${r.method}-${r.k}`;
    console.log(
      `${pad(r.base, 18)}${pad(r.donor, 18)}${pad(method, 10)}${pad(r.ppl.toPrecision(6), 14)}${pad(r.acc.toFixed(3), 8)}${pad(r.bpb.toFixed(3), 11)}${r.seconds.toFixed(3)}`,
    );
  }
  if (speed) {
    console.log(
      `\nOMP ${speed.targets} targets x ${speed.atoms} atoms x ${speed.dim} dims, k ${speed.k}: wasm ${speed.wasmSeconds.toFixed(3)} s, numpy (one thread) ${speed.numpySeconds.toFixed(3)} s lstsq / ${speed.numpyCholeskySeconds.toFixed(3)} s cholesky -> ${speed.speedup.toFixed(1)}x / ${speed.speedupCholesky.toFixed(1)}x; identical atom sequences ${(100 * speed.sameSequences).toFixed(1)}%, atoms in common ${(100 * speed.sameAtoms).toFixed(1)}%`,
    );
  }
  return 0;
}

export interface OmpSpeed {
  targets: number;
  atoms: number;
  dim: number;
  k: number;
  wasmSeconds: number;
  numpySeconds: number;
  numpyCholeskySeconds: number;
  speedup: number;
  speedupCholesky: number;
  /** share of targets whose atom sequence is identical to numpy's */
  sameSequences: number;
  /** share of chosen atoms (as sets) that numpy also chose */
  sameAtoms: number;
}

/** The pair's embed_tokens OMP problem, timed in wasm and in numpy; undefined without python3 + numpy. */
function ompSpeed(base: Checkpoint, donor: Checkpoint, solver: OmpSolver, rounds: number): OmpSpeed | undefined {
  const k = DEFAULT_K;
  const ridge = DEFAULT_RIDGE;
  const match = matchVocabularies(base.tokenizer, donor.tokenizer);
  const emb = donor.tensors.get("model.embed_tokens.weight");
  if (!emb) return undefined;
  const dim = emb.shape[1];
  // the transplant's own problem: centred anchor rows and targets (see initialize.ts)
  const problem = ompProblem({ data: emb.data, rows: emb.shape[0], dim }, match);
  const targetIds = Int32Array.from({ length: emb.shape[0] }, (_, i) => i).filter((i) => match.donorToBase[i] < 0);
  const dict = problem.dictionary;
  const targets = problem.targets(targetIds);
  const nA = match.anchors.length;
  const nT = targetIds.length;
  const times: number[] = [];
  let ours = solver.solve(dict, nA, targets, nT, { k, ridge });
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    ours = solver.solve(dict, nA, targets, nT, { k, ridge });
    times.push((performance.now() - t0) / 1000);
  }

  const python = pythonWithNumpy();
  if (!python) {
    process.stderr.write("bench transplant: no python3 with numpy found (set EDGESPEC_PYTHON); skipping the numpy comparison\n");
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), "edgespec-omp-"));
  try {
    const input = join(dir, "in.bin");
    const head = new Uint32Array([nA, dim, nT, k]);
    writeFileSync(input, Buffer.concat([Buffer.from(head.buffer), Buffer.from(dict.buffer), Buffer.from(targets.buffer)]));
    const script = join(repoRoot, "tools", "reference", "omp_numpy.py");
    const runNumpy = (method: string) => {
      const secs: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const p = spawnSync(python, [script, input, join(dir, `out-${method}.bin`), "--method", method, "--ridge", String(ridge)], {
          env: { ...process.env, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
          encoding: "utf8",
        });
        if (p.status !== 0) throw new Error(`omp_numpy.py failed: ${p.stderr}`);
        secs.push(JSON.parse(p.stdout.trim().split("\n").pop() as string).seconds);
      }
      return median(secs);
    };
    const numpySeconds = runNumpy("lstsq");
    const numpyCholeskySeconds = runNumpy("cholesky");
    const theirs = new Int32Array(new Uint8Array(readFileSync(join(dir, "out-lstsq.bin"))).buffer, 0, nT * k);
    let sameSeq = 0;
    let common = 0;
    let chosen = 0;
    for (let t = 0; t < nT; t++) {
      const a = Array.from(ours.indices.subarray(t * k, (t + 1) * k)).filter((x) => x >= 0);
      const b = Array.from(theirs.subarray(t * k, (t + 1) * k)).filter((x) => x >= 0);
      if (a.length === b.length && a.every((x, i) => x === b[i])) sameSeq++;
      const set = new Set(b);
      common += a.filter((x) => set.has(x)).length;
      chosen += Math.max(a.length, b.length);
    }
    const wasmSeconds = median(times);
    return {
      targets: nT,
      atoms: nA,
      dim,
      k,
      wasmSeconds,
      numpySeconds,
      numpyCholeskySeconds,
      speedup: numpySeconds / wasmSeconds,
      speedupCholesky: numpyCholeskySeconds / wasmSeconds,
      sameSequences: sameSeq / nT,
      sameAtoms: common / Math.max(1, chosen),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Debian's python3-numpy lives in /usr/bin/python3; a pyenv python3 may have its own numpy. */
function pythonWithNumpy(): string | undefined {
  const candidates = [process.env.EDGESPEC_PYTHON, "/usr/bin/python3", "python3"].filter((x): x is string => Boolean(x));
  return candidates.find((py) => spawnSync(py, ["-c", "import numpy"], { stdio: "ignore" }).status === 0);
}
