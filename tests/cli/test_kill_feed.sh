#!/usr/bin/env bash
# Proves: the change feed transfers every decision exactly once across crashes.  Loads,
# a replay (small durable batches) and a reconcile are each killed with SIGKILL at
# random instants and run again until one finishes; after every attempt a downstream
# reader pulls `export changes --since LAST` (LAST: the greatest number it has seen),
# even while the next writer runs.  What it accumulated must have no gap and no
# duplicate (numbers 1, 2, ... in order), must equal the feed read from 0 at the end
# (no number was ever given to two changes), and its last change of each declaration
# must be that declaration's state, version, reasons and manual flag in `export
# decisions`, for every declaration.
#   TQ_KILL_FEED_ROUNDS (default 2) fresh databases; TQ_KILLS (default 12) kills per step
#   at most.
source "$(dirname "$0")/lib.sh"
rounds=${TQ_KILL_FEED_ROUNDS:-2}
kills=${TQ_KILLS:-12}
n=${TQ_KILL_DECLARATIONS:-30000}
if ! "$TQ" export changes --help 2>&1 | grep -q -- "--since"; then
  echo "skipped: this binary has no 'export changes --since'"
  exit 77
fi
"$TQ" gen --declarations "$n" --seed 17 --frame-size 16384 --out "$WORK/g" --quiet || fail "gen"
# half the payments before the replay, the rest after it, for the reconcile to clear
awk 'NR == 1 || NR % 2 == 0' "$WORK/g/payments.csv" >"$WORK/half1.csv"
awk 'NR == 1 || NR % 2 == 1' "$WORK/g/payments.csv" >"$WORK/half2.csv"

steps=("load payments $WORK/half1.csv"
       "load permits $WORK/g/permits.csv"
       "replay $WORK/g/journal.tqj --batch 300"
       "load payments $WORK/half2.csv"
       "reconcile")

# step I DB : run step I on DB (arguments split on spaces: the paths have none)
step() {
  local args
  read -ra args <<<"${steps[$1]}"
  "$TQ" "${args[@]}" --db "$2" --quiet
}

# pull DB : append the changes after $last to $acc and move $last to the greatest seen
pull() {
  local st=0
  "$TQ" export changes --db "$1" --since "$last" --csv -o "$WORK/pull.csv" >/dev/null 2>"$WORK/pullerr" || st=$?
  # a reader that comes before the first writer has created the database finds none
  # (exit 1): nothing to read yet, and nothing was ever read from it
  if [ "$st" = 1 ] && [ "$last" = 0 ] && grep -q "no database here" "$WORK/pullerr"; then
    return 0
  fi
  [ "$st" = 0 ] || fail "export changes --since $last: $(cat "$WORK/pullerr")"
  if [ -z "$hdr" ]; then hdr=$(head -n 1 "$WORK/pull.csv"); fi
  [ "$(head -n 1 "$WORK/pull.csv")" = "$hdr" ] || fail "the feed's header changed"
  tail -n +2 "$WORK/pull.csv" >>"$acc"
  local m
  m=$(tail -n +2 "$WORK/pull.csv" | awk -F, -v c="$nocol" 'END { if (NR) print $c }')
  [ -z "$m" ] || last=$m
  pulls=$((pulls + 1))
}


# Each step's duration, uninterrupted, bounds the random instants of its kills.
rm -rf "$WORK/ref"
declare -a dur
for i in "${!steps[@]}"; do
  t0=$(date +%s%N)
  step "$i" "$WORK/ref" || fail "reference: ${steps[$i]}"
  t1=$(date +%s%N)
  dur[$i]=$(( (t1 - t0) / 1000 ))
  [ "${dur[$i]}" -gt 2000 ] || dur[$i]=2000
done
"$TQ" export changes --db "$WORK/ref" --since 0 --csv -o "$WORK/ref.feed.csv" >/dev/null || fail "export changes"
hdr=$(head -n 1 "$WORK/ref.feed.csv")
# the columns, by name
col() { echo "$hdr" | tr ',' '\n' | grep -nxE "$1" | head -n 1 | cut -d: -f1; }
nocol=$(col 'change|change_no|no|number|seq')
dcol=$(col 'decl_no')
scol=$(col 'state')
rcol=$(col 'reasons')
vcol=$(col 'version')
mcol=$(col 'manual')
[ -n "$nocol" ] && [ -n "$dcol" ] && [ -n "$scol" ] && [ -n "$rcol" ] && [ -n "$vcol" ] && [ -n "$mcol" ] ||
  fail "the feed's CSV header lacks a column: $hdr"
echo "steps (us): ${dur[*]}; feed columns: $hdr"

# check DB : the accumulated feed against the database
check() {
  "$TQ" export changes --db "$1" --since 0 --csv -o "$WORK/all.csv" >/dev/null 2>"$WORK/pullerr" || fail "export changes --since 0: $(cat "$WORK/pullerr")"
  "$TQ" export decisions --db "$1" -o "$WORK/dec.csv" || fail "export decisions"
  awk -F, -v c="$nocol" '$c != NR { print "change " $c " at place " NR " (a gap or a duplicate)"; exit 1 }' "$acc" ||
    fail "the feed read across the reruns is not 1, 2, ...: $(awk -F, -v c="$nocol" '$c != NR { print; exit }' "$acc")"
  tail -n +2 "$WORK/all.csv" | cmp -s - "$acc" ||
    fail "the feed read from 0 differs from what was read across the reruns: $(tail -n +2 "$WORK/all.csv" | diff - "$acc" | head -4)"
  awk -F, -v d="$dcol" -v s="$scol" -v r="$rcol" -v v="$vcol" -v m="$mcol" '
    function flag(x) { return (x == "1" || x == "true" || x == "TRUE") ? 1 : 0 }
    NR == FNR { last[$d] = $s "," $v "," $r "," flag($m); next }
    FNR == 1 { next }
    {
      want = $2 "," $3 "," $4 "," flag($6)
      if (!($1 in last)) { print $1 " has no change in the feed"; bad = 1; exit }
      if (last[$1] != want) { print $1 ": feed ends in " last[$1] ", export has " want; bad = 1; exit }
      seen++
    }
    END { if (!bad && seen != length(last)) { print "the feed names declarations export does not"; bad = 1 }
          exit bad }' "$acc" "$WORK/dec.csv" >"$WORK/why" || fail "$(cat "$WORK/why")"
  ok
}

RANDOM=4242
total_kills=0
for round in $(seq 1 "$rounds"); do
  db=$WORK/k$round acc=$WORK/acc$round.csv last=0 pulls=0
  rm -rf "$db"
  : >"$acc"
  for i in "${!steps[@]}"; do
    k=0
    while :; do
      # over the whole run (commits included) or its first half (a rerun that resumes
      # is shorter: so more kills land before it ends)
      delay=$(( (RANDOM * 32768 + RANDOM) % (k % 2 ? dur[i] : dur[i] / 2 + 1) ))
      read -ra args <<<"${steps[$i]}"
      "$TQ" "${args[@]}" --db "$db" --quiet 2>"$WORK/kerr" &   # the process itself, to kill
      pid=$!
      sleep_us "$delay"
      pull "$db"       # a reader while the writer may be running
      if [ $k -lt "$kills" ] && kill -KILL $pid 2>/dev/null; then
        wait $pid 2>/dev/null
        k=$((k + 1))
        pull "$db"
        continue
      fi
      wait $pid || fail "round $round: ${steps[$i]} failed: $(cat "$WORK/kerr")"
      pull "$db"
      break
    done
    total_kills=$((total_kills + k))
  done
  check "$db"
  echo "round $round: $total_kills kills so far, $pulls pulls, $last changes"
done
# the feed of the killed runs ends in the same decisions as the uninterrupted one
"$TQ" export decisions --db "$WORK/ref" -o "$WORK/ref.dec.csv" || fail "export decisions"
cmp -s "$WORK/ref.dec.csv" "$WORK/dec.csv" || fail "decisions differ from the uninterrupted run"
[ "$total_kills" -gt 0 ] || fail "no kill landed"
ok
done_ok
