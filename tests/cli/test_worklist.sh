#!/usr/bin/env bash
# Proves `thongquan worklist` (tools/cmd_worklist.c, engine/tq_worklist.c), issue 12:
#  - one office-CODE.csv per office with the HELD declarations waiting on a permit or an
#    officer (not those held only for their tax, not the final ones), in decl_no order,
#    with the permits and what is wrong with each (expired, revoked, quota), the age and
#    whether the deadline, counted from registration, has passed at --as-of;
#  - tax-paid-held.csv: the held declarations whose payments and guarantees cover the
#    tax (a guarantee that expired before the registration day does not count);
#  - the --out folder is made with its parents; the summary names every file and its
#    rows; existing worklists are never replaced without --force (exit 2, untouched);
#    with --force they are, and an office with nothing waiting any more loses its file;
#  - a bad --deadline or --as-of exits 2 naming it; --help says how the deadline counts.
source "$(dirname "$0")/lib.sh"
db=$WORK/db out=$WORK/lists/today

source "$(dirname "$0")/office_backlog.sh"

W() { "$TQ" worklist --db "$db" --out "$out" "$@"; }
AS_OF=2024-08-07T09:00:00+07:00

expect_status 0 W --as-of "$AS_OF" --deadline 2h
[ "$(cd "$out" && ls | tr '\n' ' ')" = "office-01B1.csv office-02C1.csv tax-paid-held.csv " ] \
  || fail "files: $(ls -A "$out")"
ls -A "$out" | grep -q '^\.' && fail "a temporary file was left: $(ls -A "$out")"
ok
hdr='decl_no,office,kind,declarant,registered_at,age,deadline_at,deadline_passed,reasons,permits,permit_problems'
cat >"$WORK/want-01B1" <<EOF
$hdr
100000000011,01B1,A11,0101234567,2024-08-06T09:15:00+07:00,23h45m,2024-08-06T11:15:00+07:00,yes,PERMIT_EXPIRED,GCN-1,GCN-1:expired
100000000012,01B1,A11,0101234567,2024-08-06T10:00:00+07:00,23h00m,2024-08-06T12:00:00+07:00,yes,AWAIT_OFFICER,,
100000000016,01B1,A11,0303030303,2024-08-07T08:00:00+07:00,1h00m,2024-08-07T10:00:00+07:00,no,PERMIT_REVOKED,REV-1,REV-1:revoked
EOF
diff "$WORK/want-01B1" "$out/office-01B1.csv" >&2 || fail "office-01B1.csv differs (above)"
ok
cat >"$WORK/want-02C1" <<EOF
$hdr
100000000015,02C1,A11,0101234567,2024-08-07T06:30:00+07:00,2h30m,2024-08-07T08:30:00+07:00,yes,PERMIT_QUOTA,Q-1,Q-1:quota
EOF
diff "$WORK/want-02C1" "$out/office-02C1.csv" >&2 || fail "office-02C1.csv differs (above)"
ok
cat >"$WORK/want-paid" <<'EOF'
decl_no,office,kind,declarant,registered_at,age,tax_due,covered,reasons
100000000011,01B1,A11,0101234567,2024-08-06T09:15:00+07:00,23h45m,1000,1000,PERMIT_EXPIRED
100000000012,01B1,A11,0101234567,2024-08-06T10:00:00+07:00,23h00m,2000,2000,AWAIT_OFFICER
100000000016,01B1,A11,0303030303,2024-08-07T08:00:00+07:00,1h00m,0,0,PERMIT_REVOKED
100000000015,02C1,A11,0101234567,2024-08-07T06:30:00+07:00,2h30m,0,0,PERMIT_QUOTA
EOF
diff "$WORK/want-paid" "$out/tax-paid-held.csv" >&2 || fail "tax-paid-held.csv differs (above)"
ok
grep -qF "worklist: $out/office-01B1.csv: 3 rows" "$WORK/out" &&
  grep -qF "worklist: $out/office-02C1.csv: 1 row" "$WORK/out" &&
  grep -qF "worklist: $out/tax-paid-held.csv: 4 rows" "$WORK/out" &&
  grep -q "3 files in .*; 4 declarations waiting, 3 past the deadline; 4 tax paid and still held" "$WORK/out" \
  || fail "the summary: $(cat "$WORK/out")"
ok

# ---- never replaced without --force ----
sum=$(cat "$out"/* | cksum)
expect_status 2 W --as-of 2024-08-09T00:00:00+07:00
grep -q "exists (use --force" "$WORK/err" || fail "no message naming the file: $(cat "$WORK/err")"
[ "$(cat "$out"/* | cksum)" = "$sum" ] || fail "a refused run changed the worklists"
ok
# --force with a day's deadline: 11's is 2024-08-07T09:15, not passed at 09:00
expect_status 0 W --as-of "$AS_OF" --deadline 1d --force
grep -q '^100000000011,.*,2024-08-07T09:15:00+07:00,no,' "$out/office-01B1.csv" \
  || fail "--force did not rewrite with the new deadline: $(cat "$out/office-01B1.csv")"
ok
# Q-1 gets a larger quota: a reconcile clears 15, so 02C1 has nothing waiting any more
sed 's/^Q-1,\(.*\),50$/Q-1,\1,100/' "$WORK/permits.csv" >"$WORK/permits2.csv"
expect_status 0 "$TQ" load permits "$WORK/permits2.csv" --db "$db"
expect_status 0 "$TQ" reconcile --db "$db" --quiet
expect_status 0 W --as-of "$AS_OF" --force
[ ! -e "$out/office-02C1.csv" ] || fail "the stale office-02C1.csv was kept: $(cat "$out/office-02C1.csv")"
grep -q "stale office files removed" "$WORK/out" || fail "the removal is not said: $(cat "$WORK/out")"
[ -f "$out/office-01B1.csv" ] && ! grep -q 100000000015 "$out/tax-paid-held.csv" \
  || fail "after the reconcile: $(ls "$out"; cat "$out/tax-paid-held.csv")"
ok

# ---- bad values, help ----
expect_status 2 W --deadline 2hours
grep -qF -- "--deadline: '2hours'" "$WORK/err" || fail "--deadline: $(cat "$WORK/err")"
expect_status 2 W --as-of 2024-08-07T09:00
grep -qF -- "--as-of: '2024-08-07T09:00'" "$WORK/err" || fail "--as-of: $(cat "$WORK/err")"
expect_status 2 "$TQ" worklist --db "$db"
expect_status 1 "$TQ" worklist --db "$WORK/nodb" --out "$WORK/x"
expect_status 0 "$TQ" worklist --help
grep -q "counted from the registration" "$WORK/out" && grep -q "^example:" "$WORK/out" \
  || fail "--help does not say how the deadline counts"
no_sanitizer_report
done_ok
