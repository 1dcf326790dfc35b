#!/usr/bin/env bash
# Essentia's own output for the `mtg` feature convention, committed as test fixtures so the Rust
# tests (tests/convention.rs) check musav against Essentia itself with no Python in CI.
#   scripts/essentia-fixtures.sh          (re)make tests/fixtures/essentia/ from the clips below
# Clips: the existing WAV/MP3 fixtures of tests/fixtures/audio (44.1 kHz stereo WAV, MP3s at 44.1,
# 32 and 22.05 kHz) plus new ones made here (48 kHz stereo WAV, digital silence, a clip shorter
# than one frame).
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(scripts/essentia-venv.sh)
"$py" scripts/essentia_fixtures.py tests/fixtures/audio tests/fixtures/essentia
