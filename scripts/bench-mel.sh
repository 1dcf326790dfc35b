#!/usr/bin/env bash
# Throughput of decode + resample + mel-spectrogram on 30 s clips: musav against librosa, same
# files, one core each (RAYON_NUM_THREADS=1 / single-threaded BLAS), printed as a ratio.
# Usage: scripts/bench-mel.sh [clips]   (MUSAV_BENCH_ROUNDS=alternating rounds per format, default 7)
# MUSAV_BIN=path benchmarks an existing binary; on a shared machine that is the way: build musav
# optimised in the dev profile (dependencies are already optimised there) and point at it:
#   CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo build --bin musav
#   MUSAV_BIN=${CARGO_TARGET_DIR:-target}/debug/musav scripts/bench-mel.sh 16
# Without MUSAV_BIN the script builds and measures a release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
clips=${1:-8}
py=$(scripts/audio-venv.sh)
if ! command -v lame >/dev/null; then
  apt-get update -qq && apt-get install -y -qq lame >/dev/null
fi
bin=${MUSAV_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet --bin musav
  bin="${CARGO_TARGET_DIR:-target}/release/musav"
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 RAYON_NUM_THREADS=1
"$py" - "$bin" "$tmp" "$clips" "$(command -v lame)" <<'PY'
import os, resource, subprocess, sys, time
import numpy as np, soundfile as sf, librosa

bin, tmp, clips, lame = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rounds = int(os.environ.get("MUSAV_BENCH_ROUNDS", "7"))
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

def librosa_mel(path):
    y, _ = librosa.load(path, sr=12000, mono=True)
    s = librosa.feature.melspectrogram(y=y, sr=12000, n_fft=512, hop_length=256, n_mels=96)
    return librosa.power_to_db(s, ref=1.0, amin=1e-10, top_db=None)

def musav_run(kind, n=None):
    # One process over all clips (as `musav features` runs), fresh cache so nothing is reused.
    # n=0 runs the same command on an empty track list: the process's fixed cost (start-up, CLI,
    # reading the export), which librosa's side does not pay (its imports and JIT are warmed up).
    n = clips if n is None else n
    exp = f"{tmp}/export-{kind}-{n}"; os.makedirs(exp, exist_ok=True)
    with open(f"{exp}/single_label.csv", "w") as f:
        f.write("track_id,path\n")
        for i, p in enumerate(paths[kind][:n]):
            f.write(f"track_{i},{os.path.basename(p)}\n")
    cache = f"{tmp}/cache-{kind}-{time.time_ns()}"
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([bin, "features", "--export", exp, "--audio-root", tmp, "--cache", cache],
                         check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert f"{n} extracted" in out, out
    return (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime), wall

librosa_mel(paths["wav"][0])  # numba JIT and imports, outside the timing
start_cpu = min(musav_run("wav", 0)[0] for _ in range(5))
print(f"musav process fixed cost (empty track list): {start_cpu * 1e3:.0f} ms CPU")
for kind in ("wav", "mp3"):
    # CPU seconds (user + system) are the fair measure on a shared machine; wall time is shown too.
    # Rounds alternate librosa and musav, and each side keeps its best round: a shared machine's
    # speed drifts over tens of seconds, which would otherwise favour whichever side ran first.
    runs, mus_runs = [], []
    for _ in range(rounds):
        c0, t0 = time.process_time(), time.perf_counter()
        for p in paths[kind]:
            librosa_mel(p)
        runs.append((time.process_time() - c0, time.perf_counter() - t0))
        mus_runs.append(musav_run(kind))
    lib_cpu, lib_wall = min(runs)
    mus_cpu, mus_wall = min(mus_runs)
    audio = 30 * clips
    per_clip = (mus_cpu - start_cpu) / clips
    print(f"{kind}: {clips} x 30 s clips, 1 thread each: librosa {lib_cpu:.3f} s CPU ({lib_wall:.3f} s wall, "
          f"{audio / lib_cpu:.0f}x real time per core); musav {mus_cpu:.3f} s CPU ({mus_wall:.3f} s wall, "
          f"{audio / mus_cpu:.0f}x real time per core, process start and cache writes included)")
    print(f"{kind}: per clip librosa {lib_cpu / clips * 1e3:.1f} ms, musav {mus_cpu / clips * 1e3:.1f} ms "
          f"({per_clip * 1e3:.1f} ms without the process's fixed cost); musav/librosa speed per core "
          f"{lib_cpu / mus_cpu:.1f}x ({lib_cpu / clips / per_clip:.1f}x per clip without the fixed cost)")
PY
