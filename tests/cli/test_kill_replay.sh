#!/usr/bin/env bash
# Proves: a replay killed with SIGKILL at random instants (during decoding, deciding and
# commits alike), each time run again, ends with exactly the export of an uninterrupted
# replay; and a replay of the same journal a second time changes nothing.
#   TQ_KILLS (default 25) sets how many kills.
source "$(dirname "$0")/lib.sh"
kills=${TQ_KILLS:-25}
n=${TQ_KILL_DECLARATIONS:-60000}
"$TQ" gen --declarations "$n" --seed 7 --frame-size 16384 --out "$WORK/g" --quiet || fail "gen"


fresh_db "$WORK/ref"
t0=$(date +%s%N)
"$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/ref" --batch 500 --quiet || fail "reference replay"
t1=$(date +%s%N)
export_db "$WORK/ref" "$WORK/ref.csv"
full_us=$(( (t1 - t0) / 1000 ))
[ "$full_us" -gt 1000 ] || full_us=1000
echo "reference replay: ${full_us} us"

# A second replay of the same journal changes nothing.
"$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/ref" --json >"$WORK/again.json" || fail "second replay"
grep -q '"applied":0' "$WORK/again.json" || fail "second replay applied events: $(head -c 400 "$WORK/again.json")"
export_db "$WORK/ref" "$WORK/again"
cmp -s "$WORK/ref.csv.d" "$WORK/again.d" || fail "second replay changed decisions"
cmp -s "$WORK/ref.csv.p" "$WORK/again.p" || fail "second replay changed permits"
ok

fresh_db "$WORK/k"
killed=0 finished=0 round=0
RANDOM=42
while [ $killed -lt "$kills" ]; do
  round=$((round + 1))
  [ $round -le $((kills * 4)) ] || fail "could not land $kills kills in $round rounds"
  # The delay spans a whole run, so kills land anywhere in it, commits included.
  delay_us=$(( (RANDOM * 32768 + RANDOM) % full_us ))
  "$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/k" --batch 500 --quiet 2>"$WORK/kerr" &
  pid=$!
  sleep_us "$delay_us"
  if kill -KILL $pid 2>/dev/null; then
    wait $pid 2>/dev/null
    killed=$((killed + 1))
  else
    wait $pid || fail "replay failed: $(cat "$WORK/kerr")"
    finished=$((finished + 1))
    # it finished before the kill: start again from a fresh database for more kills,
    # aiming earlier (the timed run may have been slow on a loaded machine)
    full_us=$((full_us * 3 / 4)); [ "$full_us" -gt 2000 ] || full_us=2000
    export_db "$WORK/k" "$WORK/k.csv"
    cmp -s "$WORK/ref.csv.d" "$WORK/k.csv.d" ||
      fail "decisions differ after a run (after $killed kills, the last at ${delay_us} us): $(diff "$WORK/ref.csv.d" "$WORK/k.csv.d" | head -5)"
    fresh_db "$WORK/k"
  fi
done
"$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/k" --quiet || fail "final replay"
export_db "$WORK/k" "$WORK/k.csv"
cmp -s "$WORK/ref.csv.d" "$WORK/k.csv.d" || fail "decisions differ after $killed kills: $(diff "$WORK/ref.csv.d" "$WORK/k.csv.d" | head -5)"
cmp -s "$WORK/ref.csv.p" "$WORK/k.csv.p" || fail "permit use differs after $killed kills"
ok
echo "survived $killed kills ($finished runs finished before their kill)"
done_ok
