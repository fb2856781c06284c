#!/usr/bin/env bash
# Proves (engine/STORE.md): a database written by the version-4 store (tests/data/store-v4)
# is read as it is by today's readers (declarant and permit lists through by_taxid and
# by_permit), and the upgrade to format 5 rebuilds those indexes by era (era_taxid,
# era_permit) in place: exports and lists give the same bytes as format 4 gave, `check`
# is clean; killed with SIGKILL at random instants and run again, it ends where the
# uninterrupted upgrade did, and a reader sees format 4's lists between the kill and the
# rerun; afterwards a replay (new eras, an amend, a cancel) and payments keep the era
# indexes up (lists vs a full walk, cmp).
#   TQ_KILLS (default 8) kills.
source "$(dirname "$0")/lib.sh"
FX=$TOP/tests/data/store-v4
command -v zstd >/dev/null || { echo "skipped: no zstd to unpack the fixture"; exit 77; }
kills=${TQ_KILLS:-8}
ASOF=2024-09-01
HEADER=decl_no,office,kind,declarant,state,reasons,registered_at,age,tax_due,covered,permits
unpack() { rm -rf "$1"; mkdir -p "$1" || fail "mkdir $1"
  zstd -dc "$FX/data.mdb.tar.zst" | tar -C "$1" -xf - || fail "unpack the fixture"; }
mapfile -t declarants <"$FX/declarants"
mapfile -t permits <"$FX/permits"
none_declarant=$(cat "$FX/declarant-none")
none_permit=$(cat "$FX/permit-none")
# list_of DB OPTION VALUE OUT: `list --OPTION VALUE` (header included) in OUT; a list that
# fails fails the test
list_of() {
  "$TQ" list --db "$1" "--$2" "$3" --csv --as-of $ASOF >"$4" 2>"$WORK/list.err" ||
    fail "list --$2 $3 on $1: $(head -c 600 "$WORK/list.err")"
}
# rows_by DB OPTION OUT VALUE...: the rows (headers dropped) of each VALUE's list, in order
rows_by() {
  local db=$1 opt=$2 out=$3 v
  shift 3
  for v in "$@"; do list_of "$db" "$opt" "$v" "$WORK/one.csv"; tail -n +2 "$WORK/one.csv"; done >"$out"
}
# same_lists DB WHAT: the declarant and permit lists give the bytes format 4 gave, and the
# lists of a declarant and a permit no declaration names are the header alone
same_lists() {
  rows_by "$1" declarant "$WORK/bd.csv" "${declarants[@]}"
  cmp -s "$WORK/bd.csv" "$FX/by-declarant.csv" || fail "$2: declarant lists differ from format 4's"
  rows_by "$1" permit "$WORK/bp.csv" "${permits[@]}"
  cmp -s "$WORK/bp.csv" "$FX/by-permit.csv" || fail "$2: permit lists differ from format 4's"
  list_of "$1" declarant "$none_declarant" "$WORK/none.csv"
  [ "$(cat "$WORK/none.csv")" = "$HEADER" ] || fail "$2: declarant $none_declarant lists: $(head -3 "$WORK/none.csv")"
  list_of "$1" permit "$none_permit" "$WORK/none.csv"
  [ "$(cat "$WORK/none.csv")" = "$HEADER" ] || fail "$2: permit $none_permit lists: $(head -3 "$WORK/none.csv")"
}

unpack "$WORK/v4"
reader_leaves_as_is "$WORK/v4" "today's reader of v4"

cp -a "$WORK/v4" "$WORK/up"
expect_status 0 "$TQ" upgrade --db "$WORK/up"
grep -q "upgraded from store format 4 to 5: the declarant and permit indexes rebuilt by era" "$WORK/out" ||
  fail "upgrade said: $(cat "$WORK/out")"; ok
upgraded_like_fixture "$WORK/up"

# Killed at random instants, rerun: the same end state.  Between the kill and the rerun
# a reader sees format 4 (or 5 when it was done), with the same lists; only a finished
# upgrade's check says format 5.
RANDOM=4747
kill_upgrades "$WORK/v4" "$WORK/up" "$kills" '"format":5' same_lists

# Upkeep after the upgrade, around the busiest declarant x and the busiest permit p: x
# declares in a later era, an earlier era and a far one (the last also naming q), another
# declarant in that later era names p, a held declaration of x naming p is amended to
# name q instead, another held one of x is cancelled, and x's tax-short ones are paid.
# Then the declarant's and the permits' lists against a full walk of the same database
# (every column, cmp).
x=${declarants[0]} p=${permits[0]} q=BYT/2024/000126 y=${declarants[${#declarants[@]} - 1]}
awk -F, -v x="$x" '$4==x' "$FX/by-declarant.csv" >"$WORK/x0.csv"
amended=$(awk -F, -v p="$p" '$5=="HELD" && $6!~/TAX_SHORT/ && $11==p {print $1; exit}' "$WORK/x0.csv")
cancelled=$(awk -F, '$5=="HELD" && $6=="AWAIT_OFFICER" {print $1; exit}' "$WORK/x0.csv")
[ -n "$amended" ] || fail "no held declaration of $x naming $p to amend"
[ -n "$cancelled" ] || fail "no held declaration of $x to cancel"
grep -q ",TAX_SHORT," "$WORK/x0.csv" || fail "no tax-short declaration of $x to pay"
ev() { # ev NO DECLARANT TAX LINES_JSON : a DECL registered 2024-08-20 at 01B1
  printf '{"ev":"DECL","decl_no":"%s","kind":"A11","office":"01B1","declarant":"%s","registered_at":"2024-08-20T09:00:00+07:00","channel":1,"tax_due":%s,"lines":%s}\n' "$@"
}
{
  ev 101494000001 "$x" 1000 "[{\"hs\":\"85171300\",\"qty\":1,\"value\":5000,\"permit\":\"$p\"}]"
  ev 101494000002 "$y" 0 "[{\"hs\":\"85171300\",\"qty\":1,\"value\":5000,\"permit\":\"$p\"}]"
  ev 100100000001 "$x" 0 '[{"hs":"85171300","qty":1,"value":5000}]'
  ev 109900000001 "$x" 0 "[{\"hs\":\"85171300\",\"qty\":1,\"value\":5000,\"permit\":\"$p\"},{\"hs\":\"85171300\",\"qty\":1,\"value\":5000,\"permit\":\"$q\"}]"
  echo "{\"ev\":\"AMEND\",\"decl_no\":\"$amended\",\"lines\":[{\"hs\":\"85171300\",\"qty\":1,\"value\":5000,\"permit\":\"$q\"}]}"
  echo "{\"ev\":\"CANCEL\",\"decl_no\":\"$cancelled\"}"
} >"$WORK/events.ndjson"
expect_status 0 "$TQ" journal pack "$WORK/events.ndjson" -o "$WORK/j.tqj"
expect_status 0 "$TQ" replay "$WORK/j.tqj" --db "$WORK/up"
awk -F, '$6 ~ /TAX_SHORT/ {print $1 ",UP-" NR ",PAY," $9 ","}' "$WORK/x0.csv" |
  csv payments "$WORK/pay.csv"
expect_status 0 "$TQ" load payments "$WORK/pay.csv" --db "$WORK/up"
"$TQ" list --db "$WORK/up" --csv --as-of $ASOF >"$WORK/walk.csv" || fail "the full walk"
list_of "$WORK/up" declarant "$x" "$WORK/h.csv"
awk -F, -v x="$x" 'NR==1||$4==x' "$WORK/walk.csv" >"$WORK/w.csv"
cmp -s "$WORK/h.csv" "$WORK/w.csv" || fail "after the replay and payments: declarant $x's list differs from the walk's"; ok
for v in "$p" "$q"; do
  list_of "$WORK/up" permit "$v" "$WORK/h.csv"
  awk -F, -v v="$v" 'NR==1 { print; next } { n = split($11, a, "|"); for (i = 1; i <= n; i++) if (a[i] == v) { print; next } }' \
    "$WORK/walk.csv" >"$WORK/w.csv"
  cmp -s "$WORK/h.csv" "$WORK/w.csv" || fail "after the replay and payments: permit $v's list differs from the walk's"; ok
done
# not vacuous: x's list changed and shows every new declaration, the amend and the
# cancel; p's list lost the amended one and gained y's
list_of "$WORK/up" declarant "$x" "$WORK/h.csv"
cmp -s <(tail -n +2 "$WORK/h.csv") "$WORK/x0.csv" && fail "the replay and payments changed nothing of $x: the comparison proves nothing"; ok
for n in 101494000001 100100000001 109900000001; do
  grep -q "^$n,.*,$x," "$WORK/h.csv" || fail "declarant $x's list lacks the new $n"; ok
done
grep -q "^$amended,.*,$q\$" "$WORK/h.csv" || fail "the amend of $amended did not show"; ok
grep -q "^$cancelled,.*,CANCELLED," "$WORK/h.csv" || fail "the cancel of $cancelled did not show"; ok
list_of "$WORK/up" permit "$p" "$WORK/h.csv"
grep -q "^$amended," "$WORK/h.csv" && fail "permit $p still lists $amended, amended away"; ok
grep -q "^101494000002,.*,$y," "$WORK/h.csv" || fail "permit $p's list lacks $y's 101494000002"; ok
expect_status 0 "$TQ" check --db "$WORK/up"
done_ok
