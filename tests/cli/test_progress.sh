#!/usr/bin/env bash
# Proves: the long commands (gen, journal pack, load, replay, reconcile) draw a progress
# line on a terminal -- a '\r'-redrawn line on stderr with done/total, a rate and an ETA
# (reconcile: held declarations re-evaluated, and the clearances so far) -- and erase it before the summary; and that on a pipe or a file, and with
# --quiet on a terminal, not one '\r' or escape sequence is written.  The terminal is a
# pseudo-terminal from script(1) (util-linux).
source "$(dirname "$0")/lib.sh"
command -v script >/dev/null || fail "script(1) from util-linux is needed (tools/setup-deps.sh installs it)"
n=${TQ_PROGRESS_DECLARATIONS:-200000}
CR=$(printf '\r')

on_tty() { # on_tty OUTFILE CMD...: run CMD on a pseudo-terminal, its output in OUTFILE
  local out=$1; shift
  local cmd
  printf -v cmd '%q ' "$@"
  script -qfec "$cmd" /dev/null >"$out" 2>&1 </dev/null
}
drew() { # drew FILE WHAT: FILE holds a redrawn progress line for WHAT with a rate and an ETA
  # (grep reads a process substitution, not a pipe: with pipefail, a grep -q that stops
  # at its first match would fail the pipeline by the SIGPIPE of the tr still writing)
  grep -q "$CR" "$1" || fail "$2: no progress line on a terminal: $(head -c 300 "$1" | cat -v)"
  grep -Eq "^(.\[K)?$2: .*/s(, ETA [0-9]+s)?" <(tr '\r' '\n' <"$1") || fail "$2: no rate in the progress line: $(head -c 300 "$1" | cat -v)"
  grep -Eq "^(.\[K)?$2: .*, ETA [0-9]+s" <(tr '\r' '\n' <"$1") || fail "$2: no ETA in the progress line: $(head -c 300 "$1" | cat -v)"
  ok
}
clean() { # clean FILE WHAT: no carriage return, no escape
  ! grep -q "$CR" "$1" || fail "$2: a '\\r' on a pipe or with --quiet: $(head -c 300 "$1" | cat -v)"
  ! grep -q "$(printf '\033')" "$1" || fail "$2: an escape sequence on a pipe or with --quiet"
  ok
}

# ---- on a terminal ----
# A command that ends before its first redraw (a quarter second) draws nothing; on a
# quiet machine gen and load can be that fast, so the first redraw is brought forward
# to 20 ms here (the throttle itself is not what this test is about).
export TQ_PROGRESS_INTERVAL_MS=20
t0=$(date +%s%N)
on_tty "$WORK/gen.tty" "$TQ" gen --declarations "$n" --seed 3 --out "$WORK/g" || fail "gen on a tty: $(cat -v "$WORK/gen.tty" | tail -3)"
gen_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
drew "$WORK/gen.tty" gen
grep -q "generated $n declarations" "$WORK/gen.tty" || fail "gen summary missing on a tty"
# the line is erased before the summary: the summary starts a line of its own
grep -q "^$(printf '\033')\[Kgenerated $n" <(tr '\r' '\n' <"$WORK/gen.tty") || fail "the progress line is not erased before the summary: $(tail -c 300 "$WORK/gen.tty" | cat -v)"
ok

"$TQ" journal cat "$WORK/g/journal.tqj" >"$WORK/events.ndjson" || fail "cat"
on_tty "$WORK/pack.tty" "$TQ" journal pack "$WORK/events.ndjson" -o "$WORK/p.tqj" || fail "pack on a tty"
if grep -q "$CR" "$WORK/pack.tty"; then drew "$WORK/pack.tty" pack; fi

on_tty "$WORK/load.tty" "$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/db" || fail "load on a tty: $(cat -v "$WORK/load.tty" | tail -3)"
drew "$WORK/load.tty" load
grep -Eq '^.\[Kload: [0-9.]+ [KM]iB of [0-9.]+ MiB \([0-9]+%\)' <(tr '\r' '\n' <"$WORK/load.tty") || fail "load progress is not in bytes of the file"
"$TQ" load permits "$WORK/g/permits.csv" --db "$WORK/db" --quiet || fail "load permits"
# a load redone after the map grew (a tiny first map) never shows progress going back
# (TQ_PROGRESS_INTERVAL_MS=0 draws every value the library reports, about every 64 KiB)
on_tty "$WORK/loadgrow.tty" env TQ_MAP_SIZE=65536 TQ_PROGRESS_INTERVAL_MS=0 "$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/db-grow" || fail "load with a tiny map on a tty"
pcts=$(tr '\r' '\n' <"$WORK/loadgrow.tty" | sed -n 's/^.\[Kload: .*(\([0-9]*\)%).*/\1/p' | tr '\n' ' ')
prev=0
for p in $pcts; do
  [ "$p" -ge "$prev" ] || fail "load progress went backwards across a redo: $(echo "$pcts" | head -c 400)"
  prev=$p
done
"$TQ" stat --db "$WORK/db-grow" | grep -q '^map: 65536 bytes' && fail "the map did not grow: no redo was shown"
[ "$(echo $pcts | wc -w)" -gt 20 ] || fail "too few progress lines to judge: $pcts"
ok

on_tty "$WORK/replay.tty" "$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/db" --threads 1 || fail "replay on a tty: $(cat -v "$WORK/replay.tty" | tail -3)"
drew "$WORK/replay.tty" replay
grep -q 'through seq [0-9]' <(tr '\r' '\n' <"$WORK/replay.tty") || fail "replay progress does not say how far it got"
grep -q "^replayed $WORK/g/journal.tqj" <(tr '\r' '\n' <"$WORK/replay.tty" | sed 's/^.\[K//') || fail "replay summary missing"
ok

# Reconcile reports the held declarations re-evaluated of those found (the engine's
# progress callback) and the clearances so far; a run shorter than its first redraw (a
# quarter second) draws nothing, so only a long run is held to it.
"$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/db2" --quiet || fail "load db2"
"$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/db2" --quiet || fail "replay db2"
"$TQ" load permits "$WORK/g/permits.csv" --db "$WORK/db2" --quiet || fail "load permits db2"
t0=$(date +%s%N)
on_tty "$WORK/rec.tty" "$TQ" reconcile --db "$WORK/db2" || fail "reconcile on a tty"
rec_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$rec_ms" -ge 1000 ]; then
  grep -q "$CR" "$WORK/rec.tty" || fail "reconcile ran ${rec_ms} ms with no progress line"
  grep -Eq '^.\[Kreconcile: [0-9,]+/[0-9,]+ \([0-9]+%\) held declarations, .*, [0-9,]+ cleared so far' <(tr '\r' '\n' <"$WORK/rec.tty") ||
    fail "reconcile progress: $(head -c 300 "$WORK/rec.tty" | cat -v)"
  ok
else
  echo "note: reconcile took ${rec_ms} ms, too short to require a progress line"
fi

# --quiet on a terminal: nothing at all
on_tty "$WORK/quiet.tty" "$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/db3" --threads 1 --quiet || fail "replay --quiet"
[ ! -s "$WORK/quiet.tty" ] || fail "--quiet on a terminal printed: $(head -c 300 "$WORK/quiet.tty" | cat -v)"
ok

# ---- on a pipe or a file: never ----
"$TQ" gen --declarations "$n" --seed 3 --out "$WORK/g2" 2>"$WORK/gen.err" | cat >"$WORK/gen.out" || fail "gen on a pipe"
clean "$WORK/gen.err" gen
clean "$WORK/gen.out" gen
"$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/db4" 2>"$WORK/load.err" | cat >/dev/null || fail "load on a pipe"
clean "$WORK/load.err" load
"$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/db4" --threads 1 2>"$WORK/replay.err" | cat >/dev/null || fail "replay on a pipe"
clean "$WORK/replay.err" replay
"$TQ" reconcile --db "$WORK/db4" 2>"$WORK/rec.err" | cat >/dev/null || fail "reconcile on a pipe"
clean "$WORK/rec.err" reconcile
# stderr a file, stdout a terminal: still nothing (progress goes only to a terminal stderr)
script -qfec "$(printf '%q ' "$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/db5" --threads 1) 2>$(printf '%q' "$WORK/split.err")" /dev/null >"$WORK/split.out" </dev/null || fail "replay, stderr to a file"
clean "$WORK/split.err" "replay (stderr to a file)"
echo "gen on a tty took ${gen_ms} ms"
done_ok
