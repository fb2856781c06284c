#!/usr/bin/env bash
# Proves: the real binary decides a generated backlog identically with 0 (the serial
# reference), 1, 2, 4 and 8 threads (exports byte for byte), with small frames and
# batches so the pipeline's reordering and commits are exercised; and that the change
# feed (`export changes --since 0`) is byte-identical too, with batches as small as a
# few events, where the pipeline writes its changes at many flushes.  tools/test.sh
# also runs this with a ThreadSanitizer build, where any data race fails it.
source "$(dirname "$0")/lib.sh"
n=${TQ_THREADS_DECLARATIONS:-20000}
"$TQ" gen --declarations "$n" --seed 5 --frame-size 8192 --out "$WORK/g" --quiet || fail "gen"
feed=0
if "$TQ" export changes --help 2>&1 | grep -q -- "--since"; then
  feed=1
else
  echo "note: this binary has no 'export changes': the feed is compared by test_pipeline and test_feed_paths only"
fi

# run NAME THREADS BATCH [G] : a fresh database, the backlog G (default $WORK/g)
# replayed, its exports
run() {
  local db="$WORK/db$1" g=${4:-$WORK/g}
  "$TQ" load payments "$g/payments.csv" --db "$db" --quiet || fail "load payments"
  "$TQ" load permits "$g/permits.csv" --db "$db" --quiet || fail "load permits"
  expect_status 0 "$TQ" replay "$g/journal.tqj" --db "$db" --threads "$2" --batch "$3" --no-sync --quiet
  if grep -qE "ThreadSanitizer|AddressSanitizer|runtime error" "$WORK/err"; then
    fail "sanitizer report with $2 threads: $(head -c 1500 "$WORK/err")"
  fi
  "$TQ" export decisions --db "$db" -o "$WORK/d$1.csv" || fail "export"
  "$TQ" export permits --db "$db" -o "$WORK/p$1.csv" || fail "export"
  local want=$n
  [ -z "${4:-}" ] || want=$small
  [ "$(wc -l <"$WORK/d$1.csv")" -eq $((want + 1)) ] || fail "$2 threads: wanted $want decisions"
  if [ $feed = 1 ]; then
    "$TQ" export changes --db "$db" --since 0 --csv -o "$WORK/f$1.csv" >/dev/null 2>"$WORK/ferr" || fail "export changes: $(cat "$WORK/ferr")"
    [ "$(wc -l <"$WORK/f$1.csv")" -gt "$want" ] || fail "$2 threads: fewer changes than declarations"
  fi
}

# same REF NAME WHAT
same() {
  cmp -s "$WORK/d$1.csv" "$WORK/d$2.csv" || fail "decisions with $3 differ from the serial replay"
  cmp -s "$WORK/p$1.csv" "$WORK/p$2.csv" || fail "permit use with $3 differs from the serial replay"
  if [ $feed = 1 ]; then
    cmp -s "$WORK/f$1.csv" "$WORK/f$2.csv" || fail "the change feed with $3 differs from the serial replay: $(diff "$WORK/f$1.csv" "$WORK/f$2.csv" | head -4)"
  fi
  ok
}

run ref 0 700
for t in 1 2 4 8; do
  run "t$t" $t 700
  same ref "t$t" "$t threads"
done
# Small batches: the pipeline flushes (and writes its buffered changes) every few events.
small=1500
"$TQ" gen --declarations $small --seed 6 --frame-size 4096 --out "$WORK/s" --quiet || fail "gen"
run sref 0 100000 "$WORK/s"
for b in 1 7; do
  for t in 0 1 2; do
    run "b$b-$t" $t $b "$WORK/s"
    same sref "b$b-$t" "$t threads and --batch $b"
  done
done
done_ok
