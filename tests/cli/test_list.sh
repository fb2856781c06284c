#!/usr/bin/env bash
# Proves `thongquan list` (tools/cmd_list.c, engine/tq_list.c), issue 12:
#  - each filter alone (--state, --reason any-of, --office, --declarant, --permit,
#    --registered-before, --older-than against --as-of, --tax-paid, --limit) and
#    filters combined, rows in decl_no order, every column as the store gives it
#    (office, kind, registered_at in Vietnam time, age, tax_due, covered, permits);
#  - CSV has 11 fields a row, NDJSON is one valid JSON object a line, -o FILE holds the
#    same bytes, a terminal gets an aligned table with a header;
#  - nothing matches: the CSV header alone, no NDJSON line, "no declarations match" on
#    stderr for the table, exit 0;
#  - a bad filter value exits 2 with a message naming the option and the value.
source "$(dirname "$0")/lib.sh"
db=$WORK/db

source "$(dirname "$0")/office_backlog.sh"

L() { "$TQ" list --db "$db" "$@"; }
# ids FILTERS... : the decl_no tails (last two digits) the CSV lists, space separated
ids() {
  local got=0
  L --csv "$@" >"$WORK/ids.csv" 2>"$WORK/err" || got=$?
  [ "$got" = 0 ] || fail "list $* exited $got: $(cat "$WORK/err")"
  head -1 "$WORK/ids.csv" | grep -qx 'decl_no,office,kind,declarant,state,reasons,registered_at,age,tax_due,covered,permits' \
    || fail "list $*: header is '$(head -1 "$WORK/ids.csv")'"
  tail -n +2 "$WORK/ids.csv" | cut -d, -f1 | sed 's/^.*\(..\)$/\1/' | tr '\n' ' ' | sed 's/ $//'
}
want() { # want "EXPECTED" FILTERS...
  local exp=$1; shift
  local got; got=$(ids "$@")
  [ "$got" = "$exp" ] || fail "list $*: got '$got', wanted '$exp'"
  ok
}

# ---- what the replay decided (the rules, not this command, are under test elsewhere) ----
want "11 12 13 14 15 16 17"
want "11 12 14 15 16" --state HELD
want "13" --state CLEARED
want "17" --state cancelled

# ---- each filter alone ----
want "11 12 13 16" --office 01B1
want "14 15" --office 02C1
want "11 12 15" --declarant 0101234567
want "15" --permit Q-1
want "11" --permit GCN-1
want "11 15" --reason PERMIT_EXPIRED,PERMIT_QUOTA
want "12" --reason AWAIT_OFFICER
want "14" --reason tax_short
want "11 12 13 14" --registered-before 2024-08-07
want "11 12" --registered-before 2024-08-06T11:00:00+07:00        # strictly before
want "11 12 13 14 15" --older-than 2h --as-of 2024-08-07T08:31:00+07:00
want "11 12 13 14" --older-than 2h --as-of 2024-08-07T08:30:00+07:00   # 15: exactly 2h
want "11 12 13 14 15 16" --older-than 30m --as-of 2024-08-07T08:31:00+07:00
want "11 12" --older-than 1d --as-of 2024-08-07T11:00:00+07:00
# tax paid: 11 (PAY = due), 12 (PAY + a guarantee valid on its day), 15 and 16 owe 0;
# 14's guarantee expired before its registration day; 13 is CLEARED; 17 owes 1000
want "11 12 15 16" --tax-paid
want "11 12" --limit 2
want "11 12 13 14 15 16 17" --limit 1000

# ---- combined ----
want "11 12 16" --office 01B1 --state HELD
want "12" --office 01B1 --tax-paid --reason AWAIT_OFFICER
want "11" --declarant 0101234567 --office 01B1 --registered-before 2024-08-06T10:00:00+07:00
want "15" --permit Q-1 --state HELD --declarant 0101234567 --office 02C1 --tax-paid
want "" --permit Q-1 --office 01B1
want "11 12" --office 01B1 --older-than 1d --registered-before 2024-08-06T11:00:00+07:00 \
  --as-of 2024-08-08T00:00:00+07:00
want "11" --office 01B1 --state HELD --limit 1

# ---- the columns ----
L --csv --permit GCN-1 --as-of 2024-08-06T11:30:30+07:00 >"$WORK/one.csv" || fail "list GCN-1"
row=$(sed -n 2p "$WORK/one.csv")
[ "$row" = "100000000011,01B1,A11,0101234567,HELD,PERMIT_EXPIRED,2024-08-06T09:15:00+07:00,2h15m,1000,1000,GCN-1" ] \
  || fail "the row of 100000000011 is '$row'"
ok
L --csv --declarant 0101234567 --state HELD >"$WORK/all.csv" || fail "list"
awk -F, 'NF != 11 { bad = 1; print "line " NR ": " NF " fields: " $0 } END { exit bad }' "$WORK/all.csv" \
  || fail "a CSV row does not have 11 fields"
grep -q '^100000000012,01B1,A11,0101234567,HELD,AWAIT_OFFICER,2024-08-06T10:00:00+07:00,[0-9]*d[0-9][0-9]h[0-9][0-9]m,2000,2000,$' "$WORK/all.csv" \
  || fail "the row of 100000000012 (guarantee counted, no permit): $(grep 100000000012 "$WORK/all.csv")"
ok

# ---- NDJSON, -o, the table ----
L --ndjson --office 01B1 --as-of 2024-08-07T09:00:00+07:00 >"$WORK/out.ndjson" || fail "ndjson"
[ "$(wc -l <"$WORK/out.ndjson")" = 4 ] || fail "ndjson: $(wc -l <"$WORK/out.ndjson") lines, wanted 4"
while IFS= read -r l; do
  printf '%s\n' "$l" >"$WORK/one.json"
  awk -f "$HERE/check_json.awk" "$WORK/one.json" || fail "not one JSON object: $l"
done <"$WORK/out.ndjson"
grep -q '^{"decl_no":"100000000011","office":"01B1","kind":"A11","declarant":"0101234567","state":"HELD","reasons":"PERMIT_EXPIRED","registered_at":"2024-08-06T09:15:00+07:00","age":"23h45m","age_s":85500,"tax_due":1000,"covered":1000,"permits":"GCN-1"}$' "$WORK/out.ndjson" \
  || fail "ndjson row of 11: $(head -1 "$WORK/out.ndjson")"
ok
expect_status 0 "$TQ" list --db "$db" --office 01B1 --csv -o "$WORK/list.csv"
L --office 01B1 --csv >"$WORK/stdout.csv"
cmp -s "$WORK/list.csv" "$WORK/stdout.csv" || fail "-o FILE differs from standard output"
ls -a "$WORK" | grep -q '\.tmp-' && fail "a temporary file was left"
ok
# not a terminal, no format: CSV
L --office 02C1 | head -1 | grep -q '^decl_no,office' || fail "a pipe does not get CSV"
ok
# a terminal: the aligned table, with a header (script gives the command a pty)
if script -qc "true" /dev/null >/dev/null 2>&1; then
  script -qc "$TQ list --db $db --office 01B1 --state HELD" /dev/null | tr -d '\r' >"$WORK/table"
  head -1 "$WORK/table" | grep -q '^DECL_NO  *OFFICE  *KIND  *DECLARANT  *STATE  *REGISTERED_AT  *AGE  *TAX_DUE  *COVERED  *REASONS  *PERMITS$' \
    || fail "the table header: $(head -1 "$WORK/table")"
  [ "$(grep -c '^1000000000' "$WORK/table")" = 3 ] || fail "the table rows: $(cat "$WORK/table")"
  # aligned: the state column starts at the same offset on every row
  awk 'NR > 1 { o = index($0, "HELD"); if (p && o != p) exit 1; p = o }' "$WORK/table" \
    || fail "the table is not aligned: $(cat "$WORK/table")"
  ok
fi

# ---- nothing matches ----
expect_status 0 "$TQ" list --db "$db" --office 99Z9 --csv
[ "$(cat "$WORK/out")" = "decl_no,office,kind,declarant,state,reasons,registered_at,age,tax_due,covered,permits" ] \
  || fail "an empty CSV is not the header alone: $(cat "$WORK/out")"
expect_status 0 "$TQ" list --db "$db" --office 99Z9 --ndjson
[ ! -s "$WORK/out" ] || fail "an empty NDJSON list printed: $(cat "$WORK/out")"
expect_status 0 "$TQ" list --db "$db" --office 99Z9 --table
[ ! -s "$WORK/out" ] && grep -qx "no declarations match" "$WORK/err" \
  || fail "an empty table: out '$(cat "$WORK/out")', err '$(cat "$WORK/err")'"

# ---- bad values: exit 2, the option and the value named ----
bad() { # bad OPTION VALUE
  expect_status 2 "$TQ" list --db "$db" "--$1" "$2"
  grep -qF -- "--$1: '$2'" "$WORK/err" || fail "--$1 '$2': the message does not name both: $(cat "$WORK/err")"
  [ ! -s "$WORK/out" ] || fail "--$1 '$2' printed rows"
  ok
}
bad state FROZEN
bad reason PERMIT_HS,LATE
grep -q "unknown reason 'LATE'" "$WORK/err" || fail "the unknown reason is not named: $(cat "$WORK/err")"
bad office 01b1
bad office 01B12
bad declarant 12345
bad permit 'A B'
bad older-than 2x
bad older-than 90
bad registered-before yesterday
bad registered-before 2024-08-07T08:00:00
bad as-of 2024-13-01
bad limit 0
expect_status 2 "$TQ" list --db "$db" --limit x
grep -q -- "--limit" "$WORK/err" && grep -q "'x'" "$WORK/err" || fail "--limit x: $(cat "$WORK/err")"
expect_status 2 "$TQ" list --db "$db" --csv --ndjson
expect_status 1 "$TQ" list --db "$WORK/nodb"
no_sanitizer_report
done_ok
