/**
 * A browser-style `Worker` for Node, built on node:worker_threads, for libraries that only
 * know Web Workers (wllama creates its worker from a blob: URL and talks to it with
 * postMessage / onmessage; its emscripten module starts pthread workers the same way).
 *
 * `new ShimWorker(url, options)` starts a worker_threads Worker whose entry is this file; the
 * script behind `url` (a blob: URL from URL.createObjectURL, or a file: URL) is read, sent
 * as the first message and run there with vm.runInThisContext, as a classic (non-module)
 * script with `require`, `__filename` and `__dirname` defined, as emscripten's Node build
 * expects. Messages posted before the script is sent are queued and keep their order.
 *
 * Two flavours, chosen by the options:
 * - browser (no `workerData`): the main side calls `onmessage({ data })` / `onerror` and
 *   addEventListener listeners; inside, the script gets `self`, `postMessage` and `onmessage`.
 * - Node-aware (the caller passes `workerData`, as emscripten does for its pthreads): plain
 *   worker_threads behaviour on both sides (`.on("message")`, parentPort), `workerData`
 *   passed through unchanged.
 * Inside every shim worker `Worker` is this class again (assignments to it are ignored), so
 * workers started from a worker also accept blob: URLs.
 */
import { resolveObjectURL } from "node:buffer";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { isMainThread, Worker as NodeWorker, parentPort } from "node:worker_threads";

const SCRIPT = "__edgespecShimScript";
const ENTRY = new URL(import.meta.url);

/** A browser transfer argument (array or `{ transfer }`) as worker_threads' transfer list. */
function transferList(transfer) {
  if (Array.isArray(transfer)) return transfer;
  return transfer?.transfer ?? [];
}

async function scriptText(url) {
  const href = String(url);
  if (href.startsWith("blob:")) {
    const blob = resolveObjectURL(href);
    if (!blob) throw new Error(`worker script ${href} is not a live blob: URL of this thread`);
    return blob.text();
  }
  if (href.startsWith("file:")) return readFileSync(new URL(href), "utf8");
  throw new Error(`worker script ${href}: only blob: and file: URLs are supported`);
}

export class ShimWorker extends NodeWorker {
  /** @type {((event: { data: unknown }) => void) | null} */
  onmessage = null;
  /** @type {((event: unknown) => void) | null} */
  onerror = null;
  /** @type {((event: unknown) => void) | null} */
  onmessageerror = null;
  /** messages posted before the script was sent; null once it was */
  #queue = [];
  #listeners = new Map();

  constructor(url, options = {}) {
    const { type: _type, credentials: _credentials, ...nodeOptions } = options;
    super(ENTRY, nodeOptions);
    const browser = options.workerData === undefined;
    if (browser) {
      this.on("message", (data) => this.#dispatch("message", { type: "message", data, target: this }));
      this.on("messageerror", (data) => this.#dispatch("messageerror", { type: "messageerror", data, target: this }));
      this.on("error", (error) => this.#dispatch("error", { type: "error", error, message: String(error?.message ?? error), target: this }));
    }
    scriptText(url).then(
      (code) => {
        NodeWorker.prototype.postMessage.call(this, { [SCRIPT]: code, browser });
        for (const [data, list] of this.#queue) NodeWorker.prototype.postMessage.call(this, data, list);
        this.#queue = null;
      },
      (error) => {
        this.#queue = null;
        this.emit("error", error);
        void this.terminate();
      },
    );
  }

  postMessage(data, transfer) {
    const list = transferList(transfer);
    if (this.#queue) this.#queue.push([data, list]);
    else super.postMessage(data, list);
  }

  addEventListener(type, listener) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type).add(listener);
  }

  removeEventListener(type, listener) {
    this.#listeners.get(type)?.delete(listener);
  }

  #dispatch(type, event) {
    const handler = this[`on${type}`];
    const listeners = this.#listeners.get(type);
    if (typeof handler === "function") handler.call(this, event);
    for (const listener of listeners ?? []) listener.call(this, event);
    if (type === "error" && typeof handler !== "function" && !listeners?.size) {
      process.stderr.write(`worker error: ${event.message}\n`);
    }
  }
}

/** Makes `Worker` the shim in this thread; writes to `Worker` are ignored from then on. */
export function installWorkerGlobal() {
  Object.defineProperty(globalThis, "Worker", {
    configurable: true,
    enumerable: false,
    get: () => ShimWorker,
    set: () => {},
  });
}

// Inside a shim worker (this file is only ever a worker's entry through ShimWorker).
if (!isMainThread && parentPort) {
  installWorkerGlobal();
  globalThis.require = createRequire(import.meta.url);
  globalThis.__filename = fileURLToPath(import.meta.url);
  globalThis.__dirname = fileURLToPath(new URL(".", import.meta.url));
  parentPort.once("message", (message) => {
    const code = message?.[SCRIPT];
    if (typeof code !== "string") throw new Error("shim worker: the first message must be the script");
    if (message.browser) {
      const port = parentPort;
      globalThis.self = globalThis;
      globalThis.postMessage = (data, transfer) => port.postMessage(data, transferList(transfer));
      globalThis.close = () => process.exit(0);
      port.on("message", (data) => globalThis.onmessage?.({ type: "message", data }));
    }
    vm.runInThisContext(code, { filename: "shim-worker-script.js" });
  });
}
