#!/usr/bin/env bash
# Idempotent: a venv with CPU torch from PyPI for scripts/bench-train.sh.
# torch comes with --no-deps because its PyPI wheel declares the CUDA runtime packages (several GB)
# as dependencies; the CPU code path does not load them. Its pure-Python dependencies are installed
# separately.
set -euo pipefail
cache=${MUSAV_CACHE:-$HOME/.cache/musav}
venv="$cache/venv-torch"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import torch; torch.zeros(1)' 2>/dev/null; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q numpy filelock typing-extensions sympy networkx jinja2 fsspec
"$venv/bin/pip" install -q --no-deps torch
"$venv/bin/python" -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())'
