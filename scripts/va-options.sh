#!/usr/bin/env bash
# Issue 20: what each way of training gives the valence–arousal head, over several seeds.
# For each seed: a synthetic corpus, one classifier run per `--va-weight`, `train-va` (on the
# frozen network, or with `--unfreeze-last-block`), then `validate` and `validate-va` on the
# test split. Prints one row per seed and option, and the mean over seeds; the last two columns
# are validate-va's bootstrap standard deviations (how far the test sample alone moves the valence
# figures the goal is about).
#
#   scripts/va-options.sh                 # test size (as tests/train_synth.rs), seeds 1..5
#   MUSAV_VA_SIZE=full scripts/va-options.sh   # the issue's default-size run (slow on 2 cores)
#   MUSAV_VA_SEEDS="1 2" MUSAV_VA_OPTIONS="0 0.5 0+unfreeze 0.5+unfreeze" scripts/va-options.sh
#
# Options (MUSAV_VA_OPTIONS): a `musav train --va-weight` value (0 = the classifier-only
# embedding, the default) and the head on the frozen network (`--unfreeze-last-block=false`),
# or with "+unfreeze" the fine-tuned last block (`train-va`'s default; "+unfreeze@LR": with
# `--finetune-lr LR`); with "+embedding" anywhere the head reads the embedding alone
# (`--va-input embedding`) instead of `train-va`'s default input (levels). Options with
# the same weight share one classifier run. MUSAV_BIN: a musav binary (default: cargo build).
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${MUSAV_VA_SEEDS:-1 2 3 4 5}
options=${MUSAV_VA_OPTIONS:-0+embedding+unfreeze 0 0+unfreeze}
size=${MUSAV_VA_SIZE:-test}
bin=${MUSAV_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet --bin musav
  bin="${CARGO_TARGET_DIR:-target}/debug/musav"
fi
case "$size" in
  test)
    synth=(--per-label 60 --seconds 3)
    net=(--channels 8,8,16,32,64 --embedding 64 --chunk-frames 128 --batch-size 16 --lr 3e-3
         --dropout 0.5 --epochs 6) ;;
  full)
    synth=(--per-label 40 --seconds 10)
    net=() ;;
  *) echo "va-options.sh: MUSAV_VA_SIZE is test or full, not '$size'" >&2; exit 2 ;;
esac
work=$(mktemp -d)
results="$work/results.tsv"
# A sweep stopped part-way still shows the rows it finished before its work directory goes.
done_rows() {
  if [ -s "$results" ] && [ ! -e "$work/complete" ]; then
    echo "va-options.sh: stopped; rows finished so far:" >&2
    cat "$results" >&2
  fi
  rm -rf "$work"
}
trap done_rows EXIT
for seed in $seeds; do
  "$bin" synth "${synth[@]}" --seed "$seed" --out "$work/s$seed" >/dev/null
  "$bin" export --data "$work/s$seed" --out "$work/e$seed" >/dev/null
  for opt in $options; do
    w=${opt%%+*}
    classifier="$work/r$seed-w$w"
    if [ ! -d "$classifier" ]; then
      "$bin" train --export "$work/e$seed" --features "$work/s$seed" --cache "$work/c$seed" \
        --out "$classifier" --seed "$seed" --va-weight "$w" "${net[@]}" >/dev/null
      "$bin" validate --run "$classifier" --split test --format json > "$classifier/validate.json"
    fi
    run="$work/r$seed-$opt"
    [ "$run" = "$classifier" ] || cp -r "$classifier" "$run"
    # Spelled out both ways: the default of `train-va` is the fine-tuned block.
    flags=(--unfreeze-last-block=false)
    case "$opt" in
      *+unfreeze@*) flags=(--unfreeze-last-block --finetune-lr "${opt##*@}") ;;
      *+unfreeze) flags=(--unfreeze-last-block) ;;
    esac
    case "$opt" in
      *+embedding*) flags+=(--va-input embedding) ;;
      *) flags+=(--va-input levels) ;;
    esac
    "$bin" train-va --run "$run" "${flags[@]}" >/dev/null
    "$bin" validate-va --run "$run" >/dev/null
    python3 - "$seed" "$opt" "$run" >> "$results" <<'PY'
import json, sys
seed, w, run = sys.argv[1:]
f1 = json.load(open(f"{run}/validate.json"))["metrics"]["macro_f1"]
va = json.load(open(f"{run}/va_report_test.json"))
row = [seed, w, f"{f1:.3f}"]
for d in ("valence", "arousal"):
    m, c = va["model"][d], va["baseline_label_centroid"][d]
    wl = va["within_model"][d]
    row += [f"{m['ccc']:.3f}", f"{m['spread_ratio']:.2f}", f"{c['ccc']:.3f}",
            f"{wl['pearson']:.3f}", f"{wl['residual_ccc']:.3f}"]
sd = va["sampling"]["valence"]
row += [f"{sd['within_pearson']:.3f}", f"{sd['ccc_over_centroid']:.3f}"]
print("\t".join(row))
PY
  done
done
touch "$work/complete"
python3 - "$results" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
head = ["seed", "option", "macro-F1",
        "V CCC", "V spread", "V centroid", "V within r", "V resid CCC",
        "A CCC", "A spread", "A centroid", "A within r", "A resid CCC",
        "V within r SD", "V CCC over centroid SD"]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for r in rows:
    print("| " + " | ".join(r) + " |")
for w in sorted({r[1] for r in rows}, key=lambda o: (float(o.split("+")[0]), o)):
    sel = [r for r in rows if r[1] == w]
    means = [sum(float(r[i]) for r in sel) / len(sel) for i in range(2, len(head))]
    print("| mean | " + w + " | " + " | ".join(f"{m:.3f}" for m in means) + " |")
PY
