#!/usr/bin/env bash
# Proves: the argument checks every command shares (tools/cli_cmd.c, tq_cli_main) hold
# for each command: too few positional arguments say what is needed, one too many is
# named, and a command that needs --db says so before anything else (backup without
# --db once crashed) — each exit 2 with "Try 'thongquan CMD --help'." on the second
# line, and none of them creates the database or output it was not given.
source "$(dirname "$0")/lib.sh"
cd "$WORK" || fail "cannot enter $WORK"

# one row: the command | the rest of its arguments | the first line of stderr, exactly
rows=(
  "journal cat||thongquan: needs J.tqj"
  "journal verify||thongquan: needs J.tqj"
  "journal pack|-o x.tqj|thongquan: needs EVENTS.ndjson and -o J.tqj"
  "replay||thongquan: needs J.tqj"
  "explain|--db D|thongquan: needs DECL_NO"
  "load|--db D|thongquan: needs payments|permits and FILE.csv"
  "load|payments --db D|thongquan: needs payments|permits and FILE.csv"
  "export|--db D|thongquan: needs decisions, permits or changes"
  "backup|--db D|thongquan: give the directory to copy into: backup --db DIR OUT"
  "journal cat|a b|thongquan: unexpected argument 'b'"
  "stat|--db D extra|thongquan: unexpected argument 'extra'"
  "backup|OUT|thongquan: needs --db DIR"
  "reconcile|--as-of x|thongquan: needs --db DIR"
  "export|decisions|thongquan: needs --db DIR"
  "list||thongquan: needs --db DIR"
)
for row in "${rows[@]}"; do
  cmd=${row%%|*} rest=${row#*|}
  args=${rest%%|*} want=${rest#*|}
  # shellcheck disable=SC2086  # the row's words are separate arguments on purpose
  expect_status 2 "$TQ" $cmd $args
  no_sanitizer_report
  [ "$(sed -n 1p "$WORK/err")" = "$want" ] ||
    fail "'$cmd $args': first line '$(sed -n 1p "$WORK/err")', wanted '$want'"
  [ "$(sed -n 2p "$WORK/err")" = "Try 'thongquan $cmd --help'." ] ||
    fail "'$cmd $args': second line '$(sed -n 2p "$WORK/err")'"
  if [ -e D ] || [ -e OUT ] || [ -e x.tqj ]; then fail "'$cmd $args' created $(ls)"; fi
  ok
done
done_ok
