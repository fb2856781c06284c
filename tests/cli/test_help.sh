#!/usr/bin/env bash
# Proves: every subcommand's --help (every command `thongquan --help` lists) (and
# "thongquan help CMD") exits 0 and prints a usage line and an example on stdout, and
# the paragraph on -q/--quiet and -v/--verbose, which every subcommand accepts (also
# bundled: -qvh); an unknown option, long or short in a bundle, exits 2 naming it, for
# every subcommand; an unknown command and no command exit 2; --version prints the version;
# and the manual (docs/man/thongquan.1) has a section for every command the program
# lists, states every exit status, and renders without warnings where man is installed.
source "$(dirname "$0")/lib.sh"
# the commands are those `thongquan --help` lists (a new one is covered without editing
# this file); a placeholder the dispatcher lists before its work has landed is noted
"$TQ" --help >"$WORK/help.main" 2>&1 || fail "thongquan --help"
mapfile -t listed < <(awk '/^commands:/ { on = 1; next } on && /^$/ { exit }
  on && /^  [a-z]/ { c = $1; if ($1 == "journal") c = $1 " " $2; print c }' "$WORK/help.main")
cmds=()
for c in "${listed[@]}"; do
  # shellcheck disable=SC2086
  if "$TQ" $c --help >"$WORK/probe" 2>&1; [ $? != 0 ] && grep -q "not implemented yet" "$WORK/probe"; then
    echo "note: '$c' is a placeholder"
    continue
  fi
  cmds+=("$c")
done
for c in "journal pack" "journal cat" "journal verify" load replay reconcile export stat gen explain; do
  case " ${cmds[*]} " in *" $c "*) ;; *) fail "thongquan --help does not list '$c'" ;; esac
done

for c in "${cmds[@]}" journal; do
  # shellcheck disable=SC2086  # "journal pack" is two words on purpose
  expect_status 0 "$TQ" $c --help
  grep -q "^usage: thongquan ${c%% *}" "$WORK/out" || fail "'$c --help' has no usage line: $(head -3 "$WORK/out")"
  grep -q "^example" "$WORK/out" || fail "'$c --help' has no example"
  [ ! -s "$WORK/err" ] || fail "'$c --help' wrote to stderr: $(cat "$WORK/err")"
  ok
  # shellcheck disable=SC2086
  expect_status 0 "$TQ" $c -h
  # the options every command has, from the parser itself (bundled, and spelled out)
  grep -q -- "-q/--quiet" "$WORK/out" && grep -q -- "-v/--verbose" "$WORK/out" ||
    fail "'$c --help' does not state the common options -q/--quiet and -v/--verbose"
  # shellcheck disable=SC2086
  expect_status 0 "$TQ" $c -qvh
  # shellcheck disable=SC2086
  expect_status 0 "$TQ" $c --quiet --verbose --help
  # shellcheck disable=SC2086
  expect_status 2 "$TQ" $c -qZ
  grep -q "unknown option '-Z'" "$WORK/err" || fail "'$c': -Z in a bundle is not named: $(cat "$WORK/err")"
  # shellcheck disable=SC2086
  expect_status 2 "$TQ" $c --no-such-option
  grep -q "unknown option '--no-such-option'" "$WORK/err" || fail "'$c': the unknown option is not named: $(cat "$WORK/err")"
  grep -q "thongquan ${c%% *}.*--help" "$WORK/err" || fail "'$c': no hint to --help: $(cat "$WORK/err")"
  ok
done
for c in "${cmds[@]}"; do
  [ "${c%% *}" = journal ] && continue
  expect_status 0 "$TQ" help "$c"
  grep -q "^usage: thongquan $c" "$WORK/out" || fail "'help $c'"
done

# options that need a value, and stray arguments
expect_status 2 "$TQ" replay
grep -q "needs J.tqj" "$WORK/err" || fail "replay without a journal: $(cat "$WORK/err")"
expect_status 2 "$TQ" stat --db
grep -q "option '--db' needs a value" "$WORK/err" || fail "--db without a value: $(cat "$WORK/err")"
expect_status 2 "$TQ" stat --db "$WORK/db" extra
grep -q "unexpected argument 'extra'" "$WORK/err" || fail "stray argument: $(cat "$WORK/err")"
expect_status 2 "$TQ" replay j.tqj --db "$WORK/db" --threads 65
expect_status 2 "$TQ" gen --declarations many --out "$WORK/g"
grep -q -- "--declarations needs a whole number, got 'many'" "$WORK/err" || fail "bad number: $(cat "$WORK/err")"
expect_status 2 "$TQ" explain 12345 --db "$WORK/db"
grep -q "DECL_NO must be 12 digits" "$WORK/err" || fail "bad decl_no: $(cat "$WORK/err")"
expect_status 2 "$TQ" load receipts x.csv --db "$WORK/db"
grep -q "payments or permits, got 'receipts'" "$WORK/err" || fail "load what: $(cat "$WORK/err")"

# the program's own help, version and unknown commands
expect_status 0 "$TQ" --help
grep -q "^usage: thongquan COMMAND" "$WORK/out" || fail "--help"
for c in "${cmds[@]}"; do
  grep -q "^  $c " "$WORK/out" || fail "--help does not list $c"
done
ok
expect_status 0 "$TQ" help
expect_status 2 "$TQ"
grep -q "^usage:" "$WORK/err" || fail "no command: no usage on stderr"
expect_status 2 "$TQ" frobnicate
grep -q "unknown command 'frobnicate'" "$WORK/err" || fail "unknown command not named"
expect_status 0 "$TQ" --version
grep -Eq '^thongquan [0-9]+\.[0-9]+\.[0-9]+' "$WORK/out" || fail "--version: $(cat "$WORK/out")"
expect_status 0 "$TQ" -V

# the manual covers what the program offers
man1=$TOP/docs/man/thongquan.1
[ -f "$man1" ] || fail "no $man1"
for c in "${cmds[@]}"; do
  grep -q "^\.SS \"\?thongquan $c" "$man1" || fail "the manual has no section for '$c'"
done
for s in EXIT\ STATUS ENVIRONMENT FILES EXAMPLES; do
  grep -q "^\.SH \"\?$s" "$man1" || fail "the manual has no $s section"
done
for n in $(sed -n 's/^ *TQ_EXIT_[A-Z_]* *= *\([0-9][0-9]*\).*/\1/p' "$TOP/tools/tq_cli.h"); do
  sed -n '/^\.SH "\?EXIT STATUS/,/^\.SH/p' "$man1" | grep -q "^\.B $n$" ||
    fail "the manual's EXIT STATUS does not state $n"
done
ok
if command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1; then
  for page in "$TOP"/docs/man/*.1; do
    MANWIDTH=80 man --warnings -l "$page" >"$WORK/man.txt" 2>"$WORK/man.err" || fail "man -l $page failed"
    [ ! -s "$WORK/man.err" ] || fail "$page renders with warnings: $(head -5 "$WORK/man.err")"
    grep -q "EXIT STATUS" "$WORK/man.txt" || fail "$page: rendered page has no EXIT STATUS"
    ok
  done
else
  echo "note: man or groff missing; the manual's rendering is not checked"
fi
done_ok
