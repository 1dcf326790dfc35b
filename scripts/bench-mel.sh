#!/usr/bin/env bash
# Throughput of decode + resample + mel-spectrogram on 30 s clips: musav against librosa, same
# files, one core each (RAYON_NUM_THREADS=1 / single-threaded BLAS), printed as a ratio.
# Usage: scripts/bench-mel.sh [clips]   (MUSAV_BENCH_ROUNDS=alternating rounds per format, default 7)
# MUSAV_BIN=path benchmarks an existing binary; on a shared machine that is the way: build musav
# optimised in the dev profile (dependencies are already optimised there) and point at it:
#   CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo build --bin musav
#   MUSAV_BIN=${CARGO_TARGET_DIR:-target}/debug/musav scripts/bench-mel.sh 16
# Without MUSAV_BIN the script builds the dev profile (opt-level 1 for musav itself) and says so.
# musav runs with `--convention librosa` (the librosa-parity features; bench-mtg.sh measures mtg).
set -euo pipefail
cd "$(dirname "$0")/.."
clips=${1:-8}
py=$(scripts/audio-venv.sh)
if ! command -v lame >/dev/null; then
  apt-get update -qq && apt-get install -y -qq lame >/dev/null
fi
bin=${MUSAV_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet --bin musav
  bin="${CARGO_TARGET_DIR:-target}/debug/musav"
  echo "note: a dev build (opt-level 1); set MUSAV_BIN to an optimised binary for real figures" >&2
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 RAYON_NUM_THREADS=1
"$py" - "$bin" "$tmp" "$clips" "$(command -v lame)" <<'PY'
import os, sys
sys.path.insert(0, "scripts")
import librosa
from bench_common import compare, make_clips

bin, tmp, clips, lame = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
paths = make_clips(tmp, clips, lame)

def librosa_mel(path):
    y, _ = librosa.load(path, sr=12000, mono=True)
    s = librosa.feature.melspectrogram(y=y, sr=12000, n_fft=512, hop_length=256, n_mels=96)
    return librosa.power_to_db(s, ref=1.0, amin=1e-10, top_db=None)

librosa_mel(paths["wav"][0])  # numba JIT and imports, outside the timing
compare("librosa", librosa_mel, bin, tmp, paths, "librosa", int(os.environ.get("MUSAV_BENCH_ROUNDS", "7")))
PY
