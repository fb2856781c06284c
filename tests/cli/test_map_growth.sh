#!/usr/bin/env bash
# Proves (engine/STORE.md §6): a database whose map is far too small grows by itself.
# With TQ_MAP_SIZE=4096 (smaller than the layout itself) and 65536 for a new database,
# load, replay (in small batches, so the map fills in the middle of a run as well as at
# its first commit) and reconcile all succeed, the map has grown, and the exports and
# the reconcile report are exactly those of a run with the default map.
# The journal is replayed with half the payments loaded and the other half loaded
# afterwards, so the reconcile has work (and pages) of its own.
# A third run starts with a map just big enough for everything before the reconcile, so
# the reconcile itself must grow it (and redo its work from the start, reporting once).
#   TQ_MAP_DECLARATIONS (default 4000).
source "$(dirname "$0")/lib.sh"
n=${TQ_MAP_DECLARATIONS:-4000}
"$TQ" gen --declarations "$n" --seed 61 --frame-size 16384 --out "$WORK/g" --quiet || fail "gen"
awk 'NR == 1 || NR % 2 == 0' "$WORK/g/payments.csv" >"$WORK/half1.csv"
awk 'NR == 1 || NR % 2 == 1' "$WORK/g/payments.csv" >"$WORK/half2.csv"

map_size() { "$TQ" stat --db "$1" --json | grep -o '"map_size":[0-9]*' | cut -d: -f2; }
run_all() { # run_all DIR MAPSIZE : the whole day, every step checked
  local db=$1 ms=$2
  rm -rf "$db"
  for step in "load permits $WORK/g/permits.csv" "load payments $WORK/half1.csv" \
              "replay $WORK/g/journal.tqj --batch 300" "load payments $WORK/half2.csv"; do
    # shellcheck disable=SC2086
    TQ_MAP_SIZE=$ms "$TQ" $step --db "$db" --quiet 2>"$WORK/err" ||
      fail "TQ_MAP_SIZE=$ms: '$step' failed: $(head -c 400 "$WORK/err")"
    no_sanitizer_report
  done
  before_reconcile=$(map_size "$db")
  used_before_reconcile=$("$TQ" stat --db "$db" --json | grep -o '"map_used":[0-9]*' | cut -d: -f2)
  TQ_MAP_SIZE=$ms "$TQ" reconcile --db "$db" --report "$db.report.json" --quiet 2>"$WORK/err" ||
    fail "TQ_MAP_SIZE=$ms: reconcile failed: $(head -c 400 "$WORK/err")"
  # what legitimately differs between two runs: where, when, how long
  sed -i -E 's/"(database|generated_at)":"[^"]*"//g; s/"[a-z_]*seconds":[0-9.]*//g' "$db.report.json"
  "$TQ" export decisions --db "$db" -o "$db.decisions.csv" || fail "export decisions"
  "$TQ" export permits --db "$db" -o "$db.permits.csv" || fail "export permits"
  ok
}

run_all "$WORK/normal" ""
echo "default map: $(map_size "$WORK/normal") bytes; $used_before_reconcile used before the reconcile, $("$TQ" stat --db "$WORK/normal" --json | grep -o '"map_used":[0-9]*' | cut -d: -f2) after"
tight=$(((used_before_reconcile / 4096 + 16) * 4096))
for ms in 4096 65536 $tight; do
  run_all "$WORK/tiny$ms" "$ms"
  grown=$(map_size "$WORK/tiny$ms")
  [ "$grown" -gt "$ms" ] || fail "TQ_MAP_SIZE=$ms: the map did not grow ($grown)"
  for f in decisions.csv permits.csv report.json; do
    cmp -s "$WORK/normal.$f" "$WORK/tiny$ms.$f" ||
      fail "TQ_MAP_SIZE=$ms: $f differs from the default-map run: $(diff "$WORK/normal.$f" "$WORK/tiny$ms.$f" | head -4 | cut -c1-300)"
  done
  ok
  if [ "$ms" = "$tight" ]; then
    [ "$before_reconcile" = "$tight" ] || fail "TQ_MAP_SIZE=$ms: the map grew before the reconcile ($before_reconcile): the run proves nothing about reconcile"
    echo "TQ_MAP_SIZE=$ms (tight): the reconcile itself grew the map"
  fi
  echo "TQ_MAP_SIZE=$ms: grew to $grown bytes; decisions, permit use and the reconcile report identical"
done
# The summary of a replay whose map grew counts every event once, not only the last pass.
"$TQ" gen --declarations 30000 --seed 2 --frame-size 16384 --out "$WORK/grow_stats" --quiet || fail "gen"
want=$("$TQ" journal verify "$WORK/grow_stats/journal.tqj" | sed -n 's/^events *//p')
TQ_MAP_SIZE=65536 "$TQ" replay "$WORK/grow_stats/journal.tqj" --db "$WORK/grow_stats/db" --batch 2000 --json \
  >"$WORK/grow_stats.json" || fail "replay with a tiny map"
grep -q "\"total\":$want," "$WORK/grow_stats.json" ||
  fail "summary after map growth: wanted total $want: $(head -c 300 "$WORK/grow_stats.json")"
grep -q '"already_applied":0,' "$WORK/grow_stats.json" || fail "summary after map growth counts events as applied before"
ok
done_ok
