#!/usr/bin/env bash
# Proves (README exit status 4, SPEC §6 "Nothing lost"): a replay into a database on a
# filesystem that fills up (a small tmpfs) fails with exit 4 and a message saying the
# disk is full; the database still opens (`stat`, `export` work) and is exactly at its
# last commit (the export equals a replay of the journal cut at the mark `stat` shows);
# and once there is room again - the database copied to a roomy directory, or the
# filesystem made bigger in place - the same command completes with exactly the export
# of an uninterrupted replay.
# The same for the upgrade to format 5 (tests/data/store-v4): exit 4, format 4 left
# sound; with room again it ends at format 5.
# Needs to mount a tmpfs (root); prints "skipped: ..." and exits 77 otherwise.
#   TQ_FULL_DISK_DECLARATIONS (default 30000).
source "$(dirname "$0")/lib.sh"
n=${TQ_FULL_DISK_DECLARATIONS:-30000}
need_tmpfs 1m
umount "$MNT" || fail "umount"

"$TQ" gen --declarations "$n" --seed 51 --frame-size 16384 --out "$WORK/g" --quiet || fail "gen"
J=$WORK/g/journal.tqj

rm -rf "$WORK/loaded"
"$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/loaded" --quiet || fail "load payments"
"$TQ" load permits "$WORK/g/permits.csv" --db "$WORK/loaded" --quiet || fail "load permits"
cp -a "$WORK/loaded" "$WORK/ref"
"$TQ" replay "$J" --db "$WORK/ref" --quiet || fail "reference replay"
export_db "$WORK/ref" "$WORK/ref.csv"
last=$(mark_of "$WORK/ref")

# A filesystem with room for the loaded database and 1 MiB more: the replay needs more.
loaded_kb=$(du -sk "$WORK/loaded" | cut -f1)
full_kb=$(du -sk "$WORK/ref" | cut -f1)
size_kb=$((loaded_kb + 1024))
[ "$full_kb" -gt $((size_kb + 512)) ] || fail "the replayed database ($full_kb KiB) would fit in $size_kb KiB: make the backlog larger"
mount -t tmpfs -o size=${size_kb}k tmpfs "$MNT" || fail "mount tmpfs"
cp -a "$WORK/loaded" "$MNT/db" || fail "copy the database onto the tmpfs"
echo "tmpfs of $size_kb KiB holding the loaded database ($loaded_kb KiB); replayed it needs $full_kb KiB"

got=0
"$TQ" replay "$J" --db "$MNT/db" --batch 500 >"$WORK/out" 2>"$WORK/err" || got=$?
[ "$got" = 4 ] || fail "replay on a full disk exited $got, wanted 4: $(head -c 500 "$WORK/err")"
grep -qi "no space left" "$WORK/err" || fail "the message does not say the disk is full: $(cat "$WORK/err")"
no_sanitizer_report
ok
echo "replay on the full disk: exit 4: $(head -n 1 "$WORK/err")"

# the database opens and is exactly at its last commit
"$TQ" stat --db "$MNT/db" >"$WORK/stat" 2>"$WORK/err" || fail "stat after the full disk: $(cat "$WORK/err")"
m=$(mark_of "$MNT/db")
[ "$m" -gt 0 ] && [ "$m" -lt "$last" ] || fail "mark $m: expected a partial replay (1..$((last - 1)))"
export_db "$MNT/db" "$WORK/got.csv"
journal_cut "$J" "$m" "$WORK/prefix.tqj"
cp -a "$WORK/loaded" "$WORK/pdb"
"$TQ" replay "$WORK/prefix.tqj" --db "$WORK/pdb" --quiet || fail "replay of the prefix"
export_db "$WORK/pdb" "$WORK/prefix.csv"
cmp -s "$WORK/got.csv" "$WORK/prefix.csv" || fail "the database on the full disk is not exactly at its last commit (seq $m)"
ok
echo "after the failure: stat and export work; the database is exactly at its last commit (seq $m of $last)"

# room again, way 1: copy the database to a roomy directory and run the same command
cp -a "$MNT/db" "$WORK/moved" || fail "copy the database off the tmpfs"
"$TQ" replay "$J" --db "$WORK/moved" --batch 500 --quiet 2>"$WORK/err" || fail "replay after moving: $(cat "$WORK/err")"
export_db "$WORK/moved" "$WORK/got.csv"
cmp -s "$WORK/got.csv" "$WORK/ref.csv" || fail "moved and rerun: export differs from an uninterrupted replay"
ok
# way 2: make the filesystem bigger in place
mount -o remount,size=$((full_kb * 2 + 4096))k "$MNT" || fail "remount bigger"
"$TQ" replay "$J" --db "$MNT/db" --batch 500 --quiet 2>"$WORK/err" || fail "replay after growing the disk: $(cat "$WORK/err")"
export_db "$MNT/db" "$WORK/got.csv"
cmp -s "$WORK/got.csv" "$WORK/ref.csv" || fail "grown in place and rerun: export differs from an uninterrupted replay"
[ "$(mark_of "$MNT/db")" = "$last" ] || fail "mark after the rerun is not $last"
ok
echo "with room again (moved, or the disk grown in place) the rerun ends exactly as an uninterrupted replay"

# The upgrade to format 5 on a full disk (tests/data/store-v4, batches of 7 so that some
# commit first): exit 4, the database still format 4 and sound with the same lists; with
# room again the rerun (which starts the era build over) ends clean at format 5.
umount "$MNT" || fail "umount"
command -v zstd >/dev/null || { echo "skipped the upgrade part: no zstd"; done_ok; }
FX=$TOP/tests/data/store-v4
mkdir -p "$WORK/v4" || fail "mkdir"
zstd -dc "$FX/data.mdb.tar.zst" | tar -C "$WORK/v4" -xf - || fail "unpack the v4 fixture"
x=$(head -n 1 "$FX/declarants")
"$TQ" list --db "$WORK/v4" --declarant "$x" --csv --as-of 2024-09-01 >"$WORK/x4.csv" || fail "list on v4"
mount -t tmpfs -o size=$(( $(du -sk "$WORK/v4" | cut -f1) + 128 ))k tmpfs "$MNT" || fail "mount tmpfs"
cp -a "$WORK/v4" "$MNT/db" || fail "copy the fixture onto the tmpfs"
TQ_UPGRADE_BATCH=7 expect_status 4 "$TQ" upgrade --db "$MNT/db"
grep -qi "no space left" "$WORK/err" || fail "upgrade: the message does not say the disk is full: $(cat "$WORK/err")"
"$TQ" check --db "$MNT/db" --json >"$WORK/check" 2>&1 || fail "check after the full disk: $(cat "$WORK/check")"
grep -q '"format":4' "$WORK/check" || fail "not format 4 after the failed upgrade: $(cat "$WORK/check")"
"$TQ" list --db "$MNT/db" --declarant "$x" --csv --as-of 2024-09-01 >"$WORK/x.csv" || fail "list after the full disk"
cmp -s "$WORK/x.csv" "$WORK/x4.csv" || fail "after the failed upgrade: declarant $x's list differs"; ok
mount -o remount,size=8m "$MNT" || fail "remount bigger"
expect_status 0 "$TQ" upgrade --db "$MNT/db"
"$TQ" check --db "$MNT/db" --json >"$WORK/check" 2>&1 || fail "check after the upgrade: $(cat "$WORK/check")"
grep -q '"format":5' "$WORK/check" || fail "not format 5 after the rerun: $(cat "$WORK/check")"
"$TQ" list --db "$MNT/db" --declarant "$x" --csv --as-of 2024-09-01 >"$WORK/x.csv" || fail "list after the upgrade"
cmp -s "$WORK/x.csv" "$WORK/x4.csv" || fail "after the rerun: declarant $x's list differs"; ok
echo "the upgrade on a full disk: exit 4, format 4 sound; with room again it ends at format 5"
done_ok
