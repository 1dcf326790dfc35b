#!/usr/bin/env bash
# Throughput of the `mtg` convention per core: `musav features --convention mtg` against Essentia's
# own MonoLoader + the MTG-Jamendo melspectrograms.py recipe in Python, on the same 30 s 44.1 kHz
# stereo clips (WAV and MP3), one thread each, CPU time; rounds alternate the two sides and each
# keeps its best round. Printed as a ratio (issue 16's goal: >= 3x Essentia per core).
# Usage: scripts/bench-mtg.sh [clips]   (MUSAV_BIN=path to use an existing binary, e.g. one built
#        with CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo build --bin musav; MUSAV_BENCH_ROUNDS, default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
clips=${1:-8}
py=$(scripts/essentia-venv.sh)
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
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1
"$py" - "$bin" "$tmp" "$clips" "$(command -v lame)" <<'PY' 2> >(grep -v -e '^\[   INFO   \]' -e '^\[ WARNING \]' >&2)
import os, sys
sys.path.insert(0, "scripts")
import essentia, essentia.standard as es
from bench_common import compare, make_clips

bin, tmp, clips, lame = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
paths = make_clips(tmp, clips, lame)

# The dataset's recipe, its algorithms configured once (as a batch script would).
window = es.Windowing(type="hann", normalized=False, zeroPadding=0)
spectrum = es.Spectrum()
bands = es.MelBands(numberBands=96, sampleRate=12000, lowFrequencyBound=0, highFrequencyBound=6000,
                    inputSize=257, weighting="linear", normalize="unit_tri",
                    warpingFormula="slaneyMel", type="power")
to_db = es.UnaryOperator(type="lin2db", scale=2)

def essentia_mel(path):
    audio = es.MonoLoader(filename=path, sampleRate=12000, resampleQuality=4)()
    pool = essentia.Pool()
    for frame in es.FrameGenerator(audio, frameSize=512, hopSize=256, startFromZero=False):
        pool.add("mel", to_db(bands(spectrum(window(frame)))))
    return pool["mel"].T

assert essentia_mel(paths["wav"][0]).shape[0] == 96  # warm-up and a sanity check
compare("Essentia", essentia_mel, bin, tmp, paths, "mtg", int(os.environ.get("MUSAV_BENCH_ROUNDS", "5")))
PY
