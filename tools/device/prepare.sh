#!/usr/bin/env bash
# Builds the carry folder .device/ that tools/device/webgpu-check.sh needs on a GPU machine
# that has no network and no Node: everything `edgespec bench webgpu` runs on, compressed.
#   bash tools/device/prepare.sh
# .device/ is listed in .git/info/exclude: it travels only when the device tool's `carry`
# names it, and is never committed (it holds a Node binary and the shared TinyStories files).
#
#   .device/app/bench-webgpu.mjs   the bench, bundled (tools/device/bundle.mjs)
#   .device/app/probe.mjs          lists the adapters Dawn finds
#   .device/kernels/*.wasm         the runtime's kernels (found at ../kernels/ from the bundle)
#   .device/webgpu/                the `webgpu` package: index.js, package.json, dawn.node.xz (linux-x64)
#   .device/node.xz                this machine's Node binary (x86-64 Linux)
#   .device/gl/*.deb               the Vulkan loader (+ glvnd) debs, unpacked there only when missing
#   .device/tinystories-656k/      config.json + model.safetensors from the shared fixtures
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CARRY=$ROOT/.device
FIXTURES=$(cd "${EDGESPEC_FIXTURES:-$ROOT/../shared}" && pwd)
NODE_BIN=${NODE_BIN:-$(command -v node)}
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

[ "$(uname -m)" = x86_64 ] || { echo "prepare.sh carries this machine's Node and Dawn builds: it must run on x86-64 Linux" >&2; exit 1; }
[ -f "$FIXTURES/models/tinystories-656k/model.safetensors" ] || { echo "TinyStories-656K not found under $FIXTURES/models (set EDGESPEC_FIXTURES)" >&2; exit 1; }

# never committed, never travels unless carried
mkdir -p .git/info
grep -qxF '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude

say "building @edgespec/bench and what it needs"
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
pnpm exec turbo run build --filter=@edgespec/bench... --output-logs=errors-only

rm -rf "$CARRY"
mkdir -p "$CARRY"/{app,kernels,webgpu,gl,tinystories-656k}

say "bundling bench webgpu"
node tools/device/bundle.mjs "$CARRY/app/bench-webgpu.mjs"
node tools/device/bundle.mjs "$CARRY/app/overhead.mjs" overhead.mjs
cp tools/device/probe.mjs "$CARRY/app/"
cp packages/runtime/kernels/*.wasm "$CARRY/kernels/"

say "the webgpu package (Dawn, linux-x64)"
WEBGPU=$(node -e 'const {createRequire}=require("node:module");const r=createRequire(process.argv[1]);console.log(require("node:path").dirname(r.resolve("webgpu/package.json")))' "$ROOT/apps/bench/package.json")
cp "$WEBGPU/index.js" "$WEBGPU/package.json" "$CARRY/webgpu/"
xz -9e -T0 -c "$WEBGPU/dist/linux-x64/dawn.node" >"$CARRY/webgpu/dawn.node.xz"

say "Node $("$NODE_BIN" --version) from $NODE_BIN"
xz -9e -T0 -c "$NODE_BIN" >"$CARRY/node.xz"
"$NODE_BIN" --version >"$CARRY/node.version"

say "Vulkan loader debs (amd64)"
mkdir -p /tmp/edgespec-apt-amd64/partial
o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/edgespec-apt-amd64)
apt-get "${o[@]}" update -qq
(cd "$CARRY/gl" && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 2>&1 | grep -v unsandboxed || true)
ls "$CARRY"/gl/libvulkan1_*.deb >/dev/null

say "TinyStories-656K (from $FIXTURES; carried, never committed)"
cp "$FIXTURES/models/tinystories-656k/config.json" "$FIXTURES/models/tinystories-656k/model.safetensors" "$CARRY/tinystories-656k/"

(cd "$CARRY" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)

carry=$(du -sb "$CARRY" | cut -f1)
# what travels besides: tracked and untracked files that git does not ignore (approximated
# without git: the tree minus node_modules, build outputs and ignored folders)
tree=$(du -sb --exclude=node_modules --exclude=.git --exclude=dist --exclude=build --exclude=target --exclude=.turbo \
  --exclude=.conformance --exclude=.wrangler --exclude=.device --exclude=.gl --exclude=.whl --exclude=kernels/as/build "$ROOT" | cut -f1)
runtime_kernels=$(du -sb "$ROOT/packages/runtime/kernels" 2>/dev/null | cut -f1 || echo 0)
tree=$((tree - runtime_kernels))
say "carry .device: $((carry / 1024 / 1024)) MiB; working tree about $((tree / 1024 / 1024)) MiB; together $(((carry + tree) / 1024 / 1024)) MiB of the 64 MiB limit"
if [ $((carry + tree)) -gt $((56 * 1024 * 1024)) ]; then
  echo "too close to the device tool's 64 MiB limit" >&2
  exit 1
fi
