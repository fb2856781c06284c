#!/usr/bin/env bash
# compare.sh - each figure of a bench_suite JSON beside a baseline's; fails on a regression.
#   bash bench/compare.sh CURRENT.json BASELINE.json [--threshold X]
# Reads the JSON bench_suite --json writes: one {"name": ..., "unit": ..., "value": ...}
# object per line (that writer's own layout; nothing else is parsed).
#
# Direction, decided by the unit:
#   ms, s, MiB, KiB          lower is better (times, memory): worse when
#                            current > baseline x X
#   */s (decl/s, events/s)   higher is better (throughputs): worse when
#                            current < baseline / X
#   anything else (rows)     a count, printed, never judged
# X is the threshold, default 1.5 (a number > 1).  A baseline figure missing from the
# current file is a failure (a scenario stopped running); a current figure with no
# baseline, or a baseline of 0, is printed and not judged.
#
# Output: one line per figure: name, current, baseline, ratio (current/baseline), unit,
# and a verdict (ok, WORSE, missing, new, info); then a summary line.
# Exit: 0 every judged figure within the threshold; 5 one or more worse or missing (a
# limit passed); 1 a file missing or unreadable, or holding no figure; 2 usage.
set -uo pipefail

usage() { echo "usage: compare.sh CURRENT.json BASELINE.json [--threshold X]" >&2; exit 2; }
cur="" base="" thr=1.5
while [ $# -gt 0 ]; do
  case $1 in
    --threshold) [ $# -ge 2 ] || usage; thr=$2; shift 2 ;;
    -*) usage ;;
    *) if [ -z "$cur" ]; then cur=$1; elif [ -z "$base" ]; then base=$1; else usage; fi; shift ;;
  esac
done
[ -n "$cur" ] && [ -n "$base" ] || usage
if ! [[ $thr =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk -v t="$thr" 'BEGIN { exit !(t > 1) }'; then
  echo "compare.sh: --threshold '$thr': wanted a number greater than 1 (e.g. 1.5)" >&2
  exit 2
fi
for f in "$cur" "$base"; do
  [ -r "$f" ] && [ -f "$f" ] || { echo "compare.sh: $f: no such readable file" >&2; exit 1; }
done

# Each line is tagged with its file (C current, B baseline), so an empty file reads as
# empty rather than shifting the other into its place.
{ sed 's/^/C /' "$cur"; sed 's/^/B /' "$base"; } |
awk -v thr="$thr" -v curf="$cur" -v basef="$base" '
function field(line, key,   m) {
  if (match(line, "\"" key "\": *\"[^\"]*\"")) {
    m = substr(line, RSTART, RLENGTH); sub(/^"[a-z]+": *"/, "", m); sub(/"$/, "", m); return m
  }
  if (match(line, "\"" key "\": *-?[0-9.eE+-]+")) {
    m = substr(line, RSTART, RLENGTH); sub(/^"[a-z]+": */, "", m); return m
  }
  return ""
}
function dir(unit) {
  if (unit == "ms" || unit == "s" || unit == "MiB" || unit == "KiB") return -1
  if (unit ~ /\/s$/) return 1
  return 0
}
/"name":/ {
  n = field($0, "name"); u = field($0, "unit"); v = field($0, "value")
  if (n == "" || v == "") next
  if ($1 == "C") { cv[n] = v + 0; cu[n] = u; corder[++nc] = n }
  else { bv[n] = v + 0; bu[n] = u; border[++nb] = n }
}
END {
  if (nc == 0) { printf "compare.sh: %s holds no figure\n", curf > "/dev/stderr"; exit 1 }
  if (nb == 0) { printf "compare.sh: %s holds no figure\n", basef > "/dev/stderr"; exit 1 }
  printf "%-52s %14s %14s %7s  %-9s %s\n", "figure", "current", "baseline", "ratio", "unit", "verdict"
  worse = 0
  for (i = 1; i <= nb; i++) {
    n = border[i]
    if (!(n in cv)) {
      printf "%-52s %14s %14.1f %7s  %-9s missing\n", n, "-", bv[n], "-", bu[n]; worse++; continue
    }
    d = dir(bu[n]); r = bv[n] != 0 ? cv[n] / bv[n] : 0
    verdict = "info"
    if (d != 0 && bv[n] > 0) {
      bad = (d < 0) ? (cv[n] > bv[n] * thr) : (cv[n] < bv[n] / thr)
      verdict = bad ? "WORSE" : "ok"; worse += bad
    }
    printf "%-52s %14.1f %14.1f %7s  %-9s %s\n", n, cv[n], bv[n],
           bv[n] != 0 ? sprintf("%.2f", r) : "-", bu[n], verdict
  }
  for (i = 1; i <= nc; i++)
    if (!(corder[i] in bv))
      printf "%-52s %14.1f %14s %7s  %-9s new\n", corder[i], cv[corder[i]], "-", "-", cu[corder[i]]
  if (worse) { printf "compare: %d figure(s) worse than %sx the baseline (or missing)\n", worse, thr; exit 5 }
  printf "compare: every figure within %sx of the baseline\n", thr
}'
