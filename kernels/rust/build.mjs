// Builds the no_std cdylib with Debian's Rust (rustc 1.63 + libstd-rust-dev-wasm32 + lld).
// The rustup toolchain that may sit first on PATH has no wasm32 standard library, so the
// Debian binaries are named explicitly.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const cargo = process.env.EDGESPEC_CARGO ?? "/usr/bin/cargo";
const rustc = process.env.EDGESPEC_RUSTC ?? "/usr/bin/rustc";
for (const [tool, pkg] of [
  [cargo, "cargo"],
  [rustc, "rustc"],
  ["/usr/bin/rust-lld", "lld-14"],
  ["/usr/lib/rustlib/wasm32-unknown-unknown", "libstd-rust-dev-wasm32"],
]) {
  if (!existsSync(tool)) {
    console.error(`kernels/rust: ${tool} is missing. Install the Debian packages: apt-get install rustc cargo libstd-rust-dev-wasm32 lld-14 (missing: ${pkg})`);
    process.exit(1);
  }
}
execFileSync(cargo, ["build", "--release", "--offline", "--target", "wasm32-unknown-unknown"], {
  cwd: here,
  stdio: "inherit",
  env: { ...process.env, RUSTC: rustc, CARGO_TARGET_DIR: join(here, "target") },
});
mkdirSync(join(here, "build"), { recursive: true });
const out = join(here, "build", "edgespec-rs.wasm");
copyFileSync(join(here, "target", "wasm32-unknown-unknown", "release", "edgespec_kernels.wasm"), out);
console.log(`built build/edgespec-rs.wasm (${statSync(out).size} bytes)`);
