#!/usr/bin/env bash
# Proves (formats/tq_lock.h discipline, STORE.md §5): DIR/lock replaced by a symbolic
# link to a victim file -- every writer (load, replay, reconcile) fails at once (exit 1)
# and the victim is untouched: the holder text is never written through the link.
source "$(dirname "$0")/lib.sh"
cat >"$WORK/permits.csv" <<'EOC'
permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota
GCN-1,BCT,0101234567,2024-01-01,2024-12-31,VALID,8517,0
EOC
expect_status 0 "$TQ" load permits "$WORK/permits.csv" --db "$WORK/db"
printf 'precious\n' >"$WORK/victim"
rm -f "$WORK/db/lock" && ln -s "$WORK/victim" "$WORK/db/lock"
for cmd in "load permits $WORK/permits.csv --db $WORK/db" "reconcile --db $WORK/db"; do
  # shellcheck disable=SC2086
  expect_status 1 "$TQ" $cmd
  [ "$(cat "$WORK/victim")" = precious ] || fail "$cmd wrote through the link"; ok
done
[ -L "$WORK/db/lock" ] || fail "the link was replaced"; ok
# Readers take no lock: they still work.
expect_status 0 "$TQ" export permits --db "$WORK/db"
done_ok
