#!/usr/bin/env bash
# One training step (forward + backward + AdamW) of the mood ResNet, default size, batch 16 × 96 × 141,
# in burn (benches/train_step.rs, every CPU backend built in) and in PyTorch (CPU, same threads), in the
# same run; prints one line per burn backend with the ratio burn / PyTorch (< 1: burn faster).
# Usage: scripts/bench-train.sh [threads] [cargo features, default "candle,tch"]
# The `tch` feature adds burn's libtorch backend, linked against the venv's PyTorch wheel.
# Environment: MUSAV_BENCH_STEPS (default 5), MUSAV_BENCH_BACKENDS (e.g. "flex"), MUSAV_BENCH_OPS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
features=${2-candle,tch}
venv=$(scripts/bench-train-setup.sh)
if [[ ",$features," == *,tch,* ]]; then
  # torch-sys finds libtorch through the venv's python; the bench binary loads it from there.
  export LIBTORCH_USE_PYTORCH=1 PATH="$venv/bin:$PATH"
  export LD_LIBRARY_PATH="$("$venv/bin/python" -c 'import torch, os; print(os.path.dirname(torch.__file__))')/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
steps=${MUSAV_BENCH_STEPS:-5}
burn_out=$(RAYON_NUM_THREADS=$threads MUSAV_BENCH_STEPS=$steps \
  cargo bench --quiet --features "$features" --bench train_step)
grep '^op ' <<<"$burn_out" || true
torch_s=$("$venv/bin/python" scripts/bench_train_step.py "$threads" "$((steps * 2))")
grep '^train_step ' <<<"$burn_out" | python3 -c '
import sys
t, n = float(sys.argv[1]), sys.argv[2]
print(f"train step, batch 16, {n} threads: PyTorch {t*1e3:.0f} ms")
for line in sys.stdin:
    f = line.split()
    if f[2] == "failed:":
        print(f"  burn {f[1]:8s} {line.split(None, 2)[2].strip()}")
        continue
    ms = float(f[2])
    detail = line.split(" ms ", 1)[1].strip()
    print(f"  burn {f[1]:8s} {ms:8.0f} ms  burn/PyTorch = {ms/1e3/t:6.2f}  {detail}")
' "$torch_s" "$threads"
