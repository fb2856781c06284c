#!/usr/bin/env bash
# Proves `thongquan backup --db DIR OUT` (issue 9) and the restore the runbook gives:
#  * the copy is a database: `check` passes on it and its exports equal the source's;
#  * OUT must be new or empty: an existing non-empty OUT is refused (exit 2) and left
#    exactly as it was; an empty directory is accepted; a name with a space or a
#    leading dash (after --) works;
#  * a consistent snapshot while a writer commits: backups taken during a replay each
#    check clean, and one taken after it equals the final state;
#  * the restore: with the database gone, moving OUT into DIR's place gives back the
#    same exports, and a replay on the restored database gives exactly what it gives on
#    the original;
#  * a damaged source is refused (exit 5, naming DIR) and nothing is left in OUT.
source "$(dirname "$0")/lib.sh"
DB=$WORK/db
"$TQ" gen --declarations 300 --seed 21 --out "$WORK/g" --quiet || fail "gen"
"$TQ" gen --declarations 60 --seed 22 --out "$WORK/g2" --quiet || fail "gen 2"
fresh_db "$DB"
"$TQ" replay "$WORK/g/journal.tqj" --db "$DB" --quiet || fail "replay"

same() { # same A B : the exports (export_db) A and B are byte-identical
  cmp -s "$1" "$2" || fail "exports differ: $1 vs $2"
  ok
}
export_db "$DB" "$WORK/orig"

# a copy that is a database
expect_status 0 "$TQ" backup --db "$DB" "$WORK/b1"
grep -q "^backed up to $WORK/b1: " "$WORK/out" || fail "backup said: $(cat "$WORK/out")"
expect_status 0 "$TQ" check --db "$WORK/b1" --quiet
export_db "$WORK/b1" "$WORK/b1x"
same "$WORK/orig" "$WORK/b1x"
expect_status 0 "$TQ" backup --help
grep -q "example:" "$WORK/out" || fail "--help has no example"
expect_status 2 "$TQ" backup --db "$DB"

# OUT must be new or empty
mkdir "$WORK/full"; echo keep >"$WORK/full/precious"
expect_status 2 "$TQ" backup --db "$DB" "$WORK/full"
grep -q "not empty" "$WORK/err" || fail "non-empty OUT: $(cat "$WORK/err")"
[ "$(ls "$WORK/full")" = precious ] && [ "$(cat "$WORK/full/precious")" = keep ] || fail "OUT was touched"
mkdir "$WORK/empty"
expect_status 0 "$TQ" backup --db "$DB" "$WORK/empty" --quiet
[ ! -s "$WORK/out" ] || fail "--quiet printed: $(cat "$WORK/out")"
expect_status 0 "$TQ" check --db "$WORK/empty" --quiet
(cd "$WORK" && "$TQ" backup --db "$DB" -- "-dash dir") >"$WORK/out" 2>"$WORK/err" || fail "backup to '-dash dir': $(cat "$WORK/err")"
expect_status 0 "$TQ" check --db "$WORK/-dash dir" --quiet

# while a writer commits: every copy is one consistent commit
"$TQ" gen --declarations 60000 --seed 23 --frame-size 16384 --out "$WORK/big" --quiet || fail "gen big"
cp -a "$DB" "$WORK/busy"
"$TQ" replay "$WORK/big/journal.tqj" --db "$WORK/busy" --batch 500 --quiet 2>/dev/null &
writer=$!
n=0
while kill -0 $writer 2>/dev/null && [ $n -lt 5 ]; do
  expect_status 0 "$TQ" backup --db "$WORK/busy" "$WORK/during$n" --quiet
  expect_status 0 "$TQ" check --db "$WORK/during$n" --quiet
  n=$((n + 1))
done
wait $writer || fail "the writer failed"
expect_status 0 "$TQ" backup --db "$WORK/busy" "$WORK/after" --quiet
export_db "$WORK/busy" "$WORK/busyx"
export_db "$WORK/after" "$WORK/afterx"
same "$WORK/busyx" "$WORK/afterx"
echo "backups taken while the writer ran: $n"
[ $n -ge 1 ] || fail "the writer ended before a backup could run"

# the restore: the database is lost, the backup takes its place
cp -a "$DB" "$WORK/twin"
rm -rf "$DB"
mv "$WORK/b1" "$DB"
export_db "$DB" "$WORK/restored"
same "$WORK/orig" "$WORK/restored"
"$TQ" replay "$WORK/g2/journal.tqj" --db "$DB" --quiet || fail "replay on the restored database"
"$TQ" replay "$WORK/g2/journal.tqj" --db "$WORK/twin" --quiet || fail "replay on the original"
export_db "$DB" "$WORK/r2"
export_db "$WORK/twin" "$WORK/t2"
same "$WORK/r2" "$WORK/t2"

# a damaged source is refused, nothing copied
PS=$(od -An -tu4 -j 40 -N 4 "$DB/data.mdb" | tr -d ' ')
cp -a "$DB" "$WORK/bad"
t0=$(od -An -tu8 -j 144 -N 8 "$WORK/bad/data.mdb" | tr -d ' ')
t1=$(od -An -tu8 -j $((PS + 144)) -N 8 "$WORK/bad/data.mdb" | tr -d ' ')
at=145; [ "$t1" -gt "$t0" ] && at=$((PS + 145))   # the newest meta's txnid, bit 10
b=$(od -An -tu1 -j $at -N 1 "$WORK/bad/data.mdb" | tr -d ' ')
printf "$(printf '\\%03o' $((b ^ 4)))" | dd of="$WORK/bad/data.mdb" bs=1 seek=$at conv=notrunc status=none
expect_status 5 "$TQ" backup --db "$WORK/bad" "$WORK/fromdamaged"
grep -qF "$WORK/bad" "$WORK/err" || fail "damaged source not named: $(cat "$WORK/err")"
[ ! -e "$WORK/fromdamaged" ] || fail "something was left in OUT"
no_sanitizer_report
done_ok
