#!/usr/bin/env bash
# Proves (issue 9, STORE.md §1.1 and tq_store_open): a data.mdb cut short (8 KiB, 12 KiB,
# half, size - 4 KiB), with a flipped txnid, or emptied never kills a command with
# SIGBUS and never becomes a new database: stat, export, reconcile, load and replay each
# exit 5 with a message naming the file, and the damaged file is left as it was.
source "$(dirname "$0")/lib.sh"
"$TQ" gen --declarations 2000 --seed 5 --out "$WORK/g" --quiet || fail "gen"
GOOD=$WORK/good
"$TQ" load payments "$WORK/g/payments.csv" --db "$GOOD" --quiet || fail "load"
"$TQ" load permits "$WORK/g/permits.csv" --db "$GOOD" --quiet || fail "load"
"$TQ" replay "$WORK/g/journal.tqj" --db "$GOOD" --quiet || fail "replay"
size=$(stat -c %s "$GOOD/data.mdb")
[ "$size" -gt 65536 ] || fail "database too small to cut: $size"

all_refuse() {   # $1 = label; every command exits 5, the file unchanged
  local db=$WORK/db sum
  sum=$(md5sum <"$db/data.mdb")
  for cmd in "stat --db $db" "export decisions --db $db -o $WORK/x.csv" \
             "reconcile --db $db" "load permits $WORK/g/permits.csv --db $db" \
             "replay $WORK/g/journal.tqj --db $db"; do
    # shellcheck disable=SC2086
    expect_status 5 "$TQ" $cmd
    no_sanitizer_report
    grep -q "data.mdb\|database" "$WORK/err" || fail "$1: $cmd: message: $(cat "$WORK/err")"
  done
  [ "$(md5sum <"$db/data.mdb")" = "$sum" ] || fail "$1: the damaged file was changed"; ok
}

for cut in 8192 12288 $((size / 2)) $((size - 4096)); do
  rm -rf "$WORK/db"; cp -r "$GOOD" "$WORK/db"
  truncate -s "$cut" "$WORK/db/data.mdb"
  all_refuse "cut to $cut"
done

# The txnid of the newest meta flipped (LMDB would silently fall back to the older
# commit): the check refuses it.
rm -rf "$WORK/db"; cp -r "$GOOD" "$WORK/db"
python3 - "$WORK/db/data.mdb" <<'EOP'
import struct, sys
f = open(sys.argv[1], "r+b")
psize = 4096
best = None
for pg in (0, 1):
    f.seek(pg * psize + 16 + 128)          # MDB_meta: txnid after 128 bytes of fields
    (t,) = struct.unpack("<Q", f.read(8))
    if best is None or t > best[1]:
        best = (pg, t)
f.seek(best[0] * psize + 16 + 128)
f.write(struct.pack("<Q", best[1] ^ 0x100))
EOP
all_refuse "txnid flipped"

# Emptied beside the marker: damage, never a new database.
rm -rf "$WORK/db"; cp -r "$GOOD" "$WORK/db"
: >"$WORK/db/data.mdb"
all_refuse "emptied"
done_ok
