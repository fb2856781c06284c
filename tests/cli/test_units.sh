#!/usr/bin/env bash
# test_units.sh - the systemd units, the cron line and the bash completion, without
# installing anything:
#  * configure_file() filled every @PLACEHOLDER@ of the units and the cron line with the
#    build's paths (TQ_BUILD_DIR/configured);
#  * the service, pointed at this build's binary, passes `systemd-analyze verify` (its
#    Documentation= pages found in docs/man) with nothing printed, and
#    `systemd-analyze security --offline=true` rates it 2.0 or better;
#  * the sandbox lets the job do its work: every path the shipped settings name is in
#    StateDirectory= or a ReadWritePaths= of the unit, and every system call a nightly
#    run makes (strace) is one its SystemCallFilter= allows;
#  * the completion offers every command of `thongquan --help` and every option of each
#    `thongquan CMD --help`, directories after --db, and, from a stand-in binary whose
#    help names a command and options no thongquan has, those too: it reads the help
#    when completing, so it never falls behind the program.
# Exit 77 without systemd-analyze or without TQ_BUILD_DIR.
. "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || { echo "skipped: no systemd-analyze"; exit 77; }
B=${TQ_BUILD_DIR:-}
[ -n "$B" ] && [ -f "$B/CMakeCache.txt" ] || { echo "skipped: TQ_BUILD_DIR is not a build tree"; exit 77; }
C=$B/configured
SVC=$C/systemd/thongquan-nightly.service TIMER=$C/systemd/thongquan-nightly.timer
CRON=$C/cron/thongquan-nightly.cron
DEFAULTS=$TOP/tools/systemd/thongquan-nightly.default

# ---- configure_file() left no placeholder and used the build's paths ----
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$B/CMakeCache.txt")
for f in "$SVC" "$TIMER" "$CRON"; do
  [ -f "$f" ] || fail "not configured: $f"
  ! grep -n '@[A-Z_]*@' "$f" || fail "$f keeps a placeholder"
done
grep -q "^ExecStart=$prefix/bin/thongquan nightly" "$SVC" || fail "ExecStart is not $prefix/bin/thongquan: $(grep ExecStart "$SVC")"
grep -q "$prefix/bin/thongquan nightly" "$CRON" || fail "the cron line does not run $prefix/bin/thongquan"
sysconf=$(sed -n 's/^TQ_SYSCONFDIR:PATH=//p' "$B/CMakeCache.txt")
grep -qx "EnvironmentFile=-$sysconf/default/thongquan" "$SVC" || fail "the service does not read $sysconf/default/thongquan"
grep -qF ". $sysconf/default/thongquan;" "$CRON" || fail "the cron line does not read $sysconf/default/thongquan"
ok

# ---- verify and security, on a copy that runs this build's binary ----
mkdir -p "$WORK/units" "$WORK/man/man1"
sed "s|^ExecStart=$prefix/bin/thongquan|ExecStart=$TQ|" "$SVC" >"$WORK/units/thongquan-nightly.service"
cp "$TIMER" "$WORK/units/"
ln -s "$TOP"/docs/man/*.1 "$WORK/man/man1/"
(cd "$WORK/units" && MANPATH=$WORK/man systemd-analyze verify thongquan-nightly.service thongquan-nightly.timer) \
  >"$WORK/verify" 2>&1 || fail "systemd-analyze verify: $(cat "$WORK/verify")"
[ ! -s "$WORK/verify" ] || fail "systemd-analyze verify printed: $(cat "$WORK/verify")"
ok
systemd-analyze security --offline=true "$WORK/units/thongquan-nightly.service" >"$WORK/sec" 2>&1
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$WORK/sec")
[ -n "$exposure" ] || fail "no exposure level: $(tail -5 "$WORK/sec")"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure $exposure, wanted 2.0 or better: $(grep '✗' "$WORK/sec")"
echo "exposure $exposure"
ok

# ---- the sandbox lets the job write where the settings say ----
unitval() { sed -n "s/^$1=//p" "$SVC"; }
writable=("/var/lib/$(unitval StateDirectory)")
for p in $(unitval ReadWritePaths); do writable+=("${p#-}"); done
for v in THONGQUAN_DB THONGQUAN_INBOX THONGQUAN_REPORTS THONGQUAN_METRICS; do
  p=$(sed -n "s/^$v=//p" "$DEFAULTS")
  [ -n "$p" ] || continue
  [ "$v" = THONGQUAN_METRICS ] && p=$(dirname "$p")
  inside=0
  for w in "${writable[@]}"; do
    case $p/ in "$w"/*) inside=1 ;; esac
  done
  [ $inside = 1 ] || fail "$v=$p is not writable in the unit's sandbox (${writable[*]})"
done
ok

# ---- every system call of a nightly run passes the unit's filter ----
# (not in a sanitizer tree: the sanitizer's runtime makes calls the program does not)
if grep -qE '^TQ_(SANITIZE|TSAN):BOOL=ON' "$B/CMakeCache.txt"; then
  echo "note: a sanitizer tree: the system calls of a run are checked in the plain tree"
elif ! command -v strace >/dev/null || ! strace -qq -o /dev/null true 2>/dev/null; then
  echo "note: no strace that may trace here: the system calls of a run are not checked"
else
  expand() { # expand @GROUP...: the system calls, nested groups expanded
    systemd-analyze syscall-filter "$@" 2>/dev/null | awk '/^ +[@a-z_0-9]/ { print $1 }' |
      while read -r s; do case $s in @*) expand "$s" ;; *) echo "$s" ;; esac; done
  }
  allow=() deny=()
  while read -r line; do   # a line starting with ~ denies each of its groups
    case $line in '~'*) read -r -a g <<<"${line#'~'}"; deny+=("${g[@]}") ;;
                  *) read -r -a g <<<"$line"; allow+=("${g[@]}") ;; esac
  done < <(unitval SystemCallFilter)
  expand "${allow[@]}" | sort -u >"$WORK/allowed"
  [ ${#deny[@]} -eq 0 ] && : >"$WORK/denied" || expand "${deny[@]}" | sort -u >"$WORK/denied"
  [ -s "$WORK/allowed" ] || fail "systemd-analyze syscall-filter listed nothing for ${allow[*]}"
  mkdir -m 0700 "$WORK/in" "$WORK/empty"
  "$TQ" nightly --create --quiet --db "$WORK/db" --inbox "$WORK/empty" >/dev/null 2>&1
  printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000003,KB-U,PAY,5,\n' >"$WORK/in/payments-u.csv"
  touch -d '-5 min' "$WORK/in/payments-u.csv"
  st=0
  strace -f -qq -o "$WORK/trace" "$TQ" nightly --quiet --db="$WORK/db" --inbox="$WORK/in" \
    --reports="$WORK/reports" --metrics="$WORK/m.prom" --min-age= >"$WORK/out" 2>&1 || st=$?
  [ $st -eq 0 ] || fail "the nightly run under strace exited $st: $(cat "$WORK/out")"
  sed -nE 's/^[0-9]+ +([a-z_0-9]+)\(.*/\1/p' "$WORK/trace" | sort -u >"$WORK/used"
  [ -s "$WORK/used" ] || fail "strace recorded no system call"
  bad=$(comm -23 "$WORK/used" "$WORK/allowed"; comm -12 "$WORK/used" "$WORK/denied")
  [ -z "$bad" ] || fail "SystemCallFilter= would refuse what a nightly run calls: $bad"
  ok
fi

# ---- the completion ----
COMPL=$TOP/packaging/thongquan.bash-completion
complete_words() { # complete_words WORD... : what the completion offers for the last one
  bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _thongquan
           printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPL" "$@"
}
cmds=$("$TQ" --help | awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' | sort -u)
[ -n "$cmds" ] || fail "no commands in 'thongquan --help'"
got=$(complete_words "$TQ" "")
for c in $cmds help; do grep -qx "$c" <<<"$got" || fail "completion of 'thongquan ' lacks $c: $got"; done
for c in $cmds; do
  words=("$c")
  sub=$("$TQ" --help | awk -v c="$c" '$1 == c && $2 ~ /^[a-z][a-z|]*$/ { split($2, a, "|"); print a[1]; exit }')
  [ -n "$sub" ] && words+=("$sub")
  got=$(complete_words "$TQ" "${words[@]}" -)
  for o in $("$TQ" "${words[@]}" --help | awk '/^usage:/ { on = 1 } on && /^$/ { on = 0 } on || /^ *-/' |
             grep -oE -- '(^|[[ |])--?[a-z][a-z0-9-]*' | sed -E 's/^[[ |]//' | sort -u); do
    grep -qx -- "$o" <<<"$got" || fail "completion of 'thongquan ${words[*]} -' lacks $o: $(echo $got)"
  done
done
got=$(complete_words "$TQ" --)
[ "$(echo $got)" = "--help --version" ] || fail "completion of 'thongquan --' is '$(echo $got)'"
got=$(complete_words "$TQ" journal "")
[ "$(echo $got)" = "pack cat verify" ] || fail "completion of 'thongquan journal ' is '$(echo $got)'"
mkdir -p "$WORK/cd/somedir" && touch "$WORK/cd/somefile"
got=$(cd "$WORK/cd" && complete_words "$TQ" nightly --db so)
[ "$got" = somedir ] || fail "completion after --db offers '$got', wanted the directory only"
got=$(cd "$WORK/cd" && complete_words "$TQ" nightly --metrics so | sort | tr '\n' ' ')
[ "$got" = "somedir somefile " ] || fail "completion after --metrics offers '$got', wanted files"
ok
# a stand-in binary with a command and options no thongquan has (yet); --verbose, like
# --quiet and --help, is offered for every command (the parser adds them)
cat >"$WORK/fake" <<'EOF'
#!/bin/sh
case "$1 $2" in
  "--help "*) printf 'usage: thongquan COMMAND\n\ncommands:\n  frobnicate --db DIR   new\n  stat --db DIR   counts\n\nmore\n' ;;
  "frobnicate --help") printf 'usage: thongquan frobnicate --db DIR [--wibble N]\n                           [-z] [--out-dir=DIR]\n\nprose --not-an-option here\n  -q, --quiet   say less\n' ;;
esac
EOF
chmod +x "$WORK/fake"
got=$(complete_words "$WORK/fake" fr)
[ "$got" = frobnicate ] || fail "completion did not read the commands from --help: '$got'"
got=$(complete_words "$WORK/fake" frobnicate - | sort | tr '\n' ' ')
[ "$got" = "--db --help --out-dir --quiet --verbose --wibble -q -z " ] || fail "completion did not read the options from --help: '$got'"
got=$(cd "$WORK/cd" && complete_words "$WORK/fake" frobnicate --wibble so)
[ -z "$got" ] || fail "completion after --wibble N offers '$got', wanted nothing"
ok
done_ok
