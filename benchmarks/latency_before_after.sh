#!/bin/bash
# Event-loop lateness of the window before and after a commit, alternately, each case twice:
#   benchmarks/latency_before_after.sh BEFORE_COMMIT [AFTER_DIR]
# BEFORE_COMMIT is checked out in a temporary worktree; AFTER_DIR (default: this repository)
# is measured as it is. PYTHONPATH points each run at its own tree (an editable install
# would import its own tree otherwise). docs/benchmarks.md gives the figures.
set -euo pipefail
before_commit=${1:?usage: $0 BEFORE_COMMIT [AFTER_DIR]}
after=$(cd "${2:-$(dirname "$0")/..}" && pwd)
python=${PYTHON:-python}
[[ $python == */* ]] && python=$(cd "$(dirname "$python")" && pwd)/$(basename "$python")  # runs cd
before=$(mktemp -d)/before
git -C "$after" worktree add -q --detach "$before" "$before_commit"
trap 'git -C "$after" worktree remove --force "$before"' EXIT
run() {  # tree label options...
    local tree=$1 label=$2; shift 2
    local out
    out=$(cd "$tree" && PYTHONPATH=. QT_QPA_PLATFORM=offscreen timeout 120 "$python" \
          benchmarks/gui_latency.py --seconds 8 "$@" 2>&1 | tail -3 | tr '\n' ' ')
    echo "$label | $* | $out"
}
for _ in 1 2; do
    for options in "--data toy:spiral --layers 8 --activation tanh --batch-size 4" \
                   "--data toy:spiral --layers 8 --activation tanh --batch-size 32 --boundary" \
                   "--data toy:spiral --layers 16,16 --activation tanh --boundary" \
                   ""; do
        # shellcheck disable=SC2086  # the options are words
        run "$before" before $options
        run "$after" after $options
    done
done
