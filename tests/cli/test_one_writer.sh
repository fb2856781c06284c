#!/usr/bin/env bash
# Proves (SPEC §6 "One writer", README exit status 3): while a replay runs, a second
# replay, a load and a reconcile on the same database each fail at once (well under
# 2 s) with exit 3 and a message naming the holder's pid (the running replay's) and
# command; meanwhile export and stat work (exit 0) and see a committed state; the
# refused commands change nothing, and the running replay ends exactly as it would
# alone.  A lock left by a writer killed with SIGKILL does not block the next run.
#   TQ_WRITER_DECLARATIONS (default 10000).
source "$(dirname "$0")/lib.sh"
n=${TQ_WRITER_DECLARATIONS:-10000}
"$TQ" gen --declarations "$n" --seed 71 --frame-size 16384 --out "$WORK/g" --quiet || fail "gen"
J=$WORK/g/journal.tqj
bg=""
trap 'exec 3>&-; [ -n "$bg" ] && kill -KILL $bg 2>/dev/null; rm -rf "$WORK"' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# start_writer DB : a replay in the background that reads the journal from a pipe, fed
# half of it and then held open: the writer holds the lock for as long as the test
# needs, on any machine.  Returns once it holds the lock; finish_writer feeds the rest.
size=$(stat -c %s "$J")
start_writer() {
  rm -f "$WORK/pipe"; mkfifo "$WORK/pipe" || fail "mkfifo"
  "$TQ" replay "$WORK/pipe" --db "$1" --batch 200 --quiet >"$WORK/bg.out" 2>"$WORK/bg.err" &
  bg=$!
  exec 3>"$WORK/pipe"
  head -c $((size / 2)) "$J" >&3
  for _ in $(seq 1 1000); do
    grep -q "^pid=$bg\$" "$1/lock" 2>/dev/null && [ "$(mark_of "$1")" -gt 0 ] && return
    kill -0 $bg 2>/dev/null || fail "the background replay ended early: $(cat "$WORK/bg.err")"
    sleep 0.01
  done
  fail "the background replay did not take the lock and commit within 10 s"
}
finish_writer() {
  tail -c +$((size / 2 + 1)) "$J" >&3
  exec 3>&-
  wait $bg || fail "the background replay failed: $(cat "$WORK/bg.err")"
  bg=""
}

fresh_db "$WORK/ref"
"$TQ" replay "$J" --db "$WORK/ref" --quiet || fail "reference replay"
export_db "$WORK/ref" "$WORK/ref.csv"

fresh_db "$WORK/db"
start_writer "$WORK/db"
echo "background replay pid $bg holds $WORK/db"
for cmd in "replay $J" "load payments $WORK/g/payments.csv" "load permits $WORK/g/permits.csv" "reconcile"; do
  t0=$(now_ms)
  # bounded: a writer that waits for the lock instead of failing is stopped after 10 s
  # shellcheck disable=SC2086
  got=0; timeout -s KILL 10 "$TQ" $cmd --db "$WORK/db" >"$WORK/out" 2>"$WORK/err" || got=$?
  el=$(($(now_ms) - t0))
  [ "$got" != 137 ] || fail "'$cmd' was still waiting for the lock after 10 s"
  [ "$got" = 3 ] || fail "'$cmd' exited $got, wanted 3: $(head -c 400 "$WORK/err")"
  ok
  no_sanitizer_report
  [ "$el" -lt 2000 ] || fail "'$cmd' took $el ms to give up"
  grep -q "pid $bg" "$WORK/err" || fail "'$cmd': the message does not name pid $bg: $(cat "$WORK/err")"
  grep -q "'replay'" "$WORK/err" || fail "'$cmd': the message does not name the holder's command: $(cat "$WORK/err")"
  kill -0 $bg 2>/dev/null || fail "the background replay ended before '$cmd' was tried"
  echo "second writer '${cmd%% /*}': exit 3 in $el ms: $(head -n 1 "$WORK/err")"
done
# readers work meanwhile
expect_status 0 "$TQ" stat --db "$WORK/db"
grep -q "last applied seq" "$WORK/out" || fail "stat shows no journal mark while the replay runs"
expect_status 0 "$TQ" export decisions --db "$WORK/db" -o "$WORK/mid.csv"
expect_status 0 "$TQ" export permits --db "$WORK/db"
kill -0 $bg 2>/dev/null || fail "the background replay ended before the readers ran"
echo "stat and export work while the replay runs ($(($(wc -l <"$WORK/mid.csv") - 1)) decisions committed so far)"
finish_writer
export_db "$WORK/db" "$WORK/got.csv"
cmp -s "$WORK/got.csv" "$WORK/ref.csv" || fail "the replay's result changed under the refused writers"
ok

# a writer killed with SIGKILL leaves its lock file behind, but not the lock
fresh_db "$WORK/db"
start_writer "$WORK/db"
kill -KILL $bg; wait $bg 2>/dev/null; killed=$bg; bg=""; exec 3>&-
grep -q "^pid=$killed\$" "$WORK/db/lock" || fail "expected the killed writer's stale text in the lock file"
t0=$(now_ms)
expect_status 0 "$TQ" replay "$J" --db "$WORK/db" --quiet
echo "after SIGKILL of pid $killed: the next replay ran at once ($(($(now_ms) - t0)) ms in all) and completed"
export_db "$WORK/db" "$WORK/got.csv"
cmp -s "$WORK/got.csv" "$WORK/ref.csv" || fail "the replay after the killed writer differs"
ok
done_ok
