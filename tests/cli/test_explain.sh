#!/usr/bin/env bash
# Proves: thongquan explain words a HELD declaration's reasons with the numbers and the
# permit or line behind each (tax paid of due and short, an expired guarantee that does
# not count, an expired permit's window against the registration day, the line whose hs
# fits none of the prefixes, the officer result awaited, a quota's use), lists its
# payments and permits; says a CLEARED, a manual and a REJECTED declaration are final;
# tells when new facts would clear a held one, which a reconcile then does; exits 1 for
# an unknown declaration (still listing payments for it) and 2 for a malformed number;
# with --journal lists the declaration's events with their seq and how far the journal
# was replayed; --json is one valid JSON object; and it works while a writer holds the
# database.  Issue 15: every sum of money carries its unit (đồng); a quota permit whose
# use is past its quota says that clearances by hand count in full past it (SPEC 3, 7);
# with --journal the officer results of the journal are shown with whether each was
# applied, so a manual clearance whose history holds an OFFICER DOCS_OK that came after
# it does not read "officer results received: none"; the gaps --skip-corrupt left are
# shown (a decision may lack their events), with the events of a history that fall in
# one, until replay --fill-gap fills them; a damaged record is the database's, exit 5.
# Issue 12: office, kind and each line's value come from the store, without --journal
# (text and --json); a declaration stored before store format 3 says they are not kept
# and, given --journal, takes them from its DECL there.
source "$(dirname "$0")/lib.sh"
db=$WORK/db

decl() { # decl NO CHANNEL TAX LINES_JSON
  printf '{"ev":"DECL","decl_no":"%s","kind":"A11","office":"01B1","declarant":"0101234567","registered_at":"2024-08-06T09:15:00+07:00","channel":%s,"tax_due":%s,"lines":%s}\n' "$1" "$2" "$3" "$4"
}
{
  # seq 1: H1 held for four reasons; amended at seq 5 (version 1)
  decl 100000000011 2 12000000 '[{"hs":"85171300","qty":100,"value":250000000,"permit":"GCN-1"},{"hs":"39269099","qty":5,"value":1000000,"permit":"GCN-1"}]'
  # seq 2: Q1 over the quota of Q-1
  decl 100000000012 1 0 '[{"hs":"03031100","qty":60,"value":1000,"permit":"Q-1"}]'
  # seq 3: C1 cleared by the rules
  decl 100000000013 1 1000 '[{"hs":"85171300","qty":1,"value":1000}]'
  # seq 4: S1 held only for its tax, paid later
  decl 100000000014 1 5000 '[{"hs":"85171300","qty":1,"value":1000}]'
  echo '{"ev":"AMEND","decl_no":"100000000011","tax_due":12500000}'
  # seq 6, 7: M1 cleared by hand without its tax; R1 rejected
  decl 100000000015 1 700 '[{"hs":"85171300","qty":1,"value":1000}]'
  echo '{"ev":"MANUAL_CLEAR","decl_no":"100000000015","officer":"HQ01B1-0042","cleared_at":"2024-08-07T10:00:00+07:00"}'
  decl 100000000016 2 0 '[{"hs":"85171300","qty":1,"value":1000}]'
  echo '{"ev":"OFFICER","decl_no":"100000000016","result":"REJECT","officer":"HQ01B1-0042"}'
  # seq 10, 11: MQ cleared by hand past the quota of Q-2 (15 of 10); seq 12: QQ then held
  decl 100000000017 1 0 '[{"hs":"03031100","qty":15,"value":1000,"permit":"Q-2"}]'
  echo '{"ev":"MANUAL_CLEAR","decl_no":"100000000017","officer":"HQ01B1-0042","cleared_at":"2024-08-07T10:00:00+07:00"}'
  decl 100000000018 1 0 '[{"hs":"03031100","qty":1,"value":1000,"permit":"Q-2"}]'
  # seq 13..15: M2, yellow, cleared by hand, then an officer's DOCS_OK that comes too late
  decl 100000000019 2 0 '[{"hs":"85171300","qty":1,"value":1000}]'
  echo '{"ev":"MANUAL_CLEAR","decl_no":"100000000019","officer":"HQ01B1-0042","cleared_at":"2024-08-07T10:00:00+07:00"}'
  echo '{"ev":"OFFICER","decl_no":"100000000019","result":"DOCS_OK","officer":"HQ01B1-0077"}'
} >"$WORK/events.ndjson"
csv permits "$WORK/permits.csv" <<'EOF'
GCN-1,BCT,0101234567,2024-01-01,2024-06-30,VALID,8517;8471,0
Q-1,BNNPTNT,0101234567,2024-01-01,2024-12-31,VALID,0303,50
Q-2,BNNPTNT,0101234567,2024-01-01,2024-12-31,VALID,0303,10
EOF
csv payments "$WORK/payments.csv" <<'EOF'
100000000011,KB-1,PAY,12000000,
100000000011,BL-1,GUARANTEE,3000000,2024-08-01
100000000013,KB-3,PAY,1000,
100000000099,KB-99,PAY,777,
EOF
replay_backlog "$db"

has() { # has LINE: the output holds this exact line (leading spaces ignored)
  sed 's/^ *//' "$WORK/out" | grep -qxF -- "$1" || fail "missing line '$1' in:
$(cat "$WORK/out")"
  ok
}

# ---- H1: HELD for four reasons ----
expect_status 0 "$TQ" explain 100000000011 --db "$db"
no_sanitizer_report
grep -q '^state *HELD, version 1$' "$WORK/out" || fail "state line: $(cat "$WORK/out")"
grep -q '^reasons *TAX_SHORT|PERMIT_EXPIRED|PERMIT_HS|AWAIT_OFFICER (tax short 500,000 đồng)' "$WORK/out" || fail "stored reasons"
has "TAX_SHORT: paid 12,000,000 of 12,500,000 đồng (short 500,000 đồng); guarantees of 3,000,000 đồng expired before 2024-08-06 do not count"
has "PERMIT_EXPIRED: permit GCN-1 valid 2024-01-01..2024-06-30, registered 2024-08-06"
has "PERMIT_HS: line 2 hs 39269099 starts with none of permit GCN-1's prefixes 8517;8471"
has "AWAIT_OFFICER: channel 2 (yellow) needs DOCS_OK or INSPECT_OK from an officer; received: none"
grep -q 'BL-1 .*GUARANTEE .*3,000,000 đồng  valid until 2024-08-01: expired before the registration day, does not count' "$WORK/out" ||
  fail "the expired guarantee is not marked"
grep -q '^  KB-1 .*PAY .*12,000,000 đồng$' "$WORK/out" || fail "the payment is not listed with its unit"
grep -q '^tax *due 12,500,000 đồng; covered 12,000,000 đồng; short 500,000 đồng$' "$WORK/out" || fail "tax line: $(grep '^tax' "$WORK/out")"
grep -q 'guarantees of 3,000,000 đồng expired before the registration day and do not count' "$WORK/out" || fail "expired guarantees without unit"
grep -q 'GCN-1  VALID  agency BCT  holder 0101234567  valid 2024-01-01..2024-06-30' "$WORK/out" || fail "permit facts"
grep -q 'hs prefixes 8517;8471  quota unlimited  this declaration 105 (lines 1, 2)' "$WORK/out" || fail "permit use"
grep -q '^verdict now *HELD: TAX_SHORT|PERMIT_EXPIRED|PERMIT_HS|AWAIT_OFFICER, as decided' "$WORK/out" || fail "verdict"
grep -q '^registered *2024-08-06T09:15:00+07:00 (day 2024-08-06' "$WORK/out" || fail "registration"
ok
# office, kind and line values, from the store alone; the event that last changed it
grep -q '^office *01B1, kind A11$' "$WORK/out" || fail "office line: $(cat "$WORK/out")"
jid=$("$TQ" stat --db "$db" | sed -n 's/^journal \([0-9a-f]*\): .*/\1/p')
[ ${#jid} = 32 ] || fail "stat names no journal id"
grep -q "^last event *seq 5 of journal $jid\$" "$WORK/out" || fail "last event (the AMEND at seq 5): $(cat "$WORK/out")"
has "1  hs 85171300  qty 100  value 250,000,000 đồng  permit GCN-1"
has "2  hs 39269099  qty 5  value 1,000,000 đồng  permit GCN-1"
expect_status 0 "$TQ" explain 100000000011 --db "$db" --json
awk -f "$HERE/check_json.awk" "$WORK/out" || fail "--json is not valid JSON"
grep -qF '"office":"01B1","kind":"A11","office_from":"store","last_event":{"journal_id":"' "$WORK/out" || fail "--json office: $(cat "$WORK/out")"
grep -qF "\"last_event\":{\"journal_id\":\"$jid\",\"seq\":5}," "$WORK/out" || fail "--json last event: $(cat "$WORK/out")"
grep -qF '"lines":[{"hs":"85171300","qty":100,"value":250000000,"permit":"GCN-1"},{"hs":"39269099","qty":5,"value":1000000,"permit":"GCN-1"}]' "$WORK/out" ||
  fail "--json line values: $(cat "$WORK/out")"
ok

# ---- Q1: quota ----
expect_status 0 "$TQ" explain 100000000012 --db "$db"
has "PERMIT_QUOTA: permit Q-1 quota 50, used 0, this declaration 60 (over by 10)"
grep -q "past the quota" "$WORK/out" && fail "Q-1 is not past its quota: $(cat "$WORK/out")"
ok
# QQ: Q-2's use is past its quota because MQ was cleared by hand (SPEC 3, 7)
expect_status 0 "$TQ" explain 100000000018 --db "$db"
has "PERMIT_QUOTA: permit Q-2 quota 10, used 15, this declaration 1 (over by 6)"
grep -q '^ *used is past the quota: clearances by hand (MANUAL_CLEAR) add their quantities in full, even past the quota' "$WORK/out" ||
  fail "the quota past its limit is not explained: $(cat "$WORK/out")"
grep -q 'quota 10  used 15 (past the quota)  this declaration 1' "$WORK/out" || fail "permit facts do not mark the use past the quota"
ok

# ---- C1, M1, R1: final ----
expect_status 0 "$TQ" explain 100000000013 --db "$db"
grep -q '^state *CLEARED, version 0$' "$WORK/out" || fail "C1 state"
grep -q '^cleared by the rules' "$WORK/out" || fail "C1 not explained as cleared: $(cat "$WORK/out")"
grep -q 'why it is held' "$WORK/out" && fail "a cleared declaration is explained as held"
ok
expect_status 0 "$TQ" explain 100000000015 --db "$db"
grep -q '^cleared by hand (MANUAL_CLEAR) with discrepancies TAX_SHORT (tax short 700 đồng)' "$WORK/out" || fail "M1: $(cat "$WORK/out")"
has "TAX_SHORT: paid 0 of 700 đồng (short 700 đồng)"
expect_status 0 "$TQ" explain 100000000016 --db "$db"
grep -q '^rejected by an officer' "$WORK/out" || fail "R1: $(cat "$WORK/out")"

# ---- S1: new facts would clear it; reconcile agrees ----
expect_status 0 "$TQ" explain 100000000014 --db "$db"
has "TAX_SHORT: paid 0 of 5,000 đồng (short 5,000 đồng)"
echo 100000000014,KB-4,PAY,5000, | csv payments "$WORK/late.csv"
"$TQ" load payments "$WORK/late.csv" --db "$db" --quiet || fail "load late payment"
expect_status 0 "$TQ" explain 100000000014 --db "$db"
grep -q '^why it is held: nothing holds it any more' "$WORK/out" || fail "S1 after payment: $(cat "$WORK/out")"
grep -q '^verdict now *would clear' "$WORK/out" || fail "S1 verdict"
"$TQ" reconcile --db "$db" --quiet || fail "reconcile"
expect_status 0 "$TQ" explain 100000000014 --db "$db"
grep -q '^state *CLEARED' "$WORK/out" || fail "reconcile did not clear what explain said it would"
ok

# ---- unknown and malformed ----
expect_status 1 "$TQ" explain 100000000098 --db "$db"
grep -q "100000000098: no such declaration in $db" "$WORK/err" || fail "unknown: $(cat "$WORK/err")"
expect_status 1 "$TQ" explain 100000000099 --db "$db"
grep -q 'KB-99 .*PAY .*777 đồng$' "$WORK/out" || fail "payments for an unknown declaration are not listed: $(cat "$WORK/out")"
expect_status 2 "$TQ" explain 012345678901 --db "$db"
expect_status 2 "$TQ" explain 100000000011
expect_status 1 "$TQ" explain 100000000011 --db "$WORK/none"
grep -q "no database here" "$WORK/err" || fail "missing db: $(cat "$WORK/err")"

# ---- history from the journal ----
expect_status 0 "$TQ" explain 100000000011 --db "$db" --journal "$WORK/j.tqj"
grep -q '^{"seq":1,"ev":"DECL","decl_no":"100000000011",' "$WORK/out" || fail "history has no DECL at seq 1: $(cat "$WORK/out")"
grep -q '^{"seq":5,"ev":"AMEND","decl_no":"100000000011","tax_due":12500000}$' "$WORK/out" || fail "history has no AMEND at seq 5"
[ "$(grep -c '^{"seq":' "$WORK/out")" = 2 ] || fail "history lists events of other declarations"
grep -q 'replayed into the database through seq 15' "$WORK/out" || fail "replay mark"
ok
# M2: the DOCS_OK of its history came after its clearance by hand: shown, not applied
expect_status 0 "$TQ" explain 100000000019 --db "$db"
grep -q '^channel .*officer results applied: none$' "$WORK/out" || fail "M2 channel line: $(cat "$WORK/out")"
expect_status 0 "$TQ" explain 100000000019 --db "$db" --journal "$WORK/j.tqj"
grep -q '^officer *DOCS_OK at seq 15 of .*j.tqj (officer HQ01B1-0077): not applied: it came after the MANUAL_CLEAR at seq 14, when the declaration was final' "$WORK/out" ||
  fail "M2's officer result from its history: $(cat "$WORK/out")"
grep -q 'officer results received: none' "$WORK/out" && fail "M2 says no officer result was received"
ok
expect_status 0 "$TQ" explain 100000000019 --db "$db" --journal "$WORK/j.tqj" --json
awk -f "$HERE/check_json.awk" "$WORK/out" || fail "--json with officer results is not valid JSON"
grep -q '"officer_results":\[{"seq":15,"result":"DOCS_OK","officer":"HQ01B1-0077","applied":false,' "$WORK/out" || fail "--json officer results: $(cat "$WORK/out")"
# R1: the REJECT in its history was applied
expect_status 0 "$TQ" explain 100000000016 --db "$db" --journal "$WORK/j.tqj"
grep -q '^officer *REJECT at seq 9 of .*j.tqj (officer HQ01B1-0042): applied$' "$WORK/out" || fail "R1's REJECT: $(cat "$WORK/out")"
ok

# a journal not replayed here, given twice: both scanned
"$TQ" journal pack "$WORK/events.ndjson" -o "$WORK/other.tqj" --quiet || fail "pack other"
expect_status 0 "$TQ" explain 100000000016 --db "$db" -j "$WORK/j.tqj" --journal "$WORK/other.tqj"
grep -q '"ev":"OFFICER","decl_no":"100000000016","result":"REJECT"' "$WORK/out" || fail "R1 history"
grep -q 'has not been replayed into the database' "$WORK/out" || fail "the other journal is not marked as not replayed"
ok
# the history of a declaration the database does not know yet
expect_status 1 "$TQ" explain 100000000098 --db "$db" --journal "$WORK/j.tqj"
grep -q 'no event for 100000000098' "$WORK/out" || fail "empty history"
expect_status 4 "$TQ" explain 100000000011 --db "$db" --journal "$WORK/missing.tqj"
grep -q "missing.tqj" "$WORK/err" || fail "missing journal not named"

# ---- --json ----
expect_status 0 "$TQ" explain 100000000011 --db "$db" --journal "$WORK/j.tqj" --json
awk -f "$HERE/check_json.awk" "$WORK/out" || fail "--json is not valid JSON: $(cat "$WORK/out")"
[ ! -s "$WORK/err" ] || fail "--json wrote to stderr"
grep -q '"now":{"reasons":"TAX_SHORT|PERMIT_EXPIRED|PERMIT_HS|AWAIT_OFFICER","tax_short":500000,"would_clear":false}' "$WORK/out" || fail "--json verdict: $(cat "$WORK/out")"
grep -q '"history":\[{"journal":' "$WORK/out" || fail "--json history"
ok
# Issue 13: a journal named with a newline and bytes that are not UTF-8 (a stray FF, a
# truncated E2 82) stays valid JSON: escaped, and each ill-formed part one U+FFFD.
odd="$WORK/j"$'\n\xff\xe2\x82'"x.tqj"
cp "$WORK/j.tqj" "$odd" || fail "copy to an odd name"
expect_status 0 "$TQ" explain 100000000011 --db "$db" --journal "$odd" --json
if command -v python3 >/dev/null; then
  python3 -m json.tool "$WORK/out" >/dev/null 2>"$WORK/pyerr" ||
    fail "--json with an odd journal name is not valid JSON: $(head -c 300 "$WORK/pyerr")"
  python3 -c 'import json,sys; d=json.loads(open(sys.argv[1],"rb").read().decode("utf-8"))
sys.exit(d["history"][0]["journal"]!=sys.argv[2]+"/j\n\ufffd\ufffdx.tqj")' "$WORK/out" "$WORK" ||
    fail "--json journal name not repaired as U+FFFD: $(od -c "$WORK/out" | head -c 600)"
else
  awk -f "$HERE/check_json.awk" "$WORK/out" || fail "--json with an odd journal name is not valid JSON"
fi
grep -qF '"journal":"'"$WORK"'/j\n' "$WORK/out" || fail "the newline in the name is not escaped"
rm -f "$odd"
ok
expect_status 1 "$TQ" explain 100000000099 --db "$db" --json
awk -f "$HERE/check_json.awk" "$WORK/out" || fail "--json of an unknown declaration is not valid JSON"

# ---- a damaged record is the database's fault, named by table and key ----
# flip a byte of the value stored after each copy of H1's number in data.mdb (its
# cover and its declaration): explain either does not read that value (0) or exits 5
# naming the table and key, never a wrong answer or a crash
damaged=0
for off in $(grep -abo 100000000011 "$db/data.mdb" | cut -d: -f1); do
  rm -rf "$WORK/dbx" && cp -r "$db" "$WORK/dbx"
  flip "$WORK/dbx/data.mdb" $((off + 12 + 10)) 0x55
  got=0
  "$TQ" explain 100000000011 --db "$WORK/dbx" >"$WORK/out" 2>"$WORK/err" || got=$?
  no_sanitizer_report
  case $got in
    0) ;;
    # named by table and key, or (an index page, format 3) by the check at open
    5) grep -qE "the database is damaged: table '[a-z_]*', key '[^']*'|cannot open the database: .*data.mdb: tree '[a-z_]*': page [0-9]+" "$WORK/err" ||
         fail "damage not named by table and key: $(cat "$WORK/err")"
       damaged=$((damaged + 1)) ;;
    *) fail "explain on a damaged database exited $got: $(cat "$WORK/err")" ;;
  esac
done
[ "$damaged" -ge 1 ] || fail "no flip was reported as damage"
ok

# ---- skipped gaps: explain says a decision may lack the events of a gap ----
gdb=$WORK/gdb
"$TQ" gen --declarations 300 --seed 5 --out "$WORK/g" --frame-size 4096 --quiet || fail "gen"
cp "$WORK/g/journal.tqj" "$WORK/intact.tqj"
flip "$WORK/g/journal.tqj" $(($(stat -c %s "$WORK/g/journal.tqj") / 2)) 0x55
"$TQ" load permits "$WORK/g/permits.csv" --db "$gdb" --quiet || fail "load permits (gap)"
"$TQ" load payments "$WORK/g/payments.csv" --db "$gdb" --quiet || fail "load payments (gap)"
expect_status 5 "$TQ" replay "$WORK/g/journal.tqj" --db "$gdb" --skip-corrupt --quiet
read -r first last < <("$TQ" stat --db "$gdb" | sed -n 's/.*gap in journal [0-9a-f]*: seq \([0-9]*\)\.\.\([0-9]*\).*/\1 \2/p')
[ -n "${first:-}" ] || fail "stat lists no gap after --skip-corrupt"
# a declaration declared before the gap with an event inside it
gd=$("$TQ" journal cat "$WORK/intact.tqj" | awk -v a="$first" -v b="$last" '{
  match($0, /"seq":[0-9]+/); q = substr($0, RSTART + 6, RLENGTH - 6) + 0
  match($0, /"decl_no":"[0-9]+"/); d = substr($0, RSTART + 11, 12)
  if (q < a && $0 ~ /"ev":"DECL"/) seen[d] = 1
  else if (q >= a && q <= b && (d in seen)) { print d; exit } }')
[ -n "$gd" ] || fail "no declaration with an event in the gap seq $first..$last"
expect_status 0 "$TQ" explain "$gd" --db "$gdb"
grep -q '^skipped gaps  1 in this database: their events were not applied' "$WORK/out" || fail "explain does not show the gap: $(cat "$WORK/out")"
grep -q "^  journal [0-9a-f]\{32\}  seq $first..$last (frame [0-9]*), skipped " "$WORK/out" || fail "the gap's range: $(cat "$WORK/out")"
grep -q 'thongquan replay --fill-gap' "$WORK/out" || fail "no hint to --fill-gap"
expect_status 0 "$TQ" explain "$gd" --db "$gdb" --journal "$WORK/intact.tqj"
grep -q "^  (seq $first..$last of this journal was skipped by --skip-corrupt: its events were not applied)" "$WORK/out" || fail "history: the gap is not named: $(cat "$WORK/out")"
grep -q '^  ([1-9][0-9]* of the events above are in a skipped gap and were not applied)' "$WORK/out" || fail "history: the events in the gap are not counted"
expect_status 0 "$TQ" explain "$gd" --db "$gdb" --json
awk -f "$HERE/check_json.awk" "$WORK/out" || fail "--json with gaps is not valid JSON"
grep -q "\"skipped_gaps\":{\"total\":1,\"gaps\":\[{\"journal_id\":\"[0-9a-f]*\",\"first_seq\":$first,\"last_seq\":$last," "$WORK/out" || fail "--json gaps: $(cat "$WORK/out")"
ok
# filled: the gap is gone from explain
expect_status 0 "$TQ" replay --fill-gap "$WORK/intact.tqj" --db "$gdb" --quiet
expect_status 0 "$TQ" explain "$gd" --db "$gdb"
grep -q 'skipped gaps' "$WORK/out" && fail "explain still shows a filled gap"
ok
# a damaged frame in a --journal: said on stderr with its seq range, the events after it
# still listed, exit 5
expect_status 5 "$TQ" explain "$gd" --db "$gdb" --journal "$WORK/g/journal.tqj"
grep -q "^thongquan: $WORK/g/journal.tqj: frame [0-9]* (seq $first..$last) is corrupt: its events are not shown\$" "$WORK/err" || fail "the damaged frame is not named: $(cat "$WORK/err")"
grep -q "^history in $WORK/g/journal.tqj:\$" "$WORK/out" || fail "no history header: $(cat "$WORK/out")"
grep -q "^{\"seq\":[0-9]*,.*\"decl_no\":\"$gd\"" "$WORK/out" || fail "the events outside the frame are not listed: $(cat "$WORK/out")"
ok

# ---- an AMEND of lines (a held declaration's) replaces their values; office, kind stay ----
{
  printf '{"ev":"DECL","decl_no":"100000000051","kind":"B12","office":"02C3","declarant":"0101234567","registered_at":"2024-08-06T09:15:00+07:00","channel":2,"tax_due":0,"lines":[{"hs":"85171300","qty":1,"value":111}]}\n'
  printf '{"ev":"AMEND","decl_no":"100000000051","lines":[{"hs":"39269099","qty":2,"value":222},{"hs":"39269099","qty":3,"value":333}]}\n'
} >"$WORK/amend.ndjson"
"$TQ" journal pack "$WORK/amend.ndjson" -o "$WORK/amend.tqj" --quiet || fail "pack amend"
"$TQ" replay "$WORK/amend.tqj" --db "$WORK/adb" --quiet || fail "replay amend"
expect_status 0 "$TQ" explain 100000000051 --db "$WORK/adb"
grep -q '^office *02C3, kind B12$' "$WORK/out" || fail "office after AMEND: $(cat "$WORK/out")"
has "1  hs 39269099  qty 2  value 222 đồng"
has "2  hs 39269099  qty 3  value 333 đồng"
grep -q 'value 111' "$WORK/out" && fail "the DECL's value outlived the AMEND of its lines"
ok

# ---- stored before format 3: office, kind and values are not in the database ----
v1=$WORK/v1
mkdir -p "$v1" && cp "$TOP/tests/data/store-v1/data.mdb" "$v1/" || fail "copy fixture"
vj=$TOP/tests/data/store-v1/journal.tqj
vd=$(sed -n 2p "$TOP/tests/data/store-v1/decisions.csv" | cut -d, -f1)
expect_status 0 "$TQ" explain "$vd" --db "$v1"
grep -q '^office *not kept: stored before store format 3, as are kind and line values; --journal J.tqj reads them from its DECL$' "$WORK/out" ||
  fail "v1 without --journal: $(cat "$WORK/out")"
grep -q ' value ' "$WORK/out" && fail "v1: a line value shown that the database does not keep: $(cat "$WORK/out")"
grep -q '^last event' "$WORK/out" && fail "v1: a last event the database does not keep"
expect_status 0 "$TQ" explain "$vd" --db "$v1" --json
awk -f "$HERE/check_json.awk" "$WORK/out" || fail "v1 --json is not valid JSON"
grep -qF '"office":null,"kind":null,"office_from":null,"last_event":null,' "$WORK/out" || fail "v1 --json office: $(cat "$WORK/out")"
grep -qF '"value":' "$WORK/out" && fail "v1 --json shows values"
ok
# the --journal way: office and kind of its DECL, and the values of its lines
line=$("$TQ" journal cat "$vj" | grep "\"ev\":\"DECL\",\"decl_no\":\"$vd\"" | head -n 1)
[ -n "$line" ] || fail "the fixture's journal has no DECL for $vd"
vseq=$(echo "$line" | sed 's/.*"seq":\([0-9]*\).*/\1/')
voff=$(echo "$line" | sed 's/.*"office":"\([^"]*\)".*/\1/')
vkind=$(echo "$line" | sed 's/.*"kind":"\([^"]*\)".*/\1/')
vval=$(echo "$line" | sed 's/.*"lines":\[{[^}]*"value":\([0-9]*\).*/\1/')
expect_status 0 "$TQ" explain "$vd" --db "$v1" --journal "$vj"
grep -qF "office        $voff, kind $vkind (from the DECL at seq $vseq of $vj: stored before store format 3" "$WORK/out" ||
  fail "v1 with --journal: $(cat "$WORK/out")"
grep -q "^ *1  hs [0-9]*  qty [0-9,]*  value [0-9,]* đồng" "$WORK/out" || fail "v1 with --journal: no line value: $(cat "$WORK/out")"
expect_status 0 "$TQ" explain "$vd" --db "$v1" --journal "$vj" --json
awk -f "$HERE/check_json.awk" "$WORK/out" || fail "v1 --journal --json is not valid JSON"
grep -qF "\"office\":\"$voff\",\"kind\":\"$vkind\",\"office_from\":{\"journal\":\"$vj\",\"seq\":$vseq}," "$WORK/out" || fail "v1 --journal --json office: $(cat "$WORK/out")"
grep -qF "\"value\":$vval" "$WORK/out" || fail "v1 --journal --json: the first line's value $vval: $(cat "$WORK/out")"
cmp -s "$v1/data.mdb" "$TOP/tests/data/store-v1/data.mdb" || fail "explain changed a v1 database"
ok

# ---- a reader: works while a writer holds the database ----
exec 7>>"$db/lock"
flock -n 7 || fail "cannot take the writer lock"
expect_status 0 "$TQ" explain 100000000011 --db "$db"
exec 7>&-
done_ok
