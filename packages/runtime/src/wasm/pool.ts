/**
 * The worker pool: threads that run kernel calls over the same shared WebAssembly.Memory.
 *
 * The calling thread is thread 0 and does its own share; threads 1..n-1 are workers that
 * each instantiate the shared-memory (-mt) kernels over that memory. A dispatch writes one
 * call per thread (kernel index + arguments) into a small shared control block, bumps a
 * generation counter, runs its own call and waits for the others. Workers spin for up to
 * SPIN_MS between calls (a decode step is hundreds of short kernel calls with little JS
 * between them, and a futex wake costs more than most of them), then sleep on Atomics.wait.
 *
 * Hosts: Node (worker_threads, eval'd source), browsers and Deno (module Workers from a
 * Blob URL). Where there is no Worker, no SharedArrayBuffer, or the page is not
 * cross-origin isolated (workerd, plain pages), start() answers why and the backend stays
 * single-threaded.
 */
import { KernelLoadError, KernelTrapError } from "../errors";

/** Argument slots per call: the widest kernel (attention) takes 16. */
export const ARG_SLOTS = 16;
/** Most chunks one dispatch may hold (chunk index lives in the low 8 bits of CLAIM). */
export const MAX_CHUNKS = 255;

// control block (Int32 indices)
const GEN = 0; // bumped once per dispatch: wakes the workers
const CLAIM = 1; // (job << 8) | next unclaimed chunk; claimed by compare-and-swap
const DONE = 2; // chunks finished in the current job
const SLEEPERS = 3; // workers inside Atomics.wait on GEN
const ERROR = 4; // 1 when a call threw; its message is in the text buffer
const MAIN_WAITING = 5; // the caller sleeps on DONE
const FN = 6; // kernel index of the current job, -2 = stop
const CHUNKS = 7; // chunks in the current job
const THREAD_SLOT = 8; // argument slot that gets a per-thread value (scratch), or -1
const CTRL_INTS = 16;
const STOP = -2;
const MAX_THREADS = 64;
/**
 * How long an idle worker spins before it sleeps. Decoding leaves gaps of a few hundred
 * microseconds between parallel calls (sampling, the JS between layers); waking a sleeping
 * worker costs about as much, and a late worker holds the chunk it claims.
 */
const SPIN_MS = 2;
// header doubles before the chunk table: the per-thread value is base + thread * stride
const THREAD_BASE = 0;
const THREAD_STRIDE = 1;
const HEADER = 2;

/** One per-thread argument: slot `slot` of every call on thread i gets base + i * stride. */
export interface PerThread {
  slot: number;
  base: number;
  stride: number;
}

/**
 * The worker's whole program, as source: it has no imports, so every host can start it
 * from a string (Node's eval workers) or a Blob URL (browsers, Deno) without a bundler.
 *
 * Chunks are claimed, not assigned: a thread that is descheduled (a loaded machine) does
 * not hold the job up, the others take its chunks. A claim is a compare-and-swap of
 * CLAIM whose high bits name the job, so a late thread can never claim from the next one;
 * the caller rewrites the chunk table only after every chunk of the job is DONE.
 */
const WORKER_SOURCE = `
const GEN = ${GEN}, CLAIM = ${CLAIM}, DONE = ${DONE}, SLEEPERS = ${SLEEPERS}, ERROR = ${ERROR}, MAIN_WAITING = ${MAIN_WAITING};
const FN = ${FN}, CHUNKS = ${CHUNKS}, THREAD_SLOT = ${THREAD_SLOT}, STOP = ${STOP}, K = ${ARG_SLOTS}, HEADER = ${HEADER}, SPIN_MS = ${SPIN_MS};
function start(msg, post) {
  let fns, ctrl, table, text;
  try {
    const inst = new WebAssembly.Instance(msg.module, { env: { memory: msg.memory } });
    fns = msg.names.map((n) => inst.exports[n]);
    ctrl = new Int32Array(msg.ctrl);
    table = new Float64Array(msg.table);
    text = new Uint8Array(msg.text);
  } catch (e) {
    post({ type: "error", message: String((e && e.message) || e) });
    return;
  }
  post({ type: "ready" });
  const me = msg.index;
  const a = new Float64Array(K);
  let seen = Atomics.load(ctrl, GEN);
  for (;;) {
    let spins = 0;
    let idleSince = performance.now();
    while (Atomics.load(ctrl, GEN) === seen) {
      if ((++spins & 1023) !== 0 || performance.now() - idleSince < SPIN_MS) continue;
      Atomics.add(ctrl, SLEEPERS, 1);
      Atomics.wait(ctrl, GEN, seen);
      Atomics.sub(ctrl, SLEEPERS, 1);
      idleSince = performance.now();
    }
    seen = Atomics.load(ctrl, GEN);
    if (Atomics.load(ctrl, FN) === STOP) return;
    for (;;) {
      const c = Atomics.load(ctrl, CLAIM);
      if (c >>> 8 !== (seen & 0x7fffff)) break;
      const chunk = c & 255;
      if (chunk >= Atomics.load(ctrl, CHUNKS)) break;
      if (Atomics.compareExchange(ctrl, CLAIM, c, c + 1) !== c) continue;
      const fn = fns[Atomics.load(ctrl, FN)];
      for (let i = 0; i < K; i++) a[i] = table[HEADER + chunk * K + i];
      const slot = Atomics.load(ctrl, THREAD_SLOT);
      if (slot >= 0) a[slot] = table[0] + me * table[1];
      try {
        fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]);
      } catch (e) {
        if (Atomics.compareExchange(ctrl, ERROR, 0, 1) === 0) {
          const bytes = new TextEncoder().encode(String((e && e.message) || e)).slice(0, text.length - 4);
          new DataView(text.buffer).setUint32(0, bytes.length, true);
          text.set(bytes, 4);
        }
      }
      Atomics.add(ctrl, DONE, 1);
      if (Atomics.load(ctrl, MAIN_WAITING) !== 0) Atomics.notify(ctrl, DONE);
    }
  }
}
`;

const NODE_WORKER = `${WORKER_SOURCE}
const { parentPort } = require("node:worker_threads");
parentPort.once("message", (msg) => start(msg, (m) => parentPort.postMessage(m)));
`;

const WEB_WORKER = `${WORKER_SOURCE}
self.onmessage = (e) => { self.onmessage = null; start(e.data, (m) => self.postMessage(m)); };
`;

interface HostWorker {
  post(msg: unknown): void;
  onMessage(f: (msg: { type: string; message?: string }) => void): void;
  onError(f: (e: unknown) => void): void;
  /** let the process exit while the worker lives (Node); called once it is ready */
  unref(): void;
  terminate(): void;
}

type NodeWorkerCtor = new (
  src: string,
  opts: { eval: true },
) => {
  postMessage(m: unknown): void;
  on(ev: string, f: (x: unknown) => void): void;
  unref(): void;
  terminate(): Promise<number>;
};

function nodeWorkerCtor(): NodeWorkerCtor | undefined {
  const g = globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?(id: string): unknown }; Deno?: unknown };
  if (!g.process?.versions?.node || g.Deno) return undefined;
  const wt = g.process.getBuiltinModule?.("node:worker_threads") as { Worker?: NodeWorkerCtor } | undefined;
  return wt?.Worker;
}

/** Why threads cannot run here, or null when they can. */
export function threadsUnavailable(): string | null {
  if (typeof SharedArrayBuffer === "undefined") return "this host has no SharedArrayBuffer (a web page must be cross-origin isolated: COOP/COEP headers)";
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) return "the page is not cross-origin isolated (COOP/COEP headers)";
  if (typeof Atomics?.wait !== "function") return "this host has no Atomics.wait";
  if (!nodeWorkerCtor() && typeof (globalThis as { Worker?: unknown }).Worker !== "function")
    return "this host has no Worker (Cloudflare Workers run one thread)";
  return null;
}

function spawn(): HostWorker {
  const NodeWorker = nodeWorkerCtor();
  if (NodeWorker) {
    const w = new NodeWorker(NODE_WORKER, { eval: true });
    return {
      post: (m) => w.postMessage(m),
      onMessage: (f) => w.on("message", f as (x: unknown) => void),
      onError: (f) => w.on("error", f),
      unref: () => w.unref(),
      terminate: () => void w.terminate(),
    };
  }
  const url = URL.createObjectURL(new Blob([WEB_WORKER], { type: "text/javascript" }));
  try {
    const W = (globalThis as unknown as { Worker: new (u: string, o: { type: "module" }) => Worker }).Worker;
    const w = new W(url, { type: "module" });
    return {
      post: (m) => w.postMessage(m),
      onMessage: (f) => w.addEventListener("message", (e) => f((e as MessageEvent).data)),
      onError: (f) => w.addEventListener("error", (e) => f(e)),
      unref: () => {},
      terminate: () => w.terminate(),
    };
  } finally {
    // the worker has fetched its source by the time it runs; revoking later is not needed
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}

/** Whether this thread may block in Atomics.wait (not a browser's main thread). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

export class WorkerPool {
  private closed = false;
  private readonly blocking = canBlock();
  private readonly table: Float64Array;
  private job = 0;

  private constructor(
    /** threads in all, the caller included */
    readonly size: number,
    private readonly workers: HostWorker[],
    private readonly ctrl: Int32Array,
    table: SharedArrayBuffer,
    private readonly text: Uint8Array,
    private readonly fns: readonly ((...a: number[]) => unknown)[],
  ) {
    this.table = new Float64Array(table);
  }

  /**
   * Start size - 1 workers over `memory` (shared), each instantiating `module` (the -mt
   * kernels) and resolving `names` in it; `fns` are the same kernels in the caller's own
   * instance, in the same order.
   */
  static async start(
    size: number,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    names: readonly string[],
    fns: readonly ((...a: number[]) => unknown)[],
  ): Promise<WorkerPool> {
    if (!Number.isInteger(size) || size < 2 || size > MAX_THREADS) throw new KernelLoadError(`a worker pool needs 2..${MAX_THREADS} threads, got ${size}`);
    const why = threadsUnavailable();
    if (why) throw new KernelLoadError(`threads are unavailable: ${why}`);
    const ctrlBuf = new SharedArrayBuffer(CTRL_INTS * 4);
    const tableBuf = new SharedArrayBuffer((HEADER + MAX_CHUNKS * ARG_SLOTS) * 8);
    const textBuf = new SharedArrayBuffer(1024);
    new Int32Array(ctrlBuf)[FN] = -1;
    const workers: HostWorker[] = [];
    try {
      const ready = [];
      for (let i = 1; i < size; i++) {
        const w = spawn();
        workers.push(w);
        ready.push(
          new Promise<void>((resolve, reject) => {
            w.onMessage((m) => (m.type === "ready" ? resolve() : reject(new KernelLoadError(`a kernel worker failed to start: ${m.message}`))));
            w.onError((e) => reject(new KernelLoadError(`a kernel worker failed: ${(e as Error)?.message ?? e}`)));
          }),
        );
        w.post({ module, memory, names, ctrl: ctrlBuf, table: tableBuf, text: textBuf, index: i });
      }
      await Promise.all(ready);
      // a pool the program forgot to close must not keep the process alive
      for (const w of workers) w.unref();
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e instanceof KernelLoadError ? e : new KernelLoadError(`could not start kernel workers: ${(e as Error).message}`);
    }
    return new WorkerPool(size, workers, new Int32Array(ctrlBuf), tableBuf, new Uint8Array(textBuf), fns);
  }

  /**
   * Run kernel `fn` once per chunk (each chunk a full argument list), spread over all
   * threads, the caller included; return when every chunk is done. `perThread` gives one
   * argument a value per thread (scratch space). Throws KernelTrapError if a call trapped.
   */
  run(op: string, fn: number, chunks: readonly (readonly number[])[], perThread?: PerThread): void {
    if (this.closed) throw new KernelLoadError("the worker pool is closed");
    if (chunks.length > MAX_CHUNKS) throw new KernelLoadError(`${op}: ${chunks.length} chunks exceed ${MAX_CHUNKS}`);
    const { ctrl, table } = this;
    for (let c = 0; c < chunks.length; c++) {
      const args = chunks[c];
      for (let j = 0; j < args.length; j++) table[HEADER + c * ARG_SLOTS + j] = args[j];
    }
    table[THREAD_BASE] = perThread?.base ?? 0;
    table[THREAD_STRIDE] = perThread?.stride ?? 0;
    Atomics.store(ctrl, THREAD_SLOT, perThread ? perThread.slot : -1);
    Atomics.store(ctrl, FN, fn);
    Atomics.store(ctrl, CHUNKS, chunks.length);
    Atomics.store(ctrl, DONE, 0);
    this.job = (this.job + 1) & 0x7fffff;
    // CLAIM first, then GEN: a worker woken by GEN always finds this job's CLAIM
    Atomics.store(ctrl, CLAIM, this.job << 8);
    Atomics.store(ctrl, GEN, this.job);
    if (Atomics.load(ctrl, SLEEPERS) > 0) Atomics.notify(ctrl, GEN);
    let mainError: unknown = null;
    const f = this.fns[fn];
    for (;;) {
      const c = Atomics.load(ctrl, CLAIM);
      const chunk = c & 255;
      if (chunk >= chunks.length) break;
      if (Atomics.compareExchange(ctrl, CLAIM, c, c + 1) !== c) continue;
      const args = chunks[chunk] as number[];
      if (perThread) args[perThread.slot] = perThread.base;
      try {
        f(...args);
      } catch (e) {
        mainError ??= e;
      }
      Atomics.add(ctrl, DONE, 1);
    }
    this.join(chunks.length);
    const workerFailed = Atomics.load(ctrl, ERROR) !== 0;
    if (workerFailed) Atomics.store(ctrl, ERROR, 0);
    if (mainError || workerFailed) {
      const msg = mainError ? String((mainError as Error).message ?? mainError) : this.workerMessage();
      throw new KernelTrapError(`${op}: kernel trapped (${msg}); this is a bug, please report it`);
    }
  }

  private join(chunks: number): void {
    const { ctrl } = this;
    let spins = 0;
    for (;;) {
      const done = Atomics.load(ctrl, DONE);
      if (done === chunks) return;
      if (++spins < 1 << 16 || !this.blocking) continue;
      Atomics.store(ctrl, MAIN_WAITING, 1);
      Atomics.wait(ctrl, DONE, done, 1);
      Atomics.store(ctrl, MAIN_WAITING, 0);
    }
  }

  private workerMessage(): string {
    const n = new DataView(this.text.buffer).getUint32(0, true);
    return new TextDecoder().decode(this.text.slice(4, 4 + n));
  }

  /** Stop the workers. Idempotent; the backend keeps working on one thread afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, FN, STOP);
    Atomics.add(this.ctrl, GEN, 1);
    Atomics.notify(this.ctrl, GEN);
    for (const w of this.workers) w.terminate();
  }
}
