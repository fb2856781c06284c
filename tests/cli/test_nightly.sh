#!/usr/bin/env bash
# Proves `thongquan nightly` (tools/cmd_nightly.c, engine/tq_nightly.c):
#  - a missing database is refused (exit 2, nothing moved) unless --create;
#  - a run loads permits before payments, files good files in done/DATE/, a bad one in
#    failed/DATE/ with NAME.err, a copy of a loaded file (other name, same bytes) in
#    duplicate/DATE/ and not loaded again, reconciles, writes one report per run and a
#    textfile with every metric from the first run (last success 0 after an exit 1);
#  - a stray notes.txt is in the report and the log, never on stderr, and with --quiet
#    a run with nothing new prints nothing and exits 7;
#  - arrival order (mtime, then name): an older copy is the one loaded;
#  - a second same-day file of the same name is stored as NAME-2.csv, still an input name;
#  - an unwritable metrics path warns, the run still loads (exit 0);
#  - another nightly run holding the inbox: exit 3, nothing done;
#  - a file still being written (mtime within --min-age) waits;
#  - a database the user may not write: "permission denied: PATH", exit 8 (as nobody).
source "$(dirname "$0")/lib.sh"
db=$WORK/db inbox=$WORK/inbox reports=$WORK/reports prom=$WORK/prom/thongquan.prom
mkdir -p "$inbox" "$WORK/prom"
day=$(date +%F)
nightly() { "$TQ" nightly --db "$db" --inbox "$inbox" --reports "$reports" \
              --metrics "$prom" --min-age 0 "$@"; }
metric() { awk -v k="$1" '$1 == k { print $2 }' "$prom"; }
want_metric() {
  local got; got=$(metric "$1")
  [ "$got" = "$2" ] || fail "metric $1 is '$got', wanted '$2'"
  ok
}
skip_without_ledger() {
  if grep -q "no ledger of loaded files\|without calling before_commit" "$WORK/err"; then
    echo "skipped: this build's store or loader has no ledger yet: $(head -c 300 "$WORK/err")"
    exit 77
  fi
}

# ---- no database: refused, nothing touched ----
printf 'permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota\nP1,BCT,0101234567,2024-01-01,2024-12-31,VALID,8517,0\n' >"$inbox/permits-2024-08-06.csv"
expect_status 2 nightly
grep -q "no database here" "$WORK/err" || fail "no 'no database' message: $(cat "$WORK/err")"
[ ! -e "$db" ] && [ -f "$inbox/permits-2024-08-06.csv" ] || fail "a refused run touched things"
ok
rm "$inbox/permits-2024-08-06.csv"

# The backlog: D1 needs its tax and permit P1; D2 is paid short; D3 waits for an officer.
decl() { # decl NO CHANNEL TAX [PERMIT]
  local permit=${4:+,\"permit\":\"$4\"}
  printf '{"ev":"DECL","decl_no":"%s","kind":"A11","office":"01B1","declarant":"0101234567","registered_at":"2024-08-06T09:15:00+07:00","channel":%s,"tax_due":%s,"lines":[{"hs":"85171300","qty":10,"value":1000%s}]}\n' "$1" "$2" "$3" "$permit"
}
{ decl 100000000001 1 1000 P1; decl 100000000002 1 2000; decl 100000000003 2 0; } >"$WORK/ev.ndjson"
"$TQ" journal pack "$WORK/ev.ndjson" -o "$WORK/j.tqj" --quiet || fail "pack"
"$TQ" replay "$WORK/j.tqj" --db "$db" --quiet || fail "replay"

printf 'permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota\nP1,BCT,0101234567,2024-01-01,2024-12-31,VALID,8517,0\n' >"$inbox/permits-2024-08-06.csv"
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000001,KB-1,PAY,1000,\n100000000002,KB-2,PAY,1500,\n' >"$inbox/payments-2024-08-06.csv"
cp "$inbox/payments-2024-08-06.csv" "$inbox/payments-resent.csv"
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000002,KB-22,PAY,-5,\n' >"$inbox/payments-bad.csv"
echo "not for us" >"$inbox/notes.txt"
touch -d '-3 min' "$inbox/permits-2024-08-06.csv"
touch -d '-2 min' "$inbox/payments-2024-08-06.csv"   # the resent copy arrived later

# ---- run 1 ----
expect_status 1 nightly --quiet
skip_without_ledger
no_sanitizer_report
[ ! -s "$WORK/out" ] || fail "--quiet printed on stdout: $(cat "$WORK/out")"
! grep -q notes "$WORK/err" || fail "notes.txt said on stderr: $(cat "$WORK/err")"
grep -q "refused payments-bad.csv" "$WORK/err" || fail "the refused file is not said: $(cat "$WORK/err")"
ok
for f in permits-2024-08-06.csv payments-2024-08-06.csv; do
  [ -f "$inbox/done/$day/$f" ] || fail "$f not in done/: $(ls -R "$inbox")"
done
[ -f "$inbox/duplicate/$day/payments-resent.csv" ] || fail "the copy is not a duplicate"
[ -f "$inbox/failed/$day/payments-bad.csv" ] && [ -f "$inbox/failed/$day/payments-bad.csv.err" ] \
  || fail "the bad file and its .err are not in failed/"
grep -q "line 2: field 'amount'" "$inbox/failed/$day/payments-bad.csv.err" || fail ".err: $(cat "$inbox/failed/$day/payments-bad.csv.err")"
[ -f "$inbox/notes.txt" ] || fail "notes.txt was moved"
ok
"$TQ" export decisions --db "$db" -o "$WORK/dec.csv" || fail "export"
grep -q '^100000000001,CLEARED,' "$WORK/dec.csv" || fail "D1 not cleared: $(cat "$WORK/dec.csv")"
grep -q '^100000000002,HELD,0,TAX_SHORT,500,' "$WORK/dec.csv" || fail "D2 counted the copy: $(cat "$WORK/dec.csv")"
ok
report=$(ls "$reports"/nightly-*.json)
[ "$(echo "$report" | wc -l)" = 1 ] || fail "not one report: $report"
awk -f "$HERE/check_json.awk" "$report" || fail "the report is not valid JSON"
grep -q '"ignored":\[{"name":"notes.txt"' "$report" || fail "notes.txt not in the report: $(cat "$report")"
ls "$reports"/reconcile-*.json >/dev/null && [ -f "$reports/$(basename "$report" .json | sed 's/^nightly-//')/cleared_now.csv" ] \
  || fail "no reconcile report or lists: $(ls -R "$reports")"
ok
# one page per run: the reconcile's HTML page, named in the report
stamp=$(basename "$report" .json | sed 's/^nightly-//')
page="$reports/report-$stamp.html"
grep -q '<title>Reconcile of' "$page" 2>/dev/null || fail "no page $page: $(ls "$reports")"
grep -q "\"page\":\"$page\"" "$report" || fail "the report does not name the page: $(cat "$report")"
ok
awk -f "$HERE/check_prom.awk" "$prom" || fail "the textfile does not parse"
want_metric 'thongquan_nightly_files{result="loaded"}' 2
want_metric 'thongquan_nightly_files{result="failed"}' 1
want_metric 'thongquan_nightly_files{result="duplicate"}' 1
want_metric 'thongquan_nightly_files{result="ignored"}' 1
want_metric thongquan_nightly_last_exit_status 1
want_metric thongquan_nightly_last_success_timestamp_seconds 0
want_metric thongquan_reconcile_cleared_now 1
want_metric 'thongquan_declarations{state="CLEARED"}' 1

# ---- run 2: nothing new, --quiet: silent, 7 ----
expect_status 7 nightly --quiet
[ ! -s "$WORK/out" ] && [ ! -s "$WORK/err" ] || fail "a quiet night printed: $(cat "$WORK/out" "$WORK/err")"
ok
want_metric thongquan_nightly_last_exit_status 7
[ "$(metric thongquan_nightly_last_success_timestamp_seconds)" -gt 0 ] || fail "last success not set"
want_metric thongquan_reconcile_cleared_now 1        # the last reconcile's figure stands
# the database's gauges hold its counts on a night without a reconcile, never NaN, so
# an alert such as thongquan_declarations{state="HELD"} > N can fire on any night
want_metric 'thongquan_declarations{state="CLEARED"}' 1
! grep -q "NaN" "$prom" || fail "a quiet night wrote NaN gauges: $(grep NaN "$prom" | head -3)"
[ "$(ls "$reports"/nightly-*.json | wc -l)" = 2 ] || fail "not one report per run"
ok

# ---- arrival order: the older copy is the one loaded, whatever the names ----
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000002,KB-3,PAY,500,\n' >"$inbox/payments-x.csv"
cp "$inbox/payments-x.csv" "$inbox/payments-x-resent.csv"
touch -d '-10 min' "$inbox/payments-x.csv"
touch -d '-5 min' "$inbox/payments-x-resent.csv"
expect_status 0 nightly
[ -f "$inbox/done/$day/payments-x.csv" ] && [ -f "$inbox/duplicate/$day/payments-x-resent.csv" ] \
  || fail "arrival order not kept: $(ls -R "$inbox")"
ok

# ---- the same name twice in a day: NAME-2.csv, which is still an input name ----
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000003,KB-4,PAY,1,\n' >"$inbox/payments-x.csv"
expect_status 0 nightly
[ -f "$inbox/done/$day/payments-x-2.csv" ] || fail "second same-day file: $(ls "$inbox/done/$day")"
mv "$inbox/done/$day/payments-x-2.csv" "$inbox/"
expect_status 7 nightly        # taken as an input, and known by its content
[ -f "$inbox/duplicate/$day/payments-x-2.csv" ] || fail "a stored file moved back is not an input"
ok

# ---- an unwritable metrics path does not stop the loading ----
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000003,KB-5,PAY,2,\n' >"$inbox/payments-m.csv"
expect_status 0 "$TQ" nightly --db "$db" --inbox "$inbox" --reports "$reports" --min-age 0 \
  --metrics "$WORK/no/such/dir/thongquan.prom"
grep -q "cannot write the metrics" "$WORK/err" || fail "no metrics warning: $(cat "$WORK/err")"
[ -f "$inbox/done/$day/payments-m.csv" ] || fail "the metrics path stopped the loading"
grep -q '"error":"' "$(ls -t "$reports"/nightly-*.json | head -n 1)" || fail "metrics error not in the report"
ok

# ---- another run holds the inbox: 3 ----
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000003,KB-6,PAY,3,\n' >"$inbox/payments-busy.csv"
flock -n "$inbox/.thongquan/lock" sleep 2 &
holder=$!
sleep 0.3
expect_status 3 nightly
wait "$holder"
[ -f "$inbox/payments-busy.csv" ] || fail "a busy run moved a file"
ok
expect_status 0 nightly --json
awk -f "$HERE/check_json.awk" "$WORK/out" || fail "--json: $(cat "$WORK/out")"
grep -q '"name":"payments-busy.csv"' "$WORK/out" || fail "--json lacks the file"
ok

# ---- a file changed within --min-age waits ----
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000003,KB-7,PAY,4,\n' >"$inbox/payments-fresh.csv"
expect_status 7 "$TQ" nightly --db "$db" --inbox "$inbox" --min-age 3600
[ -f "$inbox/payments-fresh.csv" ] || fail "a fresh file was taken"
ok

# ---- --create makes a new database; without it a missing one is refused ----
expect_status 0 "$TQ" nightly --db "$WORK/newdb" --inbox "$inbox" --min-age 0 --create
[ -f "$WORK/newdb/data.mdb" ] || fail "--create made no database"
mkdir -p "$WORK/empty"
expect_status 7 "$TQ" nightly --db "$WORK/newdb2" --inbox "$WORK/empty" --create
[ -f "$WORK/newdb2/data.mdb" ] || fail "--create on a quiet night made no database"
ok

# ---- the shipped cron line runs the job as is; units, defaults and cron name one db ----
cronline=$(grep -v '^#' "$TOP/tools/cron/thongquan-nightly.cron" | grep -E '^[0-9*]' | cut -d' ' -f7-)
[ -n "$cronline" ] || fail "no cron line"
cin=$WORK/cin
mkdir -p "$cin"
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000003,KB-C,PAY,5,\n' >"$cin/payments-c.csv"
touch -d '-5 min' "$cin/payments-c.csv"
expect_status 0 env THONGQUAN_DB="$db" THONGQUAN_INBOX="$cin" THONGQUAN_REPORTS="$reports" \
  THONGQUAN_METRICS="$prom" sh -c "${cronline//@BINDIR@\/thongquan/$TQ}"
[ -f "$cin/done/$day/payments-c.csv" ] && [ ! -s "$WORK/out" ] && [ ! -s "$WORK/err" ] \
  || fail "the cron line: $(cat "$WORK/out" "$WORK/err")"
ok
for f in tools/cron/thongquan-nightly.cron tools/systemd/thongquan-nightly.service \
         tools/systemd/thongquan-nightly.default; do
  grep -q '/var/lib/thongquan/db\b' "$TOP/$f" || fail "$f does not name /var/lib/thongquan/db"
  ! grep -E '/var/lib/thongquan([^/]|$)' "$TOP/$f" | grep -qv '/var/lib/thongquan/\(db\|reports\)' \
    || fail "$f names another database path"
  ! grep -q 'thongquan-nightly --\|bin/thongquan-nightly' "$TOP/$f" || fail "$f still calls the shell job"
done
ok

# ---- --seed-ledger: files the shell job left in done/ are known by content ----
mig=$WORK/mig
mkdir -p "$mig/inbox/done/2024-08-01"
cp -a "$WORK/newdb" "$mig/db"            # a database the C job never loaded into
printf 'permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota\nPM,BCT,0101234567,2024-01-01,2024-12-31,VALID,8517,0\n' >"$mig/inbox/done/2024-08-01/permits-old.csv"
"$TQ" load permits "$mig/inbox/done/2024-08-01/permits-old.csv" --db "$mig/db" --quiet || fail "mig load"
ln -s "$db/data.mdb" "$mig/inbox/done/2024-08-01/payments-link.csv"
cp "$mig/inbox/done/2024-08-01/permits-old.csv" "$mig/inbox/permits-old-resent.csv"
expect_status 7 "$TQ" nightly --db "$mig/db" --inbox "$mig/inbox" --min-age 0 --seed-ledger
grep -q "ledger seeded from done/: 1 files hashed, 1 new entries" "$WORK/out" || fail "seed: $(cat "$WORK/out" "$WORK/err")"
[ -f "$mig/inbox/duplicate/$day/permits-old-resent.csv" ] || fail "seed: the old file was loaded again"
ok

# ---- permission denied: said as such, exit 8 (needs root to become nobody) ----
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  pin=$WORK/pinbox
  mkdir -p "$pin" && chown 65534 "$pin" && chmod 755 "$WORK"
  expect_status 8 setpriv --reuid=65534 --regid=65534 --clear-groups "$TQ" nightly \
    --db "$db" --inbox "$pin" --min-age 0
  grep -q "permission denied: $db" "$WORK/err" || fail "not said as permission denied: $(cat "$WORK/err")"
  ! grep -qi "busy\|space" "$WORK/err" || fail "said as busy or full: $(cat "$WORK/err")"
  ok
else
  # Not root: a database the user may not write (root would write it anyway).
  cp -a "$db" "$WORK/rodb" && chmod 0555 "$WORK/rodb"
  expect_status 8 "$TQ" nightly --db "$WORK/rodb" --inbox "$inbox" --min-age 0
  grep -q "permission denied: $WORK/rodb" "$WORK/err" || fail "not said as permission denied: $(cat "$WORK/err")"
  ! grep -qi "busy\|space" "$WORK/err" || fail "said as busy or full: $(cat "$WORK/err")"
  chmod 0755 "$WORK/rodb"
  ok
fi
done_ok
