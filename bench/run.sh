#!/usr/bin/env bash
# run.sh - the benchmark suite in one command: install what is missing, build Release,
# run the scenarios, print the table and write the JSON that CI trackers read.
#   bash bench/run.sh [--scenarios LIST] [--runs N] [--dir SCRATCH] [--json FILE]
# Defaults: every scenario (morning-15k, day-25k, 1m, 10m, serial, threads, stages,
# lists-10m: the worklist queries on the 10m database; lists-1m on request),
# 5 runs (3 for 10m), scratch in /tmp/tqbench (about 6 GB for 10m), JSON in
# build-bench/bench.json.  Backlogs are generated once per scratch directory and reused.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/tools/setup-deps.sh"
cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release -DTQ_TESTS=OFF >/dev/null
cmake --build "$top/build-bench" -j"$(nproc)" --target bench_suite bench_journal >/dev/null
args=("$@")
printf '%s\n' "${args[@]}" | grep -q -- '--json' || args+=(--json "$top/build-bench/bench.json")
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
"$top/build-bench/bench_suite" "${args[@]}"
