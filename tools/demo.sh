#!/usr/bin/env bash
# demo.sh - the morning recovery: generate the 15,000-declaration backlog of the
# incident, load its payments and permits, replay it, print the summary, and say what
# to try next (it builds build/thongquan and installs nothing).
#   bash tools/demo.sh [DECLARATIONS] [SEED]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-15000} seed=${2:-20240806}
bash "$top/tools/setup-deps.sh"
cmake -S "$top" -B "$top/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$top/build" -j"$(nproc)" --target thongquan >/dev/null
tq="$top/build/thongquan"
work="$top/out/morning"
rm -rf "$work"; mkdir -p "$work"
echo "== generate the backlog: $n declarations (seed $seed)"
"$tq" gen --declarations "$n" --seed "$seed" --out "$work"
"$tq" journal verify "$work/journal.tqj"
echo "== load payments and permits"
"$tq" load payments "$work/payments.csv" --db "$work/db"
"$tq" load permits "$work/permits.csv" --db "$work/db"
echo "== replay"
"$tq" replay "$work/journal.tqj" --db "$work/db" --html "$work/report.html"
echo "== export"
"$tq" export decisions --db "$work/db" -o "$work/decisions.csv"
"$tq" export permits --db "$work/db" -o "$work/permits-used.csv"
echo "decisions in $work/decisions.csv, permit use in $work/permits-used.csv;"
echo "the page of this run (open it in a browser, offline) in $work/report.html"
held=$("$tq" export decisions --db "$work/db" | awk -F, '$2 == "HELD" && !n++ { print $1 }')
cat <<EOF

== what next
thongquan is built, not installed: put it on your PATH for this shell,
  export PATH="$top/build:\$PATH"
then ask the database of this run why a declaration is held, hand the officers their
worklists (one CSV per customs office), and reconcile:
  thongquan explain ${held:-DECL_NO} --db $work/db
  thongquan list --db $work/db --state HELD --tax-paid --limit 10
  thongquan worklist --db $work/db --out $work/worklists
  thongquan reconcile --db $work/db --report $work/reconcile.json --csv $work/lists
README.md ("Using it") runs the whole post-incident path on these files, with the
database in /var/lib/thongquan/db; docs/RUNBOOK.md is the operators' step-by-step, and
'thongquan COMMAND --help' explains each command.  Install with: sudo cmake --install build
EOF
