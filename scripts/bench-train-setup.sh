#!/usr/bin/env bash
# Idempotent: a venv with CPU torch from PyPI for scripts/bench-train.sh.
# PyPI's Linux torch wheel pulls the CUDA runtime packages (several GB) and will not import without
# them, even on CPU; the benchmark itself sets CUDA aside and runs on the CPU.
set -euo pipefail
cache=${MUSAV_CACHE:-$HOME/.cache/musav}
venv="$cache/venv-torch"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import torch; torch.zeros(1)' 2>/dev/null; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q numpy torch
"$venv/bin/python" -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())'
