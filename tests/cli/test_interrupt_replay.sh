#!/usr/bin/env bash
# Proves (SPEC §6, README exit statuses): SIGINT or SIGTERM during a replay stops it
# cleanly after a commit: the exit status is 130 / 143, stderr says the seq it committed
# through and how to resume, the database's journal mark (`stat`: "last applied seq")
# is that same seq, and running the same command again completes with exactly the
# export of an uninterrupted replay.  Each signal is sent at a few different instants
# (reading the journal file at disk speed, or a pipe fed at a set pace so that the run
# lasts on any disk), and once while the replay holds applied but uncommitted events.
#   TQ_INTERRUPT_DECLARATIONS (default 30000).
source "$(dirname "$0")/lib.sh"
n=${TQ_INTERRUPT_DECLARATIONS:-30000}
"$TQ" gen --declarations "$n" --seed 21 --frame-size 16384 --out "$WORK/g" --quiet || fail "gen"
J=$WORK/g/journal.tqj


fresh_db "$WORK/ref"
"$TQ" replay "$J" --db "$WORK/ref" --quiet || fail "reference replay"
export_db "$WORK/ref" "$WORK/ref.csv"
last=$(mark_of "$WORK/ref")
echo "reference replay: through seq $last"

signals=0 missed=0 feeder=""
trap 'exec 3>&-; [ -n "$feeder" ] && kill $feeder 2>/dev/null; rm -rf "$WORK"' EXIT
size=$(stat -c %s "$J")
# start_replay MODE DB : file = read the journal file (as fast as the disk allows);
# paced = read it from a pipe fed 32 KiB every 20 ms, so the run lasts about a second
# whatever the disk (a tmpfs /tmp makes the file run very short)
start_replay() {
  if [ "$1" = file ]; then
    "$TQ" replay "$J" --db "$2" --batch 500 >"$WORK/out" 2>"$WORK/err" &
    pid=$!
  else
    rm -f "$WORK/pipe"; mkfifo "$WORK/pipe" || fail "mkfifo"
    "$TQ" replay "$WORK/pipe" --db "$2" --batch 500 >"$WORK/out" 2>"$WORK/err" &
    pid=$!
    ( for i in $(seq 0 $((size / 32768))); do
        dd if="$J" bs=32768 skip="$i" count=1 status=none || exit 0
        sleep 0.02
      done ) >"$WORK/pipe" 2>/dev/null &
    feeder=$!
  fi
}
# Signal only once the replay has committed (so its handler is in place), then after a
# chosen extra delay.  Bounded: 20 s at most.
for sig in INT TERM; do
  case $sig in INT) want=130 ;; TERM) want=143 ;; esac
  for mode_delay in file:0 paced:0.1 paced:0.4; do
    mode=${mode_delay%%:*} delay=${mode_delay##*:}
    db=$WORK/db-$sig
    for attempt in 1 2 3; do
      fresh_db "$db"
      start_replay "$mode" "$db"
      for _ in $(seq 1 2000); do
        [ "$(mark_of "$db")" -gt 0 ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.01
      done
      sleep "$delay"
      kill -"$sig" $pid 2>/dev/null && break
      # the run ended before the signal (a very fast disk): try again
      wait $pid; missed=$((missed + 1))
      [ -n "$feeder" ] && { wait $feeder 2>/dev/null; feeder=""; }
      [ $attempt -lt 3 ] || fail "SIG$sig ($mode): the replay ended before the signal three times"
    done
    got=0; wait $pid || got=$?
    [ -n "$feeder" ] && { kill $feeder 2>/dev/null; wait $feeder 2>/dev/null; feeder=""; }
    [ "$got" = "$want" ] || fail "SIG$sig ($mode): exit status $got, wanted $want: $(head -c 400 "$WORK/err")"
    ok
    no_sanitizer_report
    msg=$(grep -o 'committed through seq [0-9]*' "$WORK/err") ||
      fail "SIG$sig ($mode): stderr does not say where it stopped: $(head -c 400 "$WORK/err")"
    grep -q "run the same command again" "$WORK/err" || fail "SIG$sig: stderr does not say how to resume: $(cat "$WORK/err")"
    seq_said=${msg##* }
    mark=$(mark_of "$db")
    [ "$mark" = "$seq_said" ] || fail "SIG$sig ($mode): stderr says seq $seq_said, the database's mark is $mark"
    [ "$mark" -gt 0 ] && [ "$mark" -lt "$last" ] || fail "SIG$sig ($mode): mark $mark is not inside 1..$((last - 1))"
    ok
    echo "SIG$sig ($mode, +${delay}s after the first commit): exit $got, '$msg', stat mark $mark"
    # the same command again completes, with the export of the uninterrupted run
    "$TQ" replay "$J" --db "$db" --batch 500 --json >"$WORK/again.json" 2>"$WORK/err" ||
      fail "SIG$sig: rerun failed: $(cat "$WORK/err")"
    grep -q "\"already_applied\":$mark," "$WORK/again.json" || fail "SIG$sig: rerun did not resume after seq $mark: $(head -c 300 "$WORK/again.json")"
    export_db "$db" "$WORK/k"
    cmp -s "$WORK/ref.csv.d" "$WORK/k.d" || fail "SIG$sig ($mode): decisions differ after resuming"
    cmp -s "$WORK/ref.csv.p" "$WORK/k.p" || fail "SIG$sig ($mode): permit use differs after resuming"
    [ "$(mark_of "$db")" = "$last" ] || fail "SIG$sig: mark after the rerun is not $last"
    ok
    signals=$((signals + 1))
    rm -rf "$db"
  done
done
[ "$missed" = 0 ] || echo "($missed runs ended before their signal and were tried again)"

# Interrupted while holding an uncommitted batch: the journal comes through a pipe, the
# batch is larger than the journal, and the signal arrives while the replay waits for
# more input; it must commit what it applied (with its mark) before it stops.
for sig in INT TERM; do
  # SIGINT on the serial path (--threads 0), SIGTERM on the pipeline
  case $sig in INT) want=130 threads=0 ;; TERM) want=143 threads=2 ;; esac
  db=$WORK/db-pipe-$sig
  fresh_db "$db"
  rm -f "$WORK/pipe"; mkfifo "$WORK/pipe" || fail "mkfifo"
  "$TQ" replay "$WORK/pipe" --db "$db" --batch 100000000 --threads $threads >"$WORK/out" 2>"$WORK/err" &
  pid=$!
  exec 3>"$WORK/pipe"
  head -c $((size / 2)) "$J" >&3
  sleep 0.5
  [ "$(mark_of "$db")" = 0 ] || fail "SIG$sig (pipe): a commit before the signal: the test proves nothing"
  kill -"$sig" $pid 2>/dev/null || fail "SIG$sig (pipe): the replay is gone before the signal: $(cat "$WORK/err")"
  tail -c +$((size / 2 + 1)) "$J" >&3 2>/dev/null
  exec 3>&-
  got=0; wait $pid || got=$?
  [ "$got" = "$want" ] || fail "SIG$sig (pipe): exit status $got, wanted $want: $(head -c 400 "$WORK/err")"
  no_sanitizer_report
  msg=$(grep -o 'committed through seq [0-9]*' "$WORK/err") || fail "SIG$sig (pipe): no 'committed through seq': $(cat "$WORK/err")"
  seq_said=${msg##* }
  mark=$(mark_of "$db")
  [ "$mark" = "$seq_said" ] && [ "$mark" -gt 0 ] && [ "$mark" -lt "$last" ] ||
    fail "SIG$sig (pipe): stderr says seq $seq_said, the database's mark is $mark (of $last)"
  ok
  "$TQ" replay "$J" --db "$db" --json >"$WORK/again.json" 2>"$WORK/err" || fail "SIG$sig (pipe): rerun failed: $(cat "$WORK/err")"
  grep -q "\"already_applied\":$mark," "$WORK/again.json" || fail "SIG$sig (pipe): rerun did not resume after seq $mark"
  export_db "$db" "$WORK/k"
  cmp -s "$WORK/ref.csv.d" "$WORK/k.d" || fail "SIG$sig (pipe): decisions differ after resuming"
  cmp -s "$WORK/ref.csv.p" "$WORK/k.p" || fail "SIG$sig (pipe): permit use differs after resuming"
  ok
  echo "SIG$sig with an uncommitted batch in hand (--threads $threads): exit $got, '$msg' = stat mark, resumed exactly"
  signals=$((signals + 1))
  rm -rf "$db"
done
echo "$signals interrupted replays resumed to the exact export"
done_ok
