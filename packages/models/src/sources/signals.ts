/** AbortSignal helpers: combining the source-wide signal with a per-call one, and waits that abort. */

export function combineSignals(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (!a || !b) return a ?? b;
  if (typeof AbortSignal.any === "function") return AbortSignal.any([a, b]);
  // Hosts without AbortSignal.any: forward whichever fires first.
  const controller = new AbortController();
  const forward = (s: AbortSignal) => () => controller.abort(s.reason);
  for (const s of [a, b]) {
    if (s.aborted) controller.abort(s.reason);
    else s.addEventListener("abort", forward(s), { once: true });
  }
  return controller.signal;
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
