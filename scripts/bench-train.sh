#!/usr/bin/env bash
# One training step (forward + backward + AdamW) of the mood ResNet, default size, batch 16 × 96 × 141,
# in burn (criterion, benches/train_step.rs, ndarray CPU backend) and in PyTorch (CPU, same threads),
# in the same run; prints both and the ratio burn / PyTorch (< 1: burn faster).
# Usage: scripts/bench-train.sh [threads]   (default: all cores, as burn's ndarray backend uses them)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
scripts/bench-train-setup.sh
venv="${MUSAV_CACHE:-$HOME/.cache/musav}/venv-torch"
RAYON_NUM_THREADS=$threads cargo bench --quiet --bench train_step -- --noplot >/dev/null
est="${CARGO_TARGET_DIR:-target}/criterion/train_step/burn_ndarray/16/new/estimates.json"
burn_s=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['median']['point_estimate']/1e9)" "$est")
torch_s=$("$venv/bin/python" scripts/bench_train_step.py "$threads" 10)
python3 - "$burn_s" "$torch_s" "$threads" <<'PY'
import sys
b, t, n = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
print(f"train step, batch 16, {n} threads: burn ndarray {b*1e3:.0f} ms, PyTorch {t*1e3:.0f} ms, burn/PyTorch = {b/t:.2f}")
PY
