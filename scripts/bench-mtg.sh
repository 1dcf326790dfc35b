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
import os, resource, subprocess, sys, time
import numpy as np, soundfile as sf
import essentia, essentia.standard as es

bin, tmp, clips, lame = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rounds = int(os.environ.get("MUSAV_BENCH_ROUNDS", "5"))
rng = np.random.default_rng(0)
sr = 44100
t = np.arange(30 * sr) / sr
paths = {"wav": [], "mp3": []}
for i in range(clips):
    f0 = 110 * 2 ** (i / 12)
    y = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 8)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    y = 0.5 * y / np.abs(y).max() + 0.02 * rng.standard_normal(len(t))
    stereo = np.stack([y, np.roll(y, 100)], axis=1)
    wav = f"{tmp}/{i:02}.wav"
    sf.write(wav, stereo, sr, subtype="PCM_16")
    subprocess.run([lame, "--quiet", "-b", "192", wav, f"{tmp}/{i:02}.mp3"], check=True)
    paths["wav"].append(wav); paths["mp3"].append(f"{tmp}/{i:02}.mp3")

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

def musav_run(kind, n=None):
    n = clips if n is None else n
    exp = f"{tmp}/export-{kind}-{n}"; os.makedirs(exp, exist_ok=True)
    with open(f"{exp}/single_label.csv", "w") as f:
        f.write("track_id,path\n")
        for i, p in enumerate(paths[kind][:n]):
            f.write(f"track_{i},{os.path.basename(p)}\n")
    cache = f"{tmp}/cache-{kind}-{time.time_ns()}"
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([bin, "features", "--convention", "mtg", "--export", exp,
                          "--audio-root", tmp, "--cache", cache],
                         check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert f"{n} extracted" in out, out
    return (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime), wall

assert essentia_mel(paths["wav"][0]).shape[0] == 96  # warm-up and a sanity check
start_cpu = min(musav_run("wav", 0)[0] for _ in range(5))
print(f"musav process fixed cost (empty track list): {start_cpu * 1e3:.0f} ms CPU")
for kind in ("wav", "mp3"):
    ess_runs, mus_runs = [], []
    for _ in range(rounds):
        c0, t0 = time.process_time(), time.perf_counter()
        for p in paths[kind]:
            essentia_mel(p)
        ess_runs.append((time.process_time() - c0, time.perf_counter() - t0))
        mus_runs.append(musav_run(kind))
    ess_cpu, ess_wall = min(ess_runs)
    mus_cpu, mus_wall = min(mus_runs)
    per_clip = (mus_cpu - start_cpu) / clips
    print(f"{kind}: {clips} x 30 s clips, 1 thread each: Essentia {ess_cpu:.3f} s CPU "
          f"({ess_wall:.3f} s wall); musav --convention mtg {mus_cpu:.3f} s CPU ({mus_wall:.3f} s wall, "
          f"process start and cache writes included)")
    print(f"{kind}: per clip Essentia {ess_cpu / clips * 1e3:.1f} ms, musav {mus_cpu / clips * 1e3:.1f} ms "
          f"({per_clip * 1e3:.1f} ms without the process's fixed cost); musav/Essentia speed per core "
          f"{ess_cpu / mus_cpu:.1f}x ({ess_cpu / clips / per_clip:.1f}x per clip without the fixed cost)")
PY
