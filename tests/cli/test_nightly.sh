#!/usr/bin/env bash
# Proves: tools/thongquan-nightly on an inbox with a permits file, a payments file, a bad
# payments file and a copy of the good one under another name loads permits before
# payments, moves the good files to done/ and the bad one to failed/ with its errors
# beside it, recognises the copy by content and does not load it again, reconciles and
# writes the JSON report and the CSV lists, and writes a Prometheus textfile that parses
# and holds the expected figures; exits 1 for the refused file.  Then: nothing new -> 7
# (no reconcile, last success kept up to date, the reconcile figures carried over); the
# database busy -> 3 with the new file left in the inbox and last success not advanced;
# and the next free run loads it -> 0.
source "$(dirname "$0")/lib.sh"
NIGHTLY=$TOP/tools/thongquan-nightly
[ -x "$NIGHTLY" ] || fail "no $NIGHTLY"
db=$WORK/db inbox=$WORK/inbox reports=$WORK/reports prom=$WORK/prom
mkdir -p "$inbox" "$prom"
nightly() { "$NIGHTLY" --thongquan "$TQ" --db "$db" --inbox "$inbox" --reports "$reports" \
              --textfile "$prom" --min-age 0 "$@"; }
metric() { # metric 'name{labels}' -> its value in the textfile
  awk -v k="$1" '$1 == k { print $2 }' "$prom/thongquan.prom"
}
want_metric() { # want_metric 'name{labels}' VALUE
  local got
  got=$(metric "$1")
  [ "$got" = "$2" ] || fail "metric $1 is '$got', wanted '$2'"
  ok
}

# The backlog: D1 needs its tax and permit P1; D2 is paid short; D3 waits for an officer;
# D4 is overpaid once its payment arrives; D5 was cleared by hand without its tax.
decl() { # decl NO CHANNEL TAX [PERMIT]
  local permit=${4:+,\"permit\":\"$4\"}
  printf '{"ev":"DECL","decl_no":"%s","kind":"A11","office":"01B1","declarant":"0101234567","registered_at":"2024-08-06T09:15:00+07:00","channel":%s,"tax_due":%s,"lines":[{"hs":"85171300","qty":10,"value":1000%s}]}\n' "$1" "$2" "$3" "$permit"
}
{
  decl 100000000001 1 1000 P1
  decl 100000000002 1 2000
  decl 100000000003 2 0
  decl 100000000004 1 100
  decl 100000000005 1 700
  echo '{"ev":"MANUAL_CLEAR","decl_no":"100000000005","officer":"HQ01B1-0042","cleared_at":"2024-08-07T10:00:00+07:00"}'
} >"$WORK/events.ndjson"
"$TQ" journal pack "$WORK/events.ndjson" -o "$WORK/j.tqj" --quiet || fail "pack"
"$TQ" replay "$WORK/j.tqj" --db "$db" --quiet || fail "replay"

printf 'permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota\nP1,BCT,0101234567,2024-01-01,2024-12-31,VALID,8517,0\n' >"$inbox/permits-2024-08-06.csv"
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000001,KB-1,PAY,1000,\n100000000002,KB-2,PAY,1500,\n100000000004,KB-4,PAY,300,\n100000000009,KB-9,PAY,500,\n' >"$inbox/payments-2024-08-06.csv"
cp "$inbox/payments-2024-08-06.csv" "$inbox/payments-resent.csv"
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000002,KB-22,PAY,-5,\n' >"$inbox/payments-bad.csv"
echo "not for us" >"$inbox/notes.txt"

# ---- run 1: load, refuse, skip the copy, reconcile ----
expect_status 1 nightly
no_sanitizer_report
day=$(date +%F)
for f in permits-2024-08-06.csv payments-2024-08-06.csv; do
  [ -f "$inbox/done/$day/$f" ] || fail "$f not in done/: $(ls -R "$inbox")"
  [ ! -e "$inbox/$f" ] || fail "$f still in the inbox"
done
ok
[ -f "$inbox/failed/$day/payments-bad.csv" ] || fail "the bad file is not in failed/"
grep -q "payments-bad.csv: line 2: field 'amount'" "$inbox/failed/$day/payments-bad.csv.err" ||
  fail "the error log does not name the line and field: $(cat "$inbox/failed/$day/payments-bad.csv.err")"
grep -q "refused payments-bad.csv" "$WORK/err" || fail "the refusal is not reported: $(cat "$WORK/err")"
ok
[ -f "$inbox/duplicate/$day/payments-resent.csv" ] || fail "the copy is not in duplicate/"
grep -q "duplicate payments-resent.csv" "$WORK/out" || fail "the duplicate is not reported: $(cat "$WORK/out")"
# loaded once: the copy was not given to thongquan (whose summary would say "already known")
[ "$(grep -c '^loaded .*payments' "$WORK/out")" = 1 ] || fail "payments loaded more than once: $(cat "$WORK/out")"
ok
[ -f "$inbox/notes.txt" ] || fail "a file that is not ours was moved"
grep -q "ignored notes.txt" "$WORK/err" || fail "the stray file is not reported"
ok
# permits before payments
grep -n '^loaded ' "$WORK/out" | head -1 | grep -q permits || fail "permits were not loaded first: $(cat "$WORK/out")"
ok
# ledger: content hashes, with what happened to each
ledger=$db/nightly-ledger.tsv
[ "$(awk -F'\t' '$2 == "loaded"' "$ledger" | wc -l)" = 2 ] || fail "ledger: $(cat "$ledger")"
[ "$(awk -F'\t' '$2 == "duplicate"' "$ledger" | wc -l)" = 1 ] || fail "ledger: $(cat "$ledger")"
h=$(sha256sum "$inbox/done/$day/payments-2024-08-06.csv" | cut -d' ' -f1)
grep -q "^$h	loaded	" "$ledger" || fail "ledger does not hold the content hash"
ok

# report and lists
report=$reports/reconcile-$day.json
[ -f "$report" ] || fail "no report $report: $(ls -R "$reports")"
awk -f "$HERE/check_json.awk" "$report" || fail "the report is not valid JSON"
grep -q '"cleared_now":\["100000000001","100000000004"\]' "$report" || fail "report cleared_now: $(head -c 600 "$report")"
ok
[ "$(cat "$reports/$day/cleared_now.csv")" = "$(printf 'decl_no\n100000000001\n100000000004')" ] ||
  fail "cleared_now.csv: $(cat "$reports/$day/cleared_now.csv")"
grep -qx 'KB-9,100000000009,PAY,500' "$reports/$day/payments_for_unknown_declarations.csv" || fail "unknown payments csv: $(cat "$reports/$day/payments_for_unknown_declarations.csv")"
grep -qx '100000000004,100,300,200' "$reports/$day/overpaid_cleared.csv" || fail "overpaid csv"
grep -qx '100000000002,TAX_SHORT,500' "$reports/$day/still_held.csv" || fail "still_held csv"
ok

# metrics
awk -f "$HERE/check_prom.awk" "$prom/thongquan.prom" || fail "the textfile is not valid exposition format"
ls -A "$prom" | grep -qv '^thongquan.prom$' && fail "a temporary file was left in the textfile directory: $(ls -A "$prom")"
want_metric 'thongquan_declarations{state="CLEARED"}' 3
want_metric 'thongquan_declarations{state="HELD"}' 2
want_metric 'thongquan_declarations{state="REJECTED"}' 0
want_metric 'thongquan_held_by_reason{reason="TAX_SHORT"}' 1
want_metric 'thongquan_held_by_reason{reason="AWAIT_OFFICER"}' 1
want_metric 'thongquan_held_by_reason{reason="PERMIT_MISSING"}' 0
want_metric 'thongquan_reconcile_cleared_now' 2
want_metric 'thongquan_anomalies{kind="manual_with_discrepancies"}' 1
want_metric 'thongquan_anomalies{kind="unknown_payments"}' 1
want_metric 'thongquan_anomalies{kind="overpaid"}' 1
want_metric 'thongquan_nightly_files{result="loaded"}' 2
want_metric 'thongquan_nightly_files{result="failed"}' 1
want_metric 'thongquan_nightly_files{result="duplicate"}' 1
want_metric 'thongquan_nightly_files{result="ignored"}' 1
want_metric 'thongquan_nightly_last_exit_status' 1
[ -z "$(metric thongquan_nightly_last_success_timestamp_seconds)" ] || fail "a failed first run has a last success"
metric thongquan_nightly_duration_seconds | grep -Eq '^[0-9]+\.[0-9]+$' || fail "duration"
ok

# ---- run 2: nothing new -> 7, no reconcile ----
expect_status 7 nightly
ls "$reports" | grep -c '^reconcile-' | grep -qx 1 || fail "a run with nothing new reconciled: $(ls "$reports")"
awk -f "$HERE/check_prom.awk" "$prom/thongquan.prom" || fail "textfile after run 2"
want_metric 'thongquan_nightly_last_exit_status' 7
want_metric 'thongquan_nightly_files{result="loaded"}' 0
want_metric 'thongquan_reconcile_cleared_now' 2       # carried over from the last reconcile
want_metric 'thongquan_anomalies{kind="overpaid"}' 1
want_metric 'thongquan_declarations{state="CLEARED"}' 3  # read with stat
success2=$(metric thongquan_nightly_last_success_timestamp_seconds)
[ -n "$success2" ] || fail "a run with nothing to do is healthy: it sets the last success"
ok
# a file still being written (younger than --min-age) waits: still nothing to do
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000002,KB-23,PAY,500,\n' >"$inbox/payments-late.csv"
expect_status 7 nightly --min-age 3600
[ -f "$inbox/payments-late.csv" ] || fail "a young file was taken"
want_metric 'thongquan_nightly_files{result="waiting"}' 1
success2=$(metric thongquan_nightly_last_success_timestamp_seconds)

# ---- run 3: the database is busy -> 3, the file stays ----
sleep 1.1   # so a later timestamp is visibly later
# Hold the store's writer lock (flock on DB/lock, engine/STORE.md §5) from this shell.
exec 7>>"$db/lock"
flock -n 7 || fail "cannot take the writer lock"
expect_status 3 nightly
exec 7>&-
grep -q "busy" "$WORK/err" || fail "busy is not explained: $(cat "$WORK/err")"
[ -f "$inbox/payments-late.csv" ] || fail "the file was moved although nothing was loaded"
want_metric 'thongquan_nightly_last_exit_status' 3
want_metric 'thongquan_nightly_last_success_timestamp_seconds' "$success2"
awk -f "$HERE/check_prom.awk" "$prom/thongquan.prom" || fail "textfile after a busy run"
ok
# another nightly run already going -> 3 at once
exec 8>"$db/nightly.lock"; flock -n 8 || fail "cannot take the job lock"
expect_status 3 nightly
exec 8>&-
grep -q "another thongquan-nightly" "$WORK/err" || fail "the second run does not say why"

# ---- run 4: free again -> the waiting file is loaded and D2 clears ----
expect_status 0 nightly
no_sanitizer_report
[ -f "$inbox/done/$day/payments-late.csv" ] || fail "the late file was not loaded"
ls "$reports"/reconcile-"$day"-*.json >/dev/null 2>&1 || fail "the day's second report did not get its own name: $(ls "$reports")"
want_metric 'thongquan_reconcile_cleared_now' 1
want_metric 'thongquan_declarations{state="HELD"}' 1
[ "$(metric thongquan_nightly_last_success_timestamp_seconds)" -gt "$success2" ] || fail "last success not advanced"
ok

# ---- usage ----
expect_status 2 "$NIGHTLY" --bogus
grep -q "unknown option '--bogus'" "$WORK/err" || fail "unknown option not named"
expect_status 2 "$NIGHTLY" --thongquan "$TQ" --inbox "$WORK/nowhere" --db "$db"
expect_status 0 "$NIGHTLY" --help
grep -q "^usage:" "$WORK/out" && grep -q "example" "$WORK/out" || fail "--help"
done_ok
