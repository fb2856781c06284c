#!/usr/bin/env bash
# Proves (issue 10: "a temp file is left behind after SIGTERM to reconcile; SIGHUP is not
# handled"): a command stopped by SIGINT, SIGTERM or SIGHUP leaves no temporary file and
# every old output as it was.
#   - SIGTERM to reconcile mid-run (its report and CSV lists being written): exit 143,
#     no temporary file, the old report and lists intact, the database unchanged;
#   - SIGHUP to load mid-run: a clean stop, exit 129, nothing loaded, no temporary
#     reject file; SIGHUP to replay: exit 129 after committing, like SIGTERM's 143.
#   TQ_SIGNALS_DECLARATIONS (default 150000) sizes the runs so they last long enough.
source "$(dirname "$0")/lib.sh"

# hup_until_it_lands NAME DB STOPPED CMD... : run CMD (a writer of the database DB, made
# afresh) in the background and send it SIGHUP once it holds DB's writer lock: 0.05 s
# after, then 0.01 s, then at once (the run may be quick on a quiet machine) until a run
# stops cleanly: exit 129 and STOPPED (a pattern) in its stderr.  The lock is taken a
# moment before the command catches signals, and a SIGHUP in that moment ends it by the
# signal, also status 129 but silent: that attempt does not count.  Its output in
# $WORK/NAME.out and $WORK/NAME.err.
hup_until_it_lands() {
  local name=$1 db=$2 stopped=$3 delay pid got _
  shift 3
  for delay in 0.05 0.01 0; do
    rm -rf "$db"
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    pid=$!
    for _ in $(seq 1 500); do [ -e "$db/lock" ] && break; sleep 0.005; done
    sleep "$delay"
    kill -HUP $pid 2>/dev/null
    got=0; wait $pid || got=$?
    [ "$got" = 129 ] && grep -q "$stopped" "$WORK/$name.err" && return 0
    echo "($name ended with $got$([ "$got" = 129 ] && echo ", by the signal itself") before its clean stop; again)"
  done
  fail "$name never stopped cleanly on SIGHUP: $(cat "$WORK/$name.err")"
}
n=${TQ_SIGNALS_DECLARATIONS:-150000}
"$TQ" gen --declarations "$n" --seed 21 --out "$WORK/g" --quiet || fail "gen"
db=$WORK/db
"$TQ" load permits "$WORK/g/permits.csv" --db "$db" --quiet || fail "load permits"
"$TQ" replay "$WORK/g/journal.tqj" --db "$db" --quiet || fail "replay"
"$TQ" load payments "$WORK/g/payments.csv" --db "$db" --quiet || fail "load payments"
"$TQ" export decisions --db "$db" -o "$WORK/before.csv" || fail "export"

temps_in() { find "$@" -maxdepth 1 -name '.*.tmp-*' 2>/dev/null | head -3; }
# wait_for_temp DIR PID: until a temporary file of ours appears in DIR (the command is
# writing its outputs), at most 10 s; fails if PID ended first
wait_for_temp() {
  for _ in $(seq 1 1000); do
    [ -n "$(temps_in "$1")" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}

# ---- SIGTERM to reconcile mid-run ----
mkdir -p "$WORK/out" "$WORK/lists"
echo "old report" >"$WORK/out/r.json"
echo "old list" >"$WORK/lists/cleared_now.csv"
stopped=0
for delay in 0.05 0.01 0; do
  "$TQ" reconcile --db "$db" --report "$WORK/out/r.json" --csv "$WORK/lists" >"$WORK/rec.out" 2>"$WORK/rec.err" &
  pid=$!
  if wait_for_temp "$WORK/out" $pid; then
    sleep "$delay"
    kill -TERM $pid 2>/dev/null
  fi
  got=0; wait $pid || got=$?
  if [ "$got" = 143 ]; then stopped=1; break; fi
  [ "$got" = 0 ] || fail "reconcile exited $got: $(cat "$WORK/rec.err")"
  # it finished before the signal: the database changed; start again from the copy
  echo "(reconcile ended before the signal; again)"
  rm -rf "$db"; "$TQ" load permits "$WORK/g/permits.csv" --db "$db" --quiet &&
    "$TQ" replay "$WORK/g/journal.tqj" --db "$db" --quiet &&
    "$TQ" load payments "$WORK/g/payments.csv" --db "$db" --quiet || fail "rebuild"
  echo "old report" >"$WORK/out/r.json"; echo "old list" >"$WORK/lists/cleared_now.csv"
done
[ $stopped = 1 ] || fail "reconcile always ended before SIGTERM (raise TQ_SIGNALS_DECLARATIONS)"
[ -z "$(temps_in "$WORK/out" "$WORK/lists")" ] || fail "SIGTERM left temporary files: $(temps_in "$WORK/out" "$WORK/lists")"
ok
[ "$(cat "$WORK/out/r.json")" = "old report" ] || fail "SIGTERM: the old report changed"
[ "$(cat "$WORK/lists/cleared_now.csv")" = "old list" ] || fail "SIGTERM: an old list changed"
ok
"$TQ" export decisions --db "$db" -o "$WORK/after.csv" || fail "export after"
cmp -s "$WORK/before.csv" "$WORK/after.csv" || fail "SIGTERM: the database changed"
ok
cp "$WORK/rec.err" "$WORK/err"; no_sanitizer_report

# ---- SIGHUP to load mid-run: a clean stop, nothing loaded ----
{ cat "$WORK/g/payments.csv"; echo "bad,row"; } >"$WORK/pay.csv"
hup_until_it_lands l "$WORK/db-l" "interrupted; nothing was loaded" "$TQ" load payments "$WORK/pay.csv" --db "$WORK/db-l" --skip-invalid "$WORK/out/rej.csv"
grep -q "interrupted; nothing was loaded" "$WORK/l.err" || fail "SIGHUP to load: $(cat "$WORK/l.err")"
[ ! -e "$WORK/out/rej.csv" ] || fail "SIGHUP to load: a reject file was put in place"
[ -z "$(temps_in "$WORK/out")" ] || fail "SIGHUP to load left a temporary reject file"
"$TQ" stat --db "$WORK/db-l" 2>/dev/null | grep -q "payments: 0 receipts" || fail "SIGHUP to load: something was loaded: $("$TQ" stat --db "$WORK/db-l" 2>&1 | head -3)"
ok
cp "$WORK/l.err" "$WORK/err"; no_sanitizer_report

# ---- SIGHUP to replay: commits, then exits 129 ----
hup_until_it_lands r "$WORK/db-r" "committed through seq [0-9]" "$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/db-r" --batch 500
grep -q "committed through seq [0-9]" "$WORK/r.err" || fail "SIGHUP to replay: $(cat "$WORK/r.err")"
ok
cp "$WORK/r.err" "$WORK/err"; no_sanitizer_report
done_ok
