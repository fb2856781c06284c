#!/usr/bin/env bash
# Proves (issue 13, "the command line people expect"):
#  * options are parsed alike by every subcommand (getopt_long): an unambiguous prefix
#    of a long option works (--thre 2, --decl), --opt=value works, short flags bundle
#    (-qv, -qo FILE), "--" ends the options (a file named "-x.tqj"), options come
#    anywhere among the positionals; an ambiguous prefix, an unknown option (long, or
#    short inside a bundle), a missing value and a value given to a flag each exit 2
#    with a message naming the option;
#  * -q/--quiet on every subcommand: a successful run prints nothing on stdout or
#    stderr (but the data a command exists to print: journal cat, export to stdout,
#    explain, and --json); -v/--verbose says the time and memory used on stderr;
#  * no '\r' and no escape byte on stderr with TERM=dumb on a terminal, nor when stderr
#    is not a terminal, nor with -q (and, as a control, a progress line on a terminal
#    otherwise); progress comes from the libraries' callbacks (no fdinfo watcher);
#  * --json on every command that prints a summary gives one valid JSON object in valid
#    UTF-8 whose first member is "schema": 1; a file name with non-UTF-8 bytes and a
#    newline gives valid JSON (U+FFFD for the bad bytes, \n escaped).
source "$(dirname "$0")/lib.sh"
command -v script >/dev/null || { echo "skipped: script(1) from util-linux is missing"; exit 77; }
ESC=$(printf '\033')
CR=$(printf '\r')
cd "$WORK" || fail "cd $WORK"

# json_ok WHAT FILE: FILE holds one JSON object, valid UTF-8, first member "schema": 1
json_ok() {
  local what=$1 f=$2
  [ -s "$f" ] || fail "$what --json printed nothing: $(head -c 300 "$WORK/err")"
  if command -v python3 >/dev/null; then
    python3 - "$f" <<'EOF' || fail "$what --json: $(head -c 400 "$f" | cat -v)"
import json, sys
raw = open(sys.argv[1], 'rb').read()
try:
    text = raw.decode('utf-8')                     # strict: any invalid byte fails
    obj = json.loads(text, object_pairs_hook=lambda kv: kv)
except Exception as e:
    sys.exit("not valid UTF-8 JSON: %s" % e)
if not isinstance(obj, list) or not obj or obj[0] != ('schema', 1):
    sys.exit("the first member is not \"schema\": 1: %r" % (obj[:1],))
if text.count('\n') != 1 or not text.endswith('\n'):
    sys.exit("not one line ending in a newline")
EOF
  else
    LC_ALL=C awk -f "$HERE/check_json.awk" "$f" || fail "$what --json is not valid JSON"
    iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1 || fail "$what --json is not valid UTF-8"
    head -c 12 "$f" | grep -q '^{"schema":1[,}]' || fail "$what --json does not start with \"schema\": 1"
  fi
  ok
}
# quiet WHAT CMD...: CMD succeeds (exits ${want:-0}) and prints nothing at all
quiet() {
  local what=$1; shift
  expect_status "${want:-0}" "$@"
  [ ! -s "$WORK/out" ] || fail "$what -q printed on stdout: $(head -c 300 "$WORK/out")"
  [ ! -s "$WORK/err" ] || fail "$what -q printed on stderr: $(head -c 300 "$WORK/err")"
  ok
}
# on_tty OUT CMD...: run CMD on a pseudo-terminal, everything it prints in OUT
on_tty() {
  local out=$1; shift
  local cmd
  printf -v cmd '%q ' "$@"
  script -qfec "$cmd" /dev/null >"$out" 2>&1 </dev/null
}
clean() { # clean WHAT FILE: no '\r' (but the terminal's own before each '\n'), no escape
  ! sed "s/$CR\$//" "$2" | grep -q "$CR" || fail "$1: a '\\r' was written: $(head -c 300 "$2" | cat -v)"
  ! grep -q "$ESC" "$2" || fail "$1: an escape sequence was written: $(head -c 300 "$2" | cat -v)"
  ok
}

# ---- a small backlog, with abbreviations, --opt=value and options among positionals ----
expect_status 0 "$TQ" gen --decl 400 --se=5 --ou g -q
[ -s g/journal.tqj ] || fail "gen with abbreviated options wrote no journal"
expect_status 0 "$TQ" load --db=db permits g/permits.csv -q
expect_status 0 "$TQ" load payments --db db g/payments.csv --qu
expect_status 0 "$TQ" replay g/journal.tqj --db db --thre 1 --bat=100
grep -q "replayed g/journal.tqj" "$WORK/out" || fail "replay with --thre/--bat=: $(cat "$WORK/out")"
# options after the positionals even when POSIXLY_CORRECT asks getopt to stop at the first
expect_status 0 env POSIXLY_CORRECT=1 "$TQ" stat --db db -q
expect_status 0 env POSIXLY_CORRECT=1 "$TQ" journal verify g/journal.tqj --quiet
[ ! -s "$WORK/out" ] || fail "POSIXLY_CORRECT: --quiet after the journal was taken as an argument"
# bundled short flags, and a short option's value glued or bundled
expect_status 0 "$TQ" export decisions --db db -qo d.csv
[ -s d.csv ] || fail "-qo d.csv wrote nothing"
expect_status 0 "$TQ" export permits --db db -op.csv
[ -s p.csv ] || fail "-op.csv wrote nothing"
# "--" ends the options: a journal whose name starts with '-'
cp g/journal.tqj ./-x.tqj
expect_status 0 "$TQ" journal verify -- -x.tqj
grep -q "^journal *-x.tqj" "$WORK/out" || fail "journal verify -- -x.tqj: $(cat "$WORK/out")"
expect_status 2 "$TQ" journal verify -x.tqj
grep -q "unknown option '-x'" "$WORK/err" || fail "-x.tqj without --: $(cat "$WORK/err")"

# ---- refusals name the option, exit 2 ----
expect_status 2 "$TQ" replay g/journal.tqj --db db --d
grep -q "option '--d' is ambiguous" "$WORK/err" && grep -q -- "--db" "$WORK/err" &&
  grep -q -- "--dry-run" "$WORK/err" || fail "ambiguous --d: $(cat "$WORK/err")"
expect_status 2 "$TQ" journal pack ev.ndjson -o x.tqj --f
grep -q "option '--f' is ambiguous: it could be --frame-size, --force" "$WORK/err" || fail "ambiguous --f: $(cat "$WORK/err")"
expect_status 2 "$TQ" stat --db db --frobnicate
grep -q "unknown option '--frobnicate'" "$WORK/err" || fail "unknown: $(cat "$WORK/err")"
expect_status 2 "$TQ" stat --db db -qZ
grep -q "unknown option '-Z'" "$WORK/err" || fail "unknown short in a bundle: $(cat "$WORK/err")"
expect_status 2 "$TQ" check --db
grep -q "option '--db' needs a value" "$WORK/err" || fail "missing value: $(cat "$WORK/err")"
expect_status 2 "$TQ" export decisions --db db -o
grep -q "option '-o' needs a value" "$WORK/err" || fail "missing short value: $(cat "$WORK/err")"
expect_status 2 "$TQ" replay g/journal.tqj --db db --dry-run=yes
grep -q "option '--dry-run' takes no value" "$WORK/err" || fail "value for a flag: $(cat "$WORK/err")"
expect_status 2 "$TQ" load permits g/permits.csv --db db --quiet=1
grep -q "option '--quiet' takes no value" "$WORK/err" || fail "value for --quiet: $(cat "$WORK/err")"
for e in "$WORK/err"; do grep -q "Try 'thongquan" "$e" || fail "no hint to --help"; done
ok

# ---- -q: nothing on a success, every subcommand ----
quiet "gen" "$TQ" gen --declarations 50 --out g2 -q
quiet "journal cat (to a file)" sh -c '"$1" journal cat g/journal.tqj -q >ev.ndjson' sh "$TQ"
quiet "journal pack" "$TQ" journal pack ev.ndjson -o p.tqj -q
quiet "journal pack --force" "$TQ" journal pack ev.ndjson -o p.tqj --force --quiet
quiet "journal verify" "$TQ" journal verify g/journal.tqj -q
quiet "journal verify --quiet" "$TQ" journal verify --quiet g/journal.tqj
quiet "load" "$TQ" load permits g2/permits.csv --db db2 -q
quiet "load payments" "$TQ" load payments g2/payments.csv --db db2 -q
quiet "replay --dry-run" "$TQ" replay g2/journal.tqj --db db2 --dry-run -q
quiet "replay" "$TQ" replay g2/journal.tqj --db db2 -q
quiet "reconcile" "$TQ" reconcile --db db2 -q
quiet "reconcile --dry-run" "$TQ" reconcile --db db2 --dry-run -q
quiet "stat" "$TQ" stat --db db2 -q
quiet "check" "$TQ" check --db db2 -q
quiet "backup" "$TQ" backup --db db2 bk -q
quiet "export -o" "$TQ" export decisions --db db2 -o d2.csv -q
quiet "export changes -o" "$TQ" export changes --db db2 --since 0 -o ch2.csv -q
quiet "worklist" "$TQ" worklist --db db2 --out wl2 -q
quiet "upgrade" "$TQ" upgrade --db db2 -q
# (a night with nothing new: exit 7, which a quiet cron job must not mail about)
mkdir -m 0700 inbox
want=7 quiet "nightly" "$TQ" nightly --inbox inbox --db db2 --min-age 0 -q
# -q leaves the data a command exists to print
decl=$(sed -n 2p d.csv | cut -d, -f1)
expect_status 0 "$TQ" explain "$decl" --db db -q
grep -q "^declaration *$decl" "$WORK/out" || fail "explain -q dropped its report"
expect_status 0 "$TQ" export permits --db db -q
grep -q "^permit_no," "$WORK/out" || fail "export -q to stdout dropped its CSV"
# -v: what the run cost, on stderr; with -q, quiet wins
expect_status 0 "$TQ" stat --db db -v
grep -q "^thongquan: stat: [0-9.]* s, peak memory [0-9.]* MiB" "$WORK/err" || fail "stat -v: $(cat "$WORK/err")"
quiet "stat -qv" "$TQ" stat --db db -qv
expect_status 0 "$TQ" replay g2/journal.tqj --db dbv --dry-run -v
grep -q "^run: [0-9]* frames, [0-9]* commits" "$WORK/out" || fail "replay -v: no detail line: $(cat "$WORK/out")"
expect_status 0 "$TQ" replay g2/journal.tqj --db dbv --dry-run
! grep -q "^run: " "$WORK/out" || fail "replay without -v printed the -v detail"
ok

# ---- no escape bytes with TERM=dumb on a terminal, nor off a terminal ----
export TQ_PROGRESS_INTERVAL_MS=0
on_tty tty.xterm env TERM=xterm "$TQ" gen --declarations 20000 --out g3 || fail "gen on a tty"
sed "s/$CR\$//" tty.xterm | grep -q "$CR" || fail "control: no progress line on a terminal with TERM=xterm: $(head -c 200 tty.xterm | cat -v)"
ok
on_tty tty.q env TERM=xterm "$TQ" gen --declarations 20000 --out g3q -q || fail "gen -q on a tty"
[ ! -s tty.q ] || fail "gen -q on a terminal printed: $(head -c 200 tty.q | cat -v)"
ok
on_tty tty.dumb env TERM=dumb "$TQ" gen --declarations 20000 --out g4 || fail "gen, TERM=dumb"
clean "gen on a terminal with TERM=dumb" tty.dumb
grep -q "generated 20000 declarations" tty.dumb || fail "gen, TERM=dumb: no summary"
on_tty tty.load env TERM=dumb "$TQ" load payments g3/payments.csv --db db3 || fail "load, TERM=dumb"
clean "load on a terminal with TERM=dumb" tty.load
on_tty tty.replay env TERM=dumb "$TQ" replay g3/journal.tqj --db db3 || fail "replay, TERM=dumb"
clean "replay on a terminal with TERM=dumb" tty.replay
on_tty tty.rec env TERM=dumb "$TQ" reconcile --db db3 || fail "reconcile, TERM=dumb"
clean "reconcile on a terminal with TERM=dumb" tty.rec
TERM=xterm "$TQ" gen --declarations 20000 --out g5 >pipe.out 2>pipe.err || fail "gen on a pipe"
clean "gen with stderr on a file" pipe.err
TERM=xterm "$TQ" replay g5/journal.tqj --db db5 >pipe.out 2>pipe.err || fail "replay on a pipe"
clean "replay with stderr on a file" pipe.err
unset TQ_PROGRESS_INTERVAL_MS

# progress comes from the libraries' callbacks: no watcher thread reading /proc/self/fdinfo
! grep -rl "fdinfo" "$TOP/tools" "$TOP/engine" >/dev/null 2>&1 || fail "a /proc/self/fdinfo watcher is back: $(grep -rl fdinfo "$TOP/tools" "$TOP/engine")"
ok

# ---- --json: one valid object with "schema": 1 first, for every summary ----
j() { # j WHAT CMD...: CMD --json exits 0 (or $want) and its stdout is valid
  local what=$1; shift
  expect_status "${want:-0}" "$@"
  cp "$WORK/out" "$WORK/json.out"
  json_ok "$what" "$WORK/json.out"
}
j "gen" "$TQ" gen --declarations 60 --out g6 --json
j "journal pack" "$TQ" journal pack ev.ndjson -o pj.tqj --json
j "journal verify" "$TQ" journal verify g6/journal.tqj --json
j "load" "$TQ" load permits g6/permits.csv --db db6 --json
j "replay --dry-run" "$TQ" replay g6/journal.tqj --db db6 --dry-run --json
j "replay" "$TQ" replay g6/journal.tqj --db db6 --json
j "reconcile" "$TQ" reconcile --db db6 --json
j "reconcile --dry-run" "$TQ" reconcile --db db6 --dry-run --json
expect_status 0 "$TQ" reconcile --db db6 --report rep.json -q
json_ok "reconcile --report" rep.json
j "stat" "$TQ" stat --db db6 --json
j "check" "$TQ" check --db db6 --json
j "backup" "$TQ" backup --db db6 bk6 --json
j "export" "$TQ" export decisions --db db6 -o d6.csv --json
j "export changes" "$TQ" export changes --db db6 --since 0 -o ch6.csv --json
j "worklist" "$TQ" worklist --db db6 --out wl6 --json
j "upgrade" "$TQ" upgrade --db db6 --json
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows"])' "$WORK/json.out" 2>/dev/null || echo 60)" = 60 ] ||
  fail "export --json: rows is not 60: $(cat "$WORK/json.out")"
expect_status 2 "$TQ" export decisions --db db6 --json
grep -q -- "--json needs -o FILE" "$WORK/err" || fail "export --json to stdout: $(cat "$WORK/err")"
j "explain" "$TQ" explain "$(sed -n 2p d6.csv | cut -d, -f1)" --db db6 --json
mkdir -m 0700 inbox6
touch inbox6/notes.txt     # ignored, and listed in the report
want=7 j "nightly" "$TQ" nightly --inbox inbox6 --db db6 --min-age 0 --json

# ---- a file name with bytes that are not UTF-8, and a newline ----
bad=$(printf 'bad\377\376 caf\351\nline.tqj')
cp g6/journal.tqj "$bad"
j "journal verify (non-UTF-8 name)" "$TQ" journal verify "$bad" --json
grep -q 'bad\\ufffd\|bad'"$(printf '\357\277\275')" "$WORK/json.out" || fail "no U+FFFD for the bad bytes: $(cat -v "$WORK/json.out")"
grep -qF 'line.tqj' "$WORK/json.out" && grep -qF '\nline.tqj' "$WORK/json.out" || fail "the newline is not escaped: $(cat -v "$WORK/json.out")"
j "replay (non-UTF-8 name)" "$TQ" replay "$bad" --db db7 --json
badcsv=$(printf 'perm\377its\n.csv')
cp g6/permits.csv "$badcsv"
j "load (non-UTF-8 name)" "$TQ" load permits "$badcsv" --db db7 --json
j "gen (non-UTF-8 directory)" "$TQ" gen --declarations 10 --out "$(printf 'g\300\257\n')" --json
j "journal pack (non-UTF-8 name)" "$TQ" journal pack ev.ndjson -o "$(printf 'p\355\240\200.tqj')" --json
done_ok
