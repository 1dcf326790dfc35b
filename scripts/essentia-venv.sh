#!/usr/bin/env bash
# Creates (once) the Python venv with Essentia from PyPI that the `mtg` convention is checked
# against (scripts/essentia-fixtures.sh, scripts/bench-mtg.sh). Prints the venv's python path.
# Idempotent: does nothing when the packages already import. 2.1b6.dev1389 is the newest Essentia
# wheel PyPI offers for this machine's Python.
set -euo pipefail
cache=${MUSAV_CACHE:-$HOME/.cache/musav}
venv="$cache/venv-essentia"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import essentia, numpy, soundfile' 2>/dev/null; then
  mkdir -p "$cache"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q 'essentia==2.1b6.dev1389' numpy soundfile >&2
fi
echo "$venv/bin/python"
