#!/usr/bin/env bash
# run.sh - the benchmark suite in one command: install what is missing, build Release,
# run the scenarios, print the table and write the JSON that CI trackers read.
#   bash bench/run.sh [--quick] [--scenarios LIST] [--runs N] [--dir SCRATCH]
#                     [--json FILE] [--threads N] [--compare BASELINE.json [--threshold X]]
# Defaults: every scenario (morning-15k, day-25k, 1m, 10m, serial, threads, stages,
# lists-10m: the worklist queries on the 10m database; lists-1m on request),
# 5 runs (3 for 10m), scratch in /tmp/tqbench (about 6 GB for 10m), JSON in
# build-bench/bench.json.  Backlogs are generated once per scratch directory and reused.
#
# --quick       the small scenarios only (morning-15k, day-25k), 5 runs: under two
#               minutes on a 2-core machine, backlogs included.  What CI runs.
# --compare B   after the run, print each figure beside baseline B's and exit 5 when one
#               is worse than the threshold (bench/compare.sh does it, and says why).
#               Direction comes from the unit: ms and MiB (times, memory) are worse when
#               higher, */s (decl/s, events/s: throughputs) worse when lower, other
#               units (rows) are counts and never judged.
# --threshold X worse means beyond X times the baseline (default 1.5, as benchmark
#               trackers alert): current > X x baseline for ms/MiB, current < baseline / X
#               for */s.
# bench/baseline.json is the committed baseline, made with --quick on the project's
# 2-core build machine (see its commit message); update it on purpose, never to make a
# red run green:  bash bench/run.sh --quick --json bench/baseline.json
# Exit: 0; 2 usage; 1 a named file missing; 5 a figure worse than the threshold.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
usage() { echo "usage: run.sh [--quick] [--scenarios LIST] [--runs N] [--dir DIR] [--json FILE] [--threads N] [--compare BASELINE.json [--threshold X]]" >&2; exit 2; }
args=() baseline="" threshold=1.5 json="$top/build-bench/bench.json"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) args+=(--scenarios morning-15k,day-25k --runs 5); shift ;;
    --compare) [ $# -ge 2 ] || usage; baseline=$2; shift 2 ;;
    --threshold) [ $# -ge 2 ] || usage; threshold=$2; shift 2 ;;
    --json) [ $# -ge 2 ] || usage; json=$2; shift 2 ;;
    --scenarios|--runs|--dir|--threads) [ $# -ge 2 ] || usage; args+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) usage ;;
  esac
done
if ! [[ $threshold =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk -v t="$threshold" 'BEGIN { exit !(t > 1) }'; then
  echo "run.sh: --threshold '$threshold': wanted a number greater than 1 (e.g. 1.5)" >&2
  exit 2
fi
if [ -n "$baseline" ] && [ ! -r "$baseline" ]; then
  echo "run.sh: --compare $baseline: no such readable file" >&2
  exit 1
fi
bash "$top/tools/setup-deps.sh"
cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release -DTQ_TESTS=OFF >/dev/null
cmake --build "$top/build-bench" -j"$(nproc)" --target bench_suite bench_journal >/dev/null
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
"$top/build-bench/bench_suite" "${args[@]}" --json "$json"
[ -z "$baseline" ] || exec bash "$top/bench/compare.sh" "$json" "$baseline" --threshold "$threshold"
