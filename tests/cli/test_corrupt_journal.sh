#!/usr/bin/env bash
# Proves (SPEC §6 "Nothing lost", corrupt frames and torn tails):
#  * one flipped byte in the payload of a middle frame: `journal verify` exits 5; a
#    replay stops with exit 5 and a message naming the frame and its seq range, after
#    committing everything before it (the mark is the frame's first seq - 1 and the
#    export is exactly that of the journal cut before the frame);
#    What is committed is said from the database's mark, and an intact copy is advised
#    before --skip-corrupt;
#  * `--skip-corrupt` goes past it: exit 5 (events were left out), saying what was
#    skipped and that --fill-gap applies it; the text summary and `--json` report the
#    skipped seq range, and the result is exactly the replay of every other event
#    (declarations whose DECL is only in that frame are absent; nothing half-applied);
#  * a damaged frame header, a missing frame and a duplicated frame cannot be skipped:
#    exit 5 even with --skip-corrupt, everything before them is committed, and the
#    message says so from the mark, says it cannot be skipped, and advises no
#    --skip-corrupt;
#  * a torn tail (the file cut inside a frame's payload, or inside a frame header): the
#    complete frames are replayed, the tail is reported (stderr warning,
#    "torn_tail":true), exit 0; `journal verify` exits 5.
# Frames are located by walking the headers as formats/JOURNAL.md §3 lays them out.
#   TQ_CORRUPT_DECLARATIONS (default 20000).
source "$(dirname "$0")/lib.sh"
n=${TQ_CORRUPT_DECLARATIONS:-20000}
"$TQ" gen --declarations "$n" --seed 31 --frame-size 16384 --out "$WORK/g" --quiet || fail "gen"
J=$WORK/g/journal.tqj

# frames FILE : "index offset first_seq count zsize" per frame (JOURNAL.md §2-3)
frames() {
  local f=$1 size off=64 i=0 magic lo hi count raw zsize
  size=$(stat -c %s "$f")
  while [ "$off" -lt "$size" ] && [ $i -lt 100000 ]; do
    read -r magic lo hi count raw zsize < <(od -An -tu4 -v -w24 -j "$off" -N 24 "$f")
    [ "$magic" = 1380340052 ] || fail "no frame magic at byte $off of $f"
    echo "$i $off $((lo + hi * 4294967296)) $count $zsize"
    off=$((off + 40 + zsize)); i=$((i + 1))
  done
}
# replay_of JOURNAL OUT : export of a fresh replay (the reference for a given content)
replay_of() {
  fresh_db "$WORK/refdb"
  "$TQ" replay "$1" --db "$WORK/refdb" --quiet 2>"$WORK/referr" || fail "reference replay of $1: $(cat "$WORK/referr")"
  export_db "$WORK/refdb" "$2"
}

frames "$J" >"$WORK/frames"
nframes=$(wc -l <"$WORK/frames")
[ "$nframes" -ge 20 ] || fail "only $nframes frames: the backlog is too small"
"$TQ" journal cat "$J" >"$WORK/all.ndjson" || fail "journal cat"
echo "journal: $nframes frames, $(wc -l <"$WORK/all.ndjson") events"

# ---- a flipped byte in the payload of a middle frame ----
read -r bi boff bfirst bcount bz < <(sed -n "$((nframes / 2 + 1))p" "$WORK/frames")
blast=$((bfirst + bcount - 1))
cp "$J" "$WORK/bad.tqj"
flip "$WORK/bad.tqj" $((boff + 40 + bz / 2))
echo "flipped byte $((boff + 40 + bz / 2)): payload of frame $bi, seq $bfirst..$blast"

expect_status 5 "$TQ" journal verify "$WORK/bad.tqj"
grep -q "frame $bi .*seq $bfirst\.\.$blast" "$WORK/err" || fail "verify does not name frame $bi and seq $bfirst..$blast: $(cat "$WORK/err")"

# reference for "everything before it": the journal cut at the frame (a valid shorter
# journal, JOURNAL.md §6), and for "everything but it": the other events, repacked.
head -c "$boff" "$J" >"$WORK/prefix.tqj"
replay_of "$WORK/prefix.tqj" "$WORK/prefix.csv"
awk -v a="$bfirst" -v b="$blast" '{ s = $0; sub(/.*"seq":/, "", s); s = s + 0; if (s < a || s > b) print }' \
  "$WORK/all.ndjson" | sed 's/,"seq":[0-9]*//; s/"seq":[0-9]*,//' >"$WORK/without.ndjson"
[ "$(wc -l <"$WORK/without.ndjson")" -eq $(($(wc -l <"$WORK/all.ndjson") - bcount)) ] || fail "could not drop seq $bfirst..$blast"
"$TQ" journal pack "$WORK/without.ndjson" -o "$WORK/without.tqj" --quiet || fail "pack without the frame"
replay_of "$WORK/without.tqj" "$WORK/without.csv"
ok

# both paths: the serial one (--threads 0) and the pipeline (the default); one batch
# for the whole journal, so only the commit on the way out keeps the frames before it
for threads in 0 2; do
  fresh_db "$WORK/db"
  expect_status 5 "$TQ" replay "$WORK/bad.tqj" --db "$WORK/db" --batch 100000000 --threads $threads
  no_sanitizer_report
  grep -q "frame $bi (seq $bfirst\.\.$blast) is corrupt" "$WORK/err" || fail "replay --threads $threads does not name frame $bi, seq $bfirst..$blast: $(cat "$WORK/err")"
  grep -q "committed through seq $((bfirst - 1)) (its mark)" "$WORK/err" || fail "replay does not say what is committed: $(cat "$WORK/err")"
  grep -q "intact copy" "$WORK/err" || fail "replay does not advise an intact copy: $(cat "$WORK/err")"
  [ "$(mark_of "$WORK/db")" = $((bfirst - 1)) ] || fail "--threads $threads: mark is $(mark_of "$WORK/db"), wanted $((bfirst - 1))"
  export_db "$WORK/db" "$WORK/got.csv"
  cmp -s "$WORK/got.csv" "$WORK/prefix.csv" || fail "--threads $threads: state after the stop is not exactly the events before seq $bfirst: $(diff "$WORK/prefix.csv" "$WORK/got.csv" | head -4)"
  ok
  echo "replay --threads $threads: exit 5 naming frame $bi (seq $bfirst..$blast); mark $((bfirst - 1)); export = journal cut before the frame"
done

# the same database, now with --skip-corrupt and --json: goes on past the frame
expect_status 5 "$TQ" replay "$WORK/bad.tqj" --db "$WORK/db" --skip-corrupt --json
grep -q "skipped 1 corrupt frame ($bcount events, not applied" "$WORK/err" || fail "--skip-corrupt does not say what it skipped: $(cat "$WORK/err")"
grep -q -- "--fill-gap" "$WORK/err" || fail "--skip-corrupt does not point at --fill-gap: $(cat "$WORK/err")"
grep -q '"status":5' "$WORK/out" || fail "--json status is not 5"
grep -q "\"skipped\":\[{\"frame\":$bi,\"first_seq\":$bfirst,\"last_seq\":$blast}\]" "$WORK/out" ||
  fail "--json does not report the skipped range: $(head -c 600 "$WORK/out")"
grep -q "\"skipped_events\":$bcount" "$WORK/out" || fail "--json: skipped_events is not $bcount"
export_db "$WORK/db" "$WORK/got.csv"
cmp -s "$WORK/got.csv" "$WORK/without.csv" || fail "--skip-corrupt after a stop: not exactly the other events: $(diff "$WORK/without.csv" "$WORK/got.csv" | head -4)"
ok
# a fresh database with --skip-corrupt, text summary
fresh_db "$WORK/db2"
expect_status 5 "$TQ" replay "$WORK/bad.tqj" --db "$WORK/db2" --skip-corrupt --batch 1000
grep -q "skipped corrupt frames: 1 ($bcount events): seq $bfirst\.\.$blast" "$WORK/out" ||
  fail "the summary does not report the skipped range: $(cat "$WORK/out")"
export_db "$WORK/db2" "$WORK/got.csv"
cmp -s "$WORK/got.csv" "$WORK/without.csv" || fail "--skip-corrupt: not exactly the other events"
# declarations whose only DECL was in the frame are absent, not half there
awk -v a="$bfirst" -v b="$blast" '/"ev":"DECL"/ { s = $0; sub(/.*"seq":/, "", s); s = s + 0; d = $0;
    sub(/.*"decl_no":"/, "", d); d = substr(d, 1, 12); if (s >= a && s <= b) inside[d] = 1; else outside[d] = 1 }
  END { for (d in inside) if (!(d in outside)) print d }' "$WORK/all.ndjson" | sort >"$WORK/only_inside"
lost=$(wc -l <"$WORK/only_inside")
[ "$lost" -gt 0 ] || fail "no DECL only in frame $bi: pick another frame"
present=$(cut -d, -f1 "$WORK/got.csv" | sort | comm -12 - "$WORK/only_inside" | wc -l)
[ "$present" -eq 0 ] || fail "$present declarations declared only in the skipped frame are in the export"
ok
echo "--skip-corrupt: exit 5, seq $bfirst..$blast reported (text and --json); $lost declarations declared only there are absent; the rest is exact"

# ---- header-level damage: cannot be skipped ----
# A damaged header of frame hi; frame hi missing; frame hi duplicated.  The frames after
# it cannot be located: exit 5 with or without --skip-corrupt, everything before it
# committed, said from the mark, never from the damaged header, and no advice to skip.
read -r hi hoff hfirst hcount hz < <(sed -n "$((nframes / 3 + 1))p" "$WORK/frames")
hend=$((hoff + 40 + hz))
cp "$J" "$WORK/badhdr.tqj"
flip "$WORK/badhdr.tqj" $((hoff + 16))   # raw_size
{ head -c "$hoff" "$J"; tail -c +$((hend + 1)) "$J"; } >"$WORK/missing.tqj"
{ head -c "$hend" "$J"; tail -c +$((hoff + 1)) "$J"; } >"$WORK/dup.tqj"
head -c "$hoff" "$J" >"$WORK/hprefix.tqj"
replay_of "$WORK/hprefix.tqj" "$WORK/hprefix.csv"
head -c "$hend" "$J" >"$WORK/hprefix2.tqj"
replay_of "$WORK/hprefix2.tqj" "$WORK/hprefix2.csv"
for damage in badhdr missing dup; do
  want=$((hfirst - 1)); ref=$WORK/hprefix.csv
  [ $damage = dup ] && { want=$((hfirst + hcount - 1)); ref=$WORK/hprefix2.csv; }
  for skip in "" --skip-corrupt; do
    fresh_db "$WORK/db3"
    threads=0; [ -n "$skip" ] && threads=2
    expect_status 5 "$TQ" replay "$WORK/$damage.tqj" --db "$WORK/db3" --threads $threads $skip
    grep -q "cannot be skipped" "$WORK/err" || fail "$damage: not said to be unskippable: $(cat "$WORK/err")"
    grep -q "committed through seq $want of this journal (its mark)" "$WORK/err" || fail "$damage ${skip}: does not say committed through seq $want: $(cat "$WORK/err")"
    grep -q "intact copy" "$WORK/err" || fail "$damage: no advice to use an intact copy"
    if grep -q -e "--skip-corrupt goes past" -e "everything before" "$WORK/err"; then
      fail "$damage: advises --skip-corrupt or states a range from the header: $(cat "$WORK/err")"
    fi
    [ "$(mark_of "$WORK/db3")" = $want ] || fail "$damage ${skip}: mark $(mark_of "$WORK/db3"), wanted $want"
    export_db "$WORK/db3" "$WORK/got.csv"
    cmp -s "$WORK/got.csv" "$ref" || fail "$damage ${skip}: not exactly the frames before it"
    ok
  done
  echo "$damage (frame $hi): exit 5 with and without --skip-corrupt; committed through seq $want, said from the mark"
done
expect_status 5 "$TQ" journal verify "$WORK/badhdr.tqj"

# ---- torn tails: cut inside a payload, and inside a frame header ----
read -r ti toff tfirst tcount tz < <(sed -n "$((nframes - 2))p" "$WORK/frames")
head -c "$toff" "$J" >"$WORK/tprefix.tqj"
replay_of "$WORK/tprefix.tqj" "$WORK/tprefix.csv"
for cut in $((toff + 40 + tz / 2)) $((toff + 17)); do
  head -c "$cut" "$J" >"$WORK/torn.tqj"
  expect_status 5 "$TQ" journal verify "$WORK/torn.tqj"
  grep -qi "torn" "$WORK/err" || fail "verify does not call a cut at byte $cut a torn tail: $(cat "$WORK/err")"
  fresh_db "$WORK/db4"
  expect_status 0 "$TQ" replay "$WORK/torn.tqj" --db "$WORK/db4" --json
  grep -q '"torn_tail":true' "$WORK/out" || fail "--json does not report the torn tail: $(head -c 400 "$WORK/out")"
  grep -q "torn tail" "$WORK/err" || fail "no torn-tail warning on stderr"
  grep -q "through seq $((tfirst - 1))" "$WORK/err" || fail "the warning does not say seq $((tfirst - 1)): $(cat "$WORK/err")"
  [ "$(mark_of "$WORK/db4")" = $((tfirst - 1)) ] || fail "torn tail: mark $(mark_of "$WORK/db4"), wanted $((tfirst - 1))"
  export_db "$WORK/db4" "$WORK/got.csv"
  cmp -s "$WORK/got.csv" "$WORK/tprefix.csv" || fail "torn tail: not exactly every complete frame"
  ok
  echo "torn tail cut at byte $cut (frame $ti): exit 0, reported, every complete frame (through seq $((tfirst - 1))) replayed"
done
done_ok
