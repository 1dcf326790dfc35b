#!/usr/bin/env bash
# Mel-spectrogram parity with librosa. Usage:
#   scripts/mel-parity.sh            compare `musav mel` with librosa on tests/fixtures/audio
#   scripts/mel-parity.sh fixtures   (re)make the fixtures and librosa references (needs lame)
#   scripts/mel-parity.sh mp3        (re)make only the stereo MP3 fixtures and their references
# MUSAV_BIN=path uses an existing binary instead of `cargo build`.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(scripts/audio-venv.sh)
dir=tests/fixtures/audio
if [ "${1:-compare}" = fixtures ] || [ "${1:-}" = mp3 ]; then
  if ! command -v lame >/dev/null; then
    apt-get update -qq && apt-get install -y -qq lame >/dev/null
  fi
  "$py" scripts/mel_parity.py "$1" "$dir" "$(command -v lame)"
else
  bin=${MUSAV_BIN:-}
  if [ -z "$bin" ]; then
    cargo build --quiet --bin musav
    bin="${CARGO_TARGET_DIR:-target}/debug/musav"
  fi
  "$py" scripts/mel_parity.py compare "$dir" "$bin"
fi
