#!/usr/bin/env bash
# Plays the hostile sender against `thongquan nightly` (issue 10).  Each attack, and what
# must hold:
#  A1 failed/ pre-created by a sender (another uid) with failed/DATE/x.err -> DB/data.mdb,
#     then a bad upload: the job refuses the folder; data.mdb is untouched.  (root only:
#     the sender is nobody.)  Once the job made its folders, the sender cannot create
#     failed/DATE/ at all.
#  A2 the same trick by the job's own uid inside failed/DATE/ (NAME.err -> data.mdb), in
#     done/DATE/ (NAME -> data.mdb) and on the state files (.thongquan/state, state.new, pending,
#     lock): never followed; data.mdb untouched; the lock planted as a link is refused.
#  A3 payments-leak.csv -> DB/secret: not followed, refused; the secret never appears in
#     the inbox, the reports, stdout or stderr.
#  A4 a hard link to a private file: refused (nlink > 1), its content never appears.
#  A5 a name with a newline that spells a ledger line with the hash of a later file: that
#     later file is still loaded.
#  A6 an old permits file re-sent under a new name with a backslash after a revocation:
#     a duplicate by content, not loaded; the revocation stays (the declaration stays
#     HELD for PERMIT_REVOKED although its tax is now paid).
#  A7 names with spaces, tabs, newlines, leading dashes and non-UTF-8 bytes: each input
#     loaded once, each output line names one file, the report is valid JSON; a FIFO and
#     a directory with input names neither hang nor crash the job.
#  A8 nothing outside the inbox, the reports and the database changes (checksums of a
#     decoy tree and of the secrets before and after).
source "$(dirname "$0")/lib.sh"
db=$WORK/db inbox=$WORK/inbox reports=$WORK/reports decoy=$WORK/decoy
day=$(date +%F)
mkdir -p "$inbox" "$decoy/sub"
nightly() { "$TQ" nightly --db "$db" --inbox "$inbox" --reports "$reports" --min-age 0 "$@"; }
skip_without_ledger() {
  if grep -q "no ledger of loaded files\|without calling before_commit" "$WORK/err"; then
    echo "skipped: this build's store or loader has no ledger yet"; exit 77
  fi
}
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }
mdb_sum() { sha256sum <"$db/data.mdb"; }
secret='SECRET-TOKEN-7f3a'
payhdr='decl_no,receipt_no,kind,amount,valid_until'
permhdr='permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota'

decl() { printf '{"ev":"DECL","decl_no":"%s","kind":"A11","office":"01B1","declarant":"0101234567","registered_at":"2024-08-06T09:15:00+07:00","channel":1,"tax_due":%s,"lines":[{"hs":"85171300","qty":10,"value":1000%s}]}\n' "$1" "$2" "${3:+,\"permit\":\"$3\"}"; }
{ decl 100000000001 1000 P1; decl 100000000002 5000; } >"$WORK/ev.ndjson"
"$TQ" journal pack "$WORK/ev.ndjson" -o "$WORK/j.tqj" --quiet || fail "pack"
"$TQ" replay "$WORK/j.tqj" --db "$db" --quiet || fail "replay"
# Secrets only the job may read, in the database folder; a decoy tree elsewhere.
printf '%s\n100000000002,%s,PAY,1,\n' "$payhdr" "$secret" >"$db/secret"
printf '%s\n100000000002,%s-2,PAY,1,\n' "$payhdr" "$secret" >"$db/secret2"
chmod 600 "$db/secret" "$db/secret2"
for i in 1 2 3; do echo "decoy $i" >"$decoy/f$i"; echo "deep $i" >"$decoy/sub/g$i"; done
decoy_before=$(sums "$decoy"; sha256sum <"$db/secret"; sha256sum <"$db/secret2")

# ---- A1: a sender (nobody) pre-creates failed/DATE/ with a link to data.mdb ----
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod 1777 "$inbox"; chmod 755 "$WORK"
  asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  asnobody mkdir -p "$inbox/failed/$day" || fail "setup A1"
  asnobody ln -s "$db/data.mdb" "$inbox/failed/$day/payments-evil.csv.err"
  asnobody sh -c "printf '$payhdr\nbad,row\n' >'$inbox/payments-evil.csv'"
  before=$(mdb_sum)
  expect_status 2 nightly
  grep -q "failed belongs to uid 65534" "$WORK/err" || fail "A1 not refused: $(cat "$WORK/err")"
  [ "$(mdb_sum)" = "$before" ] || fail "A1: data.mdb changed"
  ok
  rm -rf "$inbox/failed" "$inbox/payments-evil.csv"
  expect_status 7 nightly
  ! asnobody mkdir "$inbox/failed/$day" 2>/dev/null || fail "A1: a sender could create failed/DATE/"
  ! asnobody mv "$inbox/failed" "$inbox/x" 2>/dev/null || fail "A1: a sender could rename failed/ (sticky inbox)"
  ok
  chmod 1770 "$inbox"
else
  echo "note: A1 needs root (a second uid as the sender); the same-uid variant A2 runs"
  expect_status 7 nightly
fi
skip_without_ledger

# ---- A2: links planted at every name the job writes ----
mkdir -p "$inbox/failed/$day" "$inbox/done/$day"
ln -s "$db/data.mdb" "$inbox/failed/$day/payments-evil.csv.err"
ln -s "$db/data.mdb" "$inbox/done/$day/payments-good.csv"
ln -s "$db/data.mdb" "$inbox/.thongquan/state.new"
ln -sfn "$db/data.mdb" "$inbox/.thongquan/state"   # replaced by the run, never written through
ln -s "$db/data.mdb" "$inbox/.thongquan/pending"
printf '%s\nbad,row\n' "$payhdr" >"$inbox/payments-evil.csv"
printf '%s\n100000000002,KB-G,PAY,1,\n' "$payhdr" >"$inbox/payments-good.csv"
before=$(mdb_sum)
expect_status 4 nightly       # the pending marker is a link: refused, nothing loaded
[ "$(mdb_sum)" = "$before" ] || fail "A2: data.mdb changed through .thongquan/pending or state"
rm "$inbox/.thongquan/pending"
expect_status 1 nightly
[ -L "$inbox/failed/$day/payments-evil.csv.err" ] && [ -f "$inbox/failed/$day/payments-evil-2.csv.err" ] \
  || fail "A2: .err: $(ls -la "$inbox/failed/$day")"
[ -L "$inbox/done/$day/payments-good.csv" ] && [ -f "$inbox/done/$day/payments-good-2.csv" ] \
  || fail "A2: done/: $(ls -la "$inbox/done/$day")"
[ -f "$inbox/.thongquan/state" ] && [ ! -L "$inbox/.thongquan/state" ] || fail "A2: state"
"$TQ" stat --db "$db" >/dev/null || fail "A2: the database no longer opens"
ok
mv "$inbox/.thongquan/lock" "$WORK/lock.keep"
ln -s "$db/data.mdb" "$inbox/.thongquan/lock"
before=$(mdb_sum)
expect_status 2 nightly
[ "$(mdb_sum)" = "$before" ] || fail "A2: data.mdb changed through the lock"
rm "$inbox/.thongquan/lock"
ok

# Names in the reports folder planted for the next seconds' stamps: never written through.
mkdir -p "$reports"
for s in 0 1 2 3; do
  st=$(date -d "+$s sec" +%Y-%m-%dT%H%M%S)
  ln -sf "$db/data.mdb" "$reports/nightly-$st.json"
  # the reconcile report's names of the stamp and of its next variants (-2 ...), which a
  # run that checked only its own report's name would take
  for v in "" -2 -3 -4 -5 -6; do ln -sf "$db/data.mdb" "$reports/reconcile-$st$v.json"; done
done
printf '%s\n100000000002,KB-R,PAY,1,\n' "$payhdr" >"$inbox/payments-r.csv"
touch "$WORK/mark"
expect_status 0 nightly
[ "$(find "$reports" -maxdepth 1 -type l | wc -l)" = 28 ] || fail "A2: a planted link was replaced: $(find "$reports" -maxdepth 1 -newer "$WORK/mark" -printf "%y %f\n")"
for l in "$reports"/*.json; do
  [ ! -L "$l" ] || [ "$(readlink "$l")" = "$db/data.mdb" ] || fail "A2: $l was changed"
done
[ -n "$(find "$reports" -maxdepth 1 -type f -name 'nightly-*.json' -newer "$WORK/mark")" ] \
  || fail "A2: no report written beside the planted links"
"$TQ" stat --db "$db" >/dev/null || fail "A2: the database no longer opens after the reports"
ok

# ---- A3, A4: a link and a hard link to private files ----
ln -s "$db/secret" "$inbox/payments-leak.csv"
ln "$db/secret2" "$inbox/payments-hard.csv"
expect_status 1 nightly
cat "$WORK/out" "$WORK/err" >"$WORK/log"
grep -q "refused payments-leak.csv: a symbolic link" "$WORK/err" || fail "A3: $(cat "$WORK/err")"
grep -q "refused payments-hard.csv: a file with other (hard) links" "$WORK/err" || fail "A4: $(cat "$WORK/err")"
# The refused hard link itself is filed in failed/ (the job's 0750 folder) as the same
# inode, mode 0600: no copy of the private content exists anywhere else.
leaks=$(grep -rlF "$secret" "$inbox" "$reports" "$WORK/log")
[ "$leaks" = "$inbox/failed/$day/payments-hard.csv" ] || fail "A3/A4: the secret leaked: $leaks"
[ "$(stat -c %i:%a "$leaks")" = "$(stat -c %i:%a "$db/secret2")" ] || fail "A4: the hard link was copied"
ok

# ---- A5: a name with a newline spelling a ledger line ----
printf '%s\n100000000002,KB-LATER,PAY,2,\n' "$payhdr" >"$WORK/later.csv"
h=$(sha256sum <"$WORK/later.csv" | cut -d' ' -f1)
forged=$(printf 'payments-f.csv\n%s\tloaded\t2024-01-01T00:00:00Z\tpayments\tx.csv' "$h")
printf '%s\n100000000002,KB-F,PAY,3,\n' "$payhdr" >"$inbox/$forged"
expect_status 0 nightly
cp "$WORK/later.csv" "$inbox/payments-later.csv"
expect_status 0 nightly
[ -f "$inbox/done/$day/payments-later.csv" ] || fail "A5: the later file was not loaded: $(ls "$inbox"/*/"$day")"
ok

# ---- A6: an old permits file re-sent under a backslash name after a revocation ----
printf '%s\nP1,BCT,0101234567,2024-01-01,2024-12-31,VALID,8517,0\n' "$permhdr" >"$inbox/permits-1.csv"
expect_status 0 nightly
printf '%s\nP1,BCT,0101234567,2024-01-01,2024-12-31,REVOKED,8517,0\n' "$permhdr" >"$inbox/permits-2.csv"
expect_status 0 nightly
cp "$inbox/done/$day/permits-1.csv" "$inbox/permits-1\\resent.csv"
printf '%s\n100000000001,KB-D1,PAY,1000,\n' "$payhdr" >"$inbox/payments-d1.csv"
expect_status 0 nightly
[ -f "$inbox/duplicate/$day/permits-1\\resent.csv" ] || fail "A6: not a duplicate: $(ls "$inbox"/*/"$day")"
"$TQ" export decisions --db "$db" -o "$WORK/dec.csv"
grep -q '^100000000001,HELD,0,PERMIT_REVOKED,0,' "$WORK/dec.csv" || fail "A6: the revocation was reverted: $(cat "$WORK/dec.csv")"
ok

# ---- A7: hostile names; a FIFO and a directory with input names ----
names=("payments with spaces.csv" $'payments\ttab.csv' $'payments\nnewline.csv' \
       "payments--rf.csv" $'payments-\xff\xfe.csv' "payments-\\x41.csv")
i=0
for n in "${names[@]}"; do
  i=$((i + 1))
  printf '%s\n100000000002,KB-N%d,PAY,1,\n' "$payhdr" "$i" >"$inbox/$n"
done
printf 'x\n' >"$inbox/-rf.csv"
mkfifo "$inbox/payments-fifo.csv"
mkdir "$inbox/payments-dir.csv"
expect_status 1 timeout 20 "$TQ" nightly --db "$db" --inbox "$inbox" --reports "$reports" --min-age 0
for n in "${names[@]}"; do
  [ -f "$inbox/done/$day/$n" ] || fail "A7: $(printf %q "$n") not loaded: $(ls "$inbox/done/$day" | od -c | head)"
done
grep -q 'refused payments-fifo.csv: not a regular file' "$WORK/err" || fail "A7 fifo: $(cat "$WORK/err")"
[ "$(grep -c '^nightly: loaded payments' "$WORK/out")" = "${#names[@]}" ] || fail "A7: log lines: $(cat "$WORK/out")"
! grep -q $'\t' "$WORK/out" || fail "A7: a raw tab in the log"
grep -q 'payments\\x0anewline.csv' "$WORK/out" || fail "A7: newline not quoted: $(cat "$WORK/out")"
grep -q 'ignored -rf.csv' "$WORK/out" || fail "A7: -rf.csv not listed"
[ -f "$inbox/-rf.csv" ] && [ -d "$inbox/payments-dir.csv" ] || fail "A7: ignored entries were moved"
rep=$(ls -t "$reports"/nightly-*.json | head -n 1)
awk -f "$HERE/check_json.awk" "$rep" || fail "A7: the report is not valid JSON"
"$TQ" export decisions --db "$db" -o "$WORK/dec2.csv"
ok

# ---- A9: NAME.err quotes values only for a file its owner (not the job) could read ----
if [ "$(id -u)" = 0 ]; then
  printf '%s\n100000000002,KB-Q,PAY,-77,\n' "$payhdr" >"$inbox/payments-q1.csv"
  printf '%s\n100000000002,KB-Q,PAY,-88,\n' "$payhdr" >"$inbox/payments-q2.csv"
  chown 65534 "$inbox/payments-q1.csv" "$inbox/payments-q2.csv"
  chmod 0644 "$inbox/payments-q1.csv"; chmod 0200 "$inbox/payments-q2.csv"
  expect_status 1 nightly
  grep -q -- "-77" "$inbox/failed/$day/payments-q1.csv.err" || fail "A9: a readable sender's file is not quoted"
  ! grep -q -- "-88" "$inbox/failed/$day/payments-q2.csv.err" || fail "A9: an unreadable file was quoted"
  grep -q "line 2: field 'amount'" "$inbox/failed/$day/payments-q2.csv.err" || fail "A9: no line and field"
  ok
fi

# ---- A11: a longest name (255 bytes) twice in a day: the second is stored shortened ----
long="payments-$(printf 'x%.0s' $(seq 1 242)).csv"
[ "${#long}" = 255 ] || fail "A11 setup: ${#long}"
printf '%s\n100000000002,KB-L1,PAY,1,\n' "$payhdr" >"$inbox/$long"
expect_status 0 nightly
printf '%s\n100000000002,KB-L2,PAY,1,\n' "$payhdr" >"$inbox/$long"
expect_status 0 nightly
[ "$(ls "$inbox/done/$day" | grep -c '^payments-xxx.*\.csv$')" = 2 ] || fail "A11: $(ls "$inbox/done/$day")"
ls "$inbox/done/$day" | grep -q -- '-2\.csv$' || fail "A11: no -2 name"
ok

# ---- A10: a flood of names: listed up to a bound, all counted ----
mkdir "$WORK/flood" && (cd "$WORK/flood" && seq -f 'junk-%g.txt' 1 1500 | xargs touch)
mv "$WORK/flood/"* "$inbox/"
expect_status 7 nightly --json
awk -f "$HERE/check_json.awk" "$WORK/out" || fail "A10: the report is not valid JSON"
grep -q '"ignored_not_listed":501,"counts":{[^}]*"ignored":1501' "$WORK/out" \
  || fail "A10: $(grep -o '"ignored_not_listed.*' "$WORK/out" | head -c 300)"
[ "$(grep -o '"name_hex"' "$WORK/out" | wc -l)" = 1000 ] || fail "A10: not 1000 names listed"
rm -f "$inbox"/junk-*.txt
ok

# ---- A8: nothing outside the inbox, reports and database changed ----
[ "$(sums "$decoy"; sha256sum <"$db/secret"; sha256sum <"$db/secret2")" = "$decoy_before" ] \
  || fail "A8: a file outside the inbox changed"
ok
done_ok
