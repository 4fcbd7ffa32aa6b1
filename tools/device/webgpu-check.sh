#!/usr/bin/env bash
# The WebGPU check on a GPU machine (x86-64, NVIDIA, root, no network, no Node): the carried
# Node runs `edgespec bench webgpu` through Dawn on the real adapter, against wasm on the same
# machine's CPU. Needs the carry folder .device/ made here by tools/device/prepare.sh.
#   bash tools/device/webgpu-check.sh        (in the repository root; results go to $OUT)
#
# Writes to $OUT (at most 8 files): log.txt (everything, with the driver and loader setup),
# probe.json (the adapters Dawn sees), greedy.json (TinyStories-656K greedy: WebGPU tokens =
# wasm tokens), bench-q4_0.json and bench-f32.json (SmolLM2-135M shape: decode and prefill
# tok/s on each backend and the ratios), then, while time is left, bench-q8_0.json and
# bench-f16.json, and summary.json. Every step has a timeout under one overall deadline
# (300 s), so the script ends in time for a second try inside the session's device budget.
#
# Settings (env): STEPS (which of greedy overhead bench-q4_0 bench-f32 bench-f32-unchecked
# bench-q8_0 bench-f16 run), SHAPE (smollm2-135m), ALLOW_SOFTWARE=1 (accept a software adapter: for
# trying the script on a machine without a GPU), DEADLINE_S (300), ROUNDS (5), TIMEOUT_SCALE
# (1: multiplies each step's own timeout, for slow software adapters).
set -uo pipefail
cd "$(dirname "$0")/../.."
START=$(date +%s)
OUT=${OUT:-/tmp/edgespec-webgpu-out}
mkdir -p "$OUT"
CARRY=$PWD/.device
WORK=$(mktemp -d /tmp/edgespec-webgpu.XXXXXX)
SHAPE=${SHAPE:-smollm2-135m}
DEADLINE=$((START + ${DEADLINE_S:-300}))
ROUNDS=${ROUNDS:-5}
# which steps run, in this order (overhead and bench-f32-unchecked are diagnostics, off by default)
STEPS=${STEPS:-greedy bench-q4_0 bench-f32 bench-q8_0 bench-f16}
LOG=$OUT/log.txt
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1
say() { printf '[%4ds] %s\n' $(($(date +%s) - START)) "$*"; }
left() { echo $((DEADLINE - $(date +%s))); }

[ -f "$CARRY/app/bench-webgpu.mjs" ] || { say "no $CARRY/app/bench-webgpu.mjs: run tools/device/prepare.sh first and carry .device"; exit 2; }
(cd "$CARRY" && sha256sum --quiet -c SHA256SUMS) || { say "the carried .device does not match its SHA256SUMS"; exit 2; }

say "machine: $(uname -srm); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/  gpu: /'

# --- Vulkan loader: the image may have none; unpack the carried debs (the device README's recipe)
if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  say "no libvulkan.so.1: unpacking the carried loader debs into /"
  for f in "$CARRY"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
ldconfig -p | grep -E 'libvulkan\.so\.1|libGLX_nvidia|libnvidia-glvkspirv' | sed 's/^/  /'

# --- the NVIDIA ICD: where the loader looks, or the driver's own folder
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json \
    /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json /etc/vulkan/icd.d/nvidia_icd.x86_64.json; do
    if [ -f "$f" ]; then
      export VK_DRIVER_FILES=$f VK_ICD_FILENAMES=$f
      break
    fi
  done
  [ -n "${VK_DRIVER_FILES:-}" ] || say "no nvidia_icd.json found; the loader's own search decides"
  export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}
fi
say "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"
[ -n "${VK_DRIVER_FILES:-}" ] && [ -f "$VK_DRIVER_FILES" ] && sed 's/^/  /' "$VK_DRIVER_FILES"
# the ICD names its library without a path: the driver's folder must be searchable
if ! ldconfig -p | grep -q libGLX_nvidia; then
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu/nvidia; do
    [ -d "$d" ] && export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  done
  say "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
fi

# --- Node, the bundle and Dawn, unpacked outside the repository
unxz_to() { # src.xz dst
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
mkdir -p "$WORK/bin" "$WORK/node_modules/webgpu/dist/linux-x64"
unxz_to "$CARRY/node.xz" "$WORK/bin/node" && chmod +x "$WORK/bin/node"
unxz_to "$CARRY/webgpu/dawn.node.xz" "$WORK/node_modules/webgpu/dist/linux-x64/dawn.node"
cp "$CARRY/webgpu/index.js" "$CARRY/webgpu/package.json" "$WORK/node_modules/webgpu/"
cp -r "$CARRY/app" "$CARRY/kernels" "$WORK/"
NODE=$WORK/bin/node
say "node $("$NODE" --version), webgpu $(grep -m1 '"version"' "$WORK/node_modules/webgpu/package.json" | cut -d'"' -f4), unpacked in $WORK"

run() { # name max_seconds args... : stdout (JSON) to $OUT/name.json, stderr to the log
  local name=$1 max=$(($2 * ${TIMEOUT_SCALE:-1}))
  shift 2
  local t
  t=$(left)
  [ "$t" -gt "$max" ] && t=$max
  if [ "$t" -lt 20 ]; then
    say "$name: skipped, $(left) s left before the deadline"
    return 124
  fi
  say "$name (timeout ${t}s): node bench-webgpu.mjs $*"
  timeout -k 5 "$t" "$NODE" "$WORK/app/bench-webgpu.mjs" "$@" >"$OUT/$name.json"
  local rc=$?
  say "$name: exit $rc"
  [ -s "$OUT/$name.json" ] || rm -f "$OUT/$name.json"
  return $rc
}

say "adapters"
timeout -k 5 60 "$NODE" "$WORK/app/probe.mjs" >"$OUT/probe.json"
cat "$OUT/probe.json"
if ! grep -q '"description"' "$OUT/probe.json"; then
  say "no adapter: the Vulkan loader's view (VK_LOADER_DEBUG=error,warn,driver)"
  VK_LOADER_DEBUG=error,warn,driver timeout -k 5 60 "$NODE" "$WORK/app/probe.mjs" 2>&1 | tail -60
  say "what the image holds of NVIDIA's Vulkan and EGL parts"
  find / -xdev \( -name 'nvidia_icd*.json' -o -name '10_nvidia*.json' -o -name 'libGLX_nvidia.so*' -o -name 'libEGL_nvidia.so*' -o -name 'libnvidia-glvkspirv*' \) 2>/dev/null | head -20
  # every other ICD file found, then Dawn's OpenGL ES backend over NVIDIA's EGL
  for icd in $(find / -xdev -name 'nvidia_icd*.json' 2>/dev/null); do
    [ "$icd" = "${VK_DRIVER_FILES:-}" ] && continue
    say "trying ICD $icd"
    if VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd timeout -k 5 60 "$NODE" "$WORK/app/probe.mjs" >"$OUT/probe.json" && grep -q '"description"' "$OUT/probe.json"; then
      export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
      break
    fi
  done
  if ! grep -q '"description"' "$OUT/probe.json"; then
    egl=$(find / -xdev -name '10_nvidia*.json' 2>/dev/null | head -1)
    say "trying Dawn's OpenGL ES backend (EGL vendor file: ${egl:-none})"
    [ -n "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
    if EDGESPEC_DAWN_FLAGS=backend=opengles timeout -k 5 60 "$NODE" "$WORK/app/probe.mjs" >"$OUT/probe.json" && grep -q '"description"' "$OUT/probe.json"; then
      export EDGESPEC_DAWN_FLAGS=backend=opengles
    fi
  fi
  cat "$OUT/probe.json"
fi

HW=(--require-hardware)
[ "${ALLOW_SOFTWARE:-0}" = 1 ] && HW=()
MODEL=(--model "$CARRY/tinystories-656k")
want() { [[ " $STEPS " == *" $1 "* ]]; }
want greedy && run greedy 60 --greedy-only "${MODEL[@]}" "${HW[@]}" --json
if want overhead; then
  # the read-back round trip and the cost per dispatch, with Dawn's validation and robustness
  # checks on (the default) and off
  for f in "" "enable-dawn-features=skip_validation,disable_robustness"; do
    say "overhead (dawn flags: ${f:-none})"
    EDGESPEC_DAWN_FLAGS=$f timeout -k 5 60 "$NODE" "$WORK/app/overhead.mjs" | tee -a "$OUT/overhead.json"
  done
fi
want bench-q4_0 && run bench-q4_0 100 --shape "$SHAPE" --dtype q4_0 --rounds "$ROUNDS" --no-greedy "${HW[@]}" --json
want bench-f32 && run bench-f32 100 --shape "$SHAPE" --dtype f32 --rounds "$ROUNDS" --no-greedy "${HW[@]}" --json
want bench-f32-unchecked && EDGESPEC_DAWN_FLAGS="enable-dawn-features=skip_validation,disable_robustness" \
  run bench-f32-unchecked 100 --shape "$SHAPE" --dtype f32 --rounds "$ROUNDS" --no-greedy "${HW[@]}" --json
want bench-q8_0 && run bench-q8_0 60 --shape "$SHAPE" --dtype q8_0 --rounds 3 --no-greedy "${HW[@]}" --json
want bench-f16 && run bench-f16 60 --shape "$SHAPE" --dtype f16 --rounds 3 --no-greedy "${HW[@]}" --json

say "summary"
"$NODE" - "$OUT" <<'EOF' >"$OUT/summary.json"
const fs = require("node:fs");
const dir = process.argv[2];
const read = (f) => { try { return JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8")); } catch { return null; } };
const greedy = read("greedy.json");
const benches = ["q4_0", "f32", "q8_0", "f16"].map((d) => read(`bench-${d}.json`)).filter(Boolean);
const adapter = (greedy ?? benches[0])?.adapter ?? null;
const s = {
  adapter,
  shape: benches[0]?.shape ?? null,
  node: benches[0]?.node ?? greedy?.node ?? null,
  greedy_ok: greedy ? greedy.greedy.ok : null,
  greedy: greedy ? greedy.greedy.runs.map((r) => ({ name: r.name, steps: r.steps, equal: r.equal, golden_equal: r.golden_equal, logits_nmse: r.logits_nmse })) : null,
  greedy_ms_per_token: greedy ? { webgpu: greedy.greedy.webgpu_ms_per_token, wasm: greedy.greedy.wasm_ms_per_token } : null,
  results: benches.flatMap((b) => b.results.map((r) => ({
    dtype: r.dtype,
    weight_mb_per_token: +(r.weight_bytes_per_token / 1e6).toFixed(1),
    decode_tok_s: { wasm: r.wasm.decode_tok_s, webgpu: r.webgpu.decode_tok_s, ratio: r.decode_ratio },
    prefill_tok_s: { wasm: r.wasm.prefill_tok_s, webgpu: r.webgpu.prefill_tok_s, ratio: r.prefill_ratio, tokens: b.prefill_tokens },
    rounds: b.rounds,
  }))),
};
console.log(JSON.stringify(s, null, 1));
EOF
cat "$OUT/summary.json"
rm -rf "$WORK"
say "done; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
