#!/usr/bin/env bash
# Speed of the curation pipeline: musav (two processes: cluster, export) against the same
# load → PPMI → PCA → k-means → export in Python (pandas + scikit-learn), whole processes, one run.
# Usage: scripts/bench-curation.sh [runs]   (MUSAV_BIN=path to use an existing binary)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
cache=${MUSAV_CACHE:-$HOME/.cache/musav}
venv="$cache/venv-bench"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sklearn, pandas, pyarrow' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy pandas scikit-learn pyarrow
fi
bin=${MUSAV_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin="${CARGO_TARGET_DIR:-target}/release/musav"
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$venv/bin/python" - "$bin" "$venv/bin/python" "$tmp" "$runs" <<'PY'
import subprocess, sys, time, statistics, json
bin, py, tmp, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def musav():
    subprocess.run([bin, "cluster", "--out", f"{tmp}/map.toml", "--force"], check=True, capture_output=True)
    return subprocess.run([bin, "export", "--out", f"{tmp}/musav-export", "--force", "--format", "json"],
                          check=True, capture_output=True).stdout
def python():
    return subprocess.run([py, "scripts/curation_equivalent.py", ".", f"{tmp}/py-export"],
                          check=True, capture_output=True).stdout
def timeit(f):
    f()  # warm the file cache
    ts = []
    for _ in range(runs):
        t = time.perf_counter(); out = f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), out
m, mout = timeit(musav)
p, pout = timeit(python)
ms, ps = json.loads(mout), json.loads(pout)
assert (ms["single_tag_tracks"], ms["noise_tracks"], ms["exported"]) == \
       (ps["single_tag_tracks"], ps["noise_tracks"], ps["exported"]), (ms, ps)
print(f"exported {ms['exported']} / noise {ms['noise_tracks']} (both agree); python PCA-10 explained variance {ps['explained_variance_10']:.3f}")
print(f"musav  (cluster + export, 2 processes): median {m*1000:.1f} ms over {runs} runs")
print(f"python (pandas + scikit-learn, 1 process): median {p*1000:.1f} ms over {runs} runs")
print(f"ratio: musav is {p/m:.1f}x faster")
PY
