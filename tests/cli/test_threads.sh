#!/usr/bin/env bash
# Proves: the real binary decides a generated backlog identically with 1, 2, 4 and 8
# threads (exports byte for byte), with small frames and batches so the pipeline's
# reordering and commits are exercised.  tools/test.sh also runs this with a
# ThreadSanitizer build, where any data race fails it.
source "$(dirname "$0")/lib.sh"
n=${TQ_THREADS_DECLARATIONS:-20000}
"$TQ" gen --declarations "$n" --seed 5 --frame-size 8192 --out "$WORK/g" --quiet || fail "gen"
ref=""
for t in 1 2 4 8; do
  db="$WORK/db$t"
  "$TQ" load payments "$WORK/g/payments.csv" --db "$db" --quiet || fail "load payments"
  "$TQ" load permits "$WORK/g/permits.csv" --db "$db" --quiet || fail "load permits"
  expect_status 0 "$TQ" replay "$WORK/g/journal.tqj" --db "$db" --threads $t --batch 700 --quiet
  if grep -qE "ThreadSanitizer|AddressSanitizer|runtime error" "$WORK/err"; then
    fail "sanitizer report with $t threads: $(head -c 1500 "$WORK/err")"
  fi
  "$TQ" export decisions --db "$db" -o "$WORK/d$t.csv" || fail "export"
  "$TQ" export permits --db "$db" -o "$WORK/p$t.csv" || fail "export"
  [ "$(wc -l <"$WORK/d$t.csv")" -eq $((n + 1)) ] || fail "$t threads: wanted $n decisions"
  if [ -z "$ref" ]; then ref=$t; continue; fi
  cmp -s "$WORK/d$ref.csv" "$WORK/d$t.csv" || fail "decisions with $t threads differ from $ref thread"
  cmp -s "$WORK/p$ref.csv" "$WORK/p$t.csv" || fail "permit use with $t threads differs from $ref thread"
  ok
done
done_ok
