// Entry of the carried bundle (.device/app/bench-webgpu.mjs): `edgespec bench webgpu` without
// the rest of the CLI. Exits explicitly: a Dawn device can keep Node running.
import { benchWebgpu } from "../../apps/bench/dist/webgpu.js";

const code = await benchWebgpu(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`bench webgpu: ${e?.stack ?? e}\n`);
  return 1;
});
process.exit(code);
