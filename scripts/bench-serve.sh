#!/usr/bin/env bash
# Throughput, latency and memory of `musav serve` against the Python service a user would otherwise
# write (scripts/bench_serve_app.py: FastAPI + uvicorn + librosa + PyTorch CPU, same network shape,
# same 8-chunk batches, same number of threads), under the same load from oha (crates.io):
# 30 s 44.1 kHz stereo MP3 uploads (192 kbit/s) at concurrency 1, 4 and 16: requests/s, p50, p99,
# peak RSS. Then peak RSS of musav serve (and of the Python service) with 16 concurrent 15-minute
# uploads. Only one server runs at a time; the table is printed at the end.
#
# Usage: scripts/bench-serve.sh
# Settings (environment):
#   MUSAV_BIN=path         the musav binary to measure; without it the script builds one in the dev
#                          profile with musav optimised (never a release build on a shared machine):
#                            CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo build --bin musav
#   MUSAV_BENCH_ROUNDS=N   rounds of the concurrency sweep, servers alternating first (default 2)
#   MUSAV_BENCH_DURATION=D load per concurrency level and server, oha's -z (default 30s)
#   MUSAV_BENCH_THREADS=N  musav serve --workers and its rayon threads; the Python service's
#                          torch.set_num_threads and worker pool (default: the number of cores)
#   MUSAV_BENCH_OUT=DIR    keep oha's JSON, the servers' logs and results.tsv there
#   MUSAV_BENCH_RUN=DIR    serve this run instead of making one (default network, 1 epoch, VA head)
#   MUSAV_BENCH_LONG=0     skip the 16 x 15-minute memory measurement (1: musav only, 2: both; default 2)
#   MUSAV_BENCH_PY_ONE_THREAD=0  skip the sweep of the Python service with one torch thread per
#                          worker ("python-1t", default on): on a machine where other work holds
#                          cores, OpenMP's spinning threads slow a 2-thread torch forward pass badly
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache=${MUSAV_CACHE:-$HOME/.cache/musav}
rounds=${MUSAV_BENCH_ROUNDS:-2}
duration=${MUSAV_BENCH_DURATION:-30s}
threads=${MUSAV_BENCH_THREADS:-$(nproc)}
long=${MUSAV_BENCH_LONG:-2}
one_thread=${MUSAV_BENCH_PY_ONE_THREAD:-1}
venv="$cache/venv-bench"
oha="$cache/oha/bin/oha"
mkdir -p "$cache"

tmp=$(mktemp -d)
server_pid=
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
pip_pid=
cleanup() {
  stop_server
  if [ -n "$pip_pid" ]; then kill "$pip_pid" 2>/dev/null || true; fi
  if [ -n "${MUSAV_BENCH_OUT:-}" ]; then
    mkdir -p "$MUSAV_BENCH_OUT"
    cp "$tmp"/*.json "$tmp"/*.log "$tmp"/results.tsv "$MUSAV_BENCH_OUT"/ 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# The Python side's venv first, in the background: PyPI's torch wheel for Linux brings the CUDA
# runtime packages (several GB) even for CPU use, and installing them takes many minutes.
venv_ready() {
  [ -x "$venv/bin/python" ] &&
    "$venv/bin/python" -c 'import torch, librosa, soundfile, fastapi, uvicorn, multipart' 2>/dev/null
}
if ! venv_ready; then
  echo "installing the Python service's venv in the background ($venv)" >&2
  (
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q 'librosa>=0.10,<0.12' numpy soundfile soxr torch fastapi \
      'uvicorn[standard]' python-multipart
  ) >"$tmp/pip.log" 2>&1 &
  pip_pid=$!
fi

if ! command -v lame >/dev/null; then
  apt-get update -qq && apt-get install -y -qq lame >/dev/null
fi
if [ ! -x "$oha" ]; then
  # Its own temp target dir: a shared CARGO_TARGET_DIR would mix oha's artifacts with musav's.
  (unset CARGO_TARGET_DIR && cargo install --locked oha --root "$cache/oha" -j 1)
fi
bin=${MUSAV_BIN:-}
if [ -z "$bin" ]; then
  CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo build --quiet --bin musav
  bin="${CARGO_TARGET_DIR:-target}/debug/musav"
fi
bin=$(realpath "$bin")
export RAYON_NUM_THREADS=$threads

run=${MUSAV_BENCH_RUN:-}
if [ -z "$run" ]; then
  # The default network (channels 64,64,128,128,128,128,256, embedding 256) and a VA head; one epoch
  # of a tiny corpus: the weights' quality does not change the work a prediction does.
  echo "making a default-size run in $tmp/run" >&2
  "$bin" synth --out "$tmp/synth" --per-label 3 --seconds 10 >/dev/null
  "$bin" export --data "$tmp/synth" --out "$tmp/export" >/dev/null 2>&1
  "$bin" train --export "$tmp/export" --features "$tmp/synth" --cache "$tmp/cache" \
    --out "$tmp/run" --epochs 1 >/dev/null
  "$bin" train-va --run "$tmp/run" --epochs 5 >/dev/null
  run="$tmp/run"
fi
run=$(realpath "$run")

# Uploads: harmonic tones with a slow tremolo plus noise, 44.1 kHz stereo, lame at 192 kbit/s (as
# scripts/bench-mel.sh makes them): a 30 s clip, and a 15-minute track built from 60 s blocks.
py_audio=$(scripts/audio-venv.sh)
"$py_audio" - "$tmp" "$(command -v lame)" "$long" <<'PY'
import subprocess, sys
import numpy as np, soundfile as sf

tmp, lame, long = sys.argv[1], sys.argv[2], int(sys.argv[3])
sr = 44100
rng = np.random.default_rng(0)

def block(seconds, f0):
    t = np.arange(seconds * sr) / sr
    y = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 8)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    y = 0.5 * y / np.abs(y).max() + 0.02 * rng.standard_normal(len(t))
    return np.stack([y, np.roll(y, 100)], axis=1)

sf.write(f"{tmp}/clip.wav", block(30, 220.0), sr, subtype="PCM_16")
subprocess.run([lame, "--quiet", "-b", "192", f"{tmp}/clip.wav", f"{tmp}/clip.mp3"], check=True)
if long:
    with sf.SoundFile(f"{tmp}/long.wav", "w", sr, 2, subtype="PCM_16") as f:
        for i in range(15):
            f.write(block(60, 110 * 2 ** (i / 12)))
    subprocess.run([lame, "--quiet", "-b", "192", f"{tmp}/long.wav", f"{tmp}/long.mp3"], check=True)
PY

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME [extra musav serve args...]: starts one server, waits until it answers, and
# sets server_pid and url.
start_server() {
  local name=$1
  shift
  local port
  port=$(free_port)
  url="http://127.0.0.1:$port"
  case $name in
    musav)
      "$bin" serve --run "$run" --addr "127.0.0.1:$port" --workers "$threads" "$@" \
        >>"$tmp/musav.log" 2>&1 &
      server_pid=$!
      ready=/readyz
      ;;
    python | python-1t)
      local torch_threads=$threads
      if [ "$name" = python-1t ]; then torch_threads=1; fi
      BENCH_RUN=$run BENCH_THREADS=$threads BENCH_TORCH_THREADS=$torch_threads \
        "$venv/bin/python" -m uvicorn bench_serve_app:app \
        --app-dir "$repo/scripts" --host 127.0.0.1 --port "$port" >>"$tmp/$name.log" 2>&1 &
      server_pid=$!
      ready=/healthz
      ;;
  esac
  for _ in $(seq 600); do
    if curl -sf -o /dev/null "$url$ready"; then
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "the $name server exited at start:" >&2
      cat "$tmp/$name.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "the $name server did not answer $ready within 120 s" >&2
  exit 1
}

# warm_up NAME: a few requests outside the measurement (first-call set-up on both sides); the first
# answer is kept to show both servers did the same work.
warm_up() {
  for i in 1 2 3; do
    curl -sf -H 'Content-Type: audio/mpeg' --data-binary "@$tmp/clip.mp3" \
      -o "$tmp/answer-$1.json" "$url/v1/predict"
  done
}

# measure NAME ROUND CONCURRENCY FILE ARGS...: one oha load; the server's peak RSS over that load
# (VmHWM, reset before it through /proc/PID/clear_refs) and its CPU seconds go into results.tsv
# beside oha's JSON.
measure() {
  local name=$1 round=$2 c=$3 file=$4
  shift 4
  local out="$tmp/oha-$name-$round-$c.json"
  echo 5 >"/proc/$server_pid/clear_refs"
  local cpu0 cpu1 hwm
  cpu0=$(cpu_ticks)
  "$oha" --no-tui --output-format json -c "$c" "$@" -m POST -H 'Content-Type: audio/mpeg' \
    -D "$file" "$url/v1/predict" >"$out"
  cpu1=$(cpu_ticks)
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$c" "$out" "$hwm" \
    "$(awk -v t="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {print t / hz}')" \
    >>"$tmp/results.tsv"
}

# The server's CPU time so far (user + system, all its threads), in clock ticks: on a machine
# shared with other work, CPU seconds per request compare the two servers more steadily than
# requests per second.
cpu_ticks() {
  awk '{print $14 + $15}' "/proc/$server_pid/stat"
}

sweep() {
  local name=$1 round=$2
  start_server "$name" --queue 32 --timeout-s 600
  warm_up "$name"
  for c in 1 4 16; do
    echo "round $round: $name, concurrency $c, $duration" >&2
    measure "$name" "$round" "$c" "$tmp/clip.mp3" -z "$duration" -w
  done
  stop_server
}

python_ready() {
  if [ -n "$pip_pid" ]; then
    echo "waiting for the Python venv install to finish" >&2
    if ! wait "$pip_pid"; then
      pip_pid=
      echo "installing $venv failed:" >&2
      tail -20 "$tmp/pip.log" >&2
      return 1
    fi
    pip_pid=
  fi
  venv_ready
}

: >"$tmp/results.tsv"
have_python=1
for round in $(seq "$rounds"); do
  # Alternate which server goes first: a shared machine's speed drifts over minutes.
  if [ $((round % 2)) -eq 1 ]; then order="musav python"; else order="python musav"; fi
  if [ "$one_thread" = 1 ]; then order="$order python-1t"; fi
  for name in $order; do
    if [ "$name" != musav ]; then
      if [ "$have_python" = 1 ] && python_ready; then sweep "$name" "$round"; else have_python=0; fi
    else
      sweep musav "$round"
    fi
  done
done

if [ "$long" != 0 ]; then
  # 16 uploads of 15 minutes (~21 MB each) at once; the servers admit all 16 (queue >= 16).
  start_server musav --queue 16 --max-seconds 1000 --max-upload-mb 64 --timeout-s 3600
  echo "16 concurrent 15-minute uploads: musav" >&2
  measure musav long 16 "$tmp/long.mp3" -n 16 -t 3600s
  stop_server
  if [ "$long" = 2 ] && [ "$have_python" = 1 ] && python_ready; then
    start_server python
    echo "16 concurrent 15-minute uploads: python" >&2
    measure python long 16 "$tmp/long.mp3" -n 16 -t 3600s
    stop_server
  fi
fi

echo
echo "musav $("$bin" --version | awk '{print $2}') ($bin), $threads worker threads on $(nproc) cores; $duration per level"
if [ "$have_python" = 1 ]; then
  "$venv/bin/python" -c 'import torch, librosa, fastapi, uvicorn, sys
print(f"Python {sys.version.split()[0]}, torch {torch.__version__}, librosa {librosa.__version__}, fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}")'
  echo "Python service: torch.set_num_threads($threads) (python-1t: 1), $threads model workers, one uvicorn process"
fi
python3 scripts/bench_serve_report.py "$tmp/results.tsv" "$tmp"/answer-*.json
