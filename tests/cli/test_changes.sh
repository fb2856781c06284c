#!/usr/bin/env bash
# Proves `thongquan export changes` (tools/cmd_export.c, tq_export_changes), issue 12:
#  - --since 0 writes every change, numbered 1..M without a gap, each with its cause and,
#    for a journal event, the journal id (32 hex digits) and seq; "last change: M" on
#    stderr;
#  - exactly once: pulling again with --since M writes the header alone and says M
#    again; after a reconcile and another replay, --since M gives only the new changes,
#    numbered on from M+1;
#  - the feed folded by decl_no (last change wins) is the decisions export;
#  - --ndjson: one valid JSON object a line, the same changes; -o FILE: the same bytes;
#  - --since beyond the last change: exit 2, nothing written, -o not created;
#  - export decisions and permits are as before and refuse the feed's options.
source "$(dirname "$0")/lib.sh"
db=$WORK/db

decl() { # decl NO CHANNEL TAX PERMIT
  printf '{"ev":"DECL","decl_no":"%s","kind":"A11","office":"01B1","declarant":"0101234567","registered_at":"2024-08-06T09:15:00+07:00","channel":%s,"tax_due":%s,"lines":[{"hs":"85171300","qty":1,"value":1000%s}]}\n' \
    "$1" "$2" "$3" "${4:+,\"permit\":\"$4\"}"
}
{
  decl 100000000021 1 1000          # held: tax short, paid later (reconcile clears it)
  decl 100000000022 1 0 P-OK        # cleared
  decl 100000000023 2 0             # held: awaiting an officer
  decl 100000000024 1 0 P-NONE      # held: permit missing
} >"$WORK/a.ndjson"
{
  echo '{"ev":"OFFICER","decl_no":"100000000023","result":"DOCS_OK","officer":"HQ01B1-0042"}'
  echo '{"ev":"CANCEL","decl_no":"100000000024"}'
  decl 100000000025 1 0
} >"$WORK/b.ndjson"
cat >"$WORK/permits.csv" <<'EOF'
permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota
P-OK,BCT,0101234567,2024-01-01,2024-12-31,VALID,8517,0
EOF
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000021,KB-21,PAY,1000,\n' >"$WORK/payments.csv"
hdr=change,decl_no,state,reasons,version,manual,cause,src_id,src_seq
expect_status 0 "$TQ" journal pack "$WORK/a.ndjson" -o "$WORK/a.tqj"
expect_status 0 "$TQ" journal pack "$WORK/b.ndjson" -o "$WORK/b.tqj"
expect_status 0 "$TQ" load permits "$WORK/permits.csv" --db "$db"
expect_status 0 "$TQ" replay "$WORK/a.tqj" --db "$db"

C() { "$TQ" export changes --db "$db" "$@"; }
last_of() { sed -n 's/^last change: \([0-9]*\)$/\1/p' "$WORK/err"; }

# ---- from the start ----
expect_status 0 C --since 0
head -1 "$WORK/out" | grep -qx "$hdr" || fail "header: $(head -1 "$WORK/out")"
n1=$(last_of)
[ "$n1" = 4 ] || fail "after the first replay: last change '$n1', wanted 4 (one per new declaration): $(cat "$WORK/out")"
awk -F, 'NR > 1 && $1 != NR - 1 { print "row " NR ": change " $1; bad = 1 } END { exit bad }' "$WORK/out" \
  || fail "the numbers are not 1..M in order"
awk -F, 'NR > 1 && !($7 == "event" && length($8) == 32 && $8 !~ /[^0-9a-f]/ && $9 >= 1 && $9 <= 4 && NF == 9) { print; bad = 1 } END { exit bad }' "$WORK/out" \
  || fail "an event change without its journal id and seq (above)"
grep -q '^2,100000000022,CLEARED,,0,0,event,[0-9a-f]*,2$' "$WORK/out" || fail "the change of 22: $(cat "$WORK/out")"
grep -q '^4,100000000024,HELD,PERMIT_MISSING,0,0,event,' "$WORK/out" || fail "the change of 24: $(cat "$WORK/out")"
ok

# ---- exactly once: nothing new ----
expect_status 0 C --since "$n1"
[ "$(cat "$WORK/out")" = "$hdr" ] || fail "nothing new printed rows: $(cat "$WORK/out")"
[ "$(last_of)" = "$n1" ] || fail "nothing new: $(cat "$WORK/err")"
expect_status 0 C --since "$n1" --ndjson
[ ! -s "$WORK/out" ] || fail "nothing new printed NDJSON: $(cat "$WORK/out")"

# ---- a reconcile, then another replay: only the new changes, numbered on ----
expect_status 0 "$TQ" load payments "$WORK/payments.csv" --db "$db"
expect_status 0 "$TQ" reconcile --db "$db" --quiet
expect_status 0 C --since "$n1"
n2=$(last_of)
[ "$(tail -n +2 "$WORK/out")" = "5,100000000021,CLEARED,,0,0,reconcile,," ] \
  || fail "the reconcile's change: $(cat "$WORK/out")"
[ "$n2" = 5 ] || fail "last change after the reconcile: $n2"
expect_status 0 "$TQ" replay "$WORK/b.tqj" --db "$db"
expect_status 0 C --since "$n2"
n3=$(last_of)
cut -d, -f1,2,3,7,9 "$WORK/out" | tail -n +2 >"$WORK/new"
printf '6,100000000023,CLEARED,event,1\n7,100000000024,CANCELLED,event,2\n8,100000000025,CLEARED,event,3\n' >"$WORK/want"
diff "$WORK/want" "$WORK/new" >&2 || fail "the second replay's changes differ (above)"
[ "$n3" = 8 ] || fail "last change after the second replay: $n3"
ok

# ---- the whole feed, folded, is the decisions export ----
expect_status 0 C --since 0 -o "$WORK/feed.csv"
[ "$(last_of)" = "$n3" ] || fail "-o: $(cat "$WORK/err")"
[ "$(wc -l <"$WORK/feed.csv")" = $((n3 + 1)) ] || fail "the feed from 0 has $(wc -l <"$WORK/feed.csv") lines"
"$TQ" export decisions --db "$db" >"$WORK/decisions.csv" || fail "export decisions"
awk -F, 'NR > 1 { s[$2] = $2 "," $3 "," $5 "," $4 "," $6 } END { for (k in s) print s[k] }' "$WORK/feed.csv" | sort >"$WORK/folded"
awk -F, 'NR > 1 { print $1 "," $2 "," $3 "," $4 "," $6 }' "$WORK/decisions.csv" | sort >"$WORK/decided"
diff "$WORK/decided" "$WORK/folded" >&2 || fail "the folded feed is not the decisions (above)"
ok

# ---- NDJSON ----
expect_status 0 C --since 0 --ndjson
[ "$(wc -l <"$WORK/out")" = "$n3" ] || fail "ndjson has $(wc -l <"$WORK/out") lines"
while IFS= read -r l; do
  printf '%s\n' "$l" >"$WORK/one.json"
  awk -f "$HERE/check_json.awk" "$WORK/one.json" || fail "not one JSON object: $l"
done <"$WORK/out"
grep -qx '{"change":5,"decl_no":"100000000021","state":"CLEARED","reasons":"","version":0,"manual":false,"cause":"reconcile","src_id":null,"src_seq":0}' "$WORK/out" \
  || fail "the reconcile's change in NDJSON: $(sed -n 5p "$WORK/out")"
ok

# ---- beyond the last change; the other exports unchanged ----
expect_status 2 C --since $((n3 + 1)) -o "$WORK/beyond.csv"
grep -q "beyond the last change ($n3)" "$WORK/err" || fail "beyond: $(cat "$WORK/err")"
[ ! -e "$WORK/beyond.csv" ] && [ ! -s "$WORK/out" ] || fail "beyond the last change wrote something"
ok
expect_status 2 C
expect_status 2 C --since x
expect_status 2 C --since 0 --csv --ndjson
expect_status 2 "$TQ" export decisions --db "$db" --since 0
expect_status 0 "$TQ" export decisions --db "$db"
head -1 "$WORK/out" | grep -qx 'decl_no,state,version,reasons,tax_short,manual' || fail "export decisions changed"
expect_status 0 "$TQ" export permits --db "$db"
head -1 "$WORK/out" | grep -qx 'permit_no,used,quota' || fail "export permits changed"
no_sanitizer_report
done_ok
