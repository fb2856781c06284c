#!/usr/bin/env bash
# Proves (issue 9, "a damaged database"; SPEC §6): whatever one flipped byte or a
# truncation does to data.mdb, every command ends either with exit 0 and exactly the
# output of the undamaged database (the byte was unused), or with exit 5 and a message
# naming the database.  Never a crash (a signal, exit >= 128, or any sanitizer report),
# never exit 0 with a different answer, never another status.
#
# The sweep, as SQLite's corruption tests do it: a small database (200 declarations,
# payments, permits, one replay), then for each page of data.mdb a fixed set of
# positions read from the page itself (page header: pgno, flags, lower, upper; the
# first node offset; the first node's size or child, flags, key size, first key byte,
# first value byte; the page's last byte) and, on the two meta pages, each field that
# matters (magic, version, map size, free and main roots, entries, last page, txnid),
# each damaged with one of five xor masks in turn; plus truncations to 0, 8 KiB,
# 12 KiB, half and size - 4 KiB.  Each damaged copy goes through `stat`,
# `export decisions`, `check`, and `replay` of a second journal (then `export
# decisions` again).  Text `stat` is compared without its "map:" line: the map size is
# LMDB's address-space reservation, read from the meta page, not data (a flipped bit
# there only changes the reservation).
#   TQ_DAMAGE_FLIPS bounds the flips (default 210, spread evenly over the positions);
#   TQ_DAMAGE_REPORT=FILE keeps the full report (every case that was not harmless).
source "$(dirname "$0")/lib.sh"
START=$SECONDS
MAXF=${TQ_DAMAGE_FLIPS:-210}
P=$WORK/pristine
D=$WORK/d

"$TQ" gen --declarations 200 --seed 11 --out "$WORK/g" --quiet || fail "gen"
"$TQ" gen --declarations 40 --seed 12 --out "$WORK/g2" --quiet || fail "gen 2"
fresh_db "$P"
"$TQ" replay "$WORK/g/journal.tqj" --db "$P" --quiet || fail "replay"
SIZE=$(stat -c %s "$P/data.mdb")
PS=4096
NPAGES=$((SIZE / PS))

u16() { od -An -tu2 -j "$2" -N 2 "$1" | tr -d ' '; }

# run NAME CMD... : run one command on the damaged copy; output in $WORK/NAME.out
run() {
  local name=$1; shift
  local st=0
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || st=$?
  echo "$st" >"$WORK/$name.st"
}
strip_stat() { grep -v '^map: ' "$1"; }
strip_replay() { sed -E 's/ in [0-9.]+ s, [0-9]+ events\/s//' "$1"; }

# exercise DIR PREFIX : every command on DIR, outputs under PREFIX.*
exercise() {
  local dir=$1 pre=$2
  run "$pre.stat" "$TQ" stat --db "$dir"
  strip_stat "$WORK/$pre.stat.out" >"$WORK/$pre.stat.cmp"
  run "$pre.export" "$TQ" export decisions --db "$dir"
  cp "$WORK/$pre.export.out" "$WORK/$pre.export.cmp"
  run "$pre.check" "$TQ" check --db "$dir"
  cp "$WORK/$pre.check.out" "$WORK/$pre.check.cmp"
  run "$pre.replay" "$TQ" replay "$WORK/g2/journal.tqj" --db "$dir"
  strip_replay "$WORK/$pre.replay.out" >"$WORK/$pre.replay.cmp"
  if [ "$(cat "$WORK/$pre.replay.st")" = 0 ]; then
    run "$pre.after" "$TQ" export decisions --db "$dir"
  else   # nothing to compare after a refused replay: count it as the reference
    cp "$WORK/ref.after.out" "$WORK/$pre.after.out" 2>/dev/null || : >"$WORK/$pre.after.out"
    echo 0 >"$WORK/$pre.after.st"; : >"$WORK/$pre.after.err"
  fi
  cp "$WORK/$pre.after.out" "$WORK/$pre.after.cmp"
}

# the reference: the undamaged copy, at the same path as every damaged one
rm -rf "$D"; cp -a "$P" "$D"
exercise "$D" ref
for c in stat export check replay after; do
  [ "$(cat "$WORK/ref.$c.st")" = 0 ] || fail "undamaged $c exited $(cat "$WORK/ref.$c.st"): $(head -c 400 "$WORK/ref.$c.err")"
done
ok

cases=0 flips=0 truncs=0 detected=0 harmless=0 crashes=0 silent=0 other=0 escaped=0 missed=0
report=$WORK/report
: >"$report"

# judge WHAT : classify the runs of one damaged copy
judge() {
  local what=$1 c st verdict=harmless any5=0 check5=0
  for c in stat export check replay after; do
    st=$(cat "$WORK/dmg.$c.st")
    if [ "$st" -ge 128 ] || grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:|Sanitizer" "$WORK/dmg.$c.err"; then
      verdict=crash; echo "CRASH $what: $c exit $st: $(head -c 300 "$WORK/dmg.$c.err")" >>"$report"
    elif [ "$st" = 0 ]; then
      if ! cmp -s "$WORK/dmg.$c.cmp" "$WORK/ref.$c.cmp"; then
        [ "$verdict" = crash ] || verdict=silent
        echo "SILENT $what: $c exit 0 with different output" >>"$report"
        diff "$WORK/ref.$c.cmp" "$WORK/dmg.$c.cmp" | head -4 >>"$report"
      fi
    elif [ "$st" = 5 ]; then
      any5=1; [ "$c" = check ] && check5=1
      if ! grep -qF -e "$D" -e "database" "$WORK/dmg.$c.err"; then
        [ "$verdict" = harmless ] && verdict=other
        echo "UNNAMED $what: $c exit 5 without naming the database: $(head -c 300 "$WORK/dmg.$c.err")" >>"$report"
      fi
    else
      [ "$verdict" = harmless ] && verdict=other
      echo "OTHER $what: $c exit $st: $(head -c 300 "$WORK/dmg.$c.err")" >>"$report"
    fi
  done
  [ "$verdict" = harmless ] && [ $any5 = 1 ] && verdict=detected
  echo "CASE $what: $verdict; exit stat $(cat "$WORK/dmg.stat.st") export $(cat "$WORK/dmg.export.st")" \
       "check $(cat "$WORK/dmg.check.st") replay $(cat "$WORK/dmg.replay.st")" >>"$report"
  [ $any5 = 1 ] && [ $check5 = 0 ] && { missed=$((missed + 1)); echo "MISSED-BY-CHECK $what" >>"$report"; }
  [ "$verdict" = harmless ] && { escaped=$((escaped + 1)); echo "ESCAPED $what" >>"$report"; }
  case $verdict in
    harmless) harmless=$((harmless + 1)) ;;
    detected) detected=$((detected + 1)) ;;
    crash) crashes=$((crashes + 1)) ;;
    silent) silent=$((silent + 1)) ;;
    *) other=$((other + 1)) ;;
  esac
  cases=$((cases + 1))
}

# damage_flip OFFSET MASK WHAT / damage_trunc SIZE
damage_flip() {
  [ "$1" -lt "$SIZE" ] || return 0
  rm -rf "$D"; cp -a "$P" "$D"
  flip "$D/data.mdb" "$1" "$2"
  exercise "$D" dmg
  flips=$((flips + 1))
  judge "flip byte $1 ^ $2 ($3)"
}
damage_trunc() {
  rm -rf "$D"; cp -a "$P" "$D"
  truncate -s "$1" "$D/data.mdb"
  exercise "$D" dmg
  truncs=$((truncs + 1))
  judge "truncate to $1"
}

# The positions, read from the undamaged file: offsets in pos[], labels in what[].
pos=() what=()
at() { pos+=("$1"); what+=("$2"); }
for pg in 0 1; do
  b=$((pg * PS))
  for f in 16:magic 20:version 35:mapsize 80:free-root 120:main-entries 128:main-root \
           136:last-page 144:txnid 145:txnid-byte1; do
    at $((b + ${f%%:*})) "meta page $pg ${f#*:}"
  done
done
for ((pg = 2; pg < NPAGES; pg++)); do
  b=$((pg * PS))
  flags=$(u16 "$P/data.mdb" $((b + 10)))
  lower=$(u16 "$P/data.mdb" $((b + 12)))
  at $((b + 0)) "page $pg pgno"
  at $((b + 10)) "page $pg flags"
  at $((b + 12)) "page $pg lower"
  at $((b + 14)) "page $pg upper"
  if { [ "$flags" = 1 ] || [ "$flags" = 2 ]; } && [ "$lower" -ge 18 ]; then
    off=$(u16 "$P/data.mdb" $((b + 16)))
    ks=$(u16 "$P/data.mdb" $((b + off + 6)))
    at $((b + 16)) "page $pg node offset"
    at $((b + off)) "page $pg node size/child"
    at $((b + off + 4)) "page $pg node flags"
    at $((b + off + 6)) "page $pg key size"
    at $((b + off + 8)) "page $pg key byte"
    [ "$flags" = 2 ] && [ $((off + 8 + ks)) -lt $PS ] && at $((b + off + 8 + ks)) "page $pg value byte"
    at $((b + PS - 1)) "page $pg last byte"
  fi
done

for t in 0 8192 12288 $((SIZE / 2)) $((SIZE - PS)); do damage_trunc "$t"; done
# Evenly spread over the positions when there are more than MAXF; the masks turn in
# order (one bit low, middle, high; a whole byte), so each field meets several.
n=${#pos[@]}
m=$n; [ "$m" -le "$MAXF" ] || m=$MAXF
masks=(1 4 16 128 255)
for ((i = 0; i < m; i++)); do
  j=$((i * n / m))
  damage_flip "${pos[$j]}" "${masks[$((i % 5))]}" "${what[$j]}"
done

grep -v '^ESCAPED\|^MISSED\|^CASE' "$report" | head -40
[ -z "${TQ_DAMAGE_REPORT:-}" ] || cp "$report" "$TQ_DAMAGE_REPORT"
echo "damage sweep: $cases cases ($flips flips, $truncs truncations) in $((SECONDS - START)) s:" \
     "detected $detected, harmless $harmless (check saw nothing: $escaped), crashes $crashes," \
     "silent $silent, other $other; damage a command caught but check missed: $missed"
[ "$flips" -ge 200 ] || [ "$MAXF" -lt 200 ] || fail "only $flips flips: the sweep must have at least 200"
[ $crashes = 0 ] || fail "$crashes damaged copies crashed a command"
[ $silent = 0 ] || fail "$silent damaged copies gave a different answer with exit 0"
[ $other = 0 ] || fail "$other damaged copies ended with another status or an unnamed error"
ok
done_ok
