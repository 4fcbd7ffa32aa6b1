#!/usr/bin/env bash
# Installs everything edgespec needs on a Debian/Ubuntu machine with Node.js >= 20.16:
#   - Debian packages: Rust for wasm32 (rustc, cargo, libstd-rust-dev-wasm32, lld-14) for
#     kernels/rust, chromium for the browser conformance tests (its SwiftShader Vulkan driver
#     also runs the Node WebGPU tests), and the Vulkan loader plus Mesa's drivers (libvulkan1,
#     mesa-vulkan-drivers: lavapipe) for the WebGPU tests in Node and Deno;
#   - pnpm 12.4.2 (the version package.json pins);
#   - the workspace's npm dependencies (frozen lockfile), then builds every package.
# Safe to run again: each step is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(rustc cargo libstd-rust-dev-wasm32 lld-14 chromium libvulkan1 mesa-vulkan-drivers)
PNPM_VERSION=12.4.2

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if ! command -v node >/dev/null 2>&1; then
  echo "edgespec needs Node.js >= 20.16 on PATH (https://nodejs.org)" >&2
  exit 1
fi
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<16)) { console.error("edgespec needs Node.js >= 20.16, found "+process.versions.node); process.exit(1) }'

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  say "installing pnpm $PNPM_VERSION"
  SUDO=""
  if [ "$(id -u)" -ne 0 ] && [ ! -w "$(npm prefix -g)" ]; then SUDO="sudo"; fi
  $SUDO npm install -g --silent "pnpm@$PNPM_VERSION" >/dev/null
fi

export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
say "installing npm dependencies"
pnpm install --frozen-lockfile --reporter=silent
say "building kernels and packages"
pnpm exec turbo run build --output-logs=errors-only
