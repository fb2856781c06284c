#!/usr/bin/env bash
# Proves (issue 10, "Outputs"; formats/tq_out.h): every output path is written safely
# through the binary, played as an attacker and a hurried operator would.
#   - `-o` to a character device (made with mknod here, as root) leaves it a device, and
#     so does `-o` to a symlink to it; a FIFO with a reader gets the bytes;
#   - `-o -` and `-o /dev/stdout` with stdout redirected to a file (same inode after) and
#     to a pipe;
#   - a symlink at the output is replaced, never followed (the victim is untouched), and
#     symlinks planted at the old predictable temp names are never followed;
#   - a failed write to standard output is an error: `stat > /dev/full` exits 4 with the
#     reason, and `replay --skip-corrupt --json > FILE` on a full tmpfs fails (4, or 5
#     for the skipped frames) saying that standard output could not be written;
#   - messages say the system's reason: a --db that is not a directory says so; a
#     database a user may not open is exit 8 "permission denied" with the path; a
#     missing input file for load is exit 1; load opens its input before the writer
#     lock (a FIFO with no writer does not hold the database locked).
# The root-only parts (mknod, mount, another user) are skipped without root; the test
# exits 77 (skipped) only if nothing root-only could run and it is not root.
source "$(dirname "$0")/lib.sh"
MNT=$WORK/mnt
cleanup() {
  if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" 2>/dev/null || umount -l "$MNT"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
root=0; [ "$(id -u)" = 0 ] && root=1

# a small database to export
"$TQ" gen --declarations 300 --seed 7 --out "$WORK/g" --quiet || fail "gen"
db=$WORK/db
"$TQ" load permits "$WORK/g/permits.csv" --db "$db" --quiet || fail "load permits"
"$TQ" load payments "$WORK/g/payments.csv" --db "$db" --quiet || fail "load payments"
"$TQ" replay "$WORK/g/journal.tqj" --db "$db" --quiet || fail "replay"
"$TQ" export decisions --db "$db" -o "$WORK/ref.csv" || fail "export"
lines=$(wc -l <"$WORK/ref.csv")
[ "$lines" -gt 100 ] || fail "export too short"
no_temps() { # no_temps DIR: no temporary file of ours left in DIR
  local t
  t=$(find "$1" -maxdepth 1 -name '.*.tmp-*' | head -3)
  [ -z "$t" ] || fail "temporary files left in $1: $t"
  ok
}

# ---- devices and links to devices stay what they are ----
if [ $root = 1 ]; then
  mknod "$WORK/null" c 1 3 || fail "mknod"
  ln -s "$WORK/null" "$WORK/link-to-null"
  expect_status 0 "$TQ" export decisions --db "$db" -o "$WORK/null"
  [ -c "$WORK/null" ] || fail "-o DEVICE: the device was replaced by $(stat -c %F "$WORK/null")"
  ok
  expect_status 0 "$TQ" export decisions --db "$db" -o "$WORK/link-to-null"
  [ -L "$WORK/link-to-null" ] && [ -c "$WORK/null" ] || fail "-o LINK-TO-DEVICE replaced the link or the device"
  ok
  # a private /dev/full: the write error is reported, the device stays
  mknod "$WORK/full" c 1 7 || fail "mknod full"
  expect_status 4 "$TQ" export decisions --db "$db" -o "$WORK/full"
  grep -q "No space left on device" "$WORK/err" || fail "-o FULL-DEVICE: no reason: $(cat "$WORK/err")"
  [ -c "$WORK/full" ] || fail "the full device was replaced"
  ok
  no_temps "$WORK"
else
  echo "skipped (not root): devices made with mknod"
fi

# ---- a FIFO with a reader gets the bytes, and stays a FIFO ----
mkfifo "$WORK/fifo"
cat "$WORK/fifo" >"$WORK/from-fifo" &
reader=$!
expect_status 0 timeout 20 "$TQ" export decisions --db "$db" -o "$WORK/fifo"
wait $reader
cmp -s "$WORK/ref.csv" "$WORK/from-fifo" || fail "-o FIFO: the reader did not get the export"
[ -p "$WORK/fifo" ] || fail "-o FIFO: the FIFO was replaced"
ok

# ---- stdout by name, redirected to a file and to a pipe ----
for name in - /dev/stdout; do
  : >"$WORK/redir"
  ino=$(stat -c %i "$WORK/redir")
  "$TQ" export decisions --db "$db" -o "$name" >"$WORK/redir" 2>"$WORK/err" || fail "-o $name to a file: $(cat "$WORK/err")"
  cmp -s "$WORK/ref.csv" "$WORK/redir" || fail "-o $name to a file: wrong content"
  [ "$(stat -c %i "$WORK/redir")" = "$ino" ] || fail "-o $name: the redirected file was replaced"
  ok
  "$TQ" export decisions --db "$db" -o "$name" 2>"$WORK/err" | cat >"$WORK/piped" || fail "-o $name to a pipe: $(cat "$WORK/err")"
  cmp -s "$WORK/ref.csv" "$WORK/piped" || fail "-o $name to a pipe: wrong content"
  ok
done

# ---- links at the output are replaced, never followed ----
echo precious >"$WORK/victim"
ln -s "$WORK/victim" "$WORK/out.csv"
expect_status 0 "$TQ" export decisions --db "$db" -o "$WORK/out.csv"
[ "$(cat "$WORK/victim")" = precious ] || fail "-o LINK: the link's target was overwritten"
[ -f "$WORK/out.csv" ] && [ ! -L "$WORK/out.csv" ] || fail "-o LINK: the link was not replaced by a file"
cmp -s "$WORK/ref.csv" "$WORK/out.csv" || fail "-o LINK: wrong content"
ok
ln -s "$WORK/nothing-here" "$WORK/dangling.csv"
expect_status 0 "$TQ" export decisions --db "$db" -o "$WORK/dangling.csv"
[ ! -e "$WORK/nothing-here" ] || fail "-o DANGLING-LINK created the link's target"
ok
# the old module's temp name was OUT.tmp.<pid>: plant links for the next pids
rm -f "$WORK/out.csv"
next=$(sh -c 'echo $$')
for i in $(seq 0 200); do ln -s "$WORK/victim" "$WORK/out.csv.tmp.$((next + i))"; done
ln -s "$WORK/victim" "$WORK/.out.csv.tmp"
for _ in 1 2 3; do expect_status 0 "$TQ" export decisions --db "$db" -o "$WORK/out.csv"; done
[ "$(cat "$WORK/victim")" = precious ] || fail "a planted temp-name link was followed"
ok
# a regular file keeps its mode and is replaced whole; a directory is refused
chmod 640 "$WORK/out.csv"
expect_status 0 "$TQ" export permits --db "$db" -o "$WORK/out.csv"
[ "$(stat -c %a "$WORK/out.csv")" = 640 ] || fail "the replaced file lost its mode"
head -1 "$WORK/out.csv" | grep -q '^permit_no,used,quota$' || fail "permits export"
ok
expect_status 1 "$TQ" export decisions --db "$db" -o "$WORK"
grep -q "is a directory" "$WORK/err" || fail "-o DIR: $(cat "$WORK/err")"
no_temps "$WORK"

# ---- a failed write to standard output is an error ----
got=0; "$TQ" stat --db "$db" >/dev/full 2>"$WORK/err" || got=$?
[ "$got" = 4 ] || fail "stat > /dev/full exited $got, wanted 4"
grep -q "cannot write standard output: No space left on device" "$WORK/err" || fail "stat > /dev/full: $(cat "$WORK/err")"
ok
got=0; "$TQ" export decisions --db "$db" >/dev/full 2>"$WORK/err" || got=$?
[ "$got" = 4 ] || fail "export > /dev/full exited $got, wanted 4"
ok
if [ $root = 1 ] && mkdir -p "$MNT" && mount -t tmpfs -o size=16k tmpfs "$MNT" 2>/dev/null; then
  # a journal with a corrupt frame: the JSON record of what was skipped must not be lost
  "$TQ" gen --declarations 3000 --seed 8 --frame-size 4096 --out "$WORK/g2" --quiet || fail "gen g2"
  J=$WORK/g2/journal.tqj
  size=$(stat -c %s "$J")
  printf '\xff\xff\xff\xff' | dd of="$J" bs=1 seek=$((size / 2)) conv=notrunc status=none
  head -c 16000 /dev/zero >"$MNT/filler" 2>/dev/null   # leave the tmpfs (nearly) full
  got=0
  "$TQ" replay "$J" --db "$WORK/db2" --skip-corrupt --json >"$MNT/replay.json" 2>"$WORK/err" || got=$?
  # 4, or 5 (corrupt frames skipped): never 0, and the lost record is said
  [ "$got" = 4 ] || [ "$got" = 5 ] || fail "replay --json > FULL-TMPFS exited $got, wanted 4 or 5: $(cat "$WORK/err")"
  grep -q "cannot write standard output: No space left on device" "$WORK/err" || fail "replay --json on a full disk: $(cat "$WORK/err")"
  ok
  umount "$MNT"
else
  echo "skipped (not root or no tmpfs): replay --json on a full tmpfs"
fi

# ---- messages say the system's reason ----
echo x >"$WORK/plainfile"
got=0; "$TQ" stat --db "$WORK/plainfile/db" >/dev/null 2>"$WORK/err" || got=$?
[ "$got" != 0 ] || fail "--db under a file succeeded"
grep -q "Not a directory" "$WORK/err" || fail "--db under a file: $(cat "$WORK/err")"
ok
got=0; "$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/plainfile/db" >/dev/null 2>"$WORK/err" || got=$?
[ "$got" != 0 ] && grep -q "Not a directory" "$WORK/err" || fail "load --db under a file: exit $got: $(cat "$WORK/err")"
ok
expect_status 1 "$TQ" load payments "$WORK/no-such.csv" --db "$db"
grep -q "cannot read $WORK/no-such.csv: No such file or directory" "$WORK/err" || fail "missing input: $(cat "$WORK/err")"
if [ $root = 1 ] && command -v setpriv >/dev/null; then
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  chmod 755 "$WORK"
  cp -r "$db" "$WORK/dbro"; chmod 700 "$WORK/dbro"
  got=0; as_nobody "$TQ" stat --db "$WORK/dbro" >/dev/null 2>"$WORK/err" || got=$?
  [ "$got" = 8 ] || fail "stat as another user exited $got, wanted 8: $(cat "$WORK/err")"
  grep -q "permission denied" "$WORK/err" && grep -q "$WORK/dbro" "$WORK/err" || fail "no 'permission denied' with the path: $(cat "$WORK/err")"
  ok
  got=0; as_nobody "$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/dbro" >/dev/null 2>"$WORK/err" || got=$?
  [ "$got" = 8 ] || fail "load as another user exited $got, wanted 8: $(cat "$WORK/err")"
  ok
  chmod 600 "$WORK/g/payments.csv"
  got=0; as_nobody "$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/dbn" >/dev/null 2>"$WORK/err" || got=$?
  [ "$got" = 8 ] && grep -q "Permission denied" "$WORK/err" || fail "unreadable input: exit $got: $(cat "$WORK/err")"
  ok
  chmod 644 "$WORK/g/payments.csv"
else
  echo "skipped (not root): permission denied as another user"
fi

# ---- load opens its input before the writer lock ----
mkfifo "$WORK/in.fifo"
"$TQ" load payments "$WORK/in.fifo" --db "$db" >/dev/null 2>"$WORK/fifo.err" &
loader=$!
sleep 0.3
# the loader waits for a writer to the FIFO: the database must not be locked meanwhile
expect_status 0 "$TQ" load permits "$WORK/g/permits.csv" --db "$db" --quiet
exec 3>"$WORK/in.fifo"; exec 3>&-    # open and close: the loader gets EOF, then refuses it
got=0; wait $loader || got=$?
[ "$got" = 1 ] || fail "load of a FIFO exited $got, wanted 1: $(cat "$WORK/fifo.err")"
grep -q "not a regular file" "$WORK/fifo.err" || fail "load of a FIFO: $(cat "$WORK/fifo.err")"
ok
no_sanitizer_report
done_ok
