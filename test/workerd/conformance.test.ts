// workerd host, under @cloudflare/vitest-pool-workers: the conformance Worker (dist/worker.js)
// runs in workerd beside this test, which fetches its report over a service binding. The
// Node report written first by the orchestrator is the baseline every case must match.
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import baseline from "../.conformance/node.json";
import { type ConformanceReport, compareReports } from "../src/report";

const worker = (env as unknown as { CONFORMANCE: { fetch(url: string): Promise<Response> } }).CONFORMANCE;

it("workerd produces the same bytes as Node for every conformance case", async () => {
  const res = await worker.fetch("http://conformance/run");
  expect(res.status).toBe(200);
  const report = (await res.json()) as ConformanceReport;
  const failed = report.cases.filter((c) => !c.ok).map((c) => `${c.name}: ${c.sha256.startsWith("error") ? c.sha256 : `nmse ${c.nmse}`}`);
  expect(failed).toEqual([]);
  expect(compareReports(baseline as ConformanceReport, report)).toEqual([]);
  expect(report.cases.length).toBe((baseline as ConformanceReport).cases.length);
});

it("workerd refuses to compile wasm bytes at run time (so the runtime must not need to)", async () => {
  await expect(WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))).rejects.toThrow();
});
