#!/usr/bin/env bash
# Idempotent: a venv with torch 2.9.0 from PyPI for scripts/bench-train.sh. It is both the PyTorch
# reference and the libtorch that burn's `tch` backend links against (tch 0.22 is built for exactly
# 2.9.0; torch 2.15's headers need C++20, which tch's bindings are not compiled for).
# PyPI's Linux torch wheel pulls the CUDA runtime packages (several GB) and will not import without
# them, even on CPU; the benchmark itself sets CUDA aside and runs on the CPU.
# Prints the venv's path.
set -euo pipefail
cache=${MUSAV_CACHE:-$HOME/.cache/musav}
venv="$cache/venv-torch-2.9"
if ! { [ -x "$venv/bin/python" ] &&
  "$venv/bin/python" -c 'import torch, sys; torch.zeros(1); sys.exit(not torch.__version__.startswith("2.9.0"))' 2>/dev/null; }; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q numpy torch==2.9.0 >&2
fi
echo "$venv"
