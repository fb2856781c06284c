#!/usr/bin/env bash
# Proves (issue 9 "the skipped gap is remembered", issue 15 "skip-and-fill is lossy"):
#  * replay --skip-corrupt over a frame with a damaged payload exits 5, says what it
#    skipped and points at --fill-gap; `stat` (text and --json) shows the gap;
#  * replay --fill-gap with the intact journal applies exactly the gap's events, the gap
#    is gone, and the review list is printed (text and --json); every declaration whose
#    decision differs from an uninterrupted replay is in the review list, and every
#    permit whose use differs is among its quota permits;
#  * a rerun that skips nothing new exits 0 but warns of the gap left;
#  * a second --fill-gap finds nothing to fill; a copy that is another journal, or whose
#    gap frame is damaged too, is refused (exit 5) with nothing applied;
#  * the text summary says that held-by-reason counts overlap when they add up to more
#    than HELD.
# Skipped (77) while the store does not keep gaps (engine/tq_store.h tq_store_put_gap).
source "$(dirname "$0")/lib.sh"
n=${TQ_FILL_DECLARATIONS:-20000}
"$TQ" gen --declarations "$n" --seed 41 --frame-size 16384 --out "$WORK/g" --quiet || fail "gen"
J=$WORK/g/journal.tqj


# damage FILE K : flip a byte in the payload of frame K (JOURNAL.md 2-3: frames start at
# byte 64 after the file header, a frame header is 40 bytes, its zsize the u32 at 20)
damage() {
  local off=64 i=0 z at b
  while [ $i -lt "$2" ]; do
    z=$(od -An -tu4 -j $((off + 20)) -N 4 "$1" | tr -d ' ')
    off=$((off + 40 + z)); i=$((i + 1))
  done
  at=$((off + 40 + 20))
  b=$(od -An -tu1 -j "$at" -N 1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$at" conv=notrunc status=none
}
cp "$J" "$WORK/bad.tqj"
damage "$WORK/bad.tqj" 2

# the reference: an uninterrupted replay (text summary: item "held by reason" overlap)
fresh_db "$WORK/ref"
expect_status 0 "$TQ" replay "$J" --db "$WORK/ref" --threads 2
held=$(sed -n 's/^declarations [0-9]*: .*HELD \([0-9]*\),.*/\1/p' "$WORK/out")
sum=$(sed -n 's/^held by reason: //p' "$WORK/out" | tr ',' '\n' | awk '{ s += $NF } END { print s + 0 }')
if [ "${sum:-0}" -gt "${held:-0}" ]; then
  grep -q "counted under each of its reasons" "$WORK/out" || fail "held by reason sums to $sum > HELD $held, and the summary does not say why: $(cat "$WORK/out")"
  ok
  echo "summary: held by reason adds up to $sum > HELD $held, and says so"
fi
export_db "$WORK/ref" "$WORK/ref.csv"

# skip the damaged frame
fresh_db "$WORK/db"
expect_status 5 "$TQ" replay "$WORK/bad.tqj" --db "$WORK/db" --skip-corrupt --threads 1
grep -q "skipped 1 corrupt frame" "$WORK/err" || fail "no word of the skipped frame: $(cat "$WORK/err")"
grep -q -- "--fill-gap" "$WORK/err" || fail "--fill-gap not mentioned: $(cat "$WORK/err")"
range=$(sed -n 's/.*skipped corrupt frames: 1 ([0-9]* events): seq \([0-9]*\.\.[0-9]*\).*/\1/p' "$WORK/out")
[ -n "$range" ] || fail "the summary has no skipped range: $(cat "$WORK/out")"
"$TQ" stat --db "$WORK/db" >"$WORK/stat" || fail "stat"
if ! grep -q "^gap in journal" "$WORK/stat"; then
  echo "skipped: the store does not keep gaps yet (tq_store_put_gap)"
  exit 77
fi
grep -q "seq $range (frame 2) skipped" "$WORK/stat" || fail "stat does not show the gap seq $range: $(cat "$WORK/stat")"
"$TQ" stat --db "$WORK/db" --json >"$WORK/stat.json" || fail "stat --json"
first=${range%..*}; last=${range#*..}
grep -q "\"gaps\":\[{\"journal\":\"[0-9a-f]*\",\"first_seq\":$first,\"last_seq\":$last,\"frame\":2," "$WORK/stat.json" ||
  fail "stat --json does not show the gap: $(tail -c 400 "$WORK/stat.json")"
ok
echo "--skip-corrupt: exit 5, gap seq $range recorded and shown by stat (text and --json)"

# a rerun that skips nothing new exits 0 but still says a gap is left
expect_status 0 "$TQ" replay "$WORK/bad.tqj" --db "$WORK/db" --skip-corrupt
grep -q "1 gap left by an earlier --skip-corrupt is not applied" "$WORK/err" || fail "a rerun does not mention the gap left: $(cat "$WORK/err")"

# a copy that is damaged too, and a copy of another journal, are refused
cp -r "$WORK/db" "$WORK/db-keep"
expect_status 5 "$TQ" replay --fill-gap "$WORK/bad.tqj" --db "$WORK/db"
grep -q "corrupt too" "$WORK/err" || fail "a damaged copy is not called damaged: $(cat "$WORK/err")"
"$TQ" gen --declarations 500 --seed 42 --frame-size 16384 --out "$WORK/other" --quiet || fail "gen other"
expect_status 0 "$TQ" replay --fill-gap "$WORK/other/journal.tqj" --db "$WORK/db"
grep -q "no gap recorded" "$WORK/out" || fail "another journal: $(cat "$WORK/out")"
"$TQ" stat --db "$WORK/db" | grep -q "^gap in journal" || fail "a refused fill removed the gap"
ok

# fill from the intact journal
expect_status 0 "$TQ" replay --fill-gap "$J" --db "$WORK/db"
no_sanitizer_report
grep -q "^filled 1 gap of journal" "$WORK/out" || fail "fill: $(head -c 600 "$WORK/out")"
cp "$WORK/out" "$WORK/review.txt"
"$TQ" stat --db "$WORK/db" | grep -q "^gap in journal" && fail "the gap is still recorded after the fill"
export_db "$WORK/db" "$WORK/got"
# every declaration that differs is in the review list; every permit that differs is
# among its quota permits
diff "$WORK/ref.csv.d" "$WORK/got.d" | sed -n 's/^[<>] \([0-9]\{12\}\),.*/\1/p' | sort -u >"$WORK/differ"
sed -n 's/^    \([0-9]\{12\}\)$/\1/p' "$WORK/review.txt" | sort -u >"$WORK/listed"
missing=$(comm -23 "$WORK/differ" "$WORK/listed" | head -5)
[ -z "$missing" ] || fail "declarations differ from an uninterrupted replay but are not listed for review: $missing"
diff "$WORK/ref.csv.p" "$WORK/got.p" | sed -n 's/^[<>] \([^,]*\),.*/\1/p' | sort -u >"$WORK/pdiffer"
sed -n 's/^    \([^ ]*\)$/\1/p' "$WORK/review.txt" | sort -u >"$WORK/plisted"
pmissing=$(comm -23 "$WORK/pdiffer" "$WORK/plisted" | head -5)
[ -z "$pmissing" ] || fail "permit use differs but the permit is not listed: $pmissing"
ok
echo "fill: the gap is gone; $(wc -l <"$WORK/differ") declarations and $(wc -l <"$WORK/pdiffer") permits differ from an uninterrupted replay, all among the $(wc -l <"$WORK/listed") listed for review"

# nothing left to fill
expect_status 0 "$TQ" replay --fill-gap "$J" --db "$WORK/db"
grep -q "no gap recorded" "$WORK/out" || fail "a second fill: $(cat "$WORK/out")"
ok

# --json, on the copy kept before the fill
expect_status 0 "$TQ" replay --fill-gap "$J" --db "$WORK/db-keep" --json
grep -q '"gaps_filled":1,' "$WORK/out" || fail "--json: $(head -c 400 "$WORK/out")"
grep -q '"review":{' "$WORK/out" || fail "--json has no review: $(head -c 400 "$WORK/out")"
if [ -s "$WORK/listed" ]; then
  d1=$(head -1 "$WORK/listed")
  grep -q "\"$d1\"" "$WORK/out" || fail "--json review lacks $d1"
fi
if command -v python3 >/dev/null; then
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/out" || fail "--json is not JSON"
fi
export_db "$WORK/db-keep" "$WORK/got2"
cmp -s "$WORK/got.d" "$WORK/got2.d" || fail "--json fill gave another result"
ok

# two gaps (frames 1 and 5), skipped by the serial path, filled in one run
cp "$J" "$WORK/bad2.tqj"
damage "$WORK/bad2.tqj" 1
damage "$WORK/bad2.tqj" 5
fresh_db "$WORK/db2"
expect_status 5 "$TQ" replay "$WORK/bad2.tqj" --db "$WORK/db2" --skip-corrupt --threads 0
grep -q "skipped 2 corrupt frames" "$WORK/err" || fail "two frames: $(cat "$WORK/err")"
[ "$("$TQ" stat --db "$WORK/db2" | grep -c '^gap in journal')" = 2 ] || fail "stat does not show two gaps"
expect_status 0 "$TQ" replay --fill-gap "$J" --db "$WORK/db2"
grep -q "^filled 2 gaps of journal" "$WORK/out" || fail "two gaps: $(head -c 400 "$WORK/out")"
export_db "$WORK/db2" "$WORK/got3"
diff "$WORK/ref.csv.d" "$WORK/got3.d" | sed -n 's/^[<>] \([0-9]\{12\}\),.*/\1/p' | sort -u >"$WORK/differ3"
sed -n 's/^    \([0-9]\{12\}\)$/\1/p' "$WORK/out" | sort -u >"$WORK/listed3"
missing=$(comm -23 "$WORK/differ3" "$WORK/listed3" | head -5)
[ -z "$missing" ] || fail "two gaps: declarations differ but are not listed for review: $missing"
ok
echo "two gaps: filled in one run; $(wc -l <"$WORK/differ3") declarations differ, all among the $(wc -l <"$WORK/listed3") listed"
done_ok
