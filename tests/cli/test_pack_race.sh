#!/usr/bin/env bash
# Proves (issue 9 "racing packers"): every journal writer holds J.tqj.lock.  While
# `journal pack Y -o J --append` runs (its input a FIFO held open, so it is slow for as
# long as we like), `journal pack X -o J` -- with or without --force or --append --
# exits 3 naming the holder's pid, and when the append ends the journal holds the
# original events and the appended ones, in order.  Without the race: pack over an
# existing journal exits 2 (saying --append or --force) and leaves it untouched; with
# --force it is replaced.  And SIGTERM, SIGINT or SIGHUP in the middle of a create, a
# forced replace or an append leave the journal as it was and no temporary file.
source "$(dirname "$0")/lib.sh"

# ev FIRST COUNT: COUNT CANCEL events for distinct declarations
ev() {
  awk -v a="$1" -v n="$2" 'BEGIN { for (i = a; i < a + n; i++)
    printf "{\"ev\":\"CANCEL\",\"decl_no\":\"1%011d\"}\n", i }'
}
# events J: the journal's events without their seq
events() { "$TQ" journal cat "$1" | sed 's/^{"seq":[0-9]*,/{/'; }
# wait_lock PID: until the writer PID holds $J.lock (it has read its header by then)
wait_lock() {
  for _ in $(seq 200); do
    grep -qx "pid=$1" "$J.lock" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "writer $1 never took $J.lock"
}
no_temporaries() {
  # shellcheck disable=SC2012
  left=$(ls -A "$WORK" | grep -E '\.tmp|\.lock$' || true)
  [ -z "$left" ] || fail "$1: left behind: $left"
}

ev 1 100 >"$WORK/x.ndjson"
ev 1000 50 >"$WORK/y.ndjson"
J=$WORK/j.tqj
"$TQ" journal pack "$WORK/x.ndjson" -o "$J" --quiet || fail "pack"
cp "$J" "$WORK/orig.tqj"

# 1. never replaced without --force
expect_status 2 "$TQ" journal pack "$WORK/y.ndjson" -o "$J"
grep -q -- "--append" "$WORK/err" && grep -q -- "--force" "$WORK/err" ||
  fail "the refusal does not say --append or --force: $(cat "$WORK/err")"
cmp -s "$J" "$WORK/orig.tqj" || fail "a refused pack changed the journal"
no_temporaries "refused pack"

# 2. the race: a slow append holds the journal; every other writer is refused
mkfifo "$WORK/fifo"
"$TQ" journal pack "$WORK/fifo" -o "$J" --append --quiet 2>"$WORK/append.err" &
apid=$!
exec 3>"$WORK/fifo"
head -n 20 "$WORK/y.ndjson" >&3
wait_lock "$apid"
for extra in "" "--force" "--append"; do
  # shellcheck disable=SC2086
  expect_status 3 "$TQ" journal pack "$WORK/x.ndjson" -o "$J" $extra
  grep -q "pid $apid" "$WORK/err" || fail "busy message does not name the holder $apid: $(cat "$WORK/err")"
  grep -q "journal pack" "$WORK/err" || fail "busy message does not say what the holder runs: $(cat "$WORK/err")"
done
tail -n +21 "$WORK/y.ndjson" >&3
exec 3>&-
wait "$apid" || fail "the append failed: $(cat "$WORK/append.err")"
cat "$WORK/x.ndjson" "$WORK/y.ndjson" >"$WORK/both.ndjson"
events "$J" | cmp -s - "$WORK/both.ndjson" || fail "the journal does not hold the original and the appended events"
no_temporaries "after the race"
ok

# 3. --force replaces
expect_status 0 "$TQ" journal pack "$WORK/y.ndjson" -o "$J" --force --quiet
events "$J" | cmp -s - "$WORK/y.ndjson" || fail "--force did not replace the journal"
cp "$J" "$WORK/before.tqj"

# 4. a signal in the middle undoes: create, forced replace, append
for sig in TERM INT HUP; do
  for mode in create force append; do
    case $mode in
      create) args=(-o "$WORK/new.tqj") ;;
      force) args=(-o "$J" --force) ;;
      append) args=(-o "$J" --append) ;;
    esac
    rm -f "$WORK/fifo"; mkfifo "$WORK/fifo"
    "$TQ" journal pack "$WORK/fifo" "${args[@]}" --frame-size 4096 --quiet 2>"$WORK/sig.err" &
    pid=$!
    exec 3>"$WORK/fifo"
    ev 5000 400 >&3     # several frames reach the file before the signal
    if [ "$mode" = create ]; then J_SAVE=$J; J=$WORK/new.tqj; fi
    wait_lock "$pid"
    [ "$mode" = create ] && J=$J_SAVE
    sleep 0.2
    kill -s "$sig" "$pid"
    got=0; wait "$pid" || got=$?
    exec 3>&-
    want=$((128 + $(kill -l "$sig")))
    [ "$got" = "$want" ] || fail "SIG$sig during $mode: exit $got, wanted $want: $(cat "$WORK/sig.err")"
    cmp -s "$J" "$WORK/before.tqj" || fail "SIG$sig during $mode changed the journal"
    [ ! -e "$WORK/new.tqj" ] || fail "SIG$sig during create left a journal"
    rm -f "$WORK/fifo"
    no_temporaries "SIG$sig during $mode"
    ok
  done
done
done_ok
