#!/usr/bin/env bash
# Proves (issue 15, docs/pending/store.md): a user who may not write the database gets
# "permission denied" (exit 8), never an I/O error (exit 4) or "busy" (exit 3): readers
# (stat, export) because LMDB needs write access to DIR/lock.mdb, writers (load) because
# of DIR/lock.  With lock.mdb writable by that user (the documented set-up for read-only
# users), reading works and writing is still refused.  Runs as root, switching to uid
# 65534 with setpriv; skipped (77) otherwise.
source "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
  echo "skipped: needs root and setpriv"; exit 77
fi
chmod 755 "$WORK"
as_nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups -- "$@"; }
DB=$WORK/db
cat >"$WORK/permits.csv" <<'EOC'
permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota
GCN-1,BCT,0101234567,2024-01-01,2024-12-31,VALID,8517,0
EOC
expect_status 0 "$TQ" load permits "$WORK/permits.csv" --db "$DB"
as_nobody true || { echo "skipped: setpriv cannot switch user here"; exit 77; }

expect_status 8 as_nobody "$TQ" stat --db "$DB"
grep -qi "permission denied" "$WORK/err" || fail "stat: $(cat "$WORK/err")"; ok
expect_status 8 as_nobody "$TQ" export permits --db "$DB"
expect_status 8 as_nobody "$TQ" load permits "$WORK/permits.csv" --db "$DB"
grep -qi "permission denied" "$WORK/err" || fail "load: $(cat "$WORK/err")"; ok

chmod 666 "$DB/lock.mdb"
expect_status 0 as_nobody "$TQ" stat --db "$DB"
expect_status 0 as_nobody "$TQ" export permits --db "$DB"
grep -q '^GCN-1,0,0$' "$WORK/out" || fail "export as nobody: $(cat "$WORK/out")"; ok
expect_status 8 as_nobody "$TQ" load permits "$WORK/permits.csv" --db "$DB"
# A new database where nobody may create one.
expect_status 8 as_nobody "$TQ" load permits "$WORK/permits.csv" --db "$WORK/db2"
done_ok
