#!/usr/bin/env bash
# Proves: replay --dirty-mib MIB bounds a batch by its changed pages: with 1 MiB a
# 30,000-declaration backlog commits in several batches where the default commits once,
# and the decisions, the permits' use, the change feed and the journal's mark are the same bytes; a budget
# of 0 or past 65536 MiB, or not a number, is refused (exit 2) before anything is opened.
source "$(dirname "$0")/lib.sh"
"$TQ" gen --declarations 30000 --seed 5 --out "$WORK/g" >/dev/null 2>&1 || fail "gen"
run() { # run DB [ARGS...]: load the records, replay with ARGS; prints the commits
  local db=$1; shift
  "$TQ" load payments "$WORK/g/payments.csv" --db "$db" -q || fail "load payments"
  "$TQ" load permits "$WORK/g/permits.csv" --db "$db" -q || fail "load permits"
  "$TQ" replay "$WORK/g/journal.tqj" --db "$db" --json "$@" >"$WORK/rj" || fail "replay $*"
  grep -o '"commits":[0-9]*' "$WORK/rj" | cut -d: -f2
}
whole=$(run "$WORK/a")
small=$(run "$WORK/b" --dirty-mib 1)
[ "$whole" = 1 ] || fail "the default committed $whole times, wanted 1"
[ "$small" -gt 1 ] || fail "--dirty-mib 1 committed $small times, wanted more than one"
ok
for what in decisions permits "changes --since 0"; do
  # shellcheck disable=SC2086  # "changes --since 0" is three words on purpose
  "$TQ" export $what --db "$WORK/a" -o "$WORK/a.out" || fail "export $what a"
  # shellcheck disable=SC2086
  "$TQ" export $what --db "$WORK/b" -o "$WORK/b.out" || fail "export $what b"
  cmp -s "$WORK/a.out" "$WORK/b.out" || fail "$what differ with --dirty-mib 1"
  ok
done
[ "$(mark_of "$WORK/a")" = "$(mark_of "$WORK/b")" ] || fail "the journal's marks differ"
ok
for bad in 0 65537 lots; do
  expect_status 2 "$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/c" --dirty-mib "$bad"
  grep -q -- "--dirty-mib\|dirty-mib" "$WORK/err" || fail "--dirty-mib $bad: $(cat "$WORK/err")"
  [ ! -e "$WORK/c" ] || fail "--dirty-mib $bad created the database"
  ok
done
done_ok
