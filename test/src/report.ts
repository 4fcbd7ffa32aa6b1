/** Conformance reports and their comparison; no runtime imports, so any host can load it. */

export interface CaseResult {
  name: string;
  sha256: string;
  nmse: number;
  bound: number;
  ok: boolean;
}

export interface ConformanceReport {
  host: string;
  simd: string;
  cases: CaseResult[];
  ok: boolean;
  ms: number;
}

/** Differences between two hosts' reports: case names whose bytes differ. */
export function compareReports(a: ConformanceReport, b: ConformanceReport): string[] {
  const diffs: string[] = [];
  const bm = new Map(b.cases.map((c) => [c.name, c.sha256]));
  for (const c of a.cases) {
    const other = bm.get(c.name);
    if (other !== c.sha256) diffs.push(`${c.name}: ${a.host}=${c.sha256.slice(0, 12)} ${b.host}=${(other ?? "missing").slice(0, 12)}`);
  }
  if (a.cases.length !== b.cases.length) diffs.push(`case counts differ: ${a.host} ${a.cases.length}, ${b.host} ${b.cases.length}`);
  return diffs;
}
