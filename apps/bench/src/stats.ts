export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The nearest-rank p-th percentile (NaN for no values). */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/** Run f repeatedly for about `ms` milliseconds; returns calls per second. */
export function rate(f: () => void, ms: number): number {
  f();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    f();
    n++;
    if ((n & 3) === 0) t = performance.now();
  }
  t = performance.now();
  return (n * 1000) / (t - t0);
}
