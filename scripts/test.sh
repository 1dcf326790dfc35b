#!/usr/bin/env bash
# Runs every test of musav on a fresh machine: installs what the tests need (cargo-nextest if absent,
# tmux, the Python environments for the LLM server and the librosa parity fixtures), starts the real
# LLM endpoint on 127.0.0.1, runs the whole suite with cargo nextest, and stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
export MUSAV_CACHE=${MUSAV_CACHE:-$HOME/.cache/musav}
mkdir -p "$MUSAV_CACHE"

if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

# --- per-feature setup (added by each feature's script) ---

cargo nextest run --no-fail-fast "$@"
