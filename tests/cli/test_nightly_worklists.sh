#!/usr/bin/env bash
# Proves the nightly job's part of issue 12 (tools/cmd_nightly.c):
#  - with --reports, every run writes the officers' worklists beside its report, in
#    worklists-STAMP/ with the report's STAMP: office-CODE.csv per office with
#    declarations waiting on a permit or an officer, and tax-paid-held.csv; the report
#    names the folder and its counts; a quiet night (exit 7) writes them too;
#  - --deadline sets their deadline; a bad one exits 2 naming it;
#  - the metrics textfile holds thongquan_held_declarations{office="CODE"} per office,
#    and office="unknown" (0 here) always, so the metric exists from the first run.
source "$(dirname "$0")/lib.sh"
db=$WORK/db inbox=$WORK/inbox reports=$WORK/reports prom=$WORK/thongquan.prom
mkdir -p "$inbox"
nightly() { "$TQ" nightly --db "$db" --inbox "$inbox" --reports "$reports" \
              --metrics "$prom" --min-age 0 "$@"; }
metric() { awk -v k="$1" '$1 == k { print $2 }' "$prom"; }

decl() { # decl NO OFFICE CHANNEL TAX [PERMIT]
  printf '{"ev":"DECL","decl_no":"%s","kind":"A11","office":"%s","declarant":"0101234567","registered_at":"2024-08-06T09:15:00+07:00","channel":%s,"tax_due":%s,"lines":[{"hs":"85171300","qty":1,"value":1000%s}]}\n' \
    "$1" "$2" "$3" "$4" "${5:+,\"permit\":\"$5\"}"
}
{
  decl 100000000031 01B1 1 0 P-LATE      # waits for a permit nobody has loaded yet
  decl 100000000032 01B1 2 0             # waits for an officer
  decl 100000000033 02C1 1 5000 P-OLD    # permit expired, tax paid tonight
  decl 100000000034 02C1 1 700           # tax short only: on no office list
} >"$WORK/ev.ndjson"
"$TQ" journal pack "$WORK/ev.ndjson" -o "$WORK/j.tqj" --quiet || fail "pack"
"$TQ" replay "$WORK/j.tqj" --db "$db" --quiet || fail "replay"
printf 'permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota\nP-OLD,BCT,0101234567,2023-01-01,2023-12-31,VALID,8517,0\n' >"$inbox/permits-1.csv"
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000033,KB-33,PAY,5000,\n' >"$inbox/payments-1.csv"

expect_status 2 nightly --deadline soon
grep -qF -- "--deadline: 'soon'" "$WORK/err" || fail "--deadline: $(cat "$WORK/err")"
expect_status 0 nightly --deadline 1d
no_sanitizer_report
report=$(ls "$reports"/nightly-*.json)
stamp=$(basename "$report" .json | sed 's/^nightly-//')
wl=$reports/worklists-$stamp
[ -d "$wl" ] || fail "no worklists beside the report: $(ls "$reports")"
[ "$(cd "$wl" && ls | tr '\n' ' ')" = "office-01B1.csv office-02C1.csv tax-paid-held.csv " ] \
  || fail "worklists: $(ls -A "$wl")"
ok
grep -q '^100000000031,01B1,A11,0101234567,2024-08-06T09:15:00+07:00,[^,]*,2024-08-07T09:15:00+07:00,yes,PERMIT_MISSING,P-LATE,P-LATE:missing$' "$wl/office-01B1.csv" \
  || fail "office-01B1.csv: $(cat "$wl/office-01B1.csv")"
grep -q '^100000000032,01B1,.*,AWAIT_OFFICER,,$' "$wl/office-01B1.csv" || fail "office-01B1.csv: $(cat "$wl/office-01B1.csv")"
[ "$(wc -l <"$wl/office-02C1.csv")" = 2 ] && grep -q '^100000000033,02C1,.*,PERMIT_EXPIRED,P-OLD,P-OLD:expired$' "$wl/office-02C1.csv" \
  || fail "office-02C1.csv: $(cat "$wl/office-02C1.csv")"
[ "$(cut -d, -f1 "$wl/tax-paid-held.csv" | tr '\n' ' ')" = "decl_no 100000000031 100000000032 100000000033 " ] &&
  grep -q '^100000000033,02C1,A11,0101234567,2024-08-06T09:15:00+07:00,[^,]*,5000,5000,PERMIT_EXPIRED$' "$wl/tax-paid-held.csv" \
  || fail "tax-paid-held.csv: $(cat "$wl/tax-paid-held.csv")"
ok
awk -f "$HERE/check_json.awk" "$report" || fail "the report is not valid JSON"
grep -qF "\"worklists\":{\"dir\":\"$wl\",\"files\":3,\"waiting\":3,\"past_deadline\":3," "$report" \
  || fail "the report does not name the worklists: $(cat "$report")"
ok
awk -f "$HERE/check_prom.awk" "$prom" || fail "the textfile does not parse"
[ "$(metric 'thongquan_held_declarations{office="01B1"}')" = 2 ] &&
  [ "$(metric 'thongquan_held_declarations{office="02C1"}')" = 2 ] &&
  [ "$(metric 'thongquan_held_declarations{office="unknown"}')" = 0 ] \
  || fail "held per office: $(grep held_declarations "$prom")"
ok

# a quiet night: nothing new (7), the worklists are written all the same
sleep 1   # a new STAMP (seconds)
expect_status 7 nightly --quiet
[ "$(ls -d "$reports"/worklists-* | wc -l)" = 2 ] || fail "a quiet night wrote no worklists: $(ls "$reports")"
[ ! -s "$WORK/err" ] || fail "a quiet night printed: $(cat "$WORK/err")"
ok
done_ok
