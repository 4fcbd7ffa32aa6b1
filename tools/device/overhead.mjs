// Where a WebGPU decode step's time goes on a real adapter: the read-back round trip, the cost
// per queued dispatch (trivial and decode-shaped), as JSON on stdout. Bundled by prepare.sh into
// .device/app/overhead.mjs; Dawn options from EDGESPEC_DAWN_FLAGS (space-separated).

import { create, globals } from "webgpu";
import { WebGPUBackend } from "../../packages/runtime/dist/index.js";

Object.assign(globalThis, globals);
const flags = (process.env.EDGESPEC_DAWN_FLAGS ?? "").split(" ").filter(Boolean);
const gpu = create(flags);
const be = await WebGPUBackend.create({ gpu, powerPreference: "high-performance" });
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
async function time(f, reps = 15) {
  await f();
  const ms = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await f();
    ms.push(performance.now() - t);
  }
  return +median(ms).toFixed(3);
}
const small = be.tensor("f32", [64], new Float32Array(64).fill(1));
const w = be.tensor("f32", [576, 576], new Float32Array(576 * 576).fill(0.001));
const x = be.tensor("f32", [1, 576], new Float32Array(576).fill(1));
const y = be.tensor("f32", [1, 576]);
const out = { adapter: be.adapter.description, dawn_flags: flags };
out.read_ms = await time(() => be.readAsync(small));
out.finish_ms = await time(() => be.finish());
out.one_scale_read_ms = await time(() => {
  be.scale(small, small, 1);
  return be.readAsync(small);
});
out.scale600_read_ms = await time(() => {
  for (let i = 0; i < 600; i++) be.scale(small, small, 1);
  return be.readAsync(small);
}, 7);
const t = performance.now();
for (let i = 0; i < 600; i++) be.scale(small, small, 1);
out.scale600_encode_only_ms = +(performance.now() - t).toFixed(3);
await be.finish();
out.matmul576_200_read_ms = await time(() => {
  for (let i = 0; i < 200; i++) be.matmul(y, w, x);
  return be.readAsync(y);
}, 7);
be.destroy();
process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
