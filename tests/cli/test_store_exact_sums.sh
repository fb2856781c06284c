#!/usr/bin/env bash
# Proves (SPEC §2 "Sums are exact"): 18,447 PAY rows of 10^15 on one declaration sum to
# 18,447,000,000,000,000,000, past 2^64 - 1; the declaration is CLEARED and the
# reconcile report's refund candidate shows the exact covered and excess, in the JSON
# report and in overpaid_cleared.csv.
source "$(dirname "$0")/lib.sh"
n=18447
{
  echo "decl_no,receipt_no,kind,amount,valid_until"
  awk -v n=$n 'BEGIN { for (i = 1; i <= n; i++) printf "103456789012,R-%06d,PAY,1000000000000000,\n", i }'
} >"$WORK/payments.csv"
cat >"$WORK/events.ndjson" <<'EOJ'
{"ev":"DECL","decl_no":"103456789012","kind":"A11","office":"01B1","declarant":"0101234567","registered_at":"2024-08-06T09:15:00+07:00","channel":1,"tax_due":5,"lines":[{"hs":"85171300","qty":1,"value":1}]}
EOJ
expect_status 0 "$TQ" journal pack "$WORK/events.ndjson" -o "$WORK/j.tqj"
expect_status 0 "$TQ" load payments "$WORK/payments.csv" --db "$WORK/db"
expect_status 0 "$TQ" replay "$WORK/j.tqj" --db "$WORK/db"
expect_status 0 "$TQ" export decisions --db "$WORK/db" -o "$WORK/d.csv"
grep -q '^103456789012,CLEARED,' "$WORK/d.csv" || fail "not cleared: $(cat "$WORK/d.csv")"; ok
expect_status 0 "$TQ" reconcile --db "$WORK/db" --report "$WORK/r.json" --csv "$WORK/csv"
grep -q '"covered":18447000000000000000,"excess":18446999999999999995' "$WORK/r.json" ||
  fail "report: $(grep -o '"overpaid[^]]*' "$WORK/r.json" | head -c 400)"; ok
grep -qx '103456789012,5,18447000000000000000,18446999999999999995' "$WORK/csv/overpaid_cleared.csv" ||
  fail "csv: $(cat "$WORK/csv/overpaid_cleared.csv")"; ok
done_ok
