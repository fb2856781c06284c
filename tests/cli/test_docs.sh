#!/usr/bin/env bash
# Proves (issue 15): the documents agree with the program and with each other, checked
# against one source each, so that a document that drifts fails here:
#  * the database path: the installed defaults (THONGQUAN_DB in tools/systemd/*.default)
#    are the source; every absolute `--db PATH` in README.md, docs/RUNBOOK.md,
#    docs/man/*.1, every command's --help, the units, the cron line and the wrappers, and
#    the RUNBOOK's DB=, name exactly that path;
#  * the exit statuses: the enum in tools/tq_cli.h is the source (plus 128+N); README.md,
#    the RUNBOOK's table, thongquan(1)'s EXIT STATUS and `thongquan --help` state every
#    one and no other, each with the words of its meaning (a keyword per enum name below:
#    a new status without a keyword fails);
#  * the options: each command's --help is the source (the commands are those
#    `thongquan --help` lists); thongquan(1) has a section for each command naming every
#    option its --help names, and every option that any document puts on a `thongquan`
#    command line (manual, README, RUNBOOK) is one the program accepts;
#  * the README's "Using it" block runs as written after the demo (same N and seed as
#    tools/demo.sh), with only the database moved into a temporary directory;
#  * the --threads default is said alike (one fewer than the processors online).
source "$(dirname "$0")/lib.sh"
cd "$WORK" || fail "cd $WORK"
nbad=0
# drift WHY: a document disagrees; report it and go on, so one run lists every drift
drift() { echo "FAIL: $*" >&2; nbad=$((nbad + 1)); return 1; }
README=$TOP/README.md RUNBOOK=$TOP/docs/RUNBOOK.md MAN1=$TOP/docs/man/thongquan.1
for f in "$README" "$RUNBOOK" "$MAN1"; do [ -f "$f" ] || fail "missing $f"; done

# man pages with their escapes undone, so that greps see what a reader sees
unman() { sed -e 's/\\-/-/g' -e 's/\\(aq/'"'"'/g' -e 's/\\(dq/"/g' -e 's/\\f[BIRP]//g' -e 's/\\e/\\/g' "$1"; }
for m in "$TOP"/docs/man/*.1; do unman "$m" >"$WORK/$(basename "$m").txt"; done

# ---- the commands and their --help (the source of options) ----
"$TQ" --help >"$WORK/help.main" 2>&1 || fail "thongquan --help failed"
mapfile -t CMDS < <(awk '/^commands:/ { on = 1; next } on && /^$/ { exit }
  on && /^  [a-z]/ { c = $1; if ($1 == "journal") c = $1 " " $2; print c }' "$WORK/help.main")
[ "${#CMDS[@]}" -ge 10 ] || drift "thongquan --help lists ${#CMDS[@]} commands: $(cat "$WORK/help.main")"
known=() placeholders=()
for c in "${CMDS[@]}"; do
  f=$WORK/help.${c// /_}
  # shellcheck disable=SC2086  # "journal pack" is two words on purpose
  if ! "$TQ" $c --help >"$f" 2>&1; then
    # a command the dispatcher lists before its work has landed (a placeholder)
    grep -q "not implemented yet" "$f" || drift "'$c --help' failed: $(cat "$f")"
    echo "note: '$c' is a placeholder; its documents are not checked"
    placeholders+=("$c")
    continue
  fi
  known+=("$c")
done
CMDS=("${known[@]}")
ok

# ---- 1. one database path ----
# shellcheck disable=SC2012
defaults=$(ls "$TOP"/tools/systemd/*.default 2>/dev/null | head -1)
[ -n "$defaults" ] || drift "no tools/systemd/*.default: the installed defaults are the source of the path"
DBPATH=$(sed -n 's/^THONGQUAN_DB=//p' "$defaults" | head -1)
case $DBPATH in /?*) ;; *) drift "$defaults: THONGQUAN_DB='$DBPATH' is not an absolute path" ;; esac
check_paths() { # check_paths NAME FILE: every absolute --db PATH in FILE is $DBPATH
  local bad
  bad=$(grep -Eo -- '--db[= ]+/[^ )`"'"'"',;]*' "$2" | sed -E 's/^--db[= ]+//' | sort -u | grep -vxF -- "$DBPATH")
  [ -z "$bad" ] || drift "$1 names the database as '$bad', not '$DBPATH' (the installed default, $defaults)"
  ok
}
check_paths README.md "$README"
check_paths docs/RUNBOOK.md "$RUNBOOK"
for m in "$WORK"/*.1.txt; do check_paths "docs/man/$(basename "$m" .txt)" "$m"; done
for c in "${CMDS[@]}"; do check_paths "'thongquan $c --help'" "$WORK/help.${c// /_}"; done
for f in "$TOP"/tools/systemd/* "$TOP"/tools/cron/* "$TOP"/tools/thongquan-nightly; do
  [ -f "$f" ] && check_paths "${f#"$TOP"/}" "$f"
done
# THONGQUAN_DB's default wherever one is written (units' Environment=, the cron line's
# ${THONGQUAN_DB:-...}, the RUNBOOK's settings table)
bad=$(cat "$TOP"/tools/systemd/* "$TOP"/tools/cron/* "$RUNBOOK" "$README" "$WORK"/*.1.txt 2>/dev/null |
  grep -Eo 'THONGQUAN_DB(=|:-|` *\| *`--db` *\| *`)/[^ "}`]*' | sed -E 's/^THONGQUAN_DB(=|:-|.*`)//' | sort -u | grep -vxF -- "$DBPATH")
[ -z "$bad" ] || drift "a default of THONGQUAN_DB is '$bad', not '$DBPATH'"
grep -qxF "DB=$DBPATH" <(sed -E 's/[[:space:]]+#.*//' "$RUNBOOK") ||
  drift "docs/RUNBOOK.md does not set DB=$DBPATH"
grep -qF -- "--db $DBPATH" "$README" || drift "README.md's examples do not use --db $DBPATH"
ok

# ---- 2. one table of exit statuses ----
# keyword(s) that each document must say for each status, by enum name
declare -A WORDS=(
  [OK]="success" [INPUT]="input" [USAGE]="usage" [BUSY]="busy" [IO]="I/O|full disk"
  [CORRUPT]="corrupt journal|database" [SOFTWARE]="internal" [NOTHING]="nothing new"
  [PERM]="permission denied" [SIGNAL]="signal"
)
mapfile -t ENUM < <(sed -n 's/^ *TQ_EXIT_\([A-Z_]*\) *= *\([0-9][0-9]*\).*/\1 \2/p' "$TOP/tools/tq_cli.h")
[ "${#ENUM[@]}" -ge 8 ] || fail "tools/tq_cli.h: found ${#ENUM[@]} exit statuses"
ENUM+=("SIGNAL 128+N")
want=""
for e in "${ENUM[@]}"; do
  name=${e% *}
  [ -n "${WORDS[$name]:-}" ] || drift "tools/tq_cli.h has TQ_EXIT_$name: give it its words in tests/cli/test_docs.sh and document it everywhere"
  want="$want ${e#* }"
done
# rows NAME FILE: "status<TAB>row text" of each row of the exit-status table(s) in FILE
md_rows() { # the first markdown table whose header is "| status | meaning |..."
  awk '/^\| *status *\| *meaning *\|/ { on = 1; next } on && /^\|[- |]*$/ { next }
       on && /^\|/ { s = $0; sub(/^\| */, "", s); n = s; sub(/ *\|.*/, "", n); print n "\t" s; next }
       on { exit }' "$1"
}
man_rows() { # the .TP / .B N entries of the EXIT STATUS section, each with its text
  awk '/^\.SH "?EXIT STATUS/ { on = 1; next } on && /^\.SH/ { exit }
       on && /^\.B [0-9]/ { if (n != "") print n "\t" t; n = $2; t = ""; next }
       on && n != "" { t = t " " $0 } END { if (n != "") print n "\t" t }' "$1"
}
check_statuses() { # check_statuses NAME ROWSFILE
  local got e n text
  got=$(cut -f1 "$2" | sort -u | tr '\n' ' ')
  for n in $want; do
    text=$(awk -F'\t' -v n="$n" '$1 == n { print $2 }' "$2" | unman /dev/stdin)
    [ -n "$text" ] || drift "$1 does not state exit status $n (it states: $got)"
    for e in "${ENUM[@]}"; do
      [ "${e#* }" = "$n" ] || continue
      local w
      while read -r w; do
        grep -qiF -- "$w" <<<"$text" || drift "$1: exit status $n does not say '$w': $text"
      done < <(tr '|' '\n' <<<"${WORDS[${e% *}]}")
    done
  done
  for n in $got; do
    case " $want " in *" $n "*) ;; *) drift "$1 states exit status $n, which tools/tq_cli.h does not have" ;; esac
  done
  ok
}
md_rows "$README" >"$WORK/rows.readme"
check_statuses README.md "$WORK/rows.readme"
md_rows "$RUNBOOK" >"$WORK/rows.runbook"
check_statuses "docs/RUNBOOK.md (1.9)" "$WORK/rows.runbook"
man_rows "$MAN1" >"$WORK/rows.man"
check_statuses "thongquan(1) EXIT STATUS" "$WORK/rows.man"
# thongquan --help: one "exit status:" paragraph naming every status
awk '/^exit status:/ { on = 1 } on { print } on && /^$/ { exit }' "$WORK/help.main" | tr '\n' ' ' >"$WORK/help.exit"
for n in $want; do
  grep -qE "(^|[ ,:])${n//+/\\+}( |$)" "$WORK/help.exit" || drift "'thongquan --help' does not state exit status $n: $(cat "$WORK/help.exit")"
done
ok

# ---- 3. options: --help is the source ----
# help_opts FILE: the options a --help lists: those of its usage lines (up to the first
# blank line) and of its option table (lines starting "  --opt"), not those its prose
# mentions (stat's help names replay's --fill-gap)
help_opts() {
  awk '/^usage:/ { u = 1 } u && /^$/ { u = 0 } u || /^ +--[a-z]/' "$1" |
    grep -Eo -- '--[a-z][a-z0-9-]*' | grep -vx -- --help | sort -u
}
declare -A ACCEPTS
accepts() { # accepts "CMD" --opt: the program knows this option of CMD
  local key="$1 $2" rc=0
  [ -n "${ACCEPTS[$key]:-}" ] && return "${ACCEPTS[$key]}"
  # shellcheck disable=SC2086
  (cd "$WORK" && timeout 10 "$TQ" $1 "$2" </dev/null >/dev/null 2>"$WORK/probe.err")
  grep -q "unknown option" "$WORK/probe.err" && rc=1
  ACCEPTS[$key]=$rc
  return $rc
}
for c in "${CMDS[@]}"; do
  sect=$WORK/man.${c// /_}
  awk -v c="thongquan $c" 'index($0, ".SS \"" c) == 1 || index($0, ".SS " c) == 1 { on = 1; print; next }
      on && /^\.S[SH]/ { exit } on { print }' "$MAN1" | unman /dev/stdin >"$sect"
  [ -s "$sect" ] || drift "thongquan(1) has no section for '$c'"
  for o in $(help_opts "$WORK/help.${c// /_}"); do
    grep -qE -- "$o([^a-z0-9-]|$)" "$sect" || drift "thongquan(1), section '$c', does not name $o, which '$c --help' names"
  done
  # the options the section lists (its title and its .TP items; its prose may name
  # another command's, as stat's names replay's --skip-corrupt)
  for o in $(awk 'NR == 1 || prev == ".TP" { print } { prev = $0 }' "$sect" |
             grep -Eo -- '--[a-z][a-z0-9-]*' | sort -u); do
    accepts "$c" "$o" || drift "thongquan(1), section '$c', names $o, which 'thongquan $c' does not accept"
  done
  ok
done
# every thongquan command line in the README, the RUNBOOK and the manual's examples
doc_lines() {
  awk '/^```/ { on = !on; next } on' "$README" "$RUNBOOK"
  awk '/^\.SH "?(EXAMPLES|SYNOPSIS)/ { on = 1; next } /^\.SH/ { on = 0 } on' "$MAN1" | unman /dev/stdin
}
doc_lines | sed -E 's/^[[:space:]]*(sudo( -u [a-z]+)? )?//' | grep -E '^thongquan [a-z]' >"$WORK/doclines"
while read -r _ w1 w2 rest; do
  c=$w1
  [ "$w1" = journal ] && c="journal $w2"
  case " ${placeholders[*]} " in *" $c "*) continue ;; esac
  case " ${CMDS[*]} " in *" $c "*|*" ${c%% *} "*) ;; *) drift "a document runs 'thongquan $c', which is not a command: $w1 $w2 $rest" ;; esac
  for o in $(grep -Eo -- '(^| )--[a-z][a-z0-9-]*' <<<"$w2 $rest" | tr -d ' '); do
    accepts "$c" "$o" || drift "a document runs 'thongquan $c ... $o', which '$c' does not accept: thongquan $w1 $w2 $rest"
  done
done <"$WORK/doclines"
ok

# ---- 3b. the nightly job: its options, settings and metrics ----
if [[ " ${CMDS[*]} " == *" nightly "* ]]; then
  # its own manual page names every option of its --help, and only options it accepts
  page=$WORK/thongquan-nightly.1.txt
  if [ -f "$page" ]; then
    for o in $(help_opts "$WORK/help.nightly"); do
      grep -qE -- "$o([^a-z0-9-]|$)" "$page" || drift "thongquan-nightly(1) does not name $o, which 'nightly --help' names"
    done
    for o in $(grep -Eo -- '--[a-z][a-z0-9-]*' "$page" | sort -u); do
      case $o in --collector*) continue ;; esac   # node_exporter's option
      accepts nightly "$o" || drift "thongquan-nightly(1) names $o, which 'thongquan nightly' does not accept"
    done
  fi
  # every setting of the installed defaults is in the RUNBOOK's table, with an option
  # the job accepts
  for v in $(sed -n 's/^\(THONGQUAN_[A-Z_]*\)=.*/\1/p' "$defaults"); do
    row=$(grep -E "^\| *\`$v\` *\|" "$RUNBOOK")
    [ -n "$row" ] || { drift "docs/RUNBOOK.md's settings table has no row for $v ($defaults sets it)"; continue; }
    o=$(grep -Eo -- '--[a-z][a-z0-9-]*' <<<"$row" | head -1)
    [ -n "$o" ] && accepts nightly "$o" || drift "docs/RUNBOOK.md: $v's option '$o' is not one 'thongquan nightly' accepts"
  done
  for v in $(grep -Eo '^\| *`THONGQUAN[A-Z_]*`' "$RUNBOOK" | tr -d '|` '); do
    grep -q "^$v=" "$defaults" || drift "docs/RUNBOOK.md's settings table names $v, which $defaults does not set"
  done
  # the metrics: what a first run writes is the source
  mkdir -m 0700 "$WORK/inbox"
  "$TQ" nightly --inbox "$WORK/inbox" --db "$WORK/ndb" --create --metrics "$WORK/m.prom" --quiet \
    >/dev/null 2>"$WORK/nightly.err"
  if [ -s "$WORK/m.prom" ]; then
    sed -n 's/^\(thongquan_[a-z_]*\).*/\1/p' "$WORK/m.prom" | sort -u >"$WORK/metrics"
    for f in "$README" "$RUNBOOK" "$WORK"/*.1.txt; do
      for m in $(grep -Eo 'thongquan_[a-z_]+' "$f" | sort -u); do
        grep -qxF "$m" "$WORK/metrics" || drift "${f#"$TOP"/} names the metric $m, which the nightly job does not write"
      done
    done
    while read -r m; do
      grep -qF "$m" "$page" || drift "thongquan-nightly(1) does not describe the metric $m"
      grep -qF "$m" "$RUNBOOK" || drift "docs/RUNBOOK.md does not list the metric $m"
    done <"$WORK/metrics"
  else
    drift "a first nightly run wrote no metrics: $(cat "$WORK/nightly.err")"
  fi
  ok
fi

# ---- 4. the README's examples run as written after the demo ----
read -r n seed < <(sed -n 's/^n=\${1:-\([0-9]*\)} seed=\${2:-\([0-9]*\)}.*/\1 \2/p' "$TOP/tools/demo.sh")
[ -n "${n:-}" ] && [ -n "${seed:-}" ] || fail "tools/demo.sh: cannot find its N and seed"
mkdir -p "$WORK/top/out/morning" "$WORK/var"
ln -s "$(dirname "$TQ")" "$WORK/top/build"
"$TQ" gen --declarations "$n" --seed "$seed" --out "$WORK/top/out/morning" --quiet || fail "gen as the demo"
awk '/^## Using it/ { s = 1 } s && /^```sh/ { on = 1; next } on && /^```/ { exit } on' "$README" >"$WORK/readme.sh"
grep -q "^thongquan replay" "$WORK/readme.sh" || drift "README.md: no 'Using it' block with a replay"
{ echo 'set -e'
  grep -v '^sudo ' "$WORK/readme.sh" | sed "s|$DBPATH|$WORK/var/db|g"; } >"$WORK/readme.run"
(cd "$WORK/top" && PATH="/usr/bin:/bin" bash "$WORK/readme.run") >"$WORK/out" 2>"$WORK/err" ||
  drift "README.md's 'Using it' block fails as written: $(tail -5 "$WORK/err")"
grep -q '^state *HELD' "$WORK/out" || drift "README.md's explain example is not a held declaration: $(grep -m1 '^state' "$WORK/out")"
ok

# ---- 5. the --threads default, said alike ----
for f in "$README" "$MAN1" "$WORK/help.replay"; do
  unman "$f" | tr -s ' \n' '  ' | grep -q "one fewer than the \(processors\|cores\)" ||
    drift "${f#"$TOP"/} does not say the --threads default is one fewer than the processors"
done
ok
[ "$nbad" = 0 ] || { echo "$nbad disagreements between the documents and the program" >&2; exit 1; }
done_ok
