#!/usr/bin/env bash
# Proves (SPEC §6 "Nothing lost", for load): `load payments` is one transaction, so a
# load killed with SIGKILL at any instant (parsing, writing pages, fsync, meta page)
# leaves the database exactly as it was before the load or exactly as after it, never in
# between; and loading again after the kills ends in exactly the state of an
# uninterrupted load (same receipts and covers, same payment rows, same decisions once
# the journal is replayed).
#   TQ_KILLS (default 25) kills; TQ_KILL_LOAD_DECLARATIONS (default 60000) sets the
#   backlog size (about 1.08 payment rows per declaration).
source "$(dirname "$0")/lib.sh"
kills=${TQ_KILLS:-25}
n=${TQ_KILL_LOAD_DECLARATIONS:-60000}
"$TQ" gen --declarations "$n" --seed 11 --frame-size 16384 --out "$WORK/g" --quiet || fail "gen"

# The "before" state already holds half the payments, so the killed load (of the whole
# file) has both duplicates and new rows to write.
awk 'NR == 1 || NR % 2 == 0' "$WORK/g/payments.csv" >"$WORK/half.csv"
rows=$(($(wc -l <"$WORK/g/payments.csv") - 1))
echo "backlog: $n declarations, $rows payment rows"

counts() { # counts DIR : "receipts=R covers=C" from stat --json
  local j
  j=$("$TQ" stat --db "$1" --json 2>"$WORK/stat.err") || fail "stat failed on $1: $(cat "$WORK/stat.err")"
  echo "receipts=$(echo "$j" | grep -o '"receipts":[0-9]*' | cut -d: -f2)" \
       "covers=$(echo "$j" | grep -o '"covers":[0-9]*' | cut -d: -f2)"
}
# payment_rows DIR OUT : every stored payment row.  With no declaration known yet, a
# dry-run reconcile lists every payment as one for an unknown declaration, in receipt_no
# order: a content dump of the payments, and it writes nothing.
payment_rows() {
  "$TQ" reconcile --db "$1" --dry-run --json --quiet >"$WORK/rows.json" 2>"$WORK/rows.err" ||
    fail "dry-run reconcile on $1: $(cat "$WORK/rows.err")"
  grep -o '"payments_for_unknown_declarations":\[[^]]*\]' "$WORK/rows.json" >"$2"
  [ -s "$2" ] || fail "no payment list in the reconcile report of $1"
}

rm -rf "$WORK/pre"
"$TQ" load permits "$WORK/g/permits.csv" --db "$WORK/pre" --quiet || fail "load permits"
"$TQ" load payments "$WORK/half.csv" --db "$WORK/pre" --quiet || fail "load half the payments"
before=$(counts "$WORK/pre")

cp -a "$WORK/pre" "$WORK/ref"
t0=$(date +%s%N)
"$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/ref" --quiet || fail "reference load"
t1=$(date +%s%N)
after=$(counts "$WORK/ref")
full_us=$(((t1 - t0) / 1000))
[ "$full_us" -gt 1000 ] || full_us=1000
echo "before the load: $before; after it: $after; an uninterrupted load takes ${full_us} us"
[ "$before" != "$after" ] || fail "the load changes nothing: the test would prove nothing"
ok

counts_to() { counts "$1" >"$2"; }   # the state kill_all_or_nothing compares
echo "$before" >"$WORK/state.before"
echo "$after" >"$WORK/state.after"
RANDOM=4242
kill_all_or_nothing "$kills" load counts_to "$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/k" --quiet

# Load again after the last kill: the same state as the uninterrupted load.
"$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/k" --quiet || fail "final load"
[ "$(counts "$WORK/k")" = "$after" ] || fail "final load: $(counts "$WORK/k"), wanted $after"
payment_rows "$WORK/ref" "$WORK/ref.rows"
payment_rows "$WORK/k" "$WORK/k.rows"
cmp -s "$WORK/ref.rows" "$WORK/k.rows" || fail "payment rows differ from the uninterrupted load"
echo "payment rows: identical ($(grep -o '"receipt_no"' "$WORK/ref.rows" | wc -l) rows)"
ok
# The covers are derived from the rows: decisions prove they agree.
for d in ref k; do
  "$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/$d" --quiet || fail "replay on $d"
  "$TQ" export decisions --db "$WORK/$d" -o "$WORK/$d.decisions.csv" || fail "export $d"
done
cmp -s "$WORK/ref.decisions.csv" "$WORK/k.decisions.csv" ||
  fail "decisions differ after $killed killed loads: $(diff "$WORK/ref.decisions.csv" "$WORK/k.decisions.csv" | head -5)"
echo "decisions after replaying the journal: identical ($(($(wc -l <"$WORK/ref.decisions.csv") - 1)) declarations)"
ok
echo "survived $killed kills of load"
done_ok
