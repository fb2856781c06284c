#!/usr/bin/env bash
# test_deb.sh - the Debian package, on this machine:
#  * `cpack -G DEB` builds thongquan_VERSION_ARCH.deb (in a temp build of TQ_SOURCE_DIR
#    with the prefix /usr, or in TQ_BUILD_DIR when it was configured so);
#  * its contents (dpkg -c): the binary, the man pages, the units in the unit directory
#    `pkg-config systemd` names, the sysusers.d and tmpfiles.d entries, the settings
#    file, the bash completion, the cron line, the alert rules and the dashboard,
#    nothing under /usr/local, no libraries or headers (the "dev" component, for
#    building other programs with thongquan.pc, is not the runtime's); its control
#    (dpkg -I): name,
#    version, the libraries' packages found by dpkg-shlibdeps, the conffile, the scripts;
#  * `dpkg -i` installs it: `thongquan --version` is the package's, the postinst made
#    the thongquan account and the folders with the RUNBOOK's owners and modes, the
#    installed units pass `systemd-analyze verify` and rate 2.0 or better;
#  * one nightly run through the installed unit's ExecStart, its ${VARS} expanded from
#    the unit's Environment= and a copy of the installed /etc/default/thongquan pointed
#    at a temp inbox, run as the unit's User= with its UMask=, no new privileges and no
#    capabilities (setpriv), in a mount namespace read-only but for the run's folders,
#    with a private /tmp and no network, as the unit's sandbox would be (unshare): exit
#    0, the payment in the database, the report and the metrics written;
#  * installed again, it keeps a changed /etc/default/thongquan;
#  * `dpkg --purge` leaves the machine as before: no file named thongquan in /usr, /etc,
#    /lib or /var, no folder; the account is kept, as documented (RUNBOOK 2.2), and the
#    test removes it itself.
# The package never stays installed (trap).  It runs only on a machine without
# thongquan (package, account, folders): exit 77 otherwise, without root (or sudo -n),
# or without dpkg-deb and dpkg-shlibdeps (tools/setup-deps.sh installs dpkg-dev).
# CTest runs it alone among the tests that lock "machine" (CMakeLists.txt), and a lock
# file keeps two build trees from running it at once.
. "$(dirname "$0")/lib.sh"
skip() { echo "skipped: $*"; exit 77; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  sudo -n true 2>/dev/null || skip "needs root or sudo without a password (it installs a package)"
  SUDO="sudo -n"
fi
for c in dpkg dpkg-deb dpkg-shlibdeps cpack cmake runuser setpriv; do
  command -v "$c" >/dev/null || skip "$c is missing (tools/setup-deps.sh installs dpkg-dev)"
done
BUILD=${TQ_BUILD_DIR:-}
if [ -n "$BUILD" ] && grep -qE '^TQ_(SANITIZE|TSAN|FUZZ):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  skip "a sanitizer tree: the package is built and installed by the plain tree's run"
fi

# one run at a time on this machine, whichever tree runs it
exec 9>"${TMPDIR:-/tmp}/thongquan-test-deb.lock"
flock -w 1200 9 || fail "another test_deb.sh held the lock for 20 minutes"

# never on a machine that has thongquan set up: it would be its data
if dpkg-query -W -f='${Status}' thongquan 2>/dev/null | grep -q installed; then
  skip "a thongquan package is installed here: not touching it"
fi
for n in thongquan customs-drop; do
  getent passwd "$n" >/dev/null || getent group "$n" >/dev/null && skip "the account or group '$n' exists here: not touching it"
done
for p in /var/lib/thongquan /var/spool/thongquan /etc/default/thongquan /usr/bin/thongquan; do
  [ -e "$p" ] && skip "$p exists here: not touching it"
done

# what has thongquan in its name, before
scan() { $SUDO find /usr /etc /lib /var -xdev -path /var/tmp -prune -o -name '*thongquan*' -print 2>/dev/null | sort; }
scan >"$WORK/before"

RUN=""
cleanup() {
  if dpkg-query -W -f='${Status}' thongquan 2>/dev/null | grep -q installed; then
    $SUDO dpkg --purge thongquan >/dev/null 2>&1 || echo "test_deb: could not purge thongquan" >&2
  fi
  # the account, the groups and the folders did not exist when the test began
  getent passwd thongquan >/dev/null && $SUDO userdel thongquan 2>/dev/null
  getent group thongquan >/dev/null && $SUDO groupdel thongquan 2>/dev/null
  getent group customs-drop >/dev/null && $SUDO groupdel customs-drop 2>/dev/null
  $SUDO rm -rf /var/lib/thongquan /var/spool/thongquan
  [ -n "$RUN" ] && $SUDO rm -rf "$RUN"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM HUP
trap 'exit 130' INT

# ---- build the package ----
if [ -n "$BUILD" ] && grep -qx 'CMAKE_INSTALL_PREFIX:PATH=/usr' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  PB=$BUILD
else
  PB=$WORK/build
  cmake -S "$TOP" -B "$PB" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=Release -DTQ_TESTS=OFF \
    -DBUILD_TESTING=OFF >"$WORK/cmake.log" 2>&1 || fail "cmake: $(tail -20 "$WORK/cmake.log")"
  cmake --build "$PB" -j2 >"$WORK/build.log" 2>&1 || fail "build: $(tail -20 "$WORK/build.log")"
fi
(cd "$PB" && cpack -G DEB -B "$WORK/pkg") >"$WORK/cpack.log" 2>&1 || fail "cpack: $(tail -20 "$WORK/cpack.log")"
VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$PB/CMakeCache.txt")
ARCH=$(dpkg --print-architecture)
DEB=$WORK/pkg/thongquan_${VERSION}_${ARCH}.deb
[ -n "$VERSION" ] && [ -f "$DEB" ] || fail "no thongquan_${VERSION}_${ARCH}.deb: $(ls "$WORK/pkg")"
ok

# ---- its contents ----
UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
UNITDIR=${UNITDIR:-/lib/systemd/system}
SYSUSERSDIR=$(pkg-config --variable=sysusersdir systemd 2>/dev/null)
SYSUSERSDIR=${SYSUSERSDIR:-/usr/lib/sysusers.d}
TMPFILESDIR=$(pkg-config --variable=tmpfilesdir systemd 2>/dev/null)
TMPFILESDIR=${TMPFILESDIR:-/usr/lib/tmpfiles.d}
dpkg -c "$DEB" | awk '{ print $NF }' | sed 's|^\./|/|' >"$WORK/contents"
for f in /usr/bin/thongquan /usr/share/man/man1/thongquan.1 /usr/share/man/man1/thongquan-nightly.1 \
         "$UNITDIR/thongquan-nightly.service" "$UNITDIR/thongquan-nightly.timer" \
         "$SYSUSERSDIR/thongquan.conf" "$TMPFILESDIR/thongquan.conf" /etc/default/thongquan \
         /usr/share/bash-completion/completions/thongquan /usr/share/thongquan/thongquan-nightly.cron \
         /usr/share/thongquan/thongquan.rules.yml /usr/share/thongquan/grafana-thongquan.json; do
  grep -qxE "$f(\.gz)?" "$WORK/contents" || fail "the package lacks $f: $(cat "$WORK/contents")"
done
! grep -q '^/usr/local' "$WORK/contents" || fail "the package installs under /usr/local"
# the runtime only: the libraries, headers and thongquan.pc are the "dev" component
! grep -qE '^/usr/include/|\.a$|/pkgconfig/' "$WORK/contents" || fail "the package carries the dev files: $(grep -E '^/usr/include/|\.a$|/pkgconfig/' "$WORK/contents" | head -5)"
ok
dpkg -I "$DEB" >"$WORK/info" || fail "dpkg -I"
grep -qx ' Package: thongquan' "$WORK/info" && grep -qx " Version: $VERSION" "$WORK/info" &&
  grep -qx " Architecture: $ARCH" "$WORK/info" || fail "control: $(cat "$WORK/info")"
for lib in liblmdb0 libzstd1 libxxhash0 libssl3 libc6; do
  grep -q "^ Depends:.*\b$lib\b" "$WORK/info" || fail "Depends does not name $lib (dpkg-shlibdeps): $(grep Depends "$WORK/info")"
done
dpkg-deb -e "$DEB" "$WORK/control"
grep -qx /etc/default/thongquan "$WORK/control/conffiles" || fail "/etc/default/thongquan is not a conffile"
for s in postinst prerm postrm; do
  [ -x "$WORK/control/$s" ] || fail "no executable $s"
  sh -n "$WORK/control/$s" || fail "$s is not valid sh"
done
grep -q "systemd-sysusers $SYSUSERSDIR/thongquan.conf" "$WORK/control/postinst" &&
  grep -q "systemd-tmpfiles --create $TMPFILESDIR/thongquan.conf" "$WORK/control/postinst" ||
  fail "postinst does not make the account and folders from the package's entries"
cmp -s <(dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - ./etc/default/thongquan) \
  "$TOP/tools/systemd/thongquan-nightly.default" || fail "/etc/default/thongquan is not tools/systemd/thongquan-nightly.default"
ok

# ---- install it ----
if ! $SUDO dpkg -i "$DEB" >"$WORK/dpkg.log" 2>&1; then
  $SUDO apt-get install -f -y -qq >>"$WORK/dpkg.log" 2>&1 || true
  dpkg-query -W -f='${Status}' thongquan 2>/dev/null | grep -q 'install ok installed' ||
    fail "dpkg -i: $(tail -20 "$WORK/dpkg.log")"
fi
got=$(/usr/bin/thongquan --version) || fail "thongquan --version failed"
[ "$got" = "thongquan $VERSION" ] || fail "thongquan --version says '$got', the package is $VERSION"
ok
# the account and the folders, as RUNBOOK 2.2 prescribes
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd thongquan) || fail "postinst made no thongquan account"
[ "$uid" -lt 1000 ] && [ "$home" = /var/lib/thongquan ] && [ "${shell##*/}" = nologin ] ||
  fail "the account is not a system account with no login: uid $uid home $home shell $shell"
getent group customs-drop >/dev/null || fail "postinst made no customs-drop group"
while read -r path want; do
  got=$($SUDO stat -c '%a %U %G' "$path" 2>/dev/null) || fail "postinst made no $path"
  [ "$got" = "$want" ] || fail "$path is '$got', wanted '$want'"
done <<'EOF'
/var/lib/thongquan 750 thongquan thongquan
/var/lib/thongquan/db 750 thongquan thongquan
/var/lib/thongquan/reports 750 thongquan thongquan
/var/spool/thongquan 755 thongquan thongquan
/var/spool/thongquan/inbox 1770 thongquan customs-drop
EOF
ok

# ---- the installed units: verify clean, exposure 2.0 or better ----
UNIT=$UNITDIR/thongquan-nightly.service
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$UNIT" "$UNITDIR/thongquan-nightly.timer" >"$WORK/verify" 2>&1 ||
    fail "systemd-analyze verify: $(cat "$WORK/verify")"
  [ ! -s "$WORK/verify" ] || fail "systemd-analyze verify is not clean: $(cat "$WORK/verify")"
  exposure=$(systemd-analyze security --offline=true "$UNIT" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  [ -n "$exposure" ] || fail "systemd-analyze security printed no exposure level"
  awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure $exposure, wanted 2.0 or better"
  ok
else
  echo "note: no systemd-analyze: the installed units are not verified here (test_units.sh skips)"
fi

# ---- one nightly run through the installed unit's command line ----
unitval() { sed -n "s/^$1=//p" "$UNIT"; }   # every value of KEY, in order
execstart=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$UNIT" | sed -n 's/^ExecStart=//p')
[ -n "$execstart" ] || fail "no ExecStart in $UNIT"
envfile=$(unitval EnvironmentFile | tail -1)
[ "${envfile#-}" = /etc/default/thongquan ] || fail "the unit reads '$envfile', not /etc/default/thongquan"
user=$(unitval User) group=$(unitval Group) umask=$(unitval UMask)
[ -n "$user" ] && [ -n "$group" ] && [ -n "$umask" ] || fail "the unit sets no User=, Group= or UMask="
[ "$(unitval NoNewPrivileges)" = true ] && [ "$(unitval CapabilityBoundingSet)" = "" ] &&
  grep -qx 'CapabilityBoundingSet=' "$UNIT" || fail "the unit keeps privileges"

# under /var/tmp, not /tmp: the run below gets a private /tmp, as PrivateTmp= gives it
RUN=$(mktemp -d /var/tmp/tqdeb.XXXXXX)
chmod 0755 "$RUN"
$SUDO install -d -o "$user" -g "$group" -m 0700 "$RUN/inbox" "$RUN/empty" "$RUN/reports" "$RUN/metrics" "$RUN/db"
# the database is made once by hand (the job never makes one): RUNBOOK 2.2
$SUDO runuser -u "$user" -- /usr/bin/thongquan nightly --create --quiet --db "$RUN/db" --inbox "$RUN/empty" \
  >"$WORK/out" 2>&1
[ $? -eq 7 ] || fail "making the database: $(cat "$WORK/out")"
printf 'decl_no,receipt_no,kind,amount,valid_until\n100000000003,KB-DEB,PAY,5,\n' >"$WORK/payments-deb.csv"
$SUDO install -o "$user" -g "$group" -m 0640 "$WORK/payments-deb.csv" "$RUN/inbox/payments-deb.csv"
$SUDO touch -d '-5 min' "$RUN/inbox/payments-deb.csv"     # older than --min-age
# the installed settings, copied, pointed at the temp folders (the real file is untouched)
sed -e "s|^THONGQUAN_DB=.*|THONGQUAN_DB=$RUN/db|" -e "s|^THONGQUAN_INBOX=.*|THONGQUAN_INBOX=$RUN/inbox|" \
  -e "s|^THONGQUAN_REPORTS=.*|THONGQUAN_REPORTS=$RUN/reports|" \
  -e "s|^THONGQUAN_METRICS=.*|THONGQUAN_METRICS=$RUN/metrics/thongquan.prom|" \
  /etc/default/thongquan >"$WORK/settings"
[ "$(grep -c "$RUN" "$WORK/settings")" -eq 4 ] || fail "the installed settings lack a path: $(cat "$WORK/settings")"
# Environment= first, then the settings file (it overrides): systemd's order
declare -A env
while IFS='=' read -r k v; do env[$k]=$v; done < <(unitval Environment)
while IFS='=' read -r k v; do
  case $k in '#'* | '') continue ;; esac
  v=${v#\"}; v=${v%\"}
  env[$k]=$v
done <"$WORK/settings"
# ${VAR} is one word with VAR's value (systemd.service(5), "Command lines")
argv=()
read -r -a words <<<"$execstart"
for w in "${words[@]}"; do
  while [[ $w =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
    w=${w//"${BASH_REMATCH[0]}"/"${env[${BASH_REMATCH[1]}]:-}"}
  done
  argv+=("$w")
done
[ "${argv[0]}" = /usr/bin/thongquan ] || fail "ExecStart runs '${argv[0]}', not the installed /usr/bin/thongquan"
printf '%s\n' "${argv[@]}" | grep -qx -- "--inbox=$RUN/inbox" || fail "the command line: ${argv[*]}"
# The unit's sandbox, as far as it can be had without systemd as PID 1: in a mount (and
# network) namespace of its own, the whole file system read-only but the run's folders
# (ProtectSystem=strict with the ReadWritePaths= a drop-in would add for them), a
# private /tmp, no /home, no network, each when the unit asks for it; then the unit's
# user, no new privileges, no capabilities, its umask, an empty environment.
prep='mount --bind "$0" "$0"'
[ "$(unitval PrivateTmp)" = true ] && prep+='; mount -t tmpfs -o mode=1777 tmpfs /tmp'
[ "$(unitval ProtectHome)" = true ] &&
  prep+='; for h in /home /root /run/user; do [ ! -d $h ] || mount -t tmpfs -o mode=000 tmpfs $h; done'
[ "$(unitval ProtectSystem)" = strict ] && prep+='; mount -o remount,bind,ro /'
ns=(unshare --mount --propagation private)
[ "$(unitval PrivateNetwork)" = true ] && ns+=(--net)
if ! $SUDO "${ns[@]}" -- true 2>/dev/null; then
  echo "note: no mount namespace here: the run gets the unit's user and privileges, not its file system view"
  ns=(env) prep='exec "$@"'
else
  ns+=(-- sh -ec "$prep; exec \"\$@\"" "$RUN")
fi
st=0
(cd / && umask "$umask" && $SUDO "${ns[@]}" setpriv --reuid="$user" --regid="$group" --init-groups \
  --no-new-privs --bounding-set=-all --inh-caps=-all -- env -i PATH=/usr/bin:/bin "${argv[@]}") \
  >"$WORK/out" 2>"$WORK/err" || st=$?
[ "$st" -eq 0 ] || fail "the unit's command exited $st: $(cat "$WORK/out" "$WORK/err")"
[ ! -s "$WORK/out" ] && [ ! -s "$WORK/err" ] || fail "--quiet run printed: $(cat "$WORK/out" "$WORK/err")"
ok
# (read as root or through sudo: the job's folders are its own, 0700)
day=$($SUDO ls "$RUN/inbox/done" 2>/dev/null | head -1)
$SUDO test -f "$RUN/inbox/done/$day/payments-deb.csv" ||
  fail "the payments file was not filed in done/: $($SUDO ls -R "$RUN/inbox")"
report=$($SUDO find "$RUN/reports" -maxdepth 1 -name 'nightly-*.json' | head -1)
[ -n "$report" ] && $SUDO grep -q '"result":"loaded"' "$report" || fail "no report of the load: $($SUDO ls -R "$RUN/reports")"
read -r owner perm < <($SUDO stat -c '%U %a' "$report")
[ "$owner" = "$user" ] || fail "the report belongs to $owner, not $user"
[ $((8#$perm & 8#007)) -eq 0 ] || fail "the report is $perm: UMask=$umask not applied"
$SUDO grep -qx 'thongquan_nightly_last_exit_status 0' "$RUN/metrics/thongquan.prom" ||
  fail "metrics: $($SUDO cat "$RUN/metrics/thongquan.prom" 2>&1)"
$SUDO runuser -u "$user" -- /usr/bin/thongquan stat --db "$RUN/db" >"$WORK/stat" 2>&1 || fail "stat: $(cat "$WORK/stat")"
grep -q '^payments: 1 receipts for 1 declarations' "$WORK/stat" || fail "the database lacks the payment: $(cat "$WORK/stat")"
ok

# ---- the completion offers what the installed binary's help names ----
comp=$(bash -c '. /usr/share/bash-completion/completions/thongquan
  COMP_WORDS=(thongquan nightly --); COMP_CWORD=2; _thongquan; printf "%s\n" "${COMPREPLY[@]}"')
for o in $(/usr/bin/thongquan nightly --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
  grep -qx -- "$o" <<<"$comp" || fail "completion of 'thongquan nightly --' lacks $o: $comp"
done
ok

# ---- installed again (an upgrade): the operator's settings are kept ----
echo '# changed by test_deb.sh' | $SUDO tee -a /etc/default/thongquan >/dev/null
$SUDO dpkg -i "$DEB" >"$WORK/dpkg2.log" 2>&1 || fail "dpkg -i over itself: $(tail -20 "$WORK/dpkg2.log")"
grep -qx '# changed by test_deb.sh' /etc/default/thongquan || fail "installing again replaced the changed conffile"
ok

# ---- purge: the machine as before ----
$SUDO dpkg --purge thongquan >"$WORK/purge.log" 2>&1 || fail "dpkg --purge: $(cat "$WORK/purge.log")"
! dpkg-query -W -f='${Status}' thongquan 2>/dev/null | grep -q 'installed' || fail "still installed after --purge"
[ ! -e /usr/bin/thongquan ] && [ ! -e /etc/default/thongquan ] && [ ! -e "$UNIT" ] || fail "files left after --purge"
[ ! -e /var/lib/thongquan ] && [ ! -e /var/spool/thongquan ] || fail "the empty folders were left after --purge"
scan >"$WORK/after"
diff "$WORK/before" "$WORK/after" >"$WORK/diff" || fail "after --purge, not as before: $(cat "$WORK/diff")"
# kept on purge, as postrm and RUNBOOK 2.2 say (files may still belong to them)
getent passwd thongquan >/dev/null && getent group customs-drop >/dev/null ||
  fail "purge removed the account or group, which postrm and the RUNBOOK say it keeps"
ok
done_ok
