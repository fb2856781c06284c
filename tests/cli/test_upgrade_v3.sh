#!/usr/bin/env bash
# Proves (engine/STORE.md §3.1, §3.12): a database written by the version-3 store
# (tests/data/store-v3) is read as it is by today's readers (lists through by_office),
# and the upgrade builds the held table in place (then format 5's era indexes): exports
# and lists give the same bytes as format 3 gave (the worklists' list now from held),
# `check` is clean;
# killed with SIGKILL at random instants and run again, it ends where the uninterrupted
# upgrade did; afterwards payments and a replay keep held up (held vs a full walk, cmp).
#   TQ_KILLS (default 8) kills.
source "$(dirname "$0")/lib.sh"
FX=$TOP/tests/data/store-v3
command -v zstd >/dev/null || { echo "skipped: no zstd to unpack the fixture"; exit 77; }
kills=${TQ_KILLS:-8}
ASOF=2024-09-01
unpack() { rm -rf "$1" && mkdir -p "$1" && zstd -dc "$FX/data.mdb.tar.zst" | tar -C "$1" -xf - ||
  fail "unpack the fixture"; }
offices() { cut -d, -f2 "$FX/held-all.csv" | tail -n +2 | sort -u; }
# by_office DB OUT: every office's HELD list (headers dropped), offices in sorted order
by_office() { for o in $(offices); do "$TQ" list --db "$1" --office "$o" --state HELD --csv \
  --as-of $ASOF | tail -n +2; done >"$2"; }
# same_lists DB WHAT: both lists give the bytes format 3 gave
same_lists() {
  by_office "$1" "$WORK/bo.csv"
  cmp -s "$WORK/bo.csv" "$FX/held-by-office.csv" || fail "$2: office lists differ from format 3's"
  "$TQ" list --db "$1" --state HELD --csv --as-of $ASOF >"$WORK/all.csv"
  cmp -s "$WORK/all.csv" "$FX/held-all.csv" || fail "$2: the full list differs from format 3's"
}

unpack "$WORK/v3"
reader_leaves_as_is "$WORK/v3" "today's reader of v3"

cp -a "$WORK/v3" "$WORK/up"
expect_status 0 "$TQ" upgrade --db "$WORK/up"
grep -q "upgraded from store format 3 to 5: the held table built, and the declarant and permit indexes rebuilt by era" "$WORK/out" || fail "upgrade said: $(cat "$WORK/out")"; ok
upgraded_like_fixture "$WORK/up"

# Killed at random instants, rerun: the same end state.  Between the kill and the rerun
# a reader sees format 3 (or 4 when it was done), with the same lists; only a finished
# upgrade has the records of the held table.
RANDOM=4343
kill_upgrades "$WORK/v3" "$WORK/up" "$kills" "$(check_state "$WORK/up" | grep -o '"records":[0-9]*')" same_lists

# Upkeep after the upgrade: a payment of every held declaration of the busiest office,
# then the held list against a full walk of the same database (every column, cmp).
o=$(cut -d, -f2 "$FX/held-all.csv" | tail -n +2 | sort | uniq -c | sort -rn | awk 'NR==1{print $2}')
{ echo "decl_no,receipt_no,kind,amount,valid_until"
  grep ",$o," "$FX/held-all.csv" | cut -d, -f1 | awk '{printf "%s,UP-%d,PAY,1000,\n", $1, NR}'; } >"$WORK/pay.csv"
expect_status 0 "$TQ" load payments "$WORK/pay.csv" --db "$WORK/up"
"$TQ" list --db "$WORK/up" --office "$o" --state HELD --csv --as-of $ASOF >"$WORK/h.csv"
"$TQ" list --db "$WORK/up" --state HELD --csv --as-of $ASOF | awk -F, -v o="$o" 'NR==1||$2==o' >"$WORK/w.csv"
cmp -s "$WORK/h.csv" "$WORK/w.csv" || fail "after payments: held list differs from the walk's"; ok
cmp -s "$WORK/h.csv" <(awk -F, -v o="$o" 'NR==1||$2==o' "$FX/held-all.csv") &&
  fail "the payments changed no covered: the comparison proves nothing"; ok
expect_status 0 "$TQ" check --db "$WORK/up"
done_ok
