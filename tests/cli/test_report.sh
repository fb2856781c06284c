#!/usr/bin/env bash
# Proves: reconcile's report on a crafted case -- the summary names the first 20
# declarations cleared now and how many more, the still held by reason, the manual
# clearances with discrepancies, the payments for unknown declarations and the overpaid
# clearances; --report is valid JSON with those figures and lists; --csv writes each
# list with its header and exactly the expected rows; --json prints one JSON object and
# nothing else; --quiet prints nothing; --dry-run (reconcile and replay) reports what
# would happen and leaves the database byte-for-byte as it was; an unwritable report
# stops the reconcile before anything changes.  Also: load, replay and stat --json are
# valid JSON alone on stdout, and --quiet silences them.  Issue 12: the reconcile report
# (text and JSON) and stat (text and JSON) count the held declarations per office; stat
# on a database stored before format 3 says it has no such count.
source "$(dirname "$0")/lib.sh"
db=$WORK/db
json_ok() { awk -f "$HERE/check_json.awk" "$1" || fail "$1 is not valid JSON: $(head -c 400 "$1")"; ok; }
export_all() { # export_all PREFIX: the database's decisions and permit use
  "$TQ" export decisions --db "$db" -o "$1.decisions.csv" || fail "export decisions"
  "$TQ" export permits --db "$db" -o "$1.permits.csv" || fail "export permits"
}
same_db() { # same_db A B
  cmp -s "$1.decisions.csv" "$2.decisions.csv" && cmp -s "$1.permits.csv" "$2.permits.csv" ||
    fail "the database changed: $(diff "$1.decisions.csv" "$2.decisions.csv" | head -5)"
  ok
}

decl() { # decl NO CHANNEL TAX [PERMIT] [OFFICE]
  local permit=${4:+,\"permit\":\"$4\"}
  printf '{"ev":"DECL","decl_no":"%s","kind":"A11","office":"%s","declarant":"0101234567","registered_at":"2024-08-06T09:15:00+07:00","channel":%s,"tax_due":%s,"lines":[{"hs":"85171300","qty":10,"value":1000%s}]}\n' "$1" "${5:-01B1}" "$2" "$3" "$permit"
}
{
  decl 100000000001 1 1000 P1      # cleared now: paid, permit arrives
  decl 100000000002 1 2000         # still held: paid 1500
  decl 100000000003 2 0 "" 02C3    # still held: waits for an officer (office 02C3)
  decl 100000000004 1 100          # cleared now, overpaid by 200
  decl 100000000005 1 700          # cleared by hand, tax unpaid
  echo '{"ev":"MANUAL_CLEAR","decl_no":"100000000005","officer":"HQ01B1-0042","cleared_at":"2024-08-07T10:00:00+07:00"}'
  for i in $(seq 200 224); do decl 100000000$i 1 10; done   # 25 more cleared now
} >"$WORK/events.ndjson"
{
  echo 'decl_no,receipt_no,kind,amount,valid_until'
  echo '100000000001,KB-1,PAY,1000,'
  echo '100000000002,KB-2,PAY,1500,'
  echo '100000000004,KB-4,PAY,300,'
  echo '100000000009,KB-9,PAY,500,'
  for i in $(seq 200 224); do echo "100000000$i,KB-$i,PAY,10,"; done
} >"$WORK/payments.csv"
printf 'permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota\nP1,BCT,0101234567,2024-01-01,2024-12-31,VALID,8517,0\n' >"$WORK/permits.csv"

"$TQ" journal pack "$WORK/events.ndjson" -o "$WORK/j.tqj" --quiet || fail "pack"
expect_status 0 "$TQ" replay "$WORK/j.tqj" --db "$db" --json
json_ok "$WORK/out"
[ ! -s "$WORK/err" ] || fail "replay --json wrote to stderr: $(cat "$WORK/err")"
grep -q '"HELD":29' "$WORK/out" || fail "replay --json figures: $(cat "$WORK/out")"
expect_status 0 "$TQ" load permits "$WORK/permits.csv" --db "$db" --json
json_ok "$WORK/out"
grep -q '"kind":"permits","rows":1,"new":1' "$WORK/out" || fail "load --json: $(cat "$WORK/out")"
expect_status 0 "$TQ" load payments "$WORK/payments.csv" --db "$db" --quiet
[ ! -s "$WORK/out" ] || fail "load --quiet printed: $(cat "$WORK/out")"
expect_status 0 "$TQ" stat --db "$db" --json
json_ok "$WORK/out"
grep -q '"held_by_reason":{"TAX_SHORT":28,"PERMIT_MISSING":1,' "$WORK/out" || fail "stat --json: $(cat "$WORK/out")"
grep -q '"held_by_office":{"01B1":28,"02C3":1}' "$WORK/out" || fail "stat --json per office: $(cat "$WORK/out")"
expect_status 0 "$TQ" stat --db "$db"
[ "$(grep -A2 '^held per office' "$WORK/out" | tr -s ' ')" = "$(printf 'held per office (office, declarations held):\n 01B1 28\n 02C3 1')" ] ||
  fail "stat per office: $(cat "$WORK/out")"
ok

# ---- dry runs change nothing ----
export_all "$WORK/before"
expect_status 0 "$TQ" reconcile --db "$db" --dry-run --report "$WORK/dry.json" --csv "$WORK/dry"
no_sanitizer_report
grep -q '^dry run: nothing was changed' "$WORK/out" || fail "dry run not announced: $(cat "$WORK/out")"
grep -q '27 cleared now, 2 still held' "$WORK/out" || fail "dry run figures: $(cat "$WORK/out")"
export_all "$WORK/after-dry"
same_db "$WORK/before" "$WORK/after-dry"
json_ok "$WORK/dry.json"
grep -q '"dry_run":true' "$WORK/dry.json" || fail "dry.json dry_run"
grep -q '"still_held":null' "$WORK/dry.json" || fail "dry.json still_held list should be null"
grep -q '"states":{"CLEARED":28,"HELD":2,' "$WORK/dry.json" || fail "dry.json totals are not those after the reconcile: $(head -c 800 "$WORK/dry.json")"
[ ! -e "$WORK/dry/still_held.csv" ] || fail "a dry run wrote still_held.csv"
[ "$(wc -l <"$WORK/dry/cleared_now.csv")" = 28 ] || fail "dry cleared_now.csv"
ok
# replay --dry-run of new events: summary printed, nothing written
{
  decl 100000000301 1 0
  echo '{"ev":"CANCEL","decl_no":"100000000002"}'
} >"$WORK/more.ndjson"
"$TQ" journal pack "$WORK/more.ndjson" -o "$WORK/more.tqj" --quiet || fail "pack more"
"$TQ" stat --db "$db" --json >"$WORK/stat1.json" || fail "stat"
expect_status 0 "$TQ" replay "$WORK/more.tqj" --db "$db" --dry-run
grep -q "^dry run of $WORK/more.tqj: seq 1..2, 2 events" "$WORK/out" || fail "replay --dry-run summary: $(cat "$WORK/out")"
grep -q "by kind: DECL 1 AMEND 0 OFFICER 0 MANUAL_CLEAR 0 CANCEL 1" "$WORK/out" || fail "replay --dry-run by kind"
export_all "$WORK/after-dry2"
same_db "$WORK/before" "$WORK/after-dry2"
"$TQ" stat --db "$db" --json >"$WORK/stat2.json" || fail "stat"
cmp -s <(sed 's/"map_used":[0-9]*//' "$WORK/stat1.json") <(sed 's/"map_used":[0-9]*//' "$WORK/stat2.json") ||
  fail "replay --dry-run left a mark: $(cat "$WORK/stat1.json" "$WORK/stat2.json")"
expect_status 0 "$TQ" replay "$WORK/more.tqj" --db "$db" --dry-run --json
json_ok "$WORK/out"
grep -q '"dry_run":true' "$WORK/out" || fail "replay --dry-run --json"

# ---- an unwritable report stops before anything changes ----
expect_status 4 "$TQ" reconcile --db "$db" --report "$WORK/no/such/dir/r.json"
grep -q "cannot create $WORK/no/such/dir/r.json" "$WORK/err" || fail "report error: $(cat "$WORK/err")"
grep -q "nothing changed" "$WORK/err" || fail "the message does not say nothing changed"
export_all "$WORK/after-bad"
same_db "$WORK/before" "$WORK/after-bad"

# ---- the real reconcile: summary, report, lists ----
expect_status 0 "$TQ" reconcile --db "$db" --report "$WORK/r.json" --csv "$WORK/lists"
no_sanitizer_report
out=$WORK/summary.txt
cp "$WORK/out" "$out"
grep -q '^reconciled 29 held declarations in [0-9.]* s: 27 cleared now, 2 still held$' "$out" || fail "summary head: $(cat "$out")"
grep -q '^cleared now: 27$' "$out" || fail "no heading for the cleared list"
grep -q '^  100000000001 100000000004 100000000200 100000000201 100000000202$' "$out" || fail "cleared now, first line: $(cat "$out")"
[ "$(grep -c '^  1000000002[0-9][0-9]' "$out")" = 3 ] || fail "the first 20 cleared are not shown 5 to a line: $(cat "$out")"
grep -q '^  100000000213 100000000214 100000000215 100000000216 100000000217$' "$out" || fail "the 20th cleared"
grep -q '^  \.\.\. and 7 more$' "$out" || fail "no count of the rest: $(cat "$out")"
grep -q '^still held by reason: TAX_SHORT 1, AWAIT_OFFICER 1$' "$out" || fail "still held by reason"
# issue 15: one declaration held for several reasons counts under each; the summary says so
grep -q '^  (a declaration held for several reasons counts under each, so these can sum to more than the 2 still held)$' "$out" || fail "no note that reasons can sum to more than HELD: $(cat "$out")"
grep -q '^manual clearances with discrepancies: 1$' "$out" || fail "manual count"
grep -q '^  100000000005 TAX_SHORT (tax short 700)$' "$out" || fail "manual line"
grep -q '^payments for unknown declarations: 1$' "$out" || fail "unknown count"
grep -q '^  KB-9 for 100000000009: PAY 500$' "$out" || fail "unknown line"
grep -q '^overpaid clearances (refund candidates): 1$' "$out" || fail "overpaid count"
grep -q '^  100000000004: due 100, covered 300, excess 200$' "$out" || fail "overpaid line"
grep -q "^report: $WORK/r.json$" "$out" || fail "the summary does not say where the report is"
grep -q '^still held by office (2 with the most, of 2): 01B1 1, 02C3 1$' "$out" || fail "still held by office: $(cat "$out")"
ok

json_ok "$WORK/r.json"
for kv in '"dry_run":false' '"reevaluated":29' '"cleared_now":27' '"still_held":2' \
          '"still_held_by_reason":{"TAX_SHORT":1,"PERMIT_MISSING":0,"PERMIT_REVOKED":0,"PERMIT_EXPIRED":0,"PERMIT_HOLDER":0,"PERMIT_HS":0,"AWAIT_OFFICER":1,"PERMIT_QUOTA":0}' \
          '"manual_with_discrepancies":1' '"payments_for_unknown_declarations":1' '"overpaid_cleared":1' \
          '"states":{"CLEARED":28,"HELD":2,"REJECTED":0,"CANCELLED":0}' \
          '"still_held":[{"decl_no":"100000000002","reasons":"TAX_SHORT","tax_short":500},{"decl_no":"100000000003","reasons":"AWAIT_OFFICER","tax_short":0}]' \
          '"manual_with_discrepancies":[{"decl_no":"100000000005","discrepancies":"TAX_SHORT","tax_short":700}]' \
          '"payments_for_unknown_declarations":[{"receipt_no":"KB-9","decl_no":"100000000009","kind":"PAY","amount":500}]' \
          '"overpaid_cleared":[{"decl_no":"100000000004","tax_due":100,"covered":300,"excess":200}]' \
          '"cleared_now":["100000000001","100000000004","100000000200"' \
          '"held_offices":2,"held_by_office":[{"office":"01B1","held":1},{"office":"02C3","held":1}]'; do
  grep -qF "$kv" "$WORK/r.json" || fail "the report lacks $kv: $(head -c 1500 "$WORK/r.json")"
done
[ "$(grep -o '"1000000002[0-9][0-9]"' "$WORK/r.json" | wc -l)" = 25 ] || fail "the report does not list every cleared declaration"
ok

want_csv() { # want_csv FILE CONTENT
  [ "$(cat "$WORK/lists/$1")" = "$2" ] || fail "$1 is
$(cat "$WORK/lists/$1")
wanted
$2"
  ok
}
want_csv cleared_now.csv "$(echo decl_no; echo 100000000001; echo 100000000004; for i in $(seq 200 224); do echo "100000000$i"; done)"
want_csv still_held.csv "$(printf 'decl_no,reasons,tax_short\n100000000002,TAX_SHORT,500\n100000000003,AWAIT_OFFICER,0')"
want_csv manual_with_discrepancies.csv "$(printf 'decl_no,discrepancies,tax_short\n100000000005,TAX_SHORT,700')"
want_csv payments_for_unknown_declarations.csv "$(printf 'receipt_no,decl_no,kind,amount\nKB-9,100000000009,PAY,500')"
want_csv overpaid_cleared.csv "$(printf 'decl_no,tax_due,covered,excess\n100000000004,100,300,200')"
ls -A "$WORK/lists" | grep -q tmp && fail "temporary files left in the lists directory: $(ls -A "$WORK/lists")"
[ -z "$(ls -A "$WORK" | grep '\.tmp\.')" ] || fail "a temporary report was left: $(ls -A "$WORK")"

# ---- --json: one JSON object on stdout, nothing else; --quiet: nothing ----
expect_status 0 "$TQ" reconcile --db "$db" --json
json_ok "$WORK/out"
[ ! -s "$WORK/err" ] || fail "reconcile --json wrote to stderr: $(cat "$WORK/err")"
[ "$(wc -l <"$WORK/out")" = 1 ] || fail "reconcile --json printed more than the object"
grep -q '"cleared_now":0,' "$WORK/out" || fail "a second reconcile cleared something"
grep -q '"still_held":\[{"decl_no":"100000000002"' "$WORK/out" || fail "--json lists"
expect_status 0 "$TQ" reconcile --db "$db" --quiet
[ ! -s "$WORK/out" ] || fail "reconcile --quiet printed: $(cat "$WORK/out")"
[ ! -s "$WORK/err" ] || fail "reconcile --quiet wrote to stderr: $(cat "$WORK/err")"
expect_status 0 "$TQ" replay "$WORK/more.tqj" --db "$db" --quiet
[ ! -s "$WORK/out" ] || fail "replay --quiet printed: $(cat "$WORK/out")"
expect_status 0 "$TQ" journal pack "$WORK/more.ndjson" -o "$WORK/q.tqj" --quiet
[ ! -s "$WORK/out" ] && [ ! -s "$WORK/err" ] || fail "pack --quiet printed"

# ---- stat on a database stored before format 3 (read as it is): no office index ----
mkdir -p "$WORK/v1" && cp "$TOP/tests/data/store-v1/data.mdb" "$WORK/v1/" || fail "copy fixture"
expect_status 0 "$TQ" stat --db "$WORK/v1"
grep -A1 '^held per office' "$WORK/out" | grep -q 'not kept before store format 3' || fail "stat v1: $(cat "$WORK/out")"
expect_status 0 "$TQ" stat --db "$WORK/v1" --json
json_ok "$WORK/out"
grep -q '"held_by_office":null' "$WORK/out" || fail "stat --json v1: $(cat "$WORK/out")"
done_ok
