#!/usr/bin/env bash
# Name quality of `musav name` on the shipped map (data/labels.toml) with the real test model, in both
# naming modes. Per label: the name, whether it is grounded (a word of it comes from one of the label's
# member tags, stems counting) and whether it agrees with the reviewed name in data/labels.toml (one of
# its words is one of the reviewed name's words); then both figures for the whole map and a summary.
# A measurement, not a test: small models change their answers with the prompt and the build.
#
#   scripts/name-quality.sh                  # uses MUSAV_TEST_LLM_URL/_MODEL, else starts (and stops)
#                                            # the server of scripts/llm-server.sh
#   MUSAV_BIN=$CARGO_TARGET_DIR/debug/musav SAMPLES=1 scripts/name-quality.sh
#
# Every run asks the model afresh (a private answer cache, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
export MUSAV_CACHE=${MUSAV_CACHE:-$HOME/.cache/musav}
SAMPLES=${SAMPLES:-3}
REVIEWED=data/labels.toml

bin=${MUSAV_BIN:-}
if [[ -z $bin ]]; then
  cargo build --quiet --bin musav
  bin="${CARGO_TARGET_DIR:-target}/debug/musav"
fi

work=$(mktemp -d)
stop_server=""
cleanup() {
  rm -rf "$work"
  if [[ -n $stop_server ]]; then scripts/llm-server.sh stop; fi
}
trap cleanup EXIT

if [[ -z ${MUSAV_TEST_LLM_URL:-} ]]; then
  scripts/llm-server.sh install >&2
  eval "$(scripts/llm-server.sh start)"
  stop_server=1
fi
model=${MUSAV_TEST_LLM_MODEL:-default}

declare -A figures
for mode in grounded free; do
  cp "$REVIEWED" "$work/$mode.toml"
  "$bin" name --labels "$work/$mode.toml" --dry-run \
    --llm-url "$MUSAV_TEST_LLM_URL" --llm-model "$model" --llm-timeout 120 \
    --llm-naming "$mode" --llm-samples "$SAMPLES" --llm-cache "$work/cache" \
    --score-against "$REVIEWED" >"$work/$mode.out" 2>"$work/$mode.err"
  echo "== $mode naming, $model, $SAMPLES answer(s) per question =="
  sed -n '/^label  name/,$p' "$work/$mode.out"
  grep -F "answer(s) per question" "$work/$mode.out" || true
  if grep -q "warning" "$work/$mode.err"; then
    echo "fallbacks and rejected answers:"
    grep "warning" "$work/$mode.err" | sed 's/^musav: warning: /  /'
  fi
  echo
  figures[$mode]=$(grep -F "grounded share" "$work/$mode.out")
done

echo "== summary ($model, $SAMPLES answer(s) per question, against $REVIEWED) =="
for mode in grounded free; do
  printf '%-9s %s\n' "$mode" "${figures[$mode]}"
done
