#!/usr/bin/env bash
# Mel-spectrogram parity with librosa. Usage:
#   scripts/mel-parity.sh            compare `musav mel` with librosa on tests/fixtures/audio
#   scripts/mel-parity.sh fixtures   (re)make the fixtures and librosa references (needs lame)
# MUSAV_BIN=path uses an existing binary instead of `cargo build`.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(scripts/audio-venv.sh)
dir=tests/fixtures/audio
if [ "${1:-compare}" = fixtures ]; then
  if ! command -v lame >/dev/null; then
    apt-get update -qq && apt-get install -y -qq lame >/dev/null
  fi
  "$py" scripts/mel_parity.py fixtures "$dir" "$(command -v lame)"
else
  bin=${MUSAV_BIN:-}
  if [ -z "$bin" ]; then
    cargo build --quiet
    bin="target/debug/musav"
  fi
  "$py" scripts/mel_parity.py compare "$dir" "$bin"
fi
