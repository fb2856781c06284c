#!/usr/bin/env bash
# Proves (engine/STORE.md §3.1, §3.11): a database written by the version-2 store
# (tests/data/store-v2, written by main at bb8d3fb) is read as it is by today's readers,
# and `thongquan upgrade` takes it to format 5 in place: exports unchanged, the feed
# seeded with exactly one change per declaration, `check` clean; killed with SIGKILL at
# random instants and run again, it ends in exactly the same state; --journal fills
# office and kind once; a current database has nothing to do; bad input exits 1 or 2.
#   TQ_KILLS (default 12) kills.
source "$(dirname "$0")/lib.sh"
FX=$TOP/tests/data/store-v2
command -v zstd >/dev/null || { echo "skipped: no zstd to unpack the fixture"; exit 77; }
kills=${TQ_KILLS:-12}

unpack() { rm -rf "$1" && mkdir -p "$1" && zstd -dc "$FX/data.mdb.tar.zst" | tar -C "$1" -xf - ||
  fail "unpack the fixture"; }
# changes DIR : the number of changes `check` walked (it also checks there is no gap)
changes() { "$TQ" check --db "$1" --json | grep -o '"changes":[0-9]*' | cut -d: -f2; }

unpack "$WORK/v2"
before=$(md5sum <"$WORK/v2/data.mdb")
# A reader of version 2 reads the declarations and writes nothing.
expect_status 0 "$TQ" export decisions --db "$WORK/v2" -o "$WORK/v2.csv"
cmp -s "$WORK/v2.csv" "$FX/decisions.csv" || fail "today's reader of v2: decisions differ from bb8d3fb's"; ok
[ "$(md5sum <"$WORK/v2/data.mdb")" = "$before" ] || fail "a reader changed data.mdb"; ok

# The upgrade.
cp -a "$WORK/v2" "$WORK/up"
expect_status 0 "$TQ" upgrade --db "$WORK/up"
grep -q "upgraded from store format 2 to 5: 1,500 declarations rewritten, each with one change in the feed, the held table built, and the declarant and permit indexes rebuilt by era" "$WORK/out" ||
  fail "upgrade said: $(cat "$WORK/out")"; ok
grep -q '^format=' "$WORK/up/thongquan.db" || fail "no marker"; ok
expect_status 0 "$TQ" export decisions --db "$WORK/up" -o "$WORK/up.csv"
cmp -s "$WORK/up.csv" "$WORK/v2.csv" || fail "after upgrade: decisions differ"; ok
expect_status 0 "$TQ" export permits --db "$WORK/up" -o "$WORK/upp.csv"
cmp -s "$WORK/upp.csv" "$FX/permits-export.csv" || fail "after upgrade: permits differ"; ok
expect_status 0 "$TQ" check --db "$WORK/up"
[ "$(changes "$WORK/up")" = 1500 ] || fail "feed: $(changes "$WORK/up") changes, not one per declaration (1500)"; ok

# Nothing to do the second time.
expect_status 0 "$TQ" upgrade --db "$WORK/up"
grep -q "already at store format 5: nothing to do" "$WORK/out" || fail "second upgrade said: $(cat "$WORK/out")"; ok
[ "$(changes "$WORK/up")" = 1500 ] || fail "a second upgrade added changes"; ok

# Killed at random instants and run again: the same end state as the uninterrupted
# upgrade.  A reader between the kill and the rerun reads the declarations, refusing
# nothing; the version (then the marker) is written last, so a kill before it leaves a
# v2 database, whose check shows no feed of 1500 changes.
# same_decisions DB WHAT: DB's decisions are the ones v2 gave
same_decisions() {
  expect_status 0 "$TQ" export decisions --db "$1" -o "$WORK/k.csv"
  cmp -s "$WORK/k.csv" "$WORK/v2.csv" || fail "$2: decisions differ"
}
RANDOM=1212
kill_upgrades "$WORK/v2" "$WORK/up" "$kills" '"changes":1500' same_decisions

# Backfill: office, kind and line values from the journal, once.
expect_status 0 "$TQ" upgrade --db "$WORK/up" --journal "$FX/journal.tqj"
grep -q "1,500 declarations given office, kind and line values from 1 journal" "$WORK/out" ||
  fail "backfill said: $(cat "$WORK/out")"; ok
expect_status 0 "$TQ" upgrade --db "$WORK/up" --journal "$FX/journal.tqj"
grep -q " 0 declarations given office" "$WORK/out" || fail "a second backfill: $(cat "$WORK/out")"; ok
expect_status 0 "$TQ" check --db "$WORK/up"
expect_status 0 "$TQ" export decisions --db "$WORK/up" -o "$WORK/bf.csv"
cmp -s "$WORK/bf.csv" "$WORK/v2.csv" || fail "backfill changed decisions"; ok
# Straight from v2 with --journal: both in one run.
cp -a "$WORK/v2" "$WORK/both"
expect_status 0 "$TQ" upgrade --db "$WORK/both" --journal "$FX/journal.tqj"
grep -q "upgraded from store format 2 to 5" "$WORK/out" && grep -q "1,500 declarations given" "$WORK/out" ||
  fail "upgrade --journal said: $(cat "$WORK/out")"; ok

# Bad input.
expect_status 1 "$TQ" upgrade --db "$WORK/nothing-here"
[ ! -e "$WORK/nothing-here" ] || fail "upgrade created a database"; ok
expect_status 1 "$TQ" upgrade --db "$WORK/up" --journal "$WORK/missing.tqj"
grep -q "missing.tqj" "$WORK/err" || fail "missing journal not named: $(cat "$WORK/err")"; ok
expect_status 2 "$TQ" upgrade
expect_status 2 "$TQ" upgrade --db "$WORK/up" --bogus
expect_status 0 "$TQ" upgrade --help
grep -q "example:" "$WORK/out" || fail "no example in --help"; ok
echo "not a journal" >"$WORK/bad.tqj"
expect_status 5 "$TQ" upgrade --db "$WORK/up" --journal "$WORK/bad.tqj"
done_ok
