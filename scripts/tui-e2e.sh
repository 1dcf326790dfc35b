#!/usr/bin/env bash
# The terminal UI's end-to-end test (tests/tui_e2e.rs: the real binary inside tmux) and, with
# --startup [RUNS], the time from process start to the first frame and to the labels pane.
#
# Installs tmux with apt-get when it is missing (Debian; root, or sudo). Idempotent.
#   scripts/tui-e2e.sh              # install tmux if needed, run the e2e test
#   scripts/tui-e2e.sh --startup 20 # also measure start-up 20 times (debug build)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tmux >/dev/null 2>&1; then
    echo "tui-e2e: installing tmux" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq tmux >/dev/null
fi

# The keyboard test; its sibling with the real model needs the LLM server (scripts/test.sh starts it).
test=rename_and_move_to_noise_then_save_and_export_agree_with_the_status_bar
if cargo nextest --version >/dev/null 2>&1; then
    CI="${CI:-1}" cargo nextest run --test tui_e2e "$test"
else
    CI="${CI:-1}" cargo test --test tui_e2e "$test"
fi

[ "${1:-}" = "--startup" ] || exit 0
runs="${2:-10}"
cargo build --quiet
bin="$PWD/target/debug/musav"
sock="musav-startup-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true' EXIT
# One idle session keeps the tmux server up, so that its start-up is not counted.
tmux -L "$sock" new-session -d -s idle -x 100 -y 30 "sleep 600"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
first=() labels=()
for i in $(seq "$runs"); do
    t0=$(now_ms)
    tmux -L "$sock" new-window -d -t idle -n "r$i" "$bin review --save-to /tmp/musav-startup-$$.toml"
    t_first="" t_labels=""
    while [ -z "$t_labels" ]; do
        screen=$(tmux -L "$sock" capture-pane -p -t "idle:r$i" 2>/dev/null || true)
        if [ -z "$t_first" ] && grep -q -e "musav review" -e "Labels (" <<<"$screen"; then t_first=$(now_ms); fi
        if grep -q "Labels (" <<<"$screen"; then t_labels=$(now_ms); fi
        if [ $(( $(now_ms) - t0 )) -gt 10000 ]; then echo "tui-e2e: no labels pane after 10 s" >&2; exit 1; fi
    done
    first+=($(( t_first - t0 ))) labels+=($(( t_labels - t0 )))
    tmux -L "$sock" send-keys -t "idle:r$i" q
done
stats() { sort -n | awk '{a[NR]=$1} END {printf "min %d ms, median %d ms, max %d ms (%d runs)\n", a[1], a[int((NR+1)/2)], a[NR], NR}'; }
echo "start → first frame:  $(printf '%s\n' "${first[@]}" | stats)"
echo "start → labels pane:  $(printf '%s\n' "${labels[@]}" | stats)"
