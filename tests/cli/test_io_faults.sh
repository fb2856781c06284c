#!/usr/bin/env bash
# Proves (README exit status 4, engine/STORE.md §7): when the disk fails under a load or
# a replay (EIO or ENOSPC from write, pwrite, writev, fsync, fdatasync or ftruncate on
# the database's files, injected by the LD_PRELOAD shim tests/shim/faultfs.c at every
# possible call in turn), the command fails with exit 4 and a clear message, without a
# crash or a sanitizer report, and the database reopens at its last commit:
#  * load: exactly the state before the load (it is one transaction), and a rerun
#    without the fault loads it all;
#  * replay: `stat` shows a mark at a frame boundary and the export is exactly that of
#    a replay of the journal cut at that mark; a rerun without the fault completes with
#    exactly the export of an uninterrupted replay.
# Also a transient fault (one failed call, then a healthy disk) in the middle of a run.
#   TQ_FAULT_DECLARATIONS (default 1200).
source "$(dirname "$0")/lib.sh"
SHIM=${TQ_BUILD_DIR:-$(dirname "$TQ")}/faultfs.so
[ -f "$SHIM" ] || fail "no fault shim at $SHIM (build tests/shim/faultfs.c; TQ_BUILD_DIR)"
n=${TQ_FAULT_DECLARATIONS:-1200}
"$TQ" gen --declarations "$n" --seed 41 --frame-size 16384 --out "$WORK/g" --quiet || fail "gen"
J=$WORK/g/journal.tqj
# An ASan binary must accept a preloaded library that is not instrumented.
case "$ASAN_OPTIONS" in *verify_asan_link_order*) ;; *) ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" ;; esac
export ASAN_OPTIONS

# under_faults AFTER ERRNO FAILS CMD... : run CMD with the shim on the database dir $WORK/f
under_faults() {
  local after=$1 err=$2 fails=$3; shift 3
  rm -f "$WORK/report"
  local got=0
  FAULTFS_MATCH="$WORK/f/" FAULTFS_AFTER=$after FAULTFS_ERRNO=$err FAULTFS_FAILS=$fails \
    FAULTFS_REPORT="$WORK/report" LD_PRELOAD="$SHIM" "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
  status=$got
  report=$(cat "$WORK/report" 2>/dev/null)
  injected=$(echo "$report" | sed -n 's/.*failed=\([0-9]*\).*/\1/p')
  matched=$(echo "$report" | sed -n 's/.*matched=\([0-9]*\).*/\1/p')
  [ -n "$injected" ] || fail "the shim wrote no report (is it loaded?): $(head -c 300 "$WORK/err")"
}
check_failure() { # check_failure WHAT : exit 4, a message, no sanitizer report
  [ "$status" = 4 ] || fail "$1: $injected faults injected, exit $status, wanted 4: $(head -c 500 "$WORK/err")"
  grep -qiE "I/O error|Input/output error|no space left" "$WORK/err" || fail "$1: no clear message: $(head -c 500 "$WORK/err")"
  no_sanitizer_report
  ok
}
counts() {
  "$TQ" stat --db "$1" --json 2>"$WORK/stat.err" | grep -o '"receipts":[0-9]*,"covers":[0-9]*' ||
    fail "stat fails on $1 after the fault: $(cat "$WORK/stat.err")"
}
errno_for() { if [ $(($1 % 2)) = 0 ]; then echo EIO; else echo ENOSPC; fi; }

# ---- references ----
rm -rf "$WORK/loaded"
"$TQ" load permits "$WORK/g/permits.csv" --db "$WORK/loaded" --quiet || fail "load permits"
cp -a "$WORK/loaded" "$WORK/permits_only"
"$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/loaded" --quiet || fail "load payments"
cp -a "$WORK/loaded" "$WORK/ref"
"$TQ" replay "$J" --db "$WORK/ref" --batch 400 --quiet || fail "reference replay"
export_db "$WORK/ref" "$WORK/ref.csv"
before_load=$(counts "$WORK/permits_only")
after_load=$(counts "$WORK/loaded")

# prefix_ref SEQ : the export of a replay of the journal cut after the frame ending at
# SEQ (a valid shorter journal), cached
prefix_ref() {
  local seq=$1
  [ -f "$WORK/prefix.$seq.csv" ] && return
  journal_cut "$J" "$seq" "$WORK/prefix.tqj"
  rm -rf "$WORK/pdb"; cp -a "$WORK/loaded" "$WORK/pdb"
  "$TQ" replay "$WORK/prefix.tqj" --db "$WORK/pdb" --quiet 2>/dev/null || fail "replay of the prefix through seq $seq"
  export_db "$WORK/pdb" "$WORK/prefix.$seq.csv"
}

# How many matched calls does each command make on a healthy disk?
rm -rf "$WORK/f"; cp -a "$WORK/permits_only" "$WORK/f"
under_faults 1000000000 EIO 0 "$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/f" --quiet
load_calls=$matched
rm -rf "$WORK/f"; cp -a "$WORK/loaded" "$WORK/f"
under_faults 1000000000 EIO 0 "$TQ" replay "$J" --db "$WORK/f" --batch 400 --quiet
replay_calls=$matched
echo "a healthy load makes $load_calls writes/syncs on the database, a replay (--batch 400) $replay_calls"
[ "$load_calls" -ge 3 ] && [ "$replay_calls" -ge 10 ] || fail "too few calls seen: is the shim matching the database files?"

total_injected=0 runs=0

# ---- load: a fault at every call in turn ----
for after in $(seq 0 $((load_calls - 1))); do
  e=$(errno_for "$after")
  rm -rf "$WORK/f"; cp -a "$WORK/permits_only" "$WORK/f"
  under_faults "$after" "$e" 0 "$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/f"
  [ "$injected" -gt 0 ] || fail "load, fault after $after calls: nothing injected"
  now=$(counts "$WORK/f")
  first_op=$(echo "$report" | sed -n 's/.*first=\([a-z0-9]*\).*/\1/p')
  if [ "$status" = 0 ]; then
    # the fault came after the commit (releasing the writer lock): loaded, and it says so
    [ "$now" = "$after_load" ] || fail "load with $e after $after calls exited 0 but left $now"
    no_sanitizer_report; ok
    echo "  load, $e at call $after ($first_op): after the commit; exit 0, all loaded"
  else
    check_failure "load with $e after $after calls"
    [ "$now" = "$before_load" ] || fail "load with $e after $after calls failed but left $now (before: $before_load)"
  fi
  "$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/f" --quiet || fail "load again after the fault"
  [ "$(counts "$WORK/f")" = "$after_load" ] || fail "the load after the fault is not complete"
  total_injected=$((total_injected + injected)); runs=$((runs + 1))
  ok
done
echo "load: a fault at each of its $load_calls calls: exit 4, state before the load, a rerun loads it all"

# ---- replay: a fault at every call in turn ----
marks=""
for after in $(seq 0 $((replay_calls - 1))); do
  e=$(errno_for "$after")
  rm -rf "$WORK/f"; cp -a "$WORK/loaded" "$WORK/f"
  under_faults "$after" "$e" 0 "$TQ" replay "$J" --db "$WORK/f" --batch 400
  [ "$injected" -gt 0 ] || fail "replay, fault after $after calls: nothing injected"
  m=$(mark_of "$WORK/f")
  first_op=$(echo "$report" | sed -n 's/.*first=\([a-z0-9]*\).*/\1/p')
  if [ "$status" = 0 ]; then
    # only a fault after the last commit may go unreported
    [ "$m" = "$(mark_of "$WORK/ref")" ] || fail "replay with $e after $after calls exited 0 at mark $m"
    no_sanitizer_report; ok
    echo "  replay, $e at call $after ($first_op): after the last commit; exit 0, complete"
  else
    check_failure "replay with $e after $after calls"
  fi
  prefix_ref "$m"
  export_db "$WORK/f" "$WORK/got.csv"
  cmp -s "$WORK/got.csv" "$WORK/prefix.$m.csv" ||
    fail "replay with $e after $after calls: the database is not at its last commit (mark $m): $(diff "$WORK/prefix.$m.csv" "$WORK/got.csv" | head -4)"
  "$TQ" replay "$J" --db "$WORK/f" --batch 400 --quiet 2>"$WORK/err" || fail "replay again after the fault: $(cat "$WORK/err")"
  export_db "$WORK/f" "$WORK/got.csv"
  cmp -s "$WORK/got.csv" "$WORK/ref.csv" || fail "replay with $e after $after calls, then a rerun: export differs from an uninterrupted replay"
  marks="$marks $m"
  total_injected=$((total_injected + injected)); runs=$((runs + 1))
  ok
done
echo "replay: a fault at each of its $replay_calls calls: exit 4; marks at the fault:$(echo $marks | tr ' ' '\n' | sort -nu | tr '\n' ' ')"
echo "        each database exactly at its mark; each rerun exact"

# ---- a transient fault: one call fails, the disk is healthy again after ----
for after in 1 $((replay_calls / 2)) $((replay_calls - 2)); do
  rm -rf "$WORK/f"; cp -a "$WORK/loaded" "$WORK/f"
  under_faults "$after" EIO 1 "$TQ" replay "$J" --db "$WORK/f" --batch 400
  no_sanitizer_report
  [ "$injected" = 1 ] || fail "transient fault: $injected injected"
  [ "$status" = 4 ] || [ "$status" = 0 ] || fail "transient fault after $after calls: exit $status: $(head -c 400 "$WORK/err")"
  m=$(mark_of "$WORK/f"); prefix_ref "$m"
  export_db "$WORK/f" "$WORK/got.csv"
  if [ "$status" = 0 ]; then cmp -s "$WORK/got.csv" "$WORK/ref.csv" || fail "transient fault, exit 0, but the export differs"
  else cmp -s "$WORK/got.csv" "$WORK/prefix.$m.csv" || fail "transient fault: not at the last commit (mark $m)"; fi
  "$TQ" replay "$J" --db "$WORK/f" --quiet || fail "rerun after a transient fault"
  export_db "$WORK/f" "$WORK/got.csv"
  cmp -s "$WORK/got.csv" "$WORK/ref.csv" || fail "transient fault after $after calls, then a rerun: export differs"
  total_injected=$((total_injected + injected)); runs=$((runs + 1))
  ok
  echo "transient EIO at call $after: exit $status, at the last commit (mark $m), rerun exact"
done
echo "faults injected: $total_injected over $runs faulty runs"
done_ok
