#!/usr/bin/env bash
# Proves (issue 10 "a temporary file is left behind after pack meets a full disk"): on a
# filesystem that fills up (a small tmpfs), `journal pack` exits 4 saying the disk is
# full and leaves nothing: no journal, no temporary, no lock file; an append that meets
# the full disk leaves the journal byte for byte as it was; a reject file that cannot be
# written on the full disk commits nothing either.  Needs root to mount a tmpfs: skipped
# (exit 77) otherwise.
source "$(dirname "$0")/lib.sh"
need_tmpfs 256k
# Events that do not compress away: distinct declarations with distinct officer ids.
awk 'BEGIN { srand(7); for (i = 1; i <= 20000; i++)
  printf "{\"ev\":\"OFFICER\",\"decl_no\":\"1%011d\",\"result\":\"DOCS_OK\",\"officer\":\"HQ-%08x%08x%08x\"}\n",
    i, int(rand() * 4294967295), int(rand() * 4294967295), int(rand() * 4294967295) }' \
  >"$WORK/big.ndjson"
awk 'BEGIN { for (i = 1; i <= 10; i++) printf "{\"ev\":\"CANCEL\",\"decl_no\":\"1%011d\"}\n", i }' >"$WORK/small.ndjson"
left() { ls -A "$MNT" | grep -vxF -e small.tqj -e "$1" || true; }

# 1. a create that fills the disk
expect_status 4 "$TQ" journal pack "$WORK/big.ndjson" -o "$MNT/j.tqj" --frame-size 4096
grep -qi "no space" "$WORK/err" || fail "the message does not say the disk is full: $(cat "$WORK/err")"
[ -z "$(ls -A "$MNT")" ] || fail "a failed pack left: $(ls -A "$MNT")"

# 2. an append that fills the disk is cut back
"$TQ" journal pack "$WORK/small.ndjson" -o "$MNT/small.tqj" --quiet || fail "pack small"
cp "$MNT/small.tqj" "$WORK/small.orig"
expect_status 4 "$TQ" journal pack "$WORK/big.ndjson" -o "$MNT/small.tqj" --append --frame-size 4096
cmp -s "$MNT/small.tqj" "$WORK/small.orig" || fail "a failed append changed the journal"
[ -z "$(left x)" ] || fail "a failed append left: $(left x)"

# 3. a reject file that cannot be written: nothing committed
head -c 300000 /dev/zero | tr '\0' 'x' >"$WORK/bad.ndjson"; echo >>"$WORK/bad.ndjson"
cat "$WORK/small.ndjson" >>"$WORK/bad.ndjson"
expect_status 4 "$TQ" journal pack "$WORK/bad.ndjson" -o "$WORK/r.tqj" --skip-invalid "$MNT/rej.ndjson"
grep -q "rej.ndjson" "$WORK/err" || fail "the message does not name the reject file: $(cat "$WORK/err")"
[ ! -e "$WORK/r.tqj" ] || fail "the journal was written though its reject file was not"
[ -z "$(left x)" ] || fail "a failed reject file left: $(left x)"
done_ok
