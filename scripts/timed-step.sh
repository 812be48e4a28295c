#!/usr/bin/env bash
# Run one step of `make test` and print its wall time; with --report, print
# the table of every step recorded in $STEP_TIMES (one `make test` run).
#   timed-step.sh NAME COMMAND...   |   timed-step.sh --report
set -uo pipefail
times="${STEP_TIMES:?STEP_TIMES must name the file that collects step times}"
if [ "${1:-}" = --report ]; then
  echo "=== make test: wall time per step ==="
  awk -F'\t' '{ printf "  %-28s %6d s  %s\n", $1, $2, $3; total += $2 } END { printf "  %-28s %6d s (%d min)\n", "total", total, total / 60 }' "$times"
  exit 0
fi
name="$1"; shift
mkdir -p "$(dirname "$times")"
echo "=== $name: start $(date -u +%H:%M:%S) ==="
start=$(date +%s)
"$@"
status=$?
elapsed=$(( $(date +%s) - start ))
result=$([ "$status" -eq 0 ] && echo passed || echo FAILED)
printf '%s\t%s\t%s\n' "$name" "$elapsed" "$result" >> "$times"
echo "=== $name: $result in ${elapsed} s ==="
exit "$status"
