#!/usr/bin/env bash
# Proves `thongquan check --db DIR` (issue 9; docs/pending/lmdbcheck.md):
#  * a sound database: exit 0, one "ok:" line naming DIR and what was walked; --quiet
#    prints nothing; --json is one valid JSON object with "ok":true and every count;
#  * no database: exit 1 naming DIR; no --db: exit 2;
#  * damage to the file's structure (a flipped txnid that would make LMDB silently open
#    the previous commit; a cut file; a damaged branch page): exit 5, each problem on
#    stdout ("problem: data.mdb: ..."), and a message on stderr naming DIR and the first
#    problem; --json lists them with "ok":false; --max-problems bounds the list;
#  * check changes nothing: data.mdb is byte-identical afterwards, damaged or not;
#  * check runs while a writer holds the database (it takes no lock), and while a
#    writer commits batch after batch it never calls the sound database damaged;
# The cross-checks between records (covers, use, states, marks) are proved with crafted
# records in tests/test_lmdb_check.c.
source "$(dirname "$0")/lib.sh"
DB=$WORK/db

# the JSON checker the --json checks below rely on: it takes what is JSON, refuses what is not
for j in '{}' '[]' ' [ true , false , null ] ' '{"a":[1,{"b":-2.5e3}],"c":"x\"y"}' '[[],[[]],{}]'; do
  printf '%s' "$j" | awk -f "$HERE/check_json.awk" 2>"$WORK/err" || fail "check_json.awk refused $j: $(cat "$WORK/err")"; ok
done
for j in '{"a":1,}' '[1,]' '{"a":1 "b":2}' '[1 2]' '{"a":1,"a":2}' '{' '[' '{"a"}' '{1:2}' '[1]]' '[,1]' '{"a":1}x'; do
  ! printf '%s' "$j" | awk -f "$HERE/check_json.awk" 2>/dev/null || fail "check_json.awk took $j"; ok
done
"$TQ" gen --declarations 300 --seed 5 --out "$WORK/g" --quiet || fail "gen"
"$TQ" load payments "$WORK/g/payments.csv" --db "$DB" --quiet || fail "load payments"
"$TQ" load permits "$WORK/g/permits.csv" --db "$DB" --quiet || fail "load permits"
"$TQ" replay "$WORK/g/journal.tqj" --db "$DB" --quiet || fail "replay"
PS=$(od -An -tu4 -j 40 -N 4 "$DB/data.mdb" | tr -d ' ')

# sound
expect_status 0 "$TQ" check --db "$DB"
grep -q "^ok: $DB: .* pages walked; .* 300 declarations" "$WORK/out" || fail "ok line: $(cat "$WORK/out")"
[ ! -s "$WORK/err" ] || fail "stderr on a sound database: $(cat "$WORK/err")"
expect_status 0 "$TQ" check --db "$DB" --quiet
[ ! -s "$WORK/out" ] || fail "--quiet printed: $(cat "$WORK/out")"
expect_status 0 "$TQ" check --db "$DB" --json
awk -f "$HERE/check_json.awk" "$WORK/out" || fail "--json is not valid JSON: $(cat "$WORK/out")"
grep -q '"ok":true' "$WORK/out" && grep -q '"declarations":300' "$WORK/out" &&
  grep -q '"problems":\[\]' "$WORK/out" || fail "--json: $(cat "$WORK/out")"
ok

# usage and missing
expect_status 1 "$TQ" check --db "$WORK/nothing-here"
grep -q "nothing-here" "$WORK/err" || fail "missing database not named: $(cat "$WORK/err")"
expect_status 2 "$TQ" check
expect_status 0 "$TQ" check --help
grep -q "example:" "$WORK/out" || fail "--help has no example"

# while a writer holds the lock: check takes none
exec 9>>"$DB/lock"
flock -x 9 || fail "flock"
expect_status 0 "$TQ" check --db "$DB" --quiet
exec 9>&-

# while a writer commits batch after batch, check never calls a sound database damaged
# (pages of the snapshot being walked may be recycled by the second commit after it:
# the file check starts again when the meta pages moved)
"$TQ" gen --declarations 60000 --seed 6 --frame-size 16384 --out "$WORK/big" --quiet || fail "gen big"
cp -a "$DB" "$WORK/busy"
"$TQ" replay "$WORK/big/journal.tqj" --db "$WORK/busy" --batch 200 --quiet &
writer=$!
n=0
while kill -0 $writer 2>/dev/null; do
  st=0
  "$TQ" check --db "$WORK/busy" >"$WORK/out" 2>"$WORK/err" || st=$?
  [ $st = 0 ] || [ $st = 3 ] || fail "check during a replay exited $st: $(head -c 600 "$WORK/out" "$WORK/err")"
  n=$((n + 1))
done
wait $writer || fail "the writer failed"
echo "checks while the writer ran: $n"
[ $n -ge 1 ] || fail "the writer ended before a check could run"
ok

newest_meta() { # offset of the newest meta page
  local t0 t1
  t0=$(od -An -tu8 -j 144 -N 8 "$1" | tr -d ' ')
  t1=$(od -An -tu8 -j $((PS + 144)) -N 8 "$1" | tr -d ' ')
  if [ "$t1" -gt "$t0" ]; then echo "$PS"; else echo 0; fi
}
damaged() { rm -rf "$WORK/bad"; cp -a "$DB" "$WORK/bad"; }

# a flipped txnid: LMDB itself would open the older commit without a word
damaged
flip "$WORK/bad/data.mdb" $(( $(newest_meta "$WORK/bad/data.mdb") + 145 )) 4
sum=$(md5sum <"$WORK/bad/data.mdb")
expect_status 5 "$TQ" check --db "$WORK/bad"
grep -q "^problem: data.mdb: meta pages: txnids .* not consecutive" "$WORK/out" || fail "txnid: $(cat "$WORK/out")"
grep -q "$WORK/bad: the database is damaged: 1 problem" "$WORK/err" || fail "stderr: $(cat "$WORK/err")"
[ "$(md5sum <"$WORK/bad/data.mdb")" = "$sum" ] || fail "check changed a damaged file"
expect_status 5 "$TQ" check --db "$WORK/bad" --json
awk -f "$HERE/check_json.awk" "$WORK/out" || fail "--json with problems is not valid JSON: $(cat "$WORK/out")"
grep -q '"ok":false' "$WORK/out" && grep -q '"table":"data.mdb"' "$WORK/out" || fail "--json: $(cat "$WORK/out")"

# a cut file: the pages past the cut are named
damaged
size=$(stat -c %s "$WORK/bad/data.mdb")
truncate -s $((size / 2)) "$WORK/bad/data.mdb"
expect_status 5 "$TQ" check --db "$WORK/bad"
grep -q "beyond the end of the file" "$WORK/out" || fail "truncation: $(cat "$WORK/out")"
damaged
: >"$WORK/bad/data.mdb"
expect_status 5 "$TQ" check --db "$WORK/bad"
grep -q "empty" "$WORK/out" || fail "empty file: $(cat "$WORK/out")"

# damage every node offset of one page: many problems, bounded by --max-problems
damaged
for ((pg = 2; pg * PS < size; pg++)); do
  fl=$(od -An -tu2 -j $((pg * PS + 10)) -N 2 "$WORK/bad/data.mdb" | tr -d ' ')
  [ "$fl" = 2 ] && flip "$WORK/bad/data.mdb" $((pg * PS + 16)) 1
done
expect_status 5 "$TQ" check --db "$WORK/bad"
n=$(grep -c "^problem: " "$WORK/out")
[ "$n" -ge 2 ] || fail "several damaged pages gave $n problems: $(cat "$WORK/out")"
expect_status 5 "$TQ" check --db "$WORK/bad" --max-problems 1
[ "$(grep -c "^problem: " "$WORK/out")" = 1 ] || fail "--max-problems 1: $(cat "$WORK/out")"

# the sound database was never touched
expect_status 0 "$TQ" check --db "$DB" --quiet
no_sanitizer_report
done_ok
