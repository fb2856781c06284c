#!/usr/bin/env bash
# Proves (SPEC §6 "Nothing lost", for reconcile): reconcile is one transaction, so a
# reconcile killed with SIGKILL at any instant leaves the decisions and the permit use
# exactly as before it or exactly as after it, never a part of it; and running it again
# after the kills ends in exactly the state of an uninterrupted reconcile.
# The backlog is replayed with only half of its payments loaded; the other half is then
# loaded, so the reconcile has thousands of HELD declarations to clear.
#   TQ_KILLS (default 25) kills; TQ_KILL_RECONCILE_DECLARATIONS (default 40000).
source "$(dirname "$0")/lib.sh"
kills=${TQ_KILLS:-25}
n=${TQ_KILL_RECONCILE_DECLARATIONS:-40000}
"$TQ" gen --declarations "$n" --seed 12 --frame-size 16384 --out "$WORK/g" --quiet || fail "gen"
awk 'NR == 1 || NR % 2 == 0' "$WORK/g/payments.csv" >"$WORK/half1.csv"
awk 'NR == 1 || NR % 2 == 1' "$WORK/g/payments.csv" >"$WORK/half2.csv"


rm -rf "$WORK/pre"
"$TQ" load permits "$WORK/g/permits.csv" --db "$WORK/pre" --quiet || fail "load permits"
"$TQ" load payments "$WORK/half1.csv" --db "$WORK/pre" --quiet || fail "load payments, half 1"
"$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/pre" --quiet || fail "replay"
"$TQ" load payments "$WORK/half2.csv" --db "$WORK/pre" --quiet || fail "load payments, half 2"
export_db "$WORK/pre" "$WORK/before.csv"

cp -a "$WORK/pre" "$WORK/ref"
t0=$(date +%s%N)
"$TQ" reconcile --db "$WORK/ref" --json >"$WORK/ref.json" 2>"$WORK/err" || fail "reference reconcile: $(cat "$WORK/err")"
t1=$(date +%s%N)
export_db "$WORK/ref" "$WORK/after.csv"
full_us=$(((t1 - t0) / 1000))
[ "$full_us" -gt 1000 ] || full_us=1000
cleared=$(grep -o '"cleared_now":[0-9]*' "$WORK/ref.json" | cut -d: -f2)
changed=$(diff "$WORK/before.csv" "$WORK/after.csv" | grep -c '^>')
echo "reconcile clears $cleared declarations ($changed export lines change) in ${full_us} us"
[ "${cleared:-0}" -ge 100 ] && [ "$changed" -ge 100 ] || fail "reconcile changes too little for the test to prove anything"
ok

cp "$WORK/before.csv" "$WORK/state.before"
cp "$WORK/after.csv" "$WORK/state.after"
RANDOM=1212
kill_all_or_nothing "$kills" reconcile export_db "$TQ" reconcile --db "$WORK/k" --quiet

"$TQ" reconcile --db "$WORK/k" --quiet || fail "final reconcile"
export_db "$WORK/k" "$WORK/final.csv"
cmp -s "$WORK/final.csv" "$WORK/after.csv" ||
  fail "state after $killed kills and a rerun differs: $(diff "$WORK/after.csv" "$WORK/final.csv" | head -5)"
ok
echo "survived $killed kills of reconcile"
done_ok
