#!/usr/bin/env bash
# test_promtool.sh - the alert rules and the Grafana dashboard that ship in contrib/,
# against the metrics the nightly job really writes:
#  * `promtool check rules contrib/thongquan.rules.yml`;
#  * `promtool test rules contrib/thongquan.rules.test.yml`, and that test fires every
#    alert of the rules at least once (an alert no test fires is a failure);
#  * a real nightly run (this build's binary) writes a textfile that
#    `promtool check metrics` accepts, and every thongquan_* name the rules and the
#    dashboard use is one it writes;
#  * the dashboard is valid JSON, every panel has a query, and every query is valid
#    PromQL (checked by promtool as a recording rule, Grafana's $variables replaced).
# Exit 77 when promtool (Debian's prometheus package; tools/setup-deps.sh) is missing.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || { echo "skipped: no promtool (apt-get install prometheus)"; exit 77; }
RULES=$TOP/contrib/thongquan.rules.yml RTEST=$TOP/contrib/thongquan.rules.test.yml
DASH=$TOP/contrib/grafana-thongquan.json

promtool check rules "$RULES" >"$WORK/out" 2>&1 || fail "promtool check rules: $(cat "$WORK/out")"
ok
(cd "$(dirname "$RTEST")" && promtool test rules "$(basename "$RTEST")") >"$WORK/out" 2>&1 ||
  fail "promtool test rules: $(cat "$WORK/out")"
ok
# every alert is fired by some test: its name, then exp_alerts with an entry
alerts=$(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "$RULES")
[ -n "$alerts" ] || fail "no alert in $RULES"
for a in $alerts; do
  awk -v a="$a" '$0 ~ "alertname: *" a "$" { n = 1; next }
                 n == 1 { n = ($1 == "exp_alerts:" ? 2 : 0); next }
                 n == 2 { if ($1 == "-" && $2 == "exp_labels:") found = 1; n = 0 }
                 END { exit !found }' "$RTEST" || fail "no test in $(basename "$RTEST") fires $a"
done
ok

# the metrics of a real run
mkdir -m 0700 "$WORK/inbox"
"$TQ" nightly --create --quiet --db "$WORK/db" --inbox "$WORK/inbox" --metrics "$WORK/thongquan.prom" \
  >"$WORK/out" 2>&1
[ -s "$WORK/thongquan.prom" ] || fail "the nightly run wrote no metrics: $(cat "$WORK/out")"
promtool check metrics <"$WORK/thongquan.prom" >"$WORK/out" 2>&1 || fail "promtool check metrics: $(cat "$WORK/out")"
sed -n 's/^\(thongquan_[a-z_]*\).*/\1/p' "$WORK/thongquan.prom" | sort -u >"$WORK/written"
[ -s "$WORK/written" ] || fail "no thongquan_ metric in the textfile"
ok

# the dashboard: JSON, queries, and their PromQL
python3 - "$DASH" >"$WORK/exprs" <<'EOF' || fail "$DASH: not a dashboard: $(cat "$WORK/exprs")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d.get("title") and d.get("uid"), "no title or uid"
panels = d["panels"]
assert panels, "no panels"
for p in panels:
    ts = [t.get("expr", "") for t in p.get("targets", [])]
    assert ts and all(ts), "panel %r has no query" % p.get("title")
    for e in ts:
        print(e.replace("\n", " "))
EOF
{
  echo "groups:"
  echo "  - name: dashboard"
  echo "    rules:"
  n=0
  while read -r e; do
    n=$((n + 1))
    e=${e//\$instance/.*}; e=${e//\$__rate_interval/5m}; e=${e//\$__interval/1m}
    printf '      - record: dashboard:q%d\n        expr: %s\n' "$n" "$(printf '%s' "$e" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')"
  done <"$WORK/exprs"
} >"$WORK/dash.rules.yml"
promtool check rules "$WORK/dash.rules.yml" >"$WORK/out" 2>&1 || fail "a dashboard query is not PromQL: $(cat "$WORK/out")"
ok

# every metric the rules, their test and the dashboard name is one the job writes
for f in "$RULES" "$RTEST" "$WORK/exprs"; do
  for m in $(grep -oE 'thongquan_[a-z_]+' "$f" | sort -u); do
    grep -qxF "$m" "$WORK/written" || fail "$(basename "$f") names $m, which the nightly job does not write"
  done
done
# and the dashboard shows every metric the job writes
for m in $(cat "$WORK/written"); do
  grep -q "$m" "$WORK/exprs" || fail "no dashboard panel shows $m"
done
ok
done_ok
