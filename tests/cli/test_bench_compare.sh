#!/usr/bin/env bash
# test_bench_compare.sh - bench/compare.sh and run.sh's --compare/--threshold, on crafted
# JSON: no benchmark is run and nothing is timed.  A figure beyond the threshold (slower
# for ms, lower for */s, higher for MiB) must fail with status 5 and be marked WORSE; one
# within must pass; an improvement, however large, must pass; a baseline figure the
# current run lacks must fail; counts (rows) are never judged.
. "$(dirname "$0")/lib.sh"
CMP=$TOP/bench/compare.sh
RUN=$TOP/bench/run.sh
# figs OUT NAME UNIT VALUE...: OUT a run's JSON, one figure per NAME UNIT VALUE
figs() {
  local out=$1 sep=""
  shift
  { echo "["
    while [ $# -ge 3 ]; do
      printf '%s  {"name": "%s", "unit": "%s", "value": %s}' "$sep" "$1" "$2" "$3"
      sep=$',\n'
      shift 3
    done
    printf '\n]\n'; } >"$out"
}
# compare NAME STATUS NAME UNIT VALUE...: $WORK/NAME.json, a run of these figures, is
# compared with base.json, and compare.sh must exit STATUS
compare() {
  local name=$1 status=$2
  shift 2
  figs "$WORK/$name.json" "$@"
  expect_status "$status" bash "$CMP" "$WORK/$name.json" "$WORK/base.json"
}
# says RE...: compare.sh printed a line matching each RE
says() { for re; do grep -q -- "$re" "$WORK/out" || fail "no line '$re' in: $(cat "$WORK/out")"; done; ok; }
figs "$WORK/base.json" m/replay_time ms 100.000 m/declarations_per_s decl/s 100000.000 \
  m/peak_anon MiB 20.000 m/rows rows 10.000

# within 1.5x: 140 ms vs 100 (1.4x slower), 70,000/s vs 100,000 (1.43x lower); a count
# (rows) is not judged
compare within 0 m/replay_time ms 140.000 m/declarations_per_s decl/s 70000.000 \
  m/peak_anon MiB 29.000 m/rows rows 99.000
says "^m/replay_time .* 140.0 .* 100.0 .*1.40 .* ms .*ok$" "^m/declarations_per_s .* ok$" \
  "^m/rows .* info$"
! grep -q WORSE "$WORK/out" || fail "nothing is worse within 1.5x: $(cat "$WORK/out")"; ok

# beyond 1.5x, one figure each way: 160 ms (1.6x slower), 60,000/s (1.67x lower)
compare beyond 5 m/replay_time ms 160.000 m/declarations_per_s decl/s 60000.000 \
  m/peak_anon MiB 20.000 m/rows rows 10.000
says "^m/replay_time .* WORSE$" "^m/declarations_per_s .* WORSE$" "^m/peak_anon .* ok$" \
  "2 figure(s) worse than 1.5x"
# the threshold moves the line: at 1.7x the same figures pass, at 1.3x the "within" fail
expect_status 0 bash "$CMP" "$WORK/beyond.json" "$WORK/base.json" --threshold 1.7
expect_status 5 bash "$CMP" "$WORK/within.json" "$WORK/base.json" --threshold 1.3

# direction: ten times faster and ten times the rate is no regression; 2x memory is
compare dir 5 m/replay_time ms 10.000 m/declarations_per_s decl/s 1000000.000 \
  m/peak_anon MiB 40.000 m/rows rows 10.000
says "1 figure(s) worse" "^m/peak_anon .* WORSE$"

# a baseline figure the current run lacks fails; a new figure does not
compare miss 5 m/replay_time ms 100.000 m/declarations_per_s decl/s 100000.000 \
  m/new_one ms 5.000 m/rows rows 10.000
says "^m/peak_anon .* missing$" "^m/new_one .* new$"

# usage and files: status 2 for a bad threshold, 1 for a missing or empty file
expect_status 2 bash "$CMP" "$WORK/within.json" "$WORK/base.json" --threshold 0.9
expect_status 2 bash "$CMP" "$WORK/within.json" "$WORK/base.json" --threshold abc
expect_status 2 bash "$CMP" "$WORK/within.json"
expect_status 1 bash "$CMP" "$WORK/nope.json" "$WORK/base.json"
: >"$WORK/empty.json"
expect_status 1 bash "$CMP" "$WORK/empty.json" "$WORK/base.json"
grep -q "empty.json holds no figure" "$WORK/err" || fail "empty: $(cat "$WORK/err")"; ok
# run.sh checks its compare options before it builds or times anything
expect_status 2 bash "$RUN" --quick --compare "$WORK/base.json" --threshold 1
expect_status 1 bash "$RUN" --quick --compare "$WORK/nope.json"
expect_status 2 bash "$RUN" --bogus
# the committed baseline is one compare.sh reads, with the quick scenarios' figures
expect_status 0 bash "$CMP" "$TOP/bench/baseline.json" "$TOP/bench/baseline.json"
grep -q "^morning-15k/replay_time .* ok$" "$WORK/out" || fail "baseline: $(cat "$WORK/out")"; ok
done_ok
