#!/usr/bin/env bash
# Creates (once) the Python venv the audio scripts use: librosa, numpy, soundfile from PyPI.
# Prints the venv's python path. Idempotent: does nothing when the packages already import.
set -euo pipefail
cache=${MUSAV_CACHE:-$HOME/.cache/musav}
venv="$cache/venv-audio"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import librosa, numpy, soundfile' 2>/dev/null; then
  mkdir -p "$cache"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q 'librosa>=0.10,<0.12' numpy soundfile soxr >&2
fi
echo "$venv/bin/python"
