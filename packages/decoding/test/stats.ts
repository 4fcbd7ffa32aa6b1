/** Chi-square goodness-of-fit p-values for the statistical tests (independent of the code under test). */

// ---- chi-square p-values: the regularized upper incomplete gamma function ----

export function lnGamma(z: number): number {
  // Lanczos, g = 7
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - lnGamma(1 - z);
  const x = z - 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Q(a, x) = Γ(a, x) / Γ(a): series below a + 1, continued fraction above (Numerical Recipes). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const front = Math.exp(-x + a * Math.log(x) - lnGamma(a));
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 10000 && Math.abs(term) > Math.abs(sum) * 1e-15; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return 1 - sum * front;
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return front * h;
}

export const chiSquarePValue = (stat: number, df: number) => gammaQ(df / 2, stat / 2);

/** Pearson's statistic of counts against probabilities q (summing to 1); bins with expected < 5 are pooled. */
export function chiSquare(counts: Map<number, number>, q: Map<number, number>, n: number): { stat: number; df: number; p: number } {
  let stat = 0;
  let bins = 0;
  let pooledObs = 0;
  let pooledExp = 0;
  for (const [token, prob] of q) {
    const e = n * prob;
    const o = counts.get(token) ?? 0;
    if (e < 5) {
      pooledObs += o;
      pooledExp += e;
      continue;
    }
    stat += (o - e) ** 2 / e;
    bins++;
  }
  if (pooledExp > 0) {
    stat += (pooledObs - pooledExp) ** 2 / pooledExp;
    bins++;
  }
  for (const token of counts.keys()) if (!q.has(token)) throw new Error(`token ${token} was drawn but is not allowed`);
  return { stat, df: bins - 1, p: chiSquarePValue(stat, bins - 1) };
}
