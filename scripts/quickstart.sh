#!/usr/bin/env bash
# Quick start, step 1 of 2: install everything, build, and run the main demo
# (for now the kernel benchmark: GEMV throughput against the measured memory roofline).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec pnpm --silent demo "$@"
