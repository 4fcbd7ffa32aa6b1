#!/usr/bin/env bash
# Quick start, step 1 of 2: install everything, build, and run the main demo
# (text generation with the default model, TinyStories-656K from ../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec pnpm --silent demo "$@"
